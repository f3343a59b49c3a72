import { DomainError, ERRORS } from '../errors.js';
import {
  withoutHash,
  type User,
  type UserChanges,
  type UserRepository,
} from '../repositories/user-repository.js';
import type { SessionGeneration } from '../stores/token-store.js';
import type { PasswordHasher } from './password-hasher.js';
import type { PasswordPolicy } from './password-policy.js';
import { usernameKey } from '../domain/username.js';
import { emailKey, normalizeEmail, type EmailAddress } from './email-address.js';
import { normalizeRoles } from './roles.js';

export interface AccountChanges {
  username?: string | undefined;
  password?: string | undefined;
  currentPassword?: string | undefined;
  email?: string | undefined;
}

/** A change request that passed every rule that does not need the account. */
export interface CheckedChanges {
  username?: { display: string; key: string };
  password?: string;
  /** Required for every change: a stolen access token alone can neither rename an account, re-password it nor
   * move its email (where a password reset goes). */
  currentPassword: string;
  email?: EmailAddress;
}

/** The outcome of a credential check (the reason is for the audit log, never for the client). */
export type CredentialCheck =
  | { ok: true; user: User; generation: SessionGeneration }
  | { ok: false; reason: 'unknown_user' }
  | { ok: false; reason: 'wrong_password' | 'disabled'; userId: number };

export interface UserServiceOptions {
  users: UserRepository;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  /** Called when a stored hash could not be upgraded (the login still succeeds). */
  onRehashError: (error: unknown) => void;
}

/** Accounts: registration, credential checks with rehash-on-login, profile changes, deletion. */
export class UserService {
  private readonly users: UserRepository;
  private readonly hasher: PasswordHasher;
  private readonly policy: PasswordPolicy;
  private readonly onRehashError: (error: unknown) => void;

  constructor(options: UserServiceOptions) {
    this.users = options.users;
    this.hasher = options.hasher;
    this.policy = options.policy;
    this.onRehashError = options.onRehashError;
  }

  /**
   * Creates an account after every policy check; `username_taken` (or `email_taken`) on a case-insensitive
   * clash. The email, when given, starts unverified.
   */
  async register(username: string, password: string, email?: string): Promise<User> {
    const name = this.policy.checkUsername(username);
    const address = email === undefined ? undefined : normalizeEmail(email);
    this.policy.checkPassword(password);
    this.policy.checkPasswordAgainstUsername(password, name.display);
    // A cheap look-up first spares a hash for an obvious duplicate; the unique index settles races.
    if (await this.users.findByUsernameKey(name.key)) throw new DomainError('username_taken');
    if (address && (await this.users.findByEmailKey(address.key))) throw new DomainError('email_taken');
    const passwordHash = await this.hasher.hash(password);
    return this.users.create({ username: name.display, usernameKey: name.key, passwordHash, email: address });
  }

  /** The account a `/password/forgot` login names: a username, or else an email. */
  async findByLogin(login: string): Promise<User | undefined> {
    const byName = await this.users.findByUsernameKey(usernameKey(login));
    if (byName) return withoutHash(byName);
    return this.users.findByEmailKey(emailKey(login));
  }

  /** Checks a new password against the policy (for this account's username) and hashes it. */
  async hashNewPassword(user: User, password: string): Promise<string> {
    this.policy.checkPassword(password);
    this.policy.checkPasswordAgainstUsername(password, user.username);
    return this.hasher.hash(password);
  }

  /**
   * Sets a password hash computed by `hashNewPassword` (a reset by mail); false when the account is gone. The
   * fence is the commit point, as in `setPassword`: if it fails, the old hash is put back.
   */
  async setPasswordHash(userId: number, passwordHash: string, fence: () => Promise<void>): Promise<boolean> {
    const current = await this.users.findWithHashById(userId);
    if (!current || !(await this.users.update(userId, { passwordHash }))) return false;
    try {
      await fence();
    } catch (error) {
      await this.users.replaceHash(userId, passwordHash, current.passwordHash).catch(() => false);
      throw error;
    }
    return true;
  }

  /** Sets a new, unverified email (an operator's); `email_taken` when another account has it. */
  async setEmail(userId: number, email: string): Promise<User> {
    const address = normalizeEmail(email);
    const owner = await this.users.findByEmailKey(address.key);
    if (owner && owner.id !== userId) throw new DomainError('email_taken');
    const user = await this.users.update(userId, { email: address });
    if (!user) throw new DomainError('not_found', { message: 'no such user' });
    return user;
  }

  /** Marks the email verified if it is still the address `emailKey` names. */
  markEmailVerified(userId: number, key: string): Promise<boolean> {
    return this.users.markEmailVerified(userId, key);
  }

  /**
   * Checks a login's credentials; the reason of a failure is for the audit log only: clients always get the same
   * `invalid_credentials`, after the same work (an unknown user costs a dummy verification).
   *
   * `readGeneration` reads the user's session generation (SessionService.generation), which a session opened
   * from this check must be created against. It is read before the password hash that is verified: the hash is
   * read again after it. A password change writes the new hash first and moves the generation on after it, so
   * a check that verified the old hash read the generation before that move, and its session is refused.
   * (Reading the hash first would let a change that lands between the two reads pass unnoticed.)
   */
  async checkCredentials(
    username: string,
    password: string,
    readGeneration: (userId: number) => Promise<SessionGeneration>,
  ): Promise<CredentialCheck> {
    const found = await this.users.findByUsernameKey(usernameKey(username));
    const generation = found && (await readGeneration(found.id));
    const user = found && (await this.users.findWithHashById(found.id));
    if (!user || generation === undefined) {
      await this.hasher.verifyDummy(password);
      return { ok: false, reason: 'unknown_user' };
    }
    const result = await this.hasher.verify(user.passwordHash, password);
    if (!result.ok) return { ok: false, reason: 'wrong_password', userId: user.id };
    // Checked after the password, so that a disabled account answers exactly like a wrong password, after the
    // same work (SPEC §12: the usual 401), and only its owner's right password reveals nothing either.
    if (user.disabled) return { ok: false, reason: 'disabled', userId: user.id };
    if (result.needsRehash) await this.rehash(user.id, user.passwordHash, password);
    return { ok: true, user: withoutHash(user), generation };
  }

  /** Whether `password` is the one behind `passwordHash` (a re-check of the account holder, e.g. for MFA changes). */
  async passwordMatches(passwordHash: string, password: string): Promise<boolean> {
    return (await this.hasher.verify(passwordHash, password)).ok;
  }

  async find(id: number): Promise<User | undefined> {
    return this.users.findById(id);
  }

  /** Checks the parts of a change that need no account, before any token is consumed. */
  checkChanges(changes: AccountChanges): CheckedChanges {
    if (changes.username === undefined && changes.password === undefined && changes.email === undefined) {
      throw new DomainError('validation_failed', { message: 'username, password or email is required' });
    }
    const username = changes.username === undefined ? undefined : this.policy.checkUsername(changes.username);
    const email = changes.email === undefined ? undefined : normalizeEmail(changes.email);
    if (changes.password !== undefined) this.policy.checkPassword(changes.password);
    if (changes.currentPassword === undefined) {
      throw new DomainError('current_password_required', {
        message:
          changes.password === undefined && changes.email === undefined
            ? 'current_password is required to change the username'
            : ERRORS.current_password_required.message,
      });
    }
    return {
      ...(username === undefined ? {} : { username }),
      ...(email === undefined ? {} : { email }),
      ...(changes.password === undefined ? {} : { password: changes.password }),
      currentPassword: changes.currentPassword,
    };
  }

  /**
   * Applies checked changes to an account; `invalid_token` when the account is gone.
   *
   * A new password is committed by `fence` (revoking the other sessions, SessionService.revokeOthers), called
   * after the new hash is written: a login that verified the old hash read the generation before the fence moves
   * it on (see checkCredentials). If the fence fails (token store down), the old hash is put back, so that the
   * client's error does not hide a changed password with the other sessions still alive.
   */
  async update(
    userId: number,
    changes: CheckedChanges,
    fence: () => Promise<void> = async () => undefined,
  ): Promise<{ user: User; passwordChanged: boolean; usernameChanged: boolean; emailChanged: boolean }> {
    const current = await this.users.findWithHashById(userId);
    if (!current) throw new DomainError('invalid_token');
    const update: UserChanges = {};
    const verified = await this.hasher.verify(current.passwordHash, changes.currentPassword);
    if (!verified.ok) throw new DomainError('wrong_current_password');
    const renamed = changes.username !== undefined && changes.username.display !== current.username;
    // The same address in another case is the same mailbox: it stays as it is, verified or not.
    if (changes.email && changes.email.key !== current.email?.toLowerCase()) {
      const owner = await this.users.findByEmailKey(changes.email.key);
      if (owner && owner.id !== userId) throw new DomainError('email_taken');
      update.email = changes.email;
    }
    if (changes.password !== undefined) {
      this.policy.checkPasswordAgainstUsername(
        changes.password,
        changes.username?.display ?? current.username,
      );
    } else if (renamed && changes.username) {
      // The password stays: the new name must not be part of it either (the same rule as at signup).
      this.policy.checkNewUsernameAgainstPassword(changes.username.display, changes.currentPassword);
    }
    if (renamed && changes.username) {
      const owner = await this.users.findByUsernameKey(changes.username.key);
      if (owner && owner.id !== userId) throw new DomainError('username_taken');
      update.username = changes.username;
    }
    if (changes.password !== undefined) update.passwordHash = await this.hasher.hash(changes.password);
    if (update.username === undefined && update.passwordHash === undefined && update.email === undefined) {
      return {
        user: withoutHash(current),
        passwordChanged: false,
        usernameChanged: false,
        emailChanged: false,
      };
    }
    const user = await this.users.update(userId, update);
    if (!user) throw new DomainError('invalid_token');
    if (update.passwordHash !== undefined) {
      const written = update.passwordHash;
      try {
        await fence();
      } catch (error) {
        // Only if no later change replaced it meanwhile; a database that fails here too leaves the new hash.
        await this.users.replaceHash(userId, written, current.passwordHash).catch(() => false);
        throw error;
      }
    }
    return {
      user,
      passwordChanged: update.passwordHash !== undefined,
      usernameChanged: update.username !== undefined,
      emailChanged: update.email !== undefined,
    };
  }

  /** Sets a new password without the current one (an operator's reset), after the password rules. */
  async setPassword(
    userId: number,
    password: string,
    fence: () => Promise<void> = async () => undefined,
  ): Promise<User> {
    this.policy.checkPassword(password);
    const current = await this.users.findWithHashById(userId);
    if (!current) throw new DomainError('not_found', { message: 'no such user' });
    this.policy.checkPasswordAgainstUsername(password, current.username);
    const written = await this.hasher.hash(password);
    const user = await this.users.update(userId, { passwordHash: written });
    if (!user) throw new DomainError('not_found', { message: 'no such user' });
    try {
      await fence();
    } catch (error) {
      // As in update: the fence is the commit point; only if no later change replaced the hash meanwhile.
      await this.users.replaceHash(userId, written, current.passwordHash).catch(() => false);
      throw error;
    }
    return user;
  }

  async delete(userId: number): Promise<boolean> {
    return this.users.delete(userId);
  }

  /** Users in id order after `afterId`, those whose name contains `query` (compared as username keys). */
  async list(options: { limit: number; afterId?: number; query?: string }): Promise<User[]> {
    const query = options.query === undefined ? undefined : usernameKey(options.query);
    return this.users.list({ ...options, query });
  }

  /** Replaces a user's roles (checked and sorted); undefined when the user does not exist. */
  async setRoles(userId: number, roles: readonly string[]): Promise<User | undefined> {
    return this.users.setRoles(userId, normalizeRoles(roles));
  }

  /** Disables or enables an account; undefined when the user does not exist. */
  async setDisabled(userId: number, disabled: boolean): Promise<User | undefined> {
    return this.users.setDisabled(userId, disabled);
  }

  private async rehash(userId: number, oldHash: string, password: string): Promise<void> {
    try {
      await this.users.replaceHash(userId, oldHash, await this.hasher.hash(password));
    } catch (error) {
      this.onRehashError(error);
    }
  }
}
