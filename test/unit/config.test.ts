import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected loadConfig to refuse the configuration');
}

function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected loadConfig to refuse the configuration');
}

const STRONG_SECRET = 'Jq8v3nZ2pL7xWc4tRb9yHs6kMf1dGa5e'; // 32 bytes, no well-known words

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('listens on 127.0.0.1:5000', () => {
    assert.equal(config.port, 5000);
    assert.equal(config.host, '127.0.0.1');
  });

  it('uses ./data as the data directory and a SQLite file inside it', () => {
    assert.equal(config.dataDir, path.resolve('./data'));
    assert.equal(config.databaseUrl, `sqlite:${path.join(path.resolve('./data'), 'users.db')}`);
  });

  it('puts the SQLite database and the keys under DATA_DIR', () => {
    const dir = path.join(tmpdir(), 'keyward-config-test');
    const custom = loadConfig({ DATA_DIR: dir });
    assert.equal(custom.databaseUrl, `sqlite:${path.join(dir, 'users.db')}`);
    assert.equal(custom.jwt.keysDir, path.join(dir, 'keys'));
  });

  it('issues 35-minute access tokens with per-request rotation', () => {
    assert.equal(config.tokens.accessTtlSec, 2100);
    assert.equal(config.tokens.rotation, 'per-request');
    assert.equal(config.tokens.refreshReuseWindowSec, 10);
    assert.equal(config.tokens.sessionIdleTtlSec, 14 * 86400);
    assert.equal(config.tokens.sessionMaxTtlSec, 30 * 86400);
  });

  it('signs with EdDSA (no HMAC secret) for issuer and audience keyward', () => {
    assert.equal(config.jwt.hmacSecret, undefined);
    assert.equal(config.jwt.issuer, 'keyward');
    assert.equal(config.jwt.audience, 'keyward');
    assert.equal(config.jwt.maxTokenBytes, 8 * 1024);
  });

  it('hashes with OWASP argon2id parameters m=19456 t=2 p=1 and an 8-character minimum', () => {
    assert.deepEqual(config.passwords.argon2, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
    assert.equal(config.passwords.minLength, 8);
    assert.equal(config.passwords.maxLength, 1024);
    assert.ok(config.passwords.hashConcurrency >= 1);
  });

  it('enables the rate limits of SPEC §4 and §9 with their defaults', () => {
    assert.deepEqual(config.rateLimit, {
      enabled: true,
      loginFailures: 10,
      loginPerIp: 100,
      signupPerIp: 20,
      mfaPerUser: 10,
      windowSec: 900,
      recoveryPerAccount: 5,
      recoveryPerIp: 20,
    });
  });

  it('mails into DATA_DIR/outbox without SMTP_URL, with links to http://<HOST>:<PORT> and the SPEC §9 lifetimes', () => {
    assert.equal(config.mail.smtpUrl, undefined);
    assert.equal(config.mail.publicUrl, 'http://127.0.0.1:5000');
    assert.equal(config.mail.resetTtlSec, 1800);
    assert.equal(config.mail.verificationTtlSec, 86400);
    assert.ok(config.mail.outboxDir.endsWith('outbox'));
  });

  it('uses the memory token store when no Redis is configured', () => {
    assert.equal(config.redis, undefined);
  });

  it('has a 64 KiB body limit, no CORS origins, one worker and no trusted proxy', () => {
    assert.equal(config.bodyLimit, 64 * 1024);
    assert.deepEqual(config.corsOrigins, []);
    assert.equal(config.webConcurrency, 1);
    assert.equal(config.trustProxy, false);
  });

  it('treats an empty variable as unset', () => {
    const empty = loadConfig({ PORT: '', HOST: '', JWT_KEY: '' });
    assert.equal(empty.port, 5000);
    assert.equal(empty.host, '127.0.0.1');
    assert.equal(empty.jwt.hmacSecret, undefined);
  });
});

describe('loadConfig conversions', () => {
  it('converts numbers and enums from strings', () => {
    const config = loadConfig({
      PORT: '8080',
      ACCESS_TOKEN_TTL: '600',
      TOKEN_ROTATION: 'off',
      RATE_LIMIT: 'off',
      RATE_LIMIT_LOGIN_FAILURES: '3',
      ARGON2_MEMORY_KIB: '65536',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.tokens.accessTtlSec, 600);
    assert.equal(config.tokens.rotation, 'off');
    assert.equal(config.rateLimit.enabled, false);
    assert.equal(config.rateLimit.loginFailures, 3);
    assert.equal(config.passwords.argon2.memoryCost, 65536);
  });

  it("builds a redis URL from the seed's REDIS_HOST and REDIS_PORT", () => {
    assert.equal(
      loadConfig({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6380' }).redis?.url,
      'redis://cache.internal:6380',
    );
    assert.equal(loadConfig({ REDIS_HOST: 'cache.internal' }).redis?.url, 'redis://cache.internal:6379');
  });

  it('prefers REDIS_URL over REDIS_HOST', () => {
    const config = loadConfig({ REDIS_URL: 'redis://primary:7000/2', REDIS_HOST: 'other' });
    assert.equal(config.redis?.url, 'redis://primary:7000/2');
    assert.equal(config.redis.keyPrefix, 'kw');
  });

  it('parses TRUST_PROXY as a boolean or a list of addresses, CIDRs and named ranges', () => {
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.0.0.0/8' }).trustProxy, [
      '10.0.0.1',
      '10.0.0.0/8',
    ]);
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback,fd00::/8' }).trustProxy, ['loopback', 'fd00::/8']);
  });

  it('refuses a TRUST_PROXY hop count, which Fastify would silently ignore, and bad addresses', () => {
    for (const value of ['1', '2', 'proxy.internal', '10.0.0.0/33', '10.0.0.1/8/2']) {
      assert.throws(
        () => loadConfig({ TRUST_PROXY: value }),
        (error: unknown) =>
          error instanceof ConfigError && /TRUST_PROXY: .*hop counts are not supported/.test(error.message),
        value,
      );
    }
  });

  it('splits CORS_ORIGINS on commas', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example,' }).corsOrigins, [
      'https://a.example',
      'https://b.example',
    ]);
  });

  it('accepts a strong JWT_KEY and switches to HS256', () => {
    assert.equal(loadConfig({ JWT_KEY: STRONG_SECRET }).jwt.hmacSecret, STRONG_SECRET);
  });
});

describe('loadConfig refusals', () => {
  it('lists every bad variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      TOKEN_ROTATION: 'sometimes',
      ARGON2_MEMORY_KIB: '12',
      LOG_LEVEL: 'loud',
    });
    assert.equal(problems.length, 4, problems.join('\n'));
    for (const name of ['PORT', 'TOKEN_ROTATION', 'ARGON2_MEMORY_KIB', 'LOG_LEVEL']) {
      assert.ok(
        problems.some((p) => p.startsWith(`${name}:`)),
        `${name} is named in ${problems.join('; ')}`,
      );
    }
  });

  it('names the allowed values of an enum', () => {
    const [problem] = problemsOf({ TOKEN_ROTATION: 'sometimes' });
    assert.match(problem ?? '', /per-request/);
    assert.match(problem ?? '', /off/);
  });

  it('puts one line per problem in the error message', () => {
    const message = messageOf({ PORT: '-1', WEB_CONCURRENCY: '0' });
    assert.match(message, /^ {2}- PORT: /m);
    assert.match(message, /^ {2}- WEB_CONCURRENCY: /m);
  });

  it('refuses a JWT_KEY under 32 bytes', () => {
    const problems = problemsOf({ JWT_KEY: 'x7Qp2Lr9vB4nK8sT1wZ5cM3aY6dF0gH' }); // 31 bytes
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^JWT_KEY: .*32 bytes/);
  });

  it('counts JWT_KEY length in bytes, not characters', () => {
    const secret = 'éq3vN7pW2xL5tR9bK4cM1yH6sD0fGé'; // 30 characters, 32 bytes
    assert.equal(secret.length, 30);
    assert.equal(loadConfig({ JWT_KEY: secret }).jwt.hmacSecret, secret);
  });

  it("refuses the seed's old default secret 'default_jwt_secret_key'", () => {
    assert.equal(problemsOf({ JWT_KEY: 'default_jwt_secret_key' }).length, 1);
  });

  it("refuses the seed's default even padded past 32 bytes", () => {
    for (const secret of [
      'default_jwt_secret_key_default_jwt_secret_key',
      'default_jwt_secret_key0123456789abcdef',
      'XXdefault_jwt_secret_keyXXXXXXXXXXXXXXXX',
      'DEFAULT_JWT_SECRET_KEY_0123456789ABCDEF',
    ]) {
      const problems = problemsOf({ JWT_KEY: secret });
      assert.match(problems[0] ?? '', /^JWT_KEY: .*(default|weak)/, secret);
    }
  });

  it('refuses other well-known or trivial secrets of 32+ bytes', () => {
    for (const secret of [
      'a'.repeat(40),
      'changeme-changeme-changeme-changeme',
      'example-secret-example-secret-xyz',
      'a-string-secret-at-least-256-bits-long',
      'your-256-bit-secret-your-256-bit-secret',
    ]) {
      assert.equal(problemsOf({ JWT_KEY: secret }).length, 1, secret);
    }
  });

  it('never shows a secret value in the error message', () => {
    const secrets = {
      JWT_KEY: 'hunter2-short-secret',
      REFRESH_TOKEN_SECRET: 'refresh-secret-too-short',
      REDIS_URL: 'http://admin:s3cr3t-redis-pass@cache:6379',
      DATABASE_URL: 'mysql://root:s3cr3t-db-pass@db/keyward',
    };
    const schema = messageOf({ REDIS_URL: secrets.REDIS_URL, DATABASE_URL: secrets.DATABASE_URL });
    assert.match(schema, /REDIS_URL/);
    assert.match(schema, /DATABASE_URL/);
    const cross = messageOf({ JWT_KEY: secrets.JWT_KEY, REFRESH_TOKEN_SECRET: secrets.REFRESH_TOKEN_SECRET });
    assert.match(cross, /JWT_KEY/);
    assert.match(cross, /REFRESH_TOKEN_SECRET/);
    const weak = messageOf({ JWT_KEY: 'default_jwt_secret_key_0123456789abcdef' });
    for (const message of [schema, cross, weak]) {
      for (const leaked of ['hunter2', 'refresh-secret', 's3cr3t', 'default_jwt_secret_key_0123']) {
        assert.ok(!message.includes(leaked), `${leaked} leaked into: ${message}`);
      }
    }
  });

  it('shows the offending value of a non-secret variable', () => {
    assert.match(messageOf({ PORT: 'eighty' }), /"eighty"/);
  });

  it('refuses JWT_KEY together with JWT_PRIVATE_KEY', () => {
    const problems = problemsOf({ JWT_KEY: STRONG_SECRET, JWT_PRIVATE_KEY: 'pem' });
    assert.ok(problems.some((p) => p.startsWith('JWT_KEY:') && /JWT_PRIVATE_KEY/.test(p)));
  });

  it('refuses JWT_PRIVATE_KEY together with JWT_PRIVATE_KEY_FILE', () => {
    assert.equal(problemsOf({ JWT_PRIVATE_KEY: 'pem', JWT_PRIVATE_KEY_FILE: '/k.pem' }).length, 1);
  });

  it('refuses a REFRESH_TOKEN_SECRET under 32 bytes', () => {
    assert.match(problemsOf({ REFRESH_TOKEN_SECRET: 'short' })[0] ?? '', /^REFRESH_TOKEN_SECRET:/);
  });

  it('refuses an idle session lifetime above the absolute one, and an access TTL above it', () => {
    const problems = problemsOf({
      SESSION_IDLE_TTL: '7200',
      SESSION_MAX_TTL: '3600',
      ACCESS_TOKEN_TTL: '4000',
    });
    assert.equal(problems.length, 2);
  });

  it('refuses argon2 memory below 8 MiB, zero iterations and a password minimum under 8', () => {
    const problems = problemsOf({
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_ITERATIONS: '0',
      PASSWORD_MIN_LENGTH: '6',
    });
    assert.equal(problems.length, 3, problems.join('\n'));
  });

  it('refuses a DATABASE_URL of an unsupported kind and a bad key prefix', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://db/x', REDIS_KEY_PREFIX: 'bad prefix!' });
    assert.equal(problems.length, 2);
  });

  it('refuses integers not written as plain integers instead of truncating them', () => {
    for (const value of ['80.5', '0x50', '1e3', '80abc']) {
      assert.deepEqual(problemsOf({ PORT: value }), [`PORT: must be an integer (got "${value}")`]);
    }
    assert.equal(problemsOf({ ACCESS_TOKEN_TTL: '2100.9', REDIS_PORT: '6379.5' }).length, 2);
  });

  it('refuses a port out of range', () => {
    assert.match(problemsOf({ PORT: '70000' })[0] ?? '', /^PORT: /);
  });
});

describe('loadConfig with a .env file', () => {
  let dir: string;
  let file: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-dotenv-'));
    file = path.join(dir, '.env');
    writeFileSync(
      file,
      [
        '# comment',
        'PORT=6000',
        'HOST=0.0.0.0',
        'TOKEN_ROTATION=off',
        'JWT_ISSUER="https://auth.example"',
        '',
      ].join('\n'),
    );
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the values of the file', () => {
    const config = loadConfig({}, file);
    assert.equal(config.port, 6000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.tokens.rotation, 'off');
    assert.equal(config.jwt.issuer, 'https://auth.example');
  });

  it('lets the environment win over the file', () => {
    const config = loadConfig({ PORT: '7000', TOKEN_ROTATION: 'per-request' }, file);
    assert.equal(config.port, 7000);
    assert.equal(config.tokens.rotation, 'per-request');
    assert.equal(config.host, '0.0.0.0');
  });

  it('ignores a missing file', () => {
    assert.equal(loadConfig({}, path.join(dir, 'absent.env')).port, 5000);
  });

  it('validates values that come from the file', () => {
    const bad = path.join(dir, 'bad.env');
    writeFileSync(bad, 'PORT=not-a-port\n');
    assert.throws(
      () => loadConfig({}, bad),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.problems[0]?.startsWith('PORT:'));
        return true;
      },
    );
  });
});

describe('mail settings', () => {
  it('SMTP_URL needs MAIL_FROM; a PUBLIC_URL loses its trailing slash; an IPv6 HOST is bracketed', () => {
    assert.throws(
      () => loadConfig({ SMTP_URL: 'smtp://mail.example.com:587' }),
      /MAIL_FROM: required with SMTP_URL/,
    );
    assert.throws(() => loadConfig({ SMTP_URL: 'http://mail.example.com' }), /SMTP_URL/);
    const config = loadConfig({
      SMTP_URL: 'smtps://u:p@mail.example.com',
      MAIL_FROM: 'a@example.com',
      PUBLIC_URL: 'https://auth.example.com/',
    });
    assert.equal(config.mail.publicUrl, 'https://auth.example.com');
    assert.equal(loadConfig({ HOST: '::1', PORT: '8080' }).mail.publicUrl, 'http://[::1]:8080');
  });

  it('a problem with SMTP_URL never echoes its value (it may hold the password)', () => {
    assert.throws(
      () => loadConfig({ SMTP_URL: 'ftp://user:Secret-Pass-1@x' }),
      (error: Error) => !error.message.includes('Secret-Pass-1'),
    );
  });
});
