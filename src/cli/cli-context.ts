import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { createTokenStore } from '../deps.js';
import { KyselyUserRepository } from '../repositories/kysely-user-repository.js';
import { describeRedisTarget } from '../stores/redis-client.js';
import type { TokenStore } from '../stores/token-store.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './cli-io.js';
import { reasonOf, redactUrl, rootCause } from './failure.js';

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
  private readonly logger: Logger = pino({ level: 'silent' });

  constructor(readonly io: CliIo) {}

  get config(): Config {
    this.loadedConfig ??= loadConfig(this.io.env, '.env');
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
      database = openDatabase(url);
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
    return new KyselyUserRepository(database.db, () => new Date(this.io.now()));
  }

  /**
   * The token store shared with the running servers (Redis), checked to answer; undefined when sessions live in
   * each server's memory, out of the CLI's reach.
   */
  async sharedTokenStore(): Promise<TokenStore | undefined> {
    const redis = this.config.redis;
    if (!redis) return undefined;
    this.store ??= createTokenStore(this.config, this.logger);
    try {
      await this.store.ping();
    } catch (error) {
      throw new CliError(
        `cannot reach the token store ${describeRedisTarget(redis)}: ${reasonOf(rootCause(error))}`,
        1,
        {
          cause: error,
        },
      );
    }
    return this.store;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.store?.close(), this.database?.close()]);
  }
}
