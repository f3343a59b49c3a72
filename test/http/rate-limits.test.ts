import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { assertError, type Reply } from './http-helpers.js';
import { metricValue, verifications } from './metrics-helpers.js';

const skipRedis = (await redisUnavailable()) ?? false;
const apps: TestApp[] = [];
const redisPrefixes: string[] = [];
const tempDirs: string[] = [];

after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  if (skipRedis !== false || redisPrefixes.length === 0) return;
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of redisPrefixes) {
      const keys = await keysUnder(admin, prefix);
      if (keys.length > 0) await admin.del(...keys);
    }
  } finally {
    admin.disconnect();
  }
});

const WRONG = 'not the right passphrase';
const INVALID_CREDENTIALS = { error: 'Invalid credentials', code: 'invalid_credentials' };
const WINDOW = 900;
/** Small limits, each test raising only the one it is about to a value it reaches. */
const LIMITS = {
  RATE_LIMIT: 'on',
  RATE_LIMIT_LOGIN_FAILURES: '1000',
  RATE_LIMIT_LOGIN_IP: '1000',
  RATE_LIMIT_SIGNUP_IP: '1000',
  RATE_LIMIT_WINDOW: String(WINDOW),
};

/** A fixed clock the test moves by hand, so that windows end without waiting. */
class Clock {
  private ms = Date.now();
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

async function clockedApp(env: Record<string, string>): Promise<{ t: TestApp; clock: Clock }> {
  const clock = new Clock();
  const t = await makeApp({ ...LIMITS, ...env }, { now: clock.now });
  apps.push(t);
  return { t, clock };
}

async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) found.push(...keys);
  return found;
}

interface From {
  ip?: string;
  headers?: Record<string, string>;
}

function loginFrom(
  app: FastifyInstance,
  username: string,
  password: string,
  from: From = {},
): Promise<Reply> {
  return app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
    remoteAddress: from.ip ?? '127.0.0.1',
    headers: from.headers ?? {},
  });
}

function signupFrom(
  app: FastifyInstance,
  username: string,
  password = PASSWORD,
  from: From = {},
): Promise<Reply> {
  return app.inject({
    method: 'POST',
    url: '/user',
    payload: { username, password },
    remoteAddress: from.ip ?? '127.0.0.1',
    headers: from.headers ?? {},
  });
}

/** Signs a user up from an address of its own, so that the signup limit of the test's addresses is untouched. */
async function createUser(app: FastifyInstance, username = uniqueName('rl')): Promise<string> {
  const res = await signupFrom(app, username, PASSWORD, { ip: '192.0.2.250' });
  assert.equal(res.statusCode, 201, res.body);
  return username;
}

function assertInvalidCredentials(res: Reply): void {
  assert.equal(res.statusCode, 401, res.body);
  assert.deepEqual(res.json(), INVALID_CREDENTIALS);
}

/** 429 in the error envelope with an integer Retry-After (exactly `retryAfter` seconds, when given). */
function assertRateLimited(res: Reply, retryAfter?: number): number {
  assertError(res, 429, 'rate_limited', 'Too many requests');
  assert.deepEqual(res.json(), { error: 'Too many requests', code: 'rate_limited' });
  const header = res.headers['retry-after'];
  assert.equal(typeof header, 'string', 'Retry-After header missing');
  assert.match(String(header), /^[1-9]\d*$/, `Retry-After ${String(header)} is not integer seconds`);
  if (retryAfter !== undefined) assert.equal(Number(header), retryAfter);
  return Number(header);
}

async function failTimes(app: FastifyInstance, username: string, times: number, from: From = {}) {
  for (let i = 0; i < times; i += 1) assertInvalidCredentials(await loginFrom(app, username, WRONG, from));
}

describe('default limits (RATE_LIMIT=on, no limit variable set)', () => {
  async function defaultLimitsApp(): Promise<TestApp> {
    const clock = new Clock();
    const t = await makeApp({ RATE_LIMIT: 'on' }, { now: clock.now });
    apps.push(t);
    return t;
  }

  it('10 failed logins per username+IP are answered 401; the 11th gets 429 for the 900 s window', async () => {
    const t = await defaultLimitsApp();
    const user = await createUser(t.app);
    const ip = '203.0.113.110';
    await failTimes(t.app, user, 10, { ip });
    assertRateLimited(await loginFrom(t.app, user, WRONG, { ip }), 900);
  });

  it('20 signups per IP succeed; the 21st gets 429 for the 900 s window', async () => {
    const t = await defaultLimitsApp();
    const ip = '203.0.113.120';
    for (let i = 0; i < 20; i += 1) {
      const res = await signupFrom(t.app, uniqueName('d'), PASSWORD, { ip });
      assert.equal(res.statusCode, 201, `signup ${i + 1}: ${res.body}`);
    }
    assertRateLimited(await signupFrom(t.app, uniqueName('d'), PASSWORD, { ip }), 900);
  });
});

describe('failed logins per (username, IP): RATE_LIMIT_LOGIN_FAILURES', () => {
  it('the failed login over the limit gets 429 rate_limited with Retry-After', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 3);
    assertRateLimited(await loginFrom(t.app, user, WRONG), WINDOW);
  });

  it('a correct password does not bypass the lockout while it lasts; the lockout lifts by itself', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 3);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD), WINDOW);
    clock.advance(WINDOW - 1);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD), 1);
    clock.advance(1);
    const res = await loginFrom(t.app, user, PASSWORD);
    assert.equal(res.statusCode, 200, res.body);
    // A new window: the full allowance again.
    await failTimes(t.app, user, 3);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD), WINDOW);
  });

  it('the window runs from the first failure and is not extended by refused attempts', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 1);
    clock.advance(100);
    await failTimes(t.app, user, 1);
    assertRateLimited(await loginFrom(t.app, user, WRONG), WINDOW - 100);
    clock.advance(500);
    assertRateLimited(await loginFrom(t.app, user, WRONG), WINDOW - 600);
    clock.advance(WINDOW - 600);
    assert.equal((await loginFrom(t.app, user, PASSWORD)).statusCode, 200);
  });

  it('other usernames and other IPs are unaffected by a lockout', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const locked = await createUser(t.app);
    const other = await createUser(t.app);
    await failTimes(t.app, locked, 3, { ip: '203.0.113.10' });
    assertRateLimited(await loginFrom(t.app, locked, PASSWORD, { ip: '203.0.113.10' }));
    assert.equal((await loginFrom(t.app, other, PASSWORD, { ip: '203.0.113.10' })).statusCode, 200);
    assertInvalidCredentials(await loginFrom(t.app, other, WRONG, { ip: '203.0.113.10' }));
    assert.equal((await loginFrom(t.app, locked, PASSWORD, { ip: '198.51.100.20' })).statusCode, 200);
  });

  it('an attacker failing from many IPs cannot lock the user out from the user’s own IP', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const victim = await createUser(t.app);
    for (let host = 1; host <= 5; host += 1) {
      const ip = `203.0.113.${host}`;
      await failTimes(t.app, victim, 3, { ip });
      assertRateLimited(await loginFrom(t.app, victim, WRONG, { ip }));
    }
    assert.equal((await loginFrom(t.app, victim, PASSWORD, { ip: '198.51.100.7' })).statusCode, 200);
  });

  it('a successful login starts the failure count again', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 2);
    assert.equal((await loginFrom(t.app, user, PASSWORD)).statusCode, 200);
    await failTimes(t.app, user, 3);
    assertRateLimited(await loginFrom(t.app, user, WRONG));
  });

  it('unknown usernames are limited too, and a change of case or Unicode form is the same username', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const unknown = uniqueName('ghost');
    await failTimes(t.app, unknown, 3);
    assertRateLimited(await loginFrom(t.app, unknown, WRONG));

    const user = await createUser(t.app, uniqueName('case'));
    await failTimes(t.app, user.toUpperCase(), 1);
    // Fullwidth letters are the same username after NFKC.
    const fullwidth = user.replace(/[a-z]/g, (c) => String.fromCodePoint((c.codePointAt(0) ?? 0) + 0xfee0));
    await failTimes(t.app, fullwidth, 2);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD));
  });

  it('IPv6 addresses of one /64 share a bucket; another /64 does not', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 1, { ip: '2001:db8:1:1::1' });
    await failTimes(t.app, user, 1, { ip: '2001:db8:1:1::2' });
    await failTimes(t.app, user, 1, { ip: '2001:db8:1:1:ffff:ffff:ffff:ffff' });
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, { ip: '2001:db8:1:1:abcd::9' }));
    assert.equal((await loginFrom(t.app, user, PASSWORD, { ip: '2001:db8:1:2::1' })).statusCode, 200);
  });

  it('a rate-limited login does no password hashing and is counted in /metrics', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2' });
    const user = await createUser(t.app);
    const verifiedBefore = await verifications(t.app);
    await failTimes(t.app, user, 2);
    assert.equal(await verifications(t.app), verifiedBefore + 2);
    for (let i = 0; i < 5; i += 1) {
      assertRateLimited(await loginFrom(t.app, user, i % 2 === 0 ? WRONG : PASSWORD));
    }
    // An unknown username is limited without a dummy verification too.
    const ghost = uniqueName('ghost');
    await failTimes(t.app, ghost, 2);
    assertRateLimited(await loginFrom(t.app, ghost, WRONG));
    assert.equal(await verifications(t.app), verifiedBefore + 4);
    assert.equal(
      await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'login_failures' }),
      6,
    );
  });

  it('logins refused by a limit are counted in metrics, not written one audit row each', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '1' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 1, { ip: '203.0.113.77' });
    const before = await t.deps.audit.recent(10_000);
    for (let i = 0; i < 25; i += 1)
      assertRateLimited(await loginFrom(t.app, user, PASSWORD, { ip: '203.0.113.77' }));
    const after = await t.deps.audit.recent(10_000);
    assert.equal(after.length, before.length, 'no audit row for a refused attempt');
    const [latest] = after;
    assert.ok(latest);
    assert.deepEqual(
      { event: latest.event, detail: latest.detail },
      { event: 'login_failed', detail: { reason: 'wrong_password' } },
    );
    assert.equal(
      await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'login_failures' }),
      25,
    );
  });
});

/** A JSON POST over real TCP to 127.0.0.1:`port`, from the local address `from` (any 127.x address is loopback). */
function postOver(
  port: number,
  from: string,
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, localAddress: from, method: 'POST', path: url, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          });
        });
      },
    );
    req.on('error', reject);
    req.setHeader('content-type', 'application/json');
    req.end(JSON.stringify(body));
  });
}

describe('IPv4 clients of a dual-stack listener (HOST=::)', () => {
  // Listening on `::`, the server sees every IPv4 client as an IPv4-mapped IPv6 address (::ffff:127.0.0.x): if
  // those shared one bucket, one attacker could lock every IPv4 user out.
  async function dualStack(env: Record<string, string>): Promise<{ t: TestApp; port: number }> {
    const { t } = await clockedApp(env);
    await t.app.listen({ host: '::', port: 0 });
    const address = t.app.server.address() as AddressInfo;
    assert.equal(address.address, '::');
    return { t, port: address.port };
  }
  const login = (port: number, from: string, username: string, password: string) =>
    postOver(port, from, '/authenticate_user', { username, password });

  it('an IPv4 client locked out of an account does not lock out another IPv4 client', async () => {
    const { t, port } = await dualStack({ RATE_LIMIT_LOGIN_FAILURES: '2' });
    const victim = await createUser(t.app);
    for (let i = 0; i < 2; i += 1) {
      assert.deepEqual(await login(port, '127.0.0.2', victim, WRONG), {
        status: 401,
        json: INVALID_CREDENTIALS,
      });
    }
    const refused = await login(port, '127.0.0.2', victim, PASSWORD);
    assert.deepEqual(refused, { status: 429, json: { error: 'Too many requests', code: 'rate_limited' } });
    const own = await login(port, '127.0.0.1', victim, PASSWORD);
    assert.equal(own.status, 200, JSON.stringify(own.json));
    assert.equal(typeof own.json.token, 'string');
  });

  it('an IPv4 client over the per-IP login limit does not use up another IPv4 client’s', async () => {
    const { t, port } = await dualStack({ RATE_LIMIT_LOGIN_IP: '3' });
    const user = await createUser(t.app);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await login(port, '127.0.0.2', uniqueName('spray'), WRONG)).status, 401);
    }
    assert.equal((await login(port, '127.0.0.2', user, PASSWORD)).status, 429);
    assert.equal((await login(port, '127.0.0.1', user, PASSWORD)).status, 200);
  });
});

describe('a wrong current_password on PUT /user', () => {
  it('counts as a failed login for (username, IP): a stolen token cannot be used to guess the password', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '3' });
    const s = await signUpAndLogin(t.app);
    let token = s.token;
    const change = async (currentPassword: string): Promise<Reply> => {
      const res = await t.app.inject({
        method: 'PUT',
        url: '/user',
        headers: bearer(token),
        payload: { password: 'a brand new passphrase', current_password: currentPassword },
      });
      token = res.json<{ token: string }>().token;
      return res;
    };
    for (let i = 0; i < 3; i += 1) assertError(await change(WRONG), 403, 'wrong_current_password');
    const limited = await change(PASSWORD);
    assertError(limited, 429, 'rate_limited', 'Too many requests');
    assert.equal(limited.headers['retry-after'], String(WINDOW));
    assert.equal(typeof limited.json<{ token?: string }>().token, 'string', 'the next token is handed on');
    assertRateLimited(await loginFrom(t.app, s.username, PASSWORD));
    assert.equal((await loginFrom(t.app, s.username, PASSWORD, { ip: '198.51.100.40' })).statusCode, 200);
    clock.advance(WINDOW);
    assert.equal((await change(PASSWORD)).statusCode, 200);
    assert.equal((await loginFrom(t.app, s.username, 'a brand new passphrase')).statusCode, 200);
  });
});

describe('a spray of other names from one IP (memory store)', () => {
  it("does not lift a victim's lockout from that IP", async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2', RATE_LIMIT_LOGIN_IP: '1000' });
    const victim = await createUser(t.app);
    const ip = '203.0.113.150';
    await failTimes(t.app, victim, 2, { ip });
    assertRateLimited(await loginFrom(t.app, victim, PASSWORD, { ip }));
    for (let i = 0; i < 150; i += 1) {
      assertInvalidCredentials(await loginFrom(t.app, uniqueName('spray'), WRONG, { ip }));
    }
    assertRateLimited(await loginFrom(t.app, victim, PASSWORD, { ip }));
    assert.equal((await loginFrom(t.app, victim, PASSWORD, { ip: '198.51.100.150' })).statusCode, 200);
  });
});

describe('renames on PUT /user', () => {
  it('a rename to a taken name counts against the signup limit per IP; renames to free names do not', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_SIGNUP_IP: '3' });
    const ip = '203.0.113.90';
    // The accounts come from elsewhere: this IP's signup budget starts untouched.
    const taken: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const username = uniqueName('taken');
      assert.equal(
        (await signupFrom(t.app, username, PASSWORD, { ip: `192.0.2.${10 + i}` })).statusCode,
        201,
      );
      taken.push(username);
    }
    const s = await signUpAndLogin(t.app);
    let token = s.token;
    const rename = async (username: string, from = ip): Promise<Reply> => {
      const res = await t.app.inject({
        method: 'PUT',
        url: '/user',
        remoteAddress: from,
        headers: bearer(token),
        payload: { username, current_password: PASSWORD },
      });
      token = res.json<{ token: string }>().token;
      return res;
    };
    for (let i = 0; i < 4; i += 1) assert.equal((await rename(uniqueName('free'))).statusCode, 200);
    for (const other of taken.slice(0, 3)) assertError(await rename(other), 409, 'username_taken');
    // The fourth probe is refused before the name is looked up: taken and free names alike.
    const limited = await rename(taken[3] ?? '');
    assertError(limited, 429, 'rate_limited');
    assert.equal(limited.headers['retry-after'], String(WINDOW));
    assertError(await rename(uniqueName('free')), 429, 'rate_limited');
    // Signups from that IP share the budget.
    assertError(
      await t.app.inject({
        method: 'POST',
        url: '/user',
        remoteAddress: ip,
        payload: { username: uniqueName(), password: PASSWORD },
      }),
      429,
      'rate_limited',
    );
    assert.equal((await rename(uniqueName('free'), '198.51.100.90')).statusCode, 200);
    assert.equal(await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'signup_ip' }), 3);
    clock.advance(WINDOW);
    assertError(await rename(taken[3] ?? ''), 409, 'username_taken');
  });

  it('a wrong current_password on a rename counts as a failed login, like on a password change', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2' });
    const s = await signUpAndLogin(t.app);
    let token = s.token;
    const rename = async (currentPassword: string): Promise<Reply> => {
      const res = await t.app.inject({
        method: 'PUT',
        url: '/user',
        headers: bearer(token),
        payload: { username: uniqueName('x'), current_password: currentPassword },
      });
      token = res.json<{ token: string }>().token;
      return res;
    };
    for (let i = 0; i < 2; i += 1) assertError(await rename(WRONG), 403, 'wrong_current_password');
    assertError(await rename(PASSWORD), 429, 'rate_limited');
  });
});

describe('login attempts per IP: RATE_LIMIT_LOGIN_IP', () => {
  it('the attempt over the limit gets 429 whatever the username or outcome; other IPs are unaffected', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_LOGIN_IP: '4' });
    const user = await createUser(t.app);
    const ip = '203.0.113.40';
    assert.equal((await loginFrom(t.app, user, PASSWORD, { ip })).statusCode, 200);
    assertInvalidCredentials(await loginFrom(t.app, user, WRONG, { ip }));
    assertInvalidCredentials(await loginFrom(t.app, uniqueName('a'), WRONG, { ip }));
    assert.equal((await loginFrom(t.app, user, PASSWORD, { ip })).statusCode, 200);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, { ip }), WINDOW);
    assertRateLimited(await loginFrom(t.app, uniqueName('b'), WRONG, { ip }), WINDOW);
    assert.equal((await loginFrom(t.app, user, PASSWORD, { ip: '203.0.113.41' })).statusCode, 200);
    assert.equal(await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'login_ip' }), 2);
    clock.advance(WINDOW);
    assert.equal((await loginFrom(t.app, user, PASSWORD, { ip })).statusCode, 200);
  });
});

describe('signups per IP: RATE_LIMIT_SIGNUP_IP', () => {
  it('the signup over the limit gets 429 with Retry-After; other IPs are unaffected; it lifts', async () => {
    const { t, clock } = await clockedApp({ RATE_LIMIT_SIGNUP_IP: '2' });
    const ip = '203.0.113.50';
    assert.equal((await signupFrom(t.app, uniqueName('s'), PASSWORD, { ip })).statusCode, 201);
    clock.advance(60);
    assert.equal((await signupFrom(t.app, uniqueName('s'), PASSWORD, { ip })).statusCode, 201);
    const refused = uniqueName('s');
    assertRateLimited(await signupFrom(t.app, refused, PASSWORD, { ip }), WINDOW - 60);
    // The refused account was not created: its username is free from another address.
    assert.equal((await signupFrom(t.app, refused, PASSWORD, { ip: '203.0.113.51' })).statusCode, 201);
    assert.equal(await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'signup_ip' }), 1);
    clock.advance(WINDOW - 60);
    assert.equal((await signupFrom(t.app, uniqueName('s'), PASSWORD, { ip })).statusCode, 201);
  });

  it('a signup refused by the password policy does not use up the allowance; a taken username does', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_SIGNUP_IP: '2' });
    const ip = '203.0.113.60';
    const taken = await createUser(t.app);
    assertError(await signupFrom(t.app, uniqueName('w'), 'short', { ip }), 400, 'weak_password');
    assertError(await signupFrom(t.app, uniqueName('w'), 'password', { ip }), 400, 'weak_password');
    assertError(await signupFrom(t.app, taken, PASSWORD, { ip }), 409, 'username_taken');
    assert.equal((await signupFrom(t.app, uniqueName('w'), PASSWORD, { ip })).statusCode, 201);
    assertRateLimited(await signupFrom(t.app, uniqueName('w'), PASSWORD, { ip }));
  });
});

describe('client address: X-Forwarded-For and TRUST_PROXY', () => {
  it('without TRUST_PROXY a spoofed X-Forwarded-For does not give a fresh bucket', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2', RATE_LIMIT_SIGNUP_IP: '1' });
    const user = await createUser(t.app);
    await failTimes(t.app, user, 2, { headers: { 'x-forwarded-for': '203.0.113.1' } });
    assertRateLimited(
      await loginFrom(t.app, user, PASSWORD, { headers: { 'x-forwarded-for': '198.51.100.99' } }),
    );
    assertRateLimited(await loginFrom(t.app, user, PASSWORD));
    assert.equal(
      (await signupFrom(t.app, uniqueName('x'), PASSWORD, { headers: { 'x-forwarded-for': '203.0.113.2' } }))
        .statusCode,
      201,
    );
    assertRateLimited(
      await signupFrom(t.app, uniqueName('x'), PASSWORD, { headers: { 'x-forwarded-for': '203.0.113.3' } }),
    );
  });

  it('with TRUST_PROXY=true the X-Forwarded-For client address is the bucket', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2', TRUST_PROXY: 'true' });
    const user = await createUser(t.app);
    const viaProxy = (client: string): From => ({ headers: { 'x-forwarded-for': client } });
    await failTimes(t.app, user, 2, viaProxy('203.0.113.1'));
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, viaProxy('203.0.113.1')));
    assert.equal((await loginFrom(t.app, user, PASSWORD, viaProxy('198.51.100.99'))).statusCode, 200);
    // The proxy itself is not the client: requests without the header are another bucket.
    assert.equal((await loginFrom(t.app, user, PASSWORD)).statusCode, 200);
  });

  it('with TRUST_PROXY naming the proxy, X-Forwarded-For from any other address is ignored', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2', TRUST_PROXY: '10.0.0.1' });
    const user = await createUser(t.app);
    const direct = (client: string): From => ({ ip: '192.0.2.9', headers: { 'x-forwarded-for': client } });
    await failTimes(t.app, user, 2, direct('203.0.113.1'));
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, direct('198.51.100.5')));
    const proxied = { ip: '10.0.0.1', headers: { 'x-forwarded-for': '198.51.100.5' } };
    assert.equal((await loginFrom(t.app, user, PASSWORD, proxied)).statusCode, 200);
    await failTimes(t.app, user, 2, proxied);
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, proxied));
  });

  it('behind a trusted proxy, addresses the client prepends to X-Forwarded-For are ignored', async () => {
    const { t } = await clockedApp({ RATE_LIMIT_LOGIN_FAILURES: '2', TRUST_PROXY: '10.0.0.1' });
    const user = await createUser(t.app);
    // The proxy appends the address it saw; everything left of it is the client's own text.
    const spoofing = (spoofed: string): From => ({
      ip: '10.0.0.1',
      headers: { 'x-forwarded-for': `${spoofed}, 203.0.113.66` },
    });
    await failTimes(t.app, user, 2, spoofing('198.51.100.1'));
    assertRateLimited(await loginFrom(t.app, user, PASSWORD, spoofing('198.51.100.2')));
    const other = { ip: '10.0.0.1', headers: { 'x-forwarded-for': '203.0.113.67' } };
    assert.equal((await loginFrom(t.app, user, PASSWORD, other)).statusCode, 200);
  });
});

describe('RATE_LIMIT=off', () => {
  it('disables every limit', async () => {
    const { t } = await clockedApp({
      RATE_LIMIT: 'off',
      RATE_LIMIT_LOGIN_FAILURES: '1',
      RATE_LIMIT_LOGIN_IP: '1',
      RATE_LIMIT_SIGNUP_IP: '1',
    });
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await signupFrom(t.app, uniqueName('off'))).statusCode, 201);
    }
    const user = await createUser(t.app);
    await failTimes(t.app, user, 4);
    assert.equal((await loginFrom(t.app, user, PASSWORD)).statusCode, 200);
    assert.equal((await loginFrom(t.app, user, PASSWORD)).statusCode, 200);
    assert.equal(await metricValue(t.app, 'keyward_rate_limit_rejections_total', { limit: 'login_ip' }), 0);
  });
});

describe('rate limits shared through Redis', () => {
  /** Two instances on one Redis key prefix and one user database, as behind a load balancer. */
  async function twoInstances(env: Record<string, string>): Promise<[TestApp, TestApp, string]> {
    const prefix = `kwrl:${process.pid}:${randomBytes(3).toString('hex')}`;
    redisPrefixes.push(prefix);
    const dir = mkdtempSync(path.join(tmpdir(), 'keyward-rl-'));
    tempDirs.push(dir);
    const shared = {
      ...LIMITS,
      ...env,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_URL: `sqlite:${path.join(dir, 'users.db')}`,
    };
    const a = await makeApp(shared);
    apps.push(a);
    const b = await makeApp(shared);
    apps.push(b);
    return [a, b, prefix];
  }

  it(
    'two instances see the same failed-login count, and the counter expires by itself',
    {
      skip: skipRedis,
    },
    async () => {
      const [a, b, prefix] = await twoInstances({ RATE_LIMIT_LOGIN_FAILURES: '3' });
      const user = await createUser(a.app);
      await failTimes(a.app, user, 2);
      await failTimes(b.app, user, 1);
      const retryAfter = assertRateLimited(await loginFrom(a.app, user, PASSWORD));
      assert.ok(retryAfter <= WINDOW, `Retry-After ${retryAfter}`);
      assertRateLimited(await loginFrom(b.app, user, PASSWORD));
      assert.equal((await loginFrom(b.app, user, PASSWORD, { ip: '198.51.100.3' })).statusCode, 200);

      const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const keys = (await keysUnder(admin, prefix)).filter((key) => key.startsWith(`${prefix}:rl:`));
        assert.ok(keys.length >= 2, keys.join(','));
        for (const key of keys) {
          const ttl = await admin.pttl(key);
          assert.ok(ttl > 0 && ttl <= WINDOW * 1000, `${key}: PTTL ${ttl}`);
        }
      } finally {
        admin.disconnect();
      }
    },
  );

  it('two instances share login attempts per IP and signups per IP', { skip: skipRedis }, async () => {
    const [a, b] = await twoInstances({ RATE_LIMIT_LOGIN_IP: '3', RATE_LIMIT_SIGNUP_IP: '2' });
    const ip = '203.0.113.90';
    assert.equal((await signupFrom(a.app, uniqueName('r'), PASSWORD, { ip })).statusCode, 201);
    assert.equal((await signupFrom(b.app, uniqueName('r'), PASSWORD, { ip })).statusCode, 201);
    assertRateLimited(await signupFrom(a.app, uniqueName('r'), PASSWORD, { ip }));
    assertRateLimited(await signupFrom(b.app, uniqueName('r'), PASSWORD, { ip }));

    const user = await createUser(a.app);
    assert.equal((await loginFrom(a.app, user, PASSWORD, { ip })).statusCode, 200);
    assert.equal((await loginFrom(b.app, user, PASSWORD, { ip })).statusCode, 200);
    assertInvalidCredentials(await loginFrom(a.app, user, WRONG, { ip }));
    assertRateLimited(await loginFrom(b.app, user, PASSWORD, { ip }));
    assert.equal((await loginFrom(b.app, user, PASSWORD, { ip: '203.0.113.91' })).statusCode, 200);
  });
});
