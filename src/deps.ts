import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { AuthFacade } from './facades/auth-facade.js';
import { OpsFacade } from './facades/ops-facade.js';
import { UserFacade } from './facades/user-facade.js';
import { KyselyUserRepository } from './repositories/kysely-user-repository.js';
import type { UserRepository } from './repositories/user-repository.js';
import { PasswordHasher } from './services/password-hasher.js';
import { PasswordPolicy } from './services/password-policy.js';
import { RefreshTokens } from './services/refresh-tokens.js';
import { SessionService } from './services/session-service.js';
import { loadKeySet, type KeySet } from './services/signing-keys.js';
import { TokenService } from './services/token-service.js';
import { UserService } from './services/user-service.js';
import { MemoryTokenStore } from './stores/memory-token-store.js';
import { createRedisClient } from './stores/redis-client.js';
import { RedisTokenStore } from './stores/redis-token-store.js';
import type { TokenStore } from './stores/token-store.js';

/** Everything the app is built from, each built once here (the seed's singletons, without getInstance()). */
export interface Deps {
  logger: Logger;
  database: Database;
  users: UserRepository;
  tokenStore: TokenStore;
  keys: KeySet;
  hasher: PasswordHasher;
  sessions: SessionService;
  userFacade: UserFacade;
  authFacade: AuthFacade;
  opsFacade: OpsFacade;
}

export interface DepsOverrides {
  logger?: Logger;
  now?: () => number;
}

/** Paths pino blanks out wherever they appear in a log line: credentials and tokens never reach the logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  'current_password',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.current_password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

function createTokenStore(config: Config, logger: Logger): TokenStore {
  const policy = {
    idleTtlMs: config.tokens.sessionIdleTtlSec * 1000,
    maxTtlMs: config.tokens.sessionMaxTtlSec * 1000,
    refreshReuseWindowMs: config.tokens.refreshReuseWindowSec * 1000,
  };
  if (!config.redis) {
    logger.info('token store: in-process memory (single instance only; sessions are lost on restart)');
    return new MemoryTokenStore(policy);
  }
  const client = createRedisClient({
    url: config.redis.url,
    commandTimeoutMs: config.redis.commandTimeoutMs,
  });
  client.on('error', (error: Error) => {
    logger.warn({ err: { message: error.message } }, 'redis connection error');
  });
  logger.info({ redis: config.redis.url.replace(/\/\/[^@]*@/, '//***@') }, 'token store: redis');
  return new RedisTokenStore(client, config.redis.keyPrefix, policy);
}

/** Builds every service once and wires them; runs pending migrations. */
export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const logger = overrides.logger ?? createLogger(config);
  const now = overrides.now ?? Date.now;
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  const users = new KyselyUserRepository(database.db, () => new Date(now()));
  const keys = loadKeySet({
    hmacSecret: config.jwt.hmacSecret,
    privateKeyPem: config.jwt.privateKeyPem,
    privateKeyFile: config.jwt.privateKeyFile,
    keysDir: config.jwt.keysDir,
    refreshSecret: config.tokens.refreshSecret,
  });
  logger.info({ kid: keys.signer.kid, alg: keys.signer.alg, keys: keys.byKid.size }, 'signing key loaded');
  const tokenStore = createTokenStore(config, logger);
  const tokens = new TokenService({
    keys,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtlSec: config.tokens.accessTtlSec,
    maxTokenBytes: config.jwt.maxTokenBytes,
    now,
  });
  const hasher = new PasswordHasher({
    argon2: config.passwords.argon2,
    concurrency: config.passwords.hashConcurrency,
    queueLimit: config.passwords.hashQueueLimit,
  });
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
  });
  const userService = new UserService({
    users,
    hasher,
    policy,
    onRehashError: (error) => {
      logger.warn({ err: error }, 'password rehash failed');
    },
  });
  await hasher.warmUp();
  return {
    logger,
    database,
    users,
    tokenStore,
    keys,
    hasher,
    sessions,
    userFacade: new UserFacade(userService, sessions),
    authFacade: new AuthFacade(userService, sessions),
    opsFacade: new OpsFacade(users, tokenStore, keys),
  };
}

/** Closes the stores; safe to call once the HTTP server has stopped. */
export async function closeDeps(deps: Deps): Promise<void> {
  await Promise.allSettled([deps.tokenStore.close(), deps.database.close()]);
}
