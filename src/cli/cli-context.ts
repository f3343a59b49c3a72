import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { closeDeps, createCliDeps, type Deps } from '../deps.js';
import type { AuditEvent } from '../repositories/audit-repository.js';
import { describeRedisTarget } from '../stores/redis-client.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './cli-io.js';
import { redactUrl } from '../redact-url.js';
import { reasonOf, rootCause, secretValues } from './failure.js';

const DOT_ENV = '.env';

/** An audit event done from the command line (its detail gets `via: "cli"`). */
export type CliAuditEvent = Omit<AuditEvent, 'ip' | 'requestId'>;

/**
 * What a command works with: the configuration (environment plus `.env`), its output, and `deps()`, the server's
 * own services and facades built by the same composition root (`createCliDeps` in src/deps.ts). A command is a
 * client of the facades, as a route is: it parses its arguments, calls facade methods (by user id, the operator's
 * versions of the HTTP use cases, e.g. `deps.userFacade.deleteUser`) and prints the outcome; it builds no service
 * and re-states no rule. Everything is built on first use and closed at the end.
 */
export class CliContext {
  /** Migrations that the first database access applied. */
  appliedMigrations: string[] = [];
  private loadedConfig: Config | undefined;
  private database: Database | undefined;
  private built: Promise<Deps> | undefined;
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

  /** The server's services and facades over the migrated database (Redis is connected at its first use). */
  async deps(): Promise<Deps> {
    this.built ??= this.openDatabase().then((database) =>
      createCliDeps(this.config, {
        logger: this.logger,
        now: () => this.io.now(),
        database,
        // A command that cannot get through only says "max retries reached"; the connection error says why.
        onRedisError: (error) => {
          this.redisError = reasonOf(error);
        },
        onAuditWriteError: (error) => {
          this.err(`warning: the audit event could not be recorded: ${reasonOf(rootCause(error))}`);
        },
      }),
    );
    return this.built;
  }

  /**
   * Whether the sessions are in reach: true with the token store shared with the running servers (Redis), checked
   * to answer, so that a command fails before it changes anything; false when they live in each server's memory.
   */
  async sessionsInReach(): Promise<boolean> {
    const redis = this.config.redis;
    if (!redis) return false;
    const { tokenStore } = await this.deps();
    try {
      await tokenStore.ping();
    } catch (error) {
      const reason = this.redisError ?? reasonOf(rootCause(error));
      throw new CliError(`cannot reach the token store ${describeRedisTarget(redis)}: ${reason}`, 1, {
        cause: error,
      });
    }
    return true;
  }

  /** Records an audit event in the database (no client IP; `detail.via` says `cli`). */
  async audit(entry: CliAuditEvent): Promise<void> {
    await (await this.deps()).audit.record(entry);
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
    const deps = await this.built?.catch(() => undefined);
    if (deps) await closeDeps(deps);
    else await this.database?.close().catch(() => undefined);
  }
}
