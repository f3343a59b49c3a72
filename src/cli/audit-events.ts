import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../db/database.js';

/** An audit event as the CLI records and shows it. */
export interface AuditEntry {
  id: number;
  at: string;
  event: string;
  userId: number | null;
  username: string | null;
  ip: string | null;
  detail: string | null;
}

export interface NewAuditEntry {
  event: string;
  userId?: number | null;
  username?: string | null;
  detail?: Record<string, unknown>;
}

/** Records an event done from the command line (no client IP; `detail.via` says `cli`). */
export async function recordAuditEvent(
  db: Kysely<DatabaseSchema>,
  entry: NewAuditEntry,
  at: Date,
): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: at.toISOString(),
      event: entry.event,
      user_id: entry.userId ?? null,
      username: entry.username ?? null,
      ip: null,
      detail: JSON.stringify({ via: 'cli', ...entry.detail }),
    })
    .execute();
}

/** The most recent events, newest first. */
export async function recentAuditEvents(db: Kysely<DatabaseSchema>, limit: number): Promise<AuditEntry[]> {
  return db
    .selectFrom('audit_events')
    .select(['id', 'at', 'event', 'user_id as userId', 'username', 'ip', 'detail'])
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
