import type { User } from '../repositories/user-repository.js';

/** A user as the API shows it (SPEC §2, §9, §10, §12). */
export interface UserView {
  id: number;
  username: string;
  email: string | null;
  email_verified: boolean;
  /** Sorted, without duplicates (SPEC §12). */
  roles: string[];
  mfa_enabled: boolean;
}

export function userView(user: User): UserView {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    email_verified: user.emailVerified,
    roles: user.roles,
    mfa_enabled: user.mfaEnabled,
  };
}
