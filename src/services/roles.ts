import { DomainError } from '../errors.js';

/** A role name: letters, digits and `_ . : -`, 1–64 characters (a scope-like string resource servers match on). */
export const ROLE_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$';
export const MAX_ROLES = 32;
const ROLE = new RegExp(ROLE_PATTERN);

/** The role that may use the admin API. */
export const ADMIN_ROLE = 'admin';

/** Checks role names and returns them sorted without duplicates; `validation_failed` naming the bad one. */
export function normalizeRoles(roles: readonly string[]): string[] {
  for (const role of roles) {
    if (!ROLE.test(role)) {
      throw new DomainError('validation_failed', {
        message: `roles: ${JSON.stringify(role.slice(0, 80))} is not a valid role name (letters, digits, _ . : -; 1-64 characters)`,
      });
    }
  }
  const unique = [...new Set(roles)].sort();
  if (unique.length > MAX_ROLES) {
    throw new DomainError('validation_failed', { message: `roles: at most ${MAX_ROLES} roles` });
  }
  return unique;
}

/** `current` with `add` added and `remove` removed, checked and sorted. */
export function changeRoles(
  current: readonly string[],
  add: readonly string[],
  remove: readonly string[],
): string[] {
  const removed = new Set(normalizeRoles(remove));
  return normalizeRoles([...current.filter((role) => !removed.has(role)), ...normalizeRoles(add)]);
}

/** Whether going from `before` to `after` takes a role away (which ends the user's sessions, docs/tokens.md). */
export function removesAny(before: readonly string[], after: readonly string[]): boolean {
  const kept = new Set(after);
  return before.some((role) => !kept.has(role));
}
