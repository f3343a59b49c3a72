import type { CompiledQuery, Kysely } from 'kysely';
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
  /**
   * The insert of every login, logout and sign-up, built and compiled once (Kysely would build the query tree
   * and compile it on each call); each call binds its values, in the columns' order here.
   */
  private readonly insert: CompiledQuery;

  constructor(private readonly db: Kysely<DatabaseSchema>) {
    this.insert = db
      .insertInto('audit_events')
      .values({ at: '', event: '', user_id: null, username: null, ip: null, detail: null, request_id: null })
      .compile();
  }

  async append(event: AuditEvent, at: Date): Promise<void> {
    const parameters = [
      at.toISOString(),
      event.event,
      event.userId ?? null,
      event.username ?? null,
      event.ip ?? null,
      event.detail ? JSON.stringify(event.detail) : null,
      event.requestId ?? null,
    ];
    try {
      await this.db.executeQuery({ ...this.insert, parameters });
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async deleteBefore(before: Date, limit: number): Promise<number> {
    try {
      // `at` is ISO-8601 text in UTC, so text order is time order, and the index on it finds the old rows.
      const result = await this.db
        .deleteFrom('audit_events')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('audit_events')
            .select('id')
            .where('at', '<', before.toISOString())
            .orderBy('id')
            .limit(limit),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async recent(query: AuditQuery): Promise<StoredAuditEvent[]> {
    try {
      // Named columns, not `*`: a prepared statement whose result changes shape (a column added by a later
      // migration while this process runs) fails on PostgreSQL until its connection is replaced.
      let select = this.db
        .selectFrom('audit_events')
        .select(['id', 'at', 'event', 'user_id', 'username', 'ip', 'detail', 'request_id']);
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
        requestId: row.request_id,
      }));
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}
