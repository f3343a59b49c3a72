import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type CompiledQuery,
  type Generated,
  type PostgresPool,
  type SqliteDatabase,
} from 'kysely';
import { ensurePrivateDir, makePrivate, PRIVATE_FILE } from '../private-files.js';
import { nameStatements } from './pg-prepared.js';

export interface UserTable {
  id: Generated<number>;
  username: string;
  /** NFKC + lower case: the unique, case-insensitive lookup key. */
  username_key: string;
  password_hash: string;
  created_at: string;
  updated_at: string;
  /** As given, trimmed, with the domain lower-cased; null when the account has none. */
  email: string | null;
  /** The whole address lower-cased: the unique, case-insensitive lookup key. */
  email_key: string | null;
  /** 1 once the current email was confirmed by a mailed token (0/1 on both dialects). */
  email_verified: Generated<number>;
  /** The user's roles, a JSON array of strings (migration 007). */
  roles: Generated<string>;
  /** 1 when an admin disabled the account (migration 007): its logins fail like a wrong password. */
  disabled: Generated<number>;
  /** The confirmed TOTP secret, encrypted (data-key.ts); null without a second factor. */
  totp_secret: string | null;
  /** A TOTP secret set up but not yet confirmed, encrypted. */
  totp_pending: string | null;
  /** 1 once TOTP is confirmed (an integer on both dialects). */
  mfa_enabled: Generated<number>;
}

export interface RecoveryCodeTable {
  id: Generated<number>;
  user_id: number;
  /** The data key whose derived HMAC key made `code_hash`. */
  key_id: string;
  code_hash: string;
  created_at: string;
}

/** Verification and reset tokens: only their SHA-256 is stored. */
export interface MailTokenTable {
  id: Generated<number>;
  token_hash: string;
  kind: string;
  user_id: number;
  /** The email the token was mailed to (a verification token confirms exactly that address). */
  email_key: string;
  /** The queued message that carried it (a retry replaces the token of the failed attempt). */
  message_id: number | null;
  /** Epoch milliseconds. */
  expires_at: number;
  created_at: number;
}

/** Mail to send: a row is written before the request is answered, and the background sender works it off. */
export interface MailQueueTable {
  id: Generated<number>;
  kind: string;
  user_id: number | null;
  /** A `/password/forgot` request as given (username or email); resolved by the sender, not on the request path. */
  login: string | null;
  recipient: string | null;
  ip: string | null;
  request_id: string | null;
  /** queued, sending, sent, failed (given up), dropped (nothing to send: unknown account, rate limit). */
  status: string;
  attempts: Generated<number>;
  /** Epoch milliseconds, like every time column of the mail tables. */
  next_attempt_at: number;
  /** The claim's lease: a row still `sending` after this was claimed by an instance that died. */
  locked_until: number | null;
  claim: string | null;
  created_at: number;
  finished_at: number | null;
  last_error: string | null;
}

export interface AuditEventTable {
  id: Generated<number>;
  at: string;
  event: string;
  user_id: number | null;
  username: string | null;
  ip: string | null;
  detail: string | null;
  /** The id of the request that caused the event (its `reqId` in the logs); null for the CLI's events. */
  request_id: string | null;
}

export interface DatabaseSchema {
  users: UserTable;
  audit_events: AuditEventTable;
  recovery_codes: RecoveryCodeTable;
  mail_tokens: MailTokenTable;
  mail_queue: MailQueueTable;
}

export type Dialect = 'sqlite' | 'postgres';

/** Runs a compiled read with these parameters and returns its first row, synchronously; throws the driver's error. */
export type RowReader = <T>(query: CompiledQuery<T>, parameters: readonly unknown[]) => T | undefined;

export interface Database {
  db: Kysely<DatabaseSchema>;
  dialect: Dialect;
  /**
   * How long one repository call may take before it is answered as a store outage (SPEC §7: a 503 within 2 s).
   * The driver's own timeouts bound each step (getting a connection, running the query), but a call queued behind
   * hanging connections would wait for one and then hang on it. Undefined on SQLite: better-sqlite3 runs each
   * query synchronously on the event loop, so a timer could never fire before the query ends.
   */
  deadlineMs: number | undefined;
  /**
   * SQLite only: a compiled read run straight on better-sqlite3, through the same statement cache as Kysely's
   * queries, in the turn's read snapshot (below). Kysely's driver puts each query behind a connection lock and
   * several promises, a large part of the look-up of every authenticated request
   * ([performance-log.md](../../docs/performance-log.md)). It does not take that lock, so it would read inside a
   * Kysely transaction open on the connection, uncommitted rows included: use it only where none can be (the
   * server opens one only to migrate, before it listens).
   */
  readRow?: RowReader;
  /** Resolves once the database answers a trivial query; rejects with the driver's error otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Settings for PostgreSQL; the default deadlines keep a request that meets an unreachable database under 2 s. */
export interface DatabaseOptions {
  /**
   * Run each parameterised query as a named prepared statement, parsed once per connection (default true;
   * `DATABASE_PREPARED_STATEMENTS`). Off for a PgBouncer in transaction mode before 1.21, which cannot keep them.
   */
  preparedStatements?: boolean;
  /** Getting a connection: connecting, or waiting for a free one in the pool. */
  connectTimeoutMs?: number;
  /** Server side: PostgreSQL cancels a statement running longer (a slow query frees its connection cleanly). */
  statementTimeoutMs?: number;
  /** Client side, above the statement timeout: the answer never comes because the network is gone. */
  queryTimeoutMs?: number;
}

const POSTGRES_DEFAULTS: Required<DatabaseOptions> = {
  preparedStatements: true,
  connectTimeoutMs: 1000,
  statementTimeoutMs: 1000,
  queryTimeoutMs: 1500,
};

const ignore = (): void => undefined;

/** The deadline of a repository call on PostgreSQL: a request that meets an unreachable database ends under 2 s. */
const POSTGRES_CALL_DEADLINE_MS = 1500;

function withPing(db: Kysely<DatabaseSchema>, dialect: Dialect, readRow?: RowReader): Database {
  return {
    db,
    dialect,
    deadlineMs: dialect === 'postgres' ? POSTGRES_CALL_DEADLINE_MS : undefined,
    readRow,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

const STATEMENT_CACHE_SIZE = 256;

/** better-sqlite3 for Kysely's SqliteDialect, plus the synchronous reader behind Database.readRow. */
interface SqliteConnection extends SqliteDatabase {
  readRow: RowReader;
}

/**
 * better-sqlite3 with its statements prepared once per SQL text. Kysely's SqliteDialect prepares on every query,
 * which cost about as much as running the indexed user look-up itself. Kysely's queries are a handful of fixed texts, so the cache stays small; a statement still being
 * iterated is never handed out twice.
 *
 * `readRow` reads in one snapshot per event-loop turn. Outside a transaction every SQLite statement takes and drops
 * the WAL read lock, two `fcntl` calls that were most of a user look-up's cost (docs/performance-log.md); a loaded
 * server runs several look-ups per turn (the Redis replies of a turn arrive together), so the first one
 * opens a read transaction and the turn's end (setImmediate) commits it. Any other statement on the connection
 * (every Kysely query, a write above all) commits it first, so this process always reads its own writes; another
 * process's writes (the CLI, other workers) are seen from the next turn on, as they would be by a look-up that
 * had started a moment earlier. Inside a transaction someone else opened, reads simply run in it.
 */
function preparedOnce(sqlite: SQLite.Database): SqliteConnection {
  const statements = new Map<string, SQLite.Statement>();
  const statement = (text: string): SQLite.Statement => {
    let prepared = statements.get(text);
    if (prepared === undefined || prepared.busy) {
      prepared = sqlite.prepare(text);
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
      statements.set(text, prepared);
    }
    return prepared;
  };
  const begin = sqlite.prepare('BEGIN');
  const commit = sqlite.prepare('COMMIT');
  let snapshot = false;
  // A call, not a property read: TypeScript would keep a narrowed `inTransaction` across the COMMIT below.
  const inTransaction = (): boolean => sqlite.inTransaction;
  const endSnapshot = (): void => {
    if (!snapshot) return;
    snapshot = false;
    if (!inTransaction()) return;
    try {
      commit.run();
    } catch {
      // Ending a transaction that only read cannot lose anything; never leave it open (it would pin the snapshot).
      if (inTransaction()) sqlite.exec('ROLLBACK');
    }
  };
  return {
    close: () => {
      endSnapshot();
      sqlite.close();
    },
    prepare: (text: string) => {
      endSnapshot();
      return statement(text);
    },
    // A read's statement is never busy: `get` does not iterate.
    readRow: <T>(query: CompiledQuery<T>, parameters: readonly unknown[]) => {
      if (!snapshot && !inTransaction()) {
        begin.run();
        snapshot = true;
        setImmediate(endSnapshot);
      }
      return (statement(query.sql) as SQLite.Statement<unknown[], T>).get(...parameters);
    },
  };
}

/** The file of a `sqlite:<file>` URL (`:memory:` when it names none); undefined for a PostgreSQL URL. */
export function sqliteFile(url: string): string | undefined {
  return url.startsWith('sqlite:') ? url.slice('sqlite:'.length) || ':memory:' : undefined;
}

/**
 * Opens the database named by DATABASE_URL (`sqlite:<file>` or `postgres://…`). Tools that run long statements
 * on purpose (a migration building an index on a large table) pass longer PostgreSQL deadlines.
 */
export function openDatabase(url: string, options: DatabaseOptions = {}): Database {
  const file = sqliteFile(url);
  if (file !== undefined) {
    if (file !== ':memory:') {
      // SQLite gives the -wal and -shm files the mode of the database file: a 0600 database keeps them 0600.
      ensurePrivateDir(path.dirname(path.resolve(file)));
      closeSync(openSync(file, 'a', PRIVATE_FILE));
      for (const suffix of ['', '-wal', '-shm']) makePrivate(`${file}${suffix}`);
    }
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const database = preparedOnce(sqlite);
    return withPing(
      new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database }) }),
      'sqlite',
      database.readRow,
    );
  }
  const timeouts = { ...POSTGRES_DEFAULTS, ...options };
  // Kysely calls this at the first query.
  const pool = () => postgresPool(url, timeouts);
  return withPing(new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
}

/**
 * The pg pool, and pg itself loaded on first use: a server on SQLite never loads it (about 3 MB of resident
 * memory, docs/performance-log.md).
 */
async function postgresPool(url: string, timeouts: Required<DatabaseOptions>): Promise<PostgresPool> {
  const { default: pg } = await import('pg');
  // pg returns BIGINT/COUNT as strings; our ids fit in a double.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: timeouts.statementTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
    keepAlive: true,
  });
  const names = new Map<string, string>();
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', ignore);
  // pg emits 'error' on a checked-out client whose connection drops, and the pool only listens while the client
  // is idle: without this listener a database going away mid-query is an uncaught exception. The query itself
  // fails with the same error, and the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', ignore);
    if (timeouts.preparedStatements) nameStatements(client, names);
  });
  return pool;
}
