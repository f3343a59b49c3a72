import { DomainError } from '../errors.js';

/** An email as stored: trimmed with the domain lower-cased, and its case-insensitive key. */
export interface EmailAddress {
  display: string;
  key: string;
}

const MAX_LENGTH = 254;
const MAX_LOCAL = 64;
// No whitespace, controls or the characters that need quoting in an address (quoted local parts are not taken).
const LOCAL = /^[^\s\p{Cc}\p{Cf}@<>()[\]\\,;:"]+$/u;
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

function invalid(): DomainError {
  return new DomainError('validation_failed', { message: 'email must be a valid email address' });
}

/**
 * Checks and normalises an email (SPEC §9): trimmed, the domain lower-cased, `local@domain` with a dotted domain.
 * Throws `validation_failed` naming `email` otherwise. The key (the whole address lower-cased) makes the address
 * unique case-insensitively.
 */
export function normalizeEmail(raw: string): EmailAddress {
  const trimmed = raw.trim().normalize('NFC');
  if (trimmed.length === 0 || trimmed.length > MAX_LENGTH) throw invalid();
  const at = trimmed.lastIndexOf('@');
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1).toLowerCase();
  if (at < 1 || local.length > MAX_LOCAL || !LOCAL.test(local)) throw invalid();
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) throw invalid();
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) throw invalid();
  const display = `${local}@${domain}`;
  return { display, key: display.toLowerCase() };
}

/** The key of something a client typed as an email (no checks: a look-up of a malformed one finds nothing). */
export function emailKey(raw: string): string {
  const trimmed = raw.trim().normalize('NFC');
  return trimmed.toLowerCase();
}
