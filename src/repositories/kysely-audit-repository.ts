import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../db/database.js';
import { StoreUnavailableError } from '../errors.js';
import type {
  AuditDetail,
  AuditEvent,
  AuditQuery,
  AuditRepository,
  StoredAuditEvent,
} from './audit-repository.js';

function parseDetail(text: string | null): AuditDetail | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as AuditDetail)
      : null;
  } catch {
    return null;
  }
}

/** Audit events in SQLite or PostgreSQL, through the same Kysely queries. */
export class KyselyAuditRepository implements AuditRepository {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async append(event: AuditEvent, at: Date): Promise<void> {
    try {
      await this.db
        .insertInto('audit_events')
        .values({
          at: at.toISOString(),
          event: event.event,
          user_id: event.userId ?? null,
          username: event.username ?? null,
          ip: event.ip ?? null,
          detail: event.detail ? JSON.stringify(event.detail) : null,
        })
        .execute();
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async recent(query: AuditQuery): Promise<StoredAuditEvent[]> {
    try {
      let select = this.db.selectFrom('audit_events').selectAll();
      if (query.userId !== undefined) select = select.where('user_id', '=', query.userId);
      if (query.event !== undefined) select = select.where('event', '=', query.event);
      const rows = await select.orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map((row) => ({
        id: row.id,
        at: row.at,
        event: row.event,
        userId: row.user_id,
        username: row.username,
        ip: row.ip,
        detail: parseDetail(row.detail),
      }));
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}
