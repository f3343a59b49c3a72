import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, DatabaseSchema, Dialect, MailQueueTable } from '../db/database.js';
import { withinDeadline } from './kysely-user-repository.js';
import type {
  ClaimedMail,
  MailKind,
  MailOutcome,
  MailQueueStats,
  MailRepository,
  MailTokenKind,
  MailTokenOwner,
  NewMail,
  NewMailToken,
} from './mail-repository.js';

const MAX_ERROR = 500;

function toClaimed(row: Selectable<MailQueueTable>): ClaimedMail {
  return {
    id: row.id,
    kind: row.kind as MailKind,
    userId: row.user_id,
    login: row.login,
    recipient: row.recipient,
    ip: row.ip,
    requestId: row.request_id,
    attempts: row.attempts,
    createdAt: row.created_at,
    claim: row.claim ?? '',
  };
}

/** The mail tables on SQLite and PostgreSQL, with the same queries. */
export class KyselyMailRepository implements MailRepository {
  private readonly db: Kysely<DatabaseSchema>;
  private readonly dialect: Dialect;
  private readonly deadlineMs: number | undefined;

  constructor(database: Database) {
    this.db = database.db;
    this.dialect = database.dialect;
    this.deadlineMs = database.deadlineMs;
  }

  private guarded<T>(work: () => Promise<T>): Promise<T> {
    return withinDeadline(this.deadlineMs, work);
  }

  insertToken(token: NewMailToken, now: number): Promise<void> {
    return this.guarded(async () => {
      await this.db
        .insertInto('mail_tokens')
        .values({
          token_hash: token.hash,
          kind: token.kind,
          user_id: token.userId,
          email_key: token.emailKey,
          message_id: token.messageId,
          expires_at: token.expiresAt,
          created_at: now,
        })
        .execute();
    });
  }

  findToken(hash: string, kind: MailTokenKind, now: number): Promise<MailTokenOwner | undefined> {
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('mail_tokens')
        .select(['user_id', 'email_key'])
        .where('token_hash', '=', hash)
        .where('kind', '=', kind)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row && { userId: row.user_id, emailKey: row.email_key };
    });
  }

  consumeToken(hash: string, kind: MailTokenKind, now: number): Promise<MailTokenOwner | undefined> {
    return this.guarded(async () => {
      const row = await this.db
        .deleteFrom('mail_tokens')
        .where('token_hash', '=', hash)
        .where('kind', '=', kind)
        .returning(['user_id', 'email_key', 'expires_at'])
        .executeTakeFirst();
      if (!row || row.expires_at <= now) return undefined;
      return { userId: row.user_id, emailKey: row.email_key };
    });
  }

  deleteUserTokens(userId: number, kind: MailTokenKind): Promise<number> {
    return this.guarded(async () => {
      const result = await this.db
        .deleteFrom('mail_tokens')
        .where('user_id', '=', userId)
        .where('kind', '=', kind)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  deleteMessageTokens(messageId: number): Promise<void> {
    return this.guarded(async () => {
      await this.db.deleteFrom('mail_tokens').where('message_id', '=', messageId).execute();
    });
  }

  enqueue(mail: NewMail, now: number): Promise<number> {
    return this.guarded(async () => {
      const row = await this.db
        .insertInto('mail_queue')
        .values({
          kind: mail.kind,
          user_id: mail.userId ?? null,
          login: mail.login ?? null,
          recipient: mail.recipient ?? null,
          ip: mail.ip ?? null,
          request_id: mail.requestId ?? null,
          status: 'queued',
          next_attempt_at: now,
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
  }

  claim(claim: string, now: number, leaseMs: number, limit: number): Promise<ClaimedMail[]> {
    return this.guarded(async () => {
      // One statement: on SQLite (one writer) it is atomic by itself; on PostgreSQL the sub-select locks the rows
      // it picks and skips rows another instance has locked, so two senders never take the same message.
      const rows = await this.db
        .updateTable('mail_queue')
        .set({
          status: 'sending',
          claim,
          locked_until: now + leaseMs,
          attempts: sql<number>`attempts + 1`,
        })
        .where('id', 'in', (eb) => {
          const due = eb
            .selectFrom('mail_queue')
            .select('id')
            .where((w) =>
              w.or([
                w.and([w('status', '=', 'queued'), w('next_attempt_at', '<=', now)]),
                w.and([w('status', '=', 'sending'), w('locked_until', '<=', now)]),
              ]),
            )
            .orderBy('id')
            .limit(limit);
          return this.dialect === 'postgres' ? due.forUpdate().skipLocked() : due;
        })
        .returningAll()
        .execute();
      return rows.map(toClaimed).sort((a, b) => a.id - b.id);
    });
  }

  finish(mail: ClaimedMail, outcome: MailOutcome, now: number, error?: string): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('mail_queue')
        .set({
          status: outcome,
          finished_at: now,
          locked_until: null,
          last_error: error === undefined ? null : error.slice(0, MAX_ERROR),
        })
        .where('id', '=', mail.id)
        .where('claim', '=', mail.claim)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  retryAt(mail: ClaimedMail, at: number, error: string): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('mail_queue')
        .set({
          status: 'queued',
          next_attempt_at: at,
          locked_until: null,
          last_error: error.slice(0, MAX_ERROR),
        })
        .where('id', '=', mail.id)
        .where('claim', '=', mail.claim)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  stats(now: number): Promise<MailQueueStats> {
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('mail_queue')
        .select((eb) => [
          eb.fn.countAll<number | string>().as('n'),
          eb.fn.min<number | string | null>('created_at').as('oldest'),
        ])
        .where('status', 'in', ['queued', 'sending'])
        .executeTakeFirstOrThrow();
      // PostgreSQL returns these as strings in some drivers' setups; SQLite as numbers.
      const oldest = row.oldest === null ? undefined : Number(row.oldest);
      return { queued: Number(row.n), oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest) };
    });
  }

  prune(now: number, settledBefore: number): Promise<void> {
    return this.guarded(async () => {
      await this.db.deleteFrom('mail_tokens').where('expires_at', '<=', now).execute();
      await this.db
        .deleteFrom('mail_queue')
        .where('status', 'in', ['sent', 'dropped', 'failed'])
        .where('finished_at', '<', settledBefore)
        .execute();
    });
  }
}
