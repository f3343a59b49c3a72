/** A user as the rest of Keyward sees it. */
export interface User {
  id: number;
  username: string;
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
}
