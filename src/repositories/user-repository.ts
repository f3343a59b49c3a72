/** A user as the rest of Keyward sees it. */
export interface User {
  id: number;
  username: string;
  /** A second factor (TOTP) is confirmed: a login needs it. */
  mfaEnabled: boolean;
  /** Trimmed, domain lower-cased; null when the account has none. */
  email: string | null;
  emailVerified: boolean;
  /** Sorted, without duplicates (src/services/roles.ts). */
  roles: string[];
  /** Disabled by an admin: its logins fail like a wrong password. */
  disabled: boolean;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

/** The user of a row read with its hash, the hash left out. */
export function withoutHash(user: UserWithHash): User {
  const copy: Partial<UserWithHash> = { ...user };
  delete copy.passwordHash;
  return copy as User;
}

export interface NewUser {
  username: string;
  usernameKey: string;
  passwordHash: string;
  email?: { display: string; key: string } | undefined;
}

export interface UserChanges {
  username?: { display: string; key: string };
  passwordHash?: string;
  /** A new email, unverified until confirmed. */
  email?: { display: string; key: string };
}

/** A user's second factor as stored: secrets encrypted (data-key.ts), never in plain text. */
export interface MfaState extends UserWithHash {
  totpSecret: string | null;
  totpPending: string | null;
}

/** One recovery code as stored: the HMAC of the code under the key derived from data key `keyId`. */
export interface RecoveryCodeHash {
  keyId: string;
  hash: string;
}

/** The encrypted secrets of one user, for re-encryption under a new data key. */
export interface EncryptedSecrets {
  id: number;
  totpSecret: string | null;
  totpPending: string | null;
}

/**
 * User storage; raises `username_taken` (or `email_taken`) on a case-insensitive clash and StoreUnavailableError
 * when unreachable.
 */
export interface UserRepository {
  create(user: NewUser): Promise<User>;
  findById(id: number): Promise<User | undefined>;
  findWithHashById(id: number): Promise<UserWithHash | undefined>;
  findByUsernameKey(key: string): Promise<UserWithHash | undefined>;
  findByEmailKey(key: string): Promise<User | undefined>;
  /** Marks the email verified if it is still the one whose key is given; false otherwise. */
  markEmailVerified(id: number, emailKey: string): Promise<boolean>;
  /** Applies the changes; undefined when the user no longer exists. */
  update(id: number, changes: UserChanges): Promise<User | undefined>;
  /** Replaces the hash only if it is still `expected` (a rehash must not undo a concurrent password change). */
  replaceHash(id: number, expected: string, next: string): Promise<boolean>;
  delete(id: number): Promise<boolean>;
  /** Users in id order after `afterId`; `query` keeps those whose username key contains it. */
  list(options: { limit: number; afterId?: number; query?: string }): Promise<User[]>;
  /** Replaces the roles; undefined when the user no longer exists. */
  setRoles(id: number, roles: readonly string[]): Promise<User | undefined>;
  /** Disables or enables the account; undefined when the user no longer exists. */
  setDisabled(id: number, disabled: boolean): Promise<User | undefined>;
  count(): Promise<number>;
  ping(): Promise<void>;
  /** The user with their second-factor state; undefined when the user does not exist. */
  findMfa(id: number): Promise<MfaState | undefined>;
  /** Stores a pending TOTP secret, unless a second factor is already enabled; false then (or no such user). */
  setPendingTotp(id: number, encrypted: string): Promise<boolean>;
  /**
   * Confirms the pending secret `expectedPending` (enables the second factor) and stores these recovery codes
   * instead of any earlier ones, in one transaction; false when the pending secret changed or MFA is already on.
   */
  enableTotp(id: number, expectedPending: string, codes: RecoveryCodeHash[]): Promise<boolean>;
  /** Removes the second factor, pending secret and recovery codes; false when none was enabled. */
  disableMfa(id: number): Promise<boolean>;
  /** Replaces every recovery code of a user whose second factor is enabled; false otherwise. */
  replaceRecoveryCodes(id: number, codes: RecoveryCodeHash[]): Promise<boolean>;
  /** True when one of `hashes` (candidates of one code under each data key) is an unused code of the user. */
  hasRecoveryCode(id: number, hashes: readonly string[]): Promise<boolean>;
  /** Uses a code up: true when this call removed it (a concurrent use of the same code gets false). */
  useRecoveryCode(id: number, hashes: readonly string[]): Promise<boolean>;
  /** How many unused recovery codes the user has. */
  countRecoveryCodes(id: number): Promise<number>;
  /** Recovery codes per data key id (for `keyward keys data-key list`). */
  recoveryCodeKeys(): Promise<Map<string, number>>;
  /** Users holding an encrypted secret, by id, `limit` after `afterId`. */
  listEncryptedSecrets(options: { limit: number; afterId?: number }): Promise<EncryptedSecrets[]>;
  /** Replaces a user's encrypted secrets if they are still `expected`; false when they changed meanwhile. */
  replaceEncryptedSecrets(expected: EncryptedSecrets, next: EncryptedSecrets): Promise<boolean>;
}
