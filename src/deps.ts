import type { Cluster, Redis } from 'ioredis';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateReachable } from './db/migrator.js';
import { AccountFacade } from './facades/account-facade.js';
import { AuthFacade } from './facades/auth-facade.js';
import { OpsFacade } from './facades/ops-facade.js';
import { UserFacade } from './facades/user-facade.js';
import { createMailer } from './mail/mailer.js';
import { MailQueue } from './mail/mail-queue.js';
import { KyselyAuditRepository } from './repositories/kysely-audit-repository.js';
import { KyselyMailRepository } from './repositories/kysely-mail-repository.js';
import { deadlineFor, KyselyUserRepository } from './repositories/kysely-user-repository.js';
import type { UserRepository } from './repositories/user-repository.js';
import { redactLogLine } from './redact-log-line.js';
import { redactUrl } from './redact-url.js';
import { AuditLog, origin } from './services/audit-log.js';
import { Metrics } from './services/metrics.js';
import { PasswordHasher } from './services/password-hasher.js';
import { PasswordPolicy } from './services/password-policy.js';
import { RecoveryService } from './services/recovery-service.js';
import { RateLimiter } from './services/rate-limiter.js';
import { RefreshTokens } from './services/refresh-tokens.js';
import { SessionService } from './services/session-service.js';
import { loadKeySet, type KeySet } from './services/signing-keys.js';
import { TokenService } from './services/token-service.js';
import { UserService } from './services/user-service.js';
import { MemoryRateLimitStore } from './stores/memory-rate-limit-store.js';
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
  rateLimiter: RateLimiter;
  metrics: Metrics;
  audit: AuditLog;
  keys: KeySet;
  hasher: PasswordHasher;
  sessions: SessionService;
  userFacade: UserFacade;
  authFacade: AuthFacade;
  opsFacade: OpsFacade;
  accountFacade: AccountFacade;
  /** The durable mail queue; its background sender runs from createDeps to closeDeps. */
  mailQueue: MailQueue;
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

/**
 * The JSON logger; every line it writes goes through redactLogLine (the values of SECRET_FIELDS are replaced at any
 * depth). `destination` defaults to stdout (tests pass a capture stream).
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    hooks: { streamWrite: redactLogLine },
    serializers: { req: serializeRequest },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The Redis client the config names (one per instance: the token store and the rate limits share it). The client
 * module, and ioredis with it, is loaded only then: a server on the memory store never loads it (about 5 MB of
 * resident memory, docs/performance.md).
 */
export async function createRedis(config: Config, logger: Logger): Promise<Redis | Cluster | undefined> {
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
 * The token store the config names: Redis when configured, in-process memory otherwise (also used by the CLI).
 * The store owns `client` and quits it on close.
 */
export function createTokenStore(
  config: Config,
  logger: Logger,
  client: Redis | Cluster | undefined,
): TokenStore {
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
  return new MemoryRateLimitStore();
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
  const users = new KyselyUserRepository(
    database.db,
    () => new Date(now()),
    deadlineFor(database.dialect),
    database.readRow,
  );
  const keys = loadKeySet({
    hmacSecret: config.jwt.hmacSecret,
    privateKeyPem: config.jwt.privateKeyPem,
    privateKeyFile: config.jwt.privateKeyFile,
    keysDir: config.jwt.keysDir,
    refreshSecret: config.tokens.refreshSecret,
  });
  logger.info({ kid: keys.signer.kid, alg: keys.signer.alg, keys: keys.byKid.size }, 'signing key loaded');
  const redis = await createRedis(config, logger);
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
  // The warm-up verification at start is no client's password: the hash metrics begin once it is done.
  let serving = false;
  const mailRepository = new KyselyMailRepository(
    database.db,
    database.dialect,
    deadlineFor(database.dialect),
  );
  // Read at scrape time only, by when `hasher` and `mailQueue` exist.
  const metrics = new Metrics({
    processMetrics: true,
    hashQueueDepth: () => hasher.queueDepth,
    mailQueue: () => mailQueue.stats(),
  });
  const hasher = new PasswordHasher({
    argon2: config.passwords.argon2,
    concurrency: config.passwords.hashConcurrency,
    queueLimit: config.passwords.hashQueueLimit,
    nice: config.passwords.hashNice,
    onDuration: (seconds, operation) => {
      if (serving) metrics.hashDuration.observe({ operation }, seconds);
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
    onEvent: (event) => {
      metrics.auditEvents.inc({ event: event.event });
      if (event.event === 'login_succeeded') metrics.logins.inc({ result: 'succeeded' });
      if (event.event === 'login_failed') metrics.logins.inc({ result: 'failed' });
    },
    onWriteError: () => {
      metrics.auditWriteFailures.inc();
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
  // Never the URL: it may carry the SMTP credentials.
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
  const accountFacade = new AccountFacade(
    userService,
    sessions,
    recovery,
    mailQueue,
    { publicUrl: config.mail.publicUrl },
    { limiter: rateLimiter, audit },
  );
  await hasher.warmUp();
  serving = true;
  mailQueue.start();
  return {
    logger,
    database,
    users,
    tokenStore,
    rateLimitStore,
    rateLimiter,
    metrics,
    audit,
    keys,
    hasher,
    sessions,
    userFacade: new UserFacade(userService, sessions, { limiter: rateLimiter, audit }, recovery),
    authFacade: new AuthFacade(userService, sessions, { limiter: rateLimiter, audit }),
    opsFacade: new OpsFacade(users, tokenStore, keys, metrics),
    accountFacade,
    mailQueue,
  };
}

/** Closes the stores and ends the password-hashing threads; safe to call once the HTTP server has stopped. */
export async function closeDeps(deps: Deps): Promise<void> {
  // The sender first: it settles the rows it holds while the database is still open.
  await deps.mailQueue.stop().catch(() => undefined);
  await Promise.allSettled([
    deps.rateLimitStore.close(),
    deps.tokenStore.close(),
    deps.database.close(),
    deps.hasher.close(),
  ]);
}
