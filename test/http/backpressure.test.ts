import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { assertError, getUser, login, type Reply, type UserBody } from './http-helpers.js';
import { verifications } from './metrics-helpers.js';

const apps: TestApp[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
});

/**
 * One hash at a time and one waiting: anything beyond is refused. The argon2 cost is raised well above the test
 * default so that one verification outlasts the few milliseconds the other requests need to reach the hasher.
 */
const BUSY_ENV = {
  HASH_CONCURRENCY: '1',
  HASH_QUEUE_LIMIT: '1',
  ARGON2_MEMORY_KIB: '65536',
  ARGON2_ITERATIONS: '3',
};

async function busyApp(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await makeApp({ ...BUSY_ENV, ...env });
  apps.push(t);
  return t;
}

function assertServerBusy(res: Reply): void {
  assertError(res, 503, 'server_busy', 'Server is busy, retry shortly');
  assert.deepEqual(res.json(), { error: 'Server is busy, retry shortly', code: 'server_busy' });
  assert.equal(res.headers['retry-after'], '1');
}

/** Fires `count` requests at once; resolves to the replies in the order they completed. */
async function burst(count: number, send: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const completed: Reply[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      send(i).then((res) => {
        completed.push(res);
      }),
    ),
  );
  return completed;
}

function wrongLogin(app: FastifyInstance, username: string): Promise<Reply> {
  return login(app, username, 'not the right passphrase');
}

describe('password hashing backpressure (HASH_CONCURRENCY=1, HASH_QUEUE_LIMIT=1)', () => {
  it('a burst of logins: the overflow gets 503 server_busy with Retry-After at once, the rest succeed', async () => {
    const t = await busyApp();
    const s = await signUpAndLogin(t.app);
    const verifiedBefore = await verifications(t.app);

    const completed = await burst(8, () => login(t.app, s.username, PASSWORD));

    // One verification runs and one waits; the other six are refused without waiting for either, so every
    // refusal arrives before the first success.
    assert.deepEqual(
      completed.map((r) => r.statusCode),
      [503, 503, 503, 503, 503, 503, 200, 200],
    );
    for (const res of completed.slice(0, 6)) assertServerBusy(res);
    for (const res of completed.slice(6)) assert.equal(typeof res.json<{ token: string }>().token, 'string');
    assert.equal(await verifications(t.app), verifiedBefore + 2, 'a refused login must not hash');
  });

  it('authenticated GET /user keeps succeeding during a burst of logins', async () => {
    const t = await busyApp();
    const s = await signUpAndLogin(t.app);
    const pending = burst(6, () => login(t.app, s.username, PASSWORD));
    let token = s.token;
    for (let i = 0; i < 5; i += 1) {
      const res = await getUser(t.app, token);
      assert.equal(res.statusCode, 200, res.body);
      token = res.json<UserBody>().token;
    }
    const completed = await pending;
    assert.ok(
      completed.some((r) => r.statusCode === 503),
      'the burst should have saturated the hasher',
    );
    for (const res of completed) assert.ok([200, 503].includes(res.statusCode), res.body);
  });

  it('a burst of signups: the overflow gets 503 server_busy and creates no account', async () => {
    const t = await busyApp();
    const names = Array.from({ length: 5 }, () => uniqueName('busy'));
    const replies = await Promise.all(
      names.map((username) =>
        t.app.inject({ method: 'POST', url: '/user', payload: { username, password: PASSWORD } }),
      ),
    );
    const refused = names.filter((_, i) => replies[i]?.statusCode === 503);
    assert.equal(refused.length, 3, replies.map((r) => r.statusCode).join(','));
    for (const res of replies) {
      if (res.statusCode === 503) assertServerBusy(res);
      else assert.equal(res.statusCode, 201, res.body);
    }
    for (const username of refused) {
      const retry = await t.app.inject({
        method: 'POST',
        url: '/user',
        payload: { username, password: PASSWORD },
      });
      assert.equal(retry.statusCode, 201, retry.body);
    }
  });

  it('a login refused as server_busy does not count as a failed login', async () => {
    const t = await busyApp({ RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_FAILURES: '3' });
    const s = await signUpAndLogin(t.app);
    const completed = await burst(3, () => wrongLogin(t.app, s.username));
    assert.deepEqual(
      completed.map((r) => r.statusCode),
      [503, 401, 401],
    );
    assertServerBusy(completed[0] as Reply);
    assertError(await wrongLogin(t.app, s.username), 401, 'invalid_credentials');
    assertError(await wrongLogin(t.app, s.username), 429, 'rate_limited');
  });
});
