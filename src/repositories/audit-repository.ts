/**
 * The security-relevant events of SPEC §6 (`import` is recorded by `keyward import-seed-db`, the two key events by
 * `keyward keys`).
 */
export type AuditEventName =
  | 'signup'
  | 'login_succeeded'
  | 'login_failed'
  | 'logout'
  | 'logout_all'
  | 'password_changed'
  | 'username_changed'
  | 'session_revoked'
  | 'refresh_reuse_detected'
  | 'account_deleted'
  | 'import'
  | 'signing_key_added'
  | 'signing_keys_pruned'
  | 'login_mfa_required'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'mfa_failed'
  | 'recovery_code_used'
  | 'recovery_codes_regenerated'
  | 'data_key_added'
  | 'data_key_rotated'
  | 'email_added'
  | 'email_verified'
  | 'password_reset_requested'
  | 'password_reset'
  | 'roles_changed'
  | 'account_disabled'
  | 'account_enabled'
  | 'sessions_revoked_by_admin';

/** Plain, secret-free values only: ids, counts, reasons. */
export type AuditDetail = Record<string, string | number | boolean | null>;

/** An event as recorded: who, from where, what. */
export interface AuditEvent {
  event: AuditEventName;
  userId?: number | undefined;
  username?: string | undefined;
  ip?: string | undefined;
  detail?: AuditDetail | undefined;
  /** The request that caused it (absent for the CLI's events). */
  requestId?: string | undefined;
}

/** A stored event, with its id and ISO-8601 time. */
export interface StoredAuditEvent {
  id: number;
  at: string;
  event: string;
  userId: number | null;
  username: string | null;
  ip: string | null;
  detail: AuditDetail | null;
  requestId: string | null;
}

export interface AuditQuery {
  limit: number;
  userId?: number;
  event?: string;
}

/** The audit_events table; raises StoreUnavailableError when the database cannot be reached. */
export interface AuditRepository {
  append(event: AuditEvent, at: Date): Promise<void>;
  /** The newest events first. */
  recent(query: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Deletes at most `limit` of the oldest events recorded before `before`; returns how many it deleted. */
  deleteBefore(before: Date, limit: number): Promise<number>;
}
