/** A user as the rest of Keyward sees it. */
export interface User {
  id: number;
  username: string;
  /** Trimmed, domain lower-cased; null when the account has none. */
  email: string | null;
  emailVerified: boolean;
}

export interface UserWithHash extends User {
  passwordHash: string;
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
  list(options: { limit: number; afterId?: number }): Promise<User[]>;
  count(): Promise<number>;
  ping(): Promise<void>;
}
