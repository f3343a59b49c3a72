import type { Cluster, Redis } from 'ioredis';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateReachable } from './db/migrator.js';
import { AccountFacade } from './facades/account-facade.js';
import { AdminFacade } from './facades/admin-facade.js';
import { AuthFacade } from './facades/auth-facade.js';
import { MfaFacade } from './facades/mfa-facade.js';
import { OAuthFacade } from './facades/oauth-facade.js';
import { OpsFacade } from './facades/ops-facade.js';
import { UserFacade } from './facades/user-facade.js';
import { createMailer } from './mail/mailer.js';
import { MailQueue } from './mail/mail-queue.js';
import { KyselyAuditRepository } from './repositories/kysely-audit-repository.js';
import { KyselyMailRepository } from './repositories/kysely-mail-repository.js';
import { KyselyUserRepository } from './repositories/kysely-user-repository.js';
import type { AuditDetail } from './repositories/audit-repository.js';
import type { UserRepository } from './repositories/user-repository.js';
import { prettyDestination } from './pretty-log.js';
import { redactLogLine } from './redact-log-line.js';
import { redactUrl } from './redact-url.js';
import { AuditLog, origin } from './services/audit-log.js';
import { loadDataKeyRing, type DataKeyRing } from './services/data-key.js';
import { ClientAuthenticator } from './services/client-authenticator.js';
import { Metrics } from './services/metrics.js';
import { MfaService } from './services/mfa-service.js';
import { PasswordHasher } from './services/password-hasher.js';
import { PasswordPolicy } from './services/password-policy.js';
import { RecoveryService } from './services/recovery-service.js';
import { RateLimiter } from './services/rate-limiter.js';
import { RefreshTokens } from './services/refresh-tokens.js';
import { SessionService } from './services/session-service.js';
import { loadKeySet, throwawayKeySet, type KeyOptions, type KeySet } from './services/signing-keys.js';
import { TokenService } from './services/token-service.js';
import { UserService } from './services/user-service.js';
import { DEFAULT_MAX_KEYS_PER_GROUP, MemoryRateLimitStore } from './stores/memory-rate-limit-store.js';
import { MemoryTokenStore } from './stores/memory-token-store.js';
import type { RateLimitStore } from './stores/rate-limit-store.js';
import { RedisRateLimitStore } from './stores/redis-rate-limit-store.js';
import { RedisTokenStore } from './stores/redis-token-store.js';
import type { TokenStore } from './stores/token-store.js';

/** Everything the app is built from, each built once here (the seed's singletons, without getInstance()). */
export interface Deps {
  logger: Logger;
  database: Database;
  users: UserRepository;
  tokenStore: TokenStore;
  rateLimitStore: RateLimitStore;
  metrics: Metrics;
  audit: AuditLog;
  keys: KeySet;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  sessions: SessionService;
  userFacade: UserFacade;
  authFacade: AuthFacade;
  mfaFacade: MfaFacade;
  opsFacade: OpsFacade;
  dataKeys: DataKeyRing;
  accountFacade: AccountFacade;
  /** The durable mail queue; the server starts its background sender (the CLI does not) and closeDeps stops it. */
  mailQueue: MailQueue;
  adminFacade: AdminFacade;
  oauthFacade: OAuthFacade;
}

export interface DepsOverrides {
  logger?: Logger;
  now?: () => number;
}

/** What the HTTP layer logs of a request (structurally: this module does not import Fastify). */
interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
}

/**
 * The request as logged: no route reads anything from a query string, so a client that puts a token or a
 * password in the URL gets it replaced rather than written to the logs.
 */
function serializeRequest(req: LoggedRequest): Record<string, string | undefined> {
  const query = req.url.indexOf('?');
  return {
    method: req.method,
    url: query === -1 ? req.url : `${req.url.slice(0, query)}?[redacted]`,
    host: req.host,
    remoteAddress: req.ip,
  };
}

/** Whether logs are pretty-printed: LOG_FORMAT=pretty, or `auto` with stdout a terminal (a person reading). */
export function prettyLogs(
  config: Pick<Config, 'logFormat'>,
  // Undefined, not false, when stdout is a pipe or a file, whatever the typings say.
  stdoutIsTty: unknown = process.stdout.isTTY,
): boolean {
  return config.logFormat === 'pretty' || (config.logFormat === 'auto' && stdoutIsTty === true);
}

/**
 * The logger; every line it writes goes through redactLogLine (the values of SECRET_FIELDS are replaced at any
 * depth) before it reaches its destination, JSON lines or pino-pretty (prettyLogs). `destination` defaults to
 * stdout (tests pass a capture stream; it is then pretty only with LOG_FORMAT=pretty).
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    hooks: { streamWrite: redactLogLine },
    serializers: { req: serializeRequest },
  };
  const pretty = destination ? config.logFormat === 'pretty' : prettyLogs(config);
  if (pretty) return pino(options, prettyDestination(destination));
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The Redis client the config names (one per instance: the token store and the rate limits share it). The client
 * module, and ioredis with it, is loaded only then: a server on the memory store never loads it (about 5 MB of
 * resident memory, docs/performance-log.md).
 */
async function createRedis(config: Config, logger: Logger): Promise<Redis | Cluster | undefined> {
  if (!config.redis) return undefined;
  const { createRedisClient, describeRedisTarget } = await import('./stores/redis-client.js');
  const client = createRedisClient(config.redis);
  client.on('error', (error: Error) => {
    logger.warn({ err: { message: error.message } }, 'redis connection error');
  });
  logger.info({ redis: describeRedisTarget(config.redis) }, 'token store: redis');
  return client;
}

/**
 * The token store the config names: Redis when configured, in-process memory otherwise.
 * The store owns `client` and quits it on close.
 */
function createTokenStore(config: Config, logger: Logger, client: Redis | Cluster | undefined): TokenStore {
  const policy = {
    idleTtlMs: config.tokens.sessionIdleTtlSec * 1000,
    maxTtlMs: config.tokens.sessionMaxTtlSec * 1000,
    refreshReuseWindowMs: config.tokens.refreshReuseWindowSec * 1000,
  };
  if (!config.redis || !client) {
    logger.info('token store: in-process memory (single instance only; sessions are lost on restart)');
    return new MemoryTokenStore(policy);
  }
  return new RedisTokenStore(client, config.redis.keyPrefix, policy);
}

/** Rate-limit counters beside the tokens: in the same Redis when there is one, in memory otherwise. */
function createRateLimitStore(config: Config, client: Redis | Cluster | undefined): RateLimitStore {
  if (config.redis && client) return new RedisRateLimitStore(client, config.redis.keyPrefix);
  // One IP holds its attempts counter, its signup counter and a failure counter per username it tried (at most
  // RATE_LIMIT_LOGIN_IP of them in a window, since abandoned attempts leave none): the cap is well above that.
  return new MemoryRateLimitStore({
    maxKeysPerGroup: Math.max(DEFAULT_MAX_KEYS_PER_GROUP, 2 * (config.rateLimit.loginPerIp + 2)),
  });
}

/** The signing-key options the config names: the one mapping of Config to them (server and `keyward keys`). */
export function signingKeyOptions(config: Config): KeyOptions {
  return {
    hmacSecret: config.jwt.hmacSecret,
    privateKeyPem: config.jwt.privateKeyPem,
    privateKeyFile: config.jwt.privateKeyFile,
    keysDir: config.jwt.keysDir,
    refreshSecret: config.tokens.refreshSecret,
  };
}

/** What an entry point opens itself before the services are built over it. */
interface Foundation {
  logger: Logger;
  now: () => number;
  database: Database;
  redis: Redis | Cluster | undefined;
  keys: KeySet;
  /** The data keys that encrypt TOTP secrets (the CLI's may be empty: it never encrypts through the facades). */
  dataKeys: DataKeyRing;
  /** Process metrics (CPU, memory, event loop) are for a server, not for a one-off command. */
  processMetrics: boolean;
  /** Whether a hash's duration counts in the metrics yet (not the warm-up's). */
  observeHashes: () => boolean;
  /** Added to every audit event's detail (the CLI's `via: "cli"`). */
  auditDetail?: AuditDetail;
  /** The sessions live in other processes' memory (the CLI without REDIS_URL). */
  sessionsOutOfReach: boolean;
  onAuditWriteError?: ((error: unknown) => void) | undefined;
}

/** Builds every service and facade once over an entry point's foundation: the one wiring of the use cases. */
function assemble(config: Config, base: Foundation): Deps {
  const { logger, now, database, redis, keys } = base;
  const users = new KyselyUserRepository(database, () => new Date(now()));
  const tokenStore = createTokenStore(config, logger, redis);
  const rateLimitStore = createRateLimitStore(config, redis);
  const tokens = new TokenService({
    keys,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtlSec: config.tokens.accessTtlSec,
    maxTokenBytes: config.jwt.maxTokenBytes,
    now,
  });
  const mailRepository = new KyselyMailRepository(database);
  // Read at scrape time only, by when `hasher` and `mailQueue` exist.
  const metrics = new Metrics({
    processMetrics: base.processMetrics,
    hashQueueDepth: () => hasher.queueDepth,
    mailQueue: () => mailQueue.stats(),
  });
  const hasher = new PasswordHasher({
    argon2: config.passwords.argon2,
    concurrency: config.passwords.hashConcurrency,
    queueLimit: config.passwords.hashQueueLimit,
    nice: config.passwords.hashNice,
    onDuration: (seconds, operation) => {
      if (base.observeHashes()) metrics.hashDuration.observe({ operation }, seconds);
    },
    onPriorityError: (reason) => {
      logger.warn(
        { reason },
        'password hashing runs at the priority of requests: HASH_NICE could not be applied',
      );
    },
  });
  const audit = new AuditLog({
    repository: new KyselyAuditRepository(database.db),
    logger,
    now,
    retentionDays: config.audit.retentionDays,
    detail: base.auditDetail,
    onEvent: (event) => {
      metrics.auditEvents.inc({ event: event.event });
      if (event.event === 'login_succeeded') metrics.logins.inc({ result: 'succeeded' });
      if (event.event === 'login_failed') metrics.logins.inc({ result: 'failed' });
    },
    onWriteError: (error) => {
      metrics.auditWriteFailures.inc();
      base.onAuditWriteError?.(error);
    },
  });
  const rateLimiter = new RateLimiter({
    store: rateLimitStore,
    ...config.rateLimit,
    now,
    onReject: (limit) => {
      metrics.rateLimited.inc({ limit });
    },
  });
  logger.info({ store: rateLimitStore.kind, ...config.rateLimit }, 'rate limits');
  const policy = new PasswordPolicy({
    minLength: config.passwords.minLength,
    maxLength: config.passwords.maxLength,
  });
  const sessions = new SessionService({
    store: tokenStore,
    currentRoles: async (userId) => {
      const user = await users.findById(userId);
      return user && !user.disabled ? user.roles : undefined;
    },
    tokens,
    refreshTokens: new RefreshTokens(keys.refreshSecret),
    rotation: config.tokens.rotation,
    now,
    events: {
      tokenIssued: () => {
        metrics.tokensIssued.inc();
      },
      tokenConsumed: () => {
        metrics.tokensConsumed.inc();
      },
      sessionsRevoked: (count) => {
        metrics.sessionsRevoked.inc(count);
      },
      refreshReuse: (userId, sid, client) => {
        metrics.refreshReuse.inc();
        void audit.record({ event: 'refresh_reuse_detected', userId, ...origin(client), detail: { sid } });
      },
    },
  });
  const userService = new UserService({
    users,
    hasher,
    policy,
    onRehashError: (error) => {
      logger.warn({ err: error }, 'password rehash failed');
    },
  });
  const guards = { limiter: rateLimiter, audit };
  const mfaFacade = new MfaFacade(
    userService,
    users,
    sessions,
    new MfaService({ keys: base.dataKeys, store: tokenStore, issuer: config.mfa.issuer, now }),
    guards,
  );
  const mailQueue = new MailQueue({
    repository: mailRepository,
    mailer: createMailer(config.mail),
    logger,
    retryDelayMs: config.mail.retryDelaySec * 1000,
    retryForMs: config.mail.retryForSec * 1000,
    sendTimeoutMs: config.mail.sendTimeoutSec * 1000,
    pollIntervalMs: config.mail.pollIntervalMs,
    now,
    events: {
      sent: () => {
        metrics.mailSent.inc();
      },
      failed: () => {
        metrics.mailFailed.inc();
      },
      retried: () => {
        metrics.mailRetries.inc();
      },
    },
  });
  // Never the URL as given: it may carry the SMTP credentials.
  logger.info(
    config.mail.smtpUrl === undefined
      ? { mailer: 'outbox', dir: config.mail.outboxDir }
      : { mailer: 'smtp', smtp: redactUrl(config.mail.smtpUrl) },
    'mailer',
  );
  const recovery = new RecoveryService({
    mail: mailRepository,
    resetTtlSec: config.mail.resetTtlSec,
    verificationTtlSec: config.mail.verificationTtlSec,
    now,
  });
  return {
    logger,
    database,
    users,
    tokenStore,
    rateLimitStore,
    metrics,
    audit,
    keys,
    hasher,
    policy,
    sessions,
    userFacade: new UserFacade(userService, sessions, {
      ...guards,
      sessionsOutOfReach: base.sessionsOutOfReach,
      recovery,
    }),
    authFacade: new AuthFacade(userService, sessions, guards, mfaFacade),
    mfaFacade,
    dataKeys: base.dataKeys,
    opsFacade: new OpsFacade(users, tokenStore, keys, metrics),
    accountFacade: new AccountFacade(
      userService,
      sessions,
      recovery,
      mailQueue,
      { publicUrl: config.mail.publicUrl },
      guards,
    ),
    mailQueue,
    adminFacade: new AdminFacade(userService, sessions, recovery, audit),
    oauthFacade: new OAuthFacade({
      sessions,
      clients: new ClientAuthenticator(config.introspectionClients),
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      audit,
    }),
  };
}

/** Builds every service once and wires them; runs pending migrations. */
export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const logger = overrides.logger ?? createLogger(config);
  const now = overrides.now ?? Date.now;
  const database = openDatabase(config.databaseUrl, config.databaseOptions);
  try {
    await migrateReachable(database, config.databaseUrl);
  } catch (error) {
    await database.close();
    throw error;
  }
  const keys = loadKeySet(signingKeyOptions(config));
  logger.info({ kid: keys.signer.kid, alg: keys.signer.alg, keys: keys.byKid.size }, 'signing key loaded');
  const dataKeys = loadDataKeyRing({ configured: config.mfa.dataKeys, keysDir: config.mfa.keysDir });
  logger.info({ data_key: dataKeys.current?.id, keys: dataKeys.all.length }, 'data key loaded');
  const redis = await createRedis(config, logger);
  // The warm-up verification at start is no client's password: the hash metrics begin once it is done.
  let serving = false;
  const deps = assemble(config, {
    logger,
    now,
    database,
    redis,
    keys,
    dataKeys,
    processMetrics: true,
    observeHashes: () => serving,
    sessionsOutOfReach: false,
  });
  await deps.hasher.warmUp();
  serving = true;
  deps.mailQueue.start();
  return deps;
}

/** What the `keyward` command has opened itself (it reports its own migrations and connection problems). */
export interface CliDepsOptions {
  logger: Logger;
  now: () => number;
  /** The database, already migrated. */
  database: Database;
  /** Redis connection errors, for the command's message ("max retries reached" alone says little). */
  onRedisError?: (error: Error) => void;
  /** An audit event could not be stored (the command still did its work). */
  onAuditWriteError?: (error: unknown) => void;
}

/**
 * The same services and facades as the server's, for the `keyward` command: no HTTP server, no warm-up, and the
 * hashing threads start only when a command hashes. Redis (when configured) is connected at its first command.
 * The command never signs or checks a token, so it reads no key file and writes none: its key set is a throwaway
 * in memory. Its audit events say `via: "cli"`. Without REDIS_URL the sessions live in each server's memory, out
 * of its reach, and the facades' audit events say so.
 */
export async function createCliDeps(config: Config, options: CliDepsOptions): Promise<Deps> {
  let redis: Redis | Cluster | undefined;
  if (config.redis) {
    const { createRedisClient } = await import('./stores/redis-client.js');
    redis = createRedisClient({ ...config.redis, lazyConnect: true, onError: options.onRedisError });
  }
  return assemble(config, {
    logger: options.logger,
    now: options.now,
    database: options.database,
    redis,
    keys: throwawayKeySet(),
    dataKeys: loadDataKeyRing({
      configured: config.mfa.dataKeys,
      keysDir: config.mfa.keysDir,
      generate: false,
    }),
    processMetrics: false,
    observeHashes: () => true,
    auditDetail: { via: 'cli' },
    sessionsOutOfReach: !config.redis,
    onAuditWriteError: options.onAuditWriteError,
  });
}

/** Closes the stores and ends the password-hashing threads; safe to call once the HTTP server has stopped. */
export async function closeDeps(deps: Deps): Promise<void> {
  // The sender first: it settles the rows it holds while the database is still open.
  await deps.mailQueue.stop().catch(() => undefined);
  await deps.audit.settled();
  await Promise.allSettled([
    deps.rateLimitStore.close(),
    deps.tokenStore.close(),
    deps.database.close(),
    deps.hasher.close(),
  ]);
}
