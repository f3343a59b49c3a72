import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { parseDataKeyList } from './services/data-key.js';
import type { HostPort, RedisTarget } from './stores/redis-client.js';

// `host:port[,host:port…]`, IPv6 hosts in brackets.
const HOST_PORT_LIST =
  '^\\s*(\\[[0-9A-Fa-f:.]+\\]|[^\\s,:\\[\\]]+):\\d{1,5}(\\s*,\\s*(\\[[0-9A-Fa-f:.]+\\]|[^\\s,:\\[\\]]+):\\d{1,5})*\\s*$';

/** Messages for values whose schema pattern would make an unreadable error. */
const FORMAT_HINTS: Record<string, string> = {
  REDIS_CLUSTER_NODES: 'must be a comma-separated list of host:port (e.g. 10.0.0.1:6379,10.0.0.2:6379)',
  REDIS_SENTINELS: 'must be a comma-separated list of host:port (e.g. 10.0.0.1:26379,10.0.0.2:26379)',
};

const Seconds = (def: number, description: string) => Type.Integer({ minimum: 1, default: def, description });
const Count = (def: number, description: string) => Type.Integer({ minimum: 1, default: def, description });

/** Every environment variable Keyward reads, with its default; `.env.example` documents the same list. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(sqlite:|postgres://|postgresql://)' })),
  DATABASE_PREPARED_STATEMENTS: Type.Enum(['on', 'off'], { default: 'on' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  LOG_FORMAT: Type.Enum(['auto', 'pretty', 'json'], { default: 'auto' }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  WEB_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 1 }),
  HTTP_HEADERS_TIMEOUT: Type.Integer({ minimum: 1, maximum: 300, default: 10 }),
  HTTP_REQUEST_TIMEOUT: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
  HTTP_KEEP_ALIVE_TIMEOUT: Type.Integer({ minimum: 1, maximum: 3600, default: 72 }),
  SHUTDOWN_GRACE: Type.Integer({ minimum: 0, maximum: 8, default: 3 }),

  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_HOST: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 6379 }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_:.-]{1,32}$', default: 'kw' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 1000 }),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: HOST_PORT_LIST })),
  REDIS_SENTINEL_NAME: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'mymaster' }),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),

  JWT_KEY: Type.Optional(Type.String()),
  JWT_PRIVATE_KEY: Type.Optional(Type.String({ minLength: 1 })),
  JWT_PRIVATE_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  JWT_ISSUER: Type.String({ minLength: 1, default: 'keyward' }),
  JWT_AUDIENCE: Type.String({ minLength: 1, default: 'keyward' }),
  ACCESS_TOKEN_TTL: Seconds(2100, 'access token lifetime (35 minutes, as in the seed)'),
  TOKEN_ROTATION: Type.Enum(['per-request', 'off'], { default: 'per-request' }),
  REFRESH_TOKEN_SECRET: Type.Optional(Type.String()),
  INTROSPECTION_CLIENTS: Type.Optional(Type.String()),
  REFRESH_REUSE_WINDOW: Type.Integer({ minimum: 0, maximum: 300, default: 10 }),
  SESSION_IDLE_TTL: Seconds(14 * 86400, 'session idle lifetime'),
  SESSION_MAX_TTL: Seconds(30 * 86400, 'session absolute lifetime'),

  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: 8, maximum: 1024, default: 8 }),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 8192, maximum: 4194304, default: 19456 }),
  ARGON2_ITERATIONS: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  HASH_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  HASH_QUEUE_LIMIT: Type.Integer({ minimum: 0, maximum: 100000, default: 64 }),
  HASH_NICE: Type.Integer({ minimum: 0, maximum: 19, default: 10 }),

  RATE_LIMIT: Type.Enum(['on', 'off'], { default: 'on' }),
  RATE_LIMIT_LOGIN_FAILURES: Count(10, 'failed logins per username+IP per window'),
  RATE_LIMIT_LOGIN_IP: Count(100, 'login attempts per IP per window'),
  RATE_LIMIT_SIGNUP_IP: Count(20, 'signups per IP per window'),
  RATE_LIMIT_WINDOW: Seconds(900, 'rate-limit window'),
  RATE_LIMIT_MFA: Count(10, 'second-factor codes tried per user per window'),

  PORTAL: Type.Enum(['on', 'off'], { default: 'on' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  AUDIT_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36500, default: 90 }),

  MFA_ISSUER: Type.String({ minLength: 1, maxLength: 64, default: 'Keyward' }),
  DATA_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 1 })),

  RATE_LIMIT_RECOVERY: Count(5, 'recovery and verification mails per account per window (dropped silently)'),
  RATE_LIMIT_RECOVERY_IP: Count(20, 'requests per IP per window on /password/forgot and /email/verify'),

  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.Optional(Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\r\\n]*@[^\\r\\n]*$' })),
  PASSWORD_RESET_TTL: Seconds(1800, 'password reset token lifetime'),
  EMAIL_VERIFICATION_TTL: Seconds(86400, 'email verification token lifetime'),
  MAIL_RETRY_DELAY: Seconds(30, 'first retry of a failed send; doubles each attempt, at most 1 hour'),
  MAIL_RETRY_FOR: Seconds(86400, 'how long a message is retried before it is given up'),
  MAIL_SEND_TIMEOUT: Type.Integer({ minimum: 1, maximum: 600, default: 30 }),
  MAIL_POLL_INTERVAL_MS: Type.Integer({ minimum: 20, maximum: 60000, default: 1000 }),
});
export type Env = Static<typeof EnvSchema>;

const WEAK_SECRETS = new Set([
  'default_jwt_secret_key',
  'secret',
  'changeme',
  'change_me',
  'your-256-bit-secret',
  // jwt.io's sample HS256 secret, long enough to pass the 32-byte rule.
  'a-string-secret-at-least-256-bits-long',
  'jwt_secret',
  'supersecret',
]);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** proxy-addr's named ranges, accepted beside addresses and CIDRs. */
const PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

function parseTrustProxy(value: string): boolean | string[] {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false' || v === 'no') return false;
  if (v === 'true' || v === 'yes') return true;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function isWeakSecret(secret: string): boolean {
  const lower = secret.toLowerCase();
  return (
    WEAK_SECRETS.has(lower) ||
    /^(.)\1*$/.test(secret) ||
    /default|changeme|example|your-256-bit-secret/.test(lower)
  );
}

function parseHostPorts(list: string): HostPort[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      return { host: entry.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(entry.slice(at + 1)) };
    });
}

function redisTarget(env: Env): RedisTarget | undefined {
  if (env.REDIS_CLUSTER_NODES !== undefined) {
    return { clusterNodes: parseHostPorts(env.REDIS_CLUSTER_NODES), password: env.REDIS_PASSWORD };
  }
  if (env.REDIS_SENTINELS !== undefined) {
    return {
      sentinels: parseHostPorts(env.REDIS_SENTINELS),
      sentinelName: env.REDIS_SENTINEL_NAME,
      password: env.REDIS_PASSWORD,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
    };
  }
  const url = env.REDIS_URL ?? (env.REDIS_HOST ? `redis://${env.REDIS_HOST}:${env.REDIS_PORT}` : undefined);
  return url === undefined ? undefined : { url };
}

/** A host as written in a URL: IPv6 addresses in brackets. */
function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function toConfig(env: Env) {
  const dataDir = path.resolve(env.DATA_DIR);
  const redis = redisTarget(env);
  return {
    port: env.PORT,
    host: env.HOST,
    dataDir,
    databaseUrl: env.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'users.db')}`,
    /** PostgreSQL: queries as named prepared statements (SQLite prepares each text once regardless). */
    databaseOptions: { preparedStatements: env.DATABASE_PREPARED_STATEMENTS === 'on' },
    logLevel: env.LOG_LEVEL,
    /** `auto`: pretty-printed when stdout is a terminal, JSON lines otherwise. */
    logFormat: env.LOG_FORMAT,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins: env.CORS_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    webConcurrency: env.WEB_CONCURRENCY,
    bodyLimit: 64 * 1024,
    http: {
      /** Until the last header line of a request (a client that trickles its headers is cut off). */
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT * 1000,
      /** Until the whole request, body included, has arrived. */
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT * 1000,
      /** An idle keep-alive connection is closed after this. */
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT * 1000,
      /** A connection with no traffic either way (e.g. a client that never reads its response). */
      socketTimeoutMs: Math.max(120, env.HTTP_KEEP_ALIVE_TIMEOUT + 10) * 1000,
      /** On SIGTERM, how long idle keep-alive connections stay open (and are served) before they are closed. */
      shutdownGraceMs: env.SHUTDOWN_GRACE * 1000,
    },
    redis: redis
      ? { ...redis, keyPrefix: env.REDIS_KEY_PREFIX, commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS }
      : undefined,
    jwt: {
      hmacSecret: env.JWT_KEY,
      privateKeyPem: env.JWT_PRIVATE_KEY,
      privateKeyFile: env.JWT_PRIVATE_KEY_FILE,
      keysDir: path.join(dataDir, 'keys'),
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      maxTokenBytes: 8 * 1024,
    },
    /** RFC 7662: the clients that may call POST /introspect (HTTP Basic). */
    introspectionClients: parseIntrospectionClients(env.INTROSPECTION_CLIENTS),
    tokens: {
      accessTtlSec: env.ACCESS_TOKEN_TTL,
      rotation: env.TOKEN_ROTATION,
      refreshSecret: env.REFRESH_TOKEN_SECRET,
      refreshReuseWindowSec: env.REFRESH_REUSE_WINDOW,
      sessionIdleTtlSec: env.SESSION_IDLE_TTL,
      sessionMaxTtlSec: env.SESSION_MAX_TTL,
    },
    passwords: {
      minLength: env.PASSWORD_MIN_LENGTH,
      maxLength: 1024,
      argon2: {
        memoryCost: env.ARGON2_MEMORY_KIB,
        timeCost: env.ARGON2_ITERATIONS,
        parallelism: env.ARGON2_PARALLELISM,
      },
      hashConcurrency: env.HASH_CONCURRENCY ?? Math.max(1, availableParallelism()),
      hashQueueLimit: env.HASH_QUEUE_LIMIT,
      hashNice: env.HASH_NICE,
    },
    audit: { retentionDays: env.AUDIT_RETENTION_DAYS },
    rateLimit: {
      enabled: env.RATE_LIMIT === 'on',
      loginFailures: env.RATE_LIMIT_LOGIN_FAILURES,
      loginPerIp: env.RATE_LIMIT_LOGIN_IP,
      signupPerIp: env.RATE_LIMIT_SIGNUP_IP,
      mfaPerUser: env.RATE_LIMIT_MFA,
      windowSec: env.RATE_LIMIT_WINDOW,
      recoveryPerAccount: env.RATE_LIMIT_RECOVERY,
      recoveryPerIp: env.RATE_LIMIT_RECOVERY_IP,
    },
    mail: {
      /** Undefined: the embedded outbox (`.eml` files in DATA_DIR/outbox). Holds credentials: never log it. */
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM ?? 'Keyward <keyward@localhost>',
      outboxDir: path.join(dataDir, 'outbox'),
      publicUrl: (env.PUBLIC_URL ?? `http://${hostForUrl(env.HOST)}:${env.PORT}`).replace(/\/+$/, ''),
      resetTtlSec: env.PASSWORD_RESET_TTL,
      verificationTtlSec: env.EMAIL_VERIFICATION_TTL,
      retryDelaySec: env.MAIL_RETRY_DELAY,
      retryForSec: env.MAIL_RETRY_FOR,
      sendTimeoutSec: env.MAIL_SEND_TIMEOUT,
      pollIntervalMs: env.MAIL_POLL_INTERVAL_MS,
    },
    /** The account portal at /account (SPEC §11); `secureCookies` when PUBLIC_URL is https. */
    portal: {
      enabled: env.PORTAL === 'on',
      secureCookies: env.PUBLIC_URL?.startsWith('https://') ?? false,
    },
    mfa: {
      issuer: env.MFA_ISSUER,
      /** DATA_ENCRYPTION_KEY's keys (the first encrypts); undefined: key files in DATA_DIR/keys. */
      dataKeys: env.DATA_ENCRYPTION_KEY === undefined ? undefined : parseDataKeyList(env.DATA_ENCRYPTION_KEY),
      keysDir: path.join(dataDir, 'keys'),
    },
  };
}

/** The validated, structured configuration every part of Keyward is built from. */
export type Config = ReturnType<typeof toConfig>;

/**
 * TRUST_PROXY is false, true, or the proxies' addresses. A hop count is refused: Fastify 5 ignores numeric trust
 * (it cannot check who the immediate peer is), so it would silently give every client the proxy's address.
 */
function trustProxyProblems(raw: string): string[] {
  const trust = parseTrustProxy(raw);
  if (typeof trust === 'boolean') return [];
  const bad = trust.filter((entry) => {
    if (PROXY_PRESETS.has(entry.toLowerCase())) return false;
    const [address = '', prefix, extra] = entry.split('/');
    if (extra !== undefined || isIP(address) === 0) return true;
    if (prefix === undefined) return false;
    const max = isIP(address) === 4 ? 32 : 128;
    return !/^\d{1,3}$/.test(prefix) || Number(prefix) > max;
  });
  if (bad.length === 0) return [];
  return [
    `TRUST_PROXY: must be false, true, or a comma-separated list of proxy addresses or CIDRs ` +
      `(e.g. 10.0.0.0/8,127.0.0.1; hop counts are not supported) (got ${JSON.stringify(raw)})`,
  ];
}

/** One `INTROSPECTION_CLIENTS` entry: `id:secret`. */
export interface IntrospectionClient {
  id: string;
  secret: string;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const MIN_CLIENT_SECRET = 16;

function parseIntrospectionClients(raw: string | undefined): IntrospectionClient[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':');
      return colon === -1
        ? { id: entry, secret: '' }
        : { id: entry.slice(0, colon), secret: entry.slice(colon + 1) };
    });
}

/** The entries' problems, naming the client id only (never a secret). */
function introspectionClientProblems(raw: string | undefined): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  parseIntrospectionClients(raw).forEach((client, index) => {
    const name = CLIENT_ID.test(client.id) ? JSON.stringify(client.id) : `number ${index + 1}`;
    if (!CLIENT_ID.test(client.id)) {
      problems.push(
        `INTROSPECTION_CLIENTS: entry ${name} must be id:secret, the id of letters, digits and . _ ~ -`,
      );
    } else if (Buffer.byteLength(client.secret) < MIN_CLIENT_SECRET) {
      problems.push(
        `INTROSPECTION_CLIENTS: the secret of client ${name} must be at least ${MIN_CLIENT_SECRET} bytes (use \`openssl rand -base64 24\`)`,
      );
    }
    if (seen.has(client.id)) problems.push(`INTROSPECTION_CLIENTS: client ${name} is listed twice`);
    seen.add(client.id);
  });
  return problems;
}

function crossFieldProblems(env: Env): string[] {
  const problems: string[] = [];
  if (env.JWT_KEY !== undefined) {
    if (Buffer.byteLength(env.JWT_KEY) < 32) {
      problems.push('JWT_KEY: must be at least 32 bytes (use `openssl rand -base64 48`)');
    } else if (isWeakSecret(env.JWT_KEY)) {
      problems.push('JWT_KEY: is a well-known default or trivially weak secret; generate a random one');
    }
    if (env.JWT_PRIVATE_KEY !== undefined || env.JWT_PRIVATE_KEY_FILE !== undefined) {
      problems.push(
        'JWT_KEY: cannot be combined with JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE (choose HS256 or EdDSA)',
      );
    }
  }
  if (env.JWT_PRIVATE_KEY !== undefined && env.JWT_PRIVATE_KEY_FILE !== undefined) {
    problems.push('JWT_PRIVATE_KEY: set either JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE, not both');
  }
  problems.push(...introspectionClientProblems(env.INTROSPECTION_CLIENTS));
  if (env.REFRESH_TOKEN_SECRET !== undefined && Buffer.byteLength(env.REFRESH_TOKEN_SECRET) < 32) {
    problems.push('REFRESH_TOKEN_SECRET: must be at least 32 bytes');
  }
  if (env.DATA_ENCRYPTION_KEY !== undefined) {
    try {
      if (parseDataKeyList(env.DATA_ENCRYPTION_KEY).length === 0) throw new Error('lists no key');
    } catch (error) {
      problems.push(
        `DATA_ENCRYPTION_KEY: ${(error as Error).message}; each comma-separated key is 32 random bytes in base64 ` +
          '(`openssl rand -base64 32`)',
      );
    }
  }
  problems.push(...trustProxyProblems(env.TRUST_PROXY));
  const redisModes = [
    env.REDIS_URL !== undefined || env.REDIS_HOST !== undefined ? 'REDIS_URL/REDIS_HOST' : undefined,
    env.REDIS_CLUSTER_NODES !== undefined ? 'REDIS_CLUSTER_NODES' : undefined,
    env.REDIS_SENTINELS !== undefined ? 'REDIS_SENTINELS' : undefined,
  ].filter((mode) => mode !== undefined);
  if (redisModes.length > 1) {
    problems.push(`REDIS_URL: set only one of ${redisModes.join(', ')} (single node, Cluster or Sentinel)`);
  }
  for (const key of ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const) {
    const list = env[key];
    if (list !== undefined && parseHostPorts(list).some((node) => node.port < 1 || node.port > 65535)) {
      problems.push(`${key}: every port must be between 1 and 65535 (got ${JSON.stringify(list)})`);
    }
  }
  if (env.WEB_CONCURRENCY > 1 && redisModes.length === 0) {
    problems.push(
      'WEB_CONCURRENCY: more than one worker needs a shared token store; set REDIS_URL (or REDIS_CLUSTER_NODES, ' +
        'REDIS_SENTINELS), or use WEB_CONCURRENCY=1 with the in-process store',
    );
  }
  if (env.HTTP_HEADERS_TIMEOUT > env.HTTP_REQUEST_TIMEOUT) {
    problems.push('HTTP_HEADERS_TIMEOUT: must not exceed HTTP_REQUEST_TIMEOUT');
  }
  if (env.SMTP_URL !== undefined && env.MAIL_FROM === undefined) {
    problems.push(
      'MAIL_FROM: required with SMTP_URL (the sender address, e.g. "Example <no-reply@example.com>")',
    );
  }
  if (env.SESSION_IDLE_TTL > env.SESSION_MAX_TTL) {
    problems.push('SESSION_IDLE_TTL: must not exceed SESSION_MAX_TTL');
  }
  if (env.ACCESS_TOKEN_TTL > env.SESSION_MAX_TTL) {
    problems.push('ACCESS_TOKEN_TTL: must not exceed SESSION_MAX_TTL');
  }
  return problems;
}

function readDotEnv(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
}

/**
 * Builds the configuration from environment variables (and, when `dotEnvFile` is given, that file, whose
 * values never override the environment). Throws a ConfigError listing every problem at once.
 */
export function loadConfig(env: Record<string, string | undefined>, dotEnvFile?: string): Config {
  const merged: Record<string, string> = {};
  const sources = [dotEnvFile ? readDotEnv(dotEnvFile) : {}, env];
  for (const source of sources) {
    for (const key of Object.keys(EnvSchema.properties)) {
      const value = source[key];
      if (value !== undefined && value !== '') merged[key] = value;
    }
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  // Value.Convert truncates "80.5" or "0x50" to 80 (in place): integers must be written as plain integers.
  for (const [key, value] of Object.entries(merged)) {
    const type = (EnvSchema.properties as Record<string, { type?: unknown } | undefined>)[key]?.type;
    if (type !== 'integer' || /^\s*-?\d+\s*$/.test(value)) continue;
    seen.add(key);
    problems.push(`${key}: must be an integer (got ${JSON.stringify(value)})`);
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, merged));
  for (const error of Value.Errors(EnvSchema, converted)) {
    const key = error.instancePath.replace(/^\//, '');
    if (seen.has(key)) continue;
    seen.add(key);
    const allowed = (EnvSchema.properties as Record<string, { enum?: string[] } | undefined>)[key]?.enum;
    const message = allowed ? `must be one of ${allowed.join(', ')}` : (FORMAT_HINTS[key] ?? error.message);
    const shown = /KEY|SECRET|URL|PASSWORD/.test(key) ? '' : ` (got ${JSON.stringify(merged[key])})`;
    problems.push(`${key}: ${message}${shown}`);
  }
  if (problems.length === 0) problems.push(...crossFieldProblems(converted as Env));
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(converted as Env);
}
