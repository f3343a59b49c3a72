import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { createTokenStore } from '../deps.js';
import type { AuditDetail, AuditEventName } from '../repositories/audit-repository.js';
import { KyselyAuditRepository } from '../repositories/kysely-audit-repository.js';
import { deadlineFor, KyselyUserRepository } from '../repositories/kysely-user-repository.js';
import { createRedisClient, describeRedisTarget } from '../stores/redis-client.js';
import type { TokenStore } from '../stores/token-store.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './cli-io.js';
import { redactUrl } from '../redact-url.js';
import { reasonOf, rootCause, secretValues } from './failure.js';

const DOT_ENV = '.env';

/** An audit event done from the command line. */
export interface CliAuditEvent {
  event: AuditEventName;
  userId?: number;
  username?: string;
  detail?: AuditDetail;
}

/**
 * What a command may need, each part built on first use and closed at the end: the configuration (environment
 * plus `.env`), the database (migrated to the latest version, as the server does on start) and the token store.
 */
export class CliContext {
  /** Migrations that the first database access applied. */
  appliedMigrations: string[] = [];
  private loadedConfig: Config | undefined;
  private database: Database | undefined;
  private store: TokenStore | undefined;
  private redisError: string | undefined;
  private readonly logger: Logger = pino({ level: 'silent' });

  constructor(readonly io: CliIo) {}

  get config(): Config {
    this.loadedConfig ??= loadConfig(this.io.env, DOT_ENV);
    return this.loadedConfig;
  }

  out(line = ''): void {
    this.io.stdout(`${line}\n`);
  }

  err(line: string): void {
    this.io.stderr(`${line}\n`);
  }

  get databaseLabel(): string {
    return redactUrl(this.config.databaseUrl);
  }

  /** The database named by DATABASE_URL, migrated; a clear error when it cannot be opened or reached. */
  async openDatabase(): Promise<Database> {
    if (this.database) return this.database;
    const url = this.config.databaseUrl;
    let database: Database;
    try {
      database = openDatabase(url, this.config.databaseOptions);
    } catch (error) {
      throw new CliError(`cannot open the database ${redactUrl(url)}: ${reasonOf(error)}`, 1, {
        cause: error,
      });
    }
    try {
      this.appliedMigrations = await migrateToLatest(database);
    } catch (error) {
      await database.close().catch(() => undefined);
      throw new CliError(`cannot use the database ${redactUrl(url)}: ${reasonOf(rootCause(error))}`, 1, {
        cause: error,
      });
    }
    this.database = database;
    return database;
  }

  async users(): Promise<KyselyUserRepository> {
    const database = await this.openDatabase();
    return new KyselyUserRepository(
      database.db,
      () => new Date(this.io.now()),
      deadlineFor(database.dialect),
      database.readRow,
    );
  }

  /**
   * The token store shared with the running servers (Redis), checked to answer; undefined when sessions live in
   * each server's memory, out of the CLI's reach.
   */
  async sharedTokenStore(): Promise<TokenStore | undefined> {
    const redis = this.config.redis;
    if (!redis) return undefined;
    if (!this.store) {
      const client = createRedisClient(redis);
      // A command that cannot get through only says "max retries reached"; the connection error says why.
      client.on('error', (error: Error) => {
        this.redisError = reasonOf(error);
      });
      this.store = createTokenStore(this.config, this.logger, client);
    }
    try {
      await this.store.ping();
    } catch (error) {
      const reason = this.redisError ?? reasonOf(rootCause(error));
      throw new CliError(`cannot reach the token store ${describeRedisTarget(redis)}: ${reason}`, 1, {
        cause: error,
      });
    }
    return this.store;
  }

  /** Records an audit event in the database (no client IP; `detail.via` says `cli`). */
  async audit(entry: CliAuditEvent): Promise<void> {
    const database = await this.openDatabase();
    await new KyselyAuditRepository(database.db).append(
      { ...entry, detail: { via: 'cli', ...entry.detail } },
      new Date(this.io.now()),
    );
  }

  async auditLog(): Promise<KyselyAuditRepository> {
    const database = await this.openDatabase();
    return new KyselyAuditRepository(database.db);
  }

  /** The secret values of the settings (environment and `.env`), to scrub from failure output. */
  secrets(): string[] {
    let dotEnv: Record<string, string> = {};
    try {
      if (existsSync(DOT_ENV)) dotEnv = parseEnv(readFileSync(DOT_ENV, 'utf8')) as Record<string, string>;
    } catch {
      // An unreadable .env has already been reported by loadConfig, or will be.
    }
    return secretValues([dotEnv, this.io.env]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.store?.close(), this.database?.close()]);
  }
}
