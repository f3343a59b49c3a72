import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { redisBinariesMissing, RedisServer } from '../helpers/redis-server.js';
import { assertError, assertOk, login, refresh, type TokenBody, type UserBody } from './http-helpers.js';
import { assertUnavailable, timed, timedLogin, waitUntilReady } from './outage-helpers.js';

const skip = (await redisBinariesMissing()) ?? false;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition (comment lines skipped). */
function parseExposition(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    if (line === '' || line.startsWith('#')) return [];
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of (match[2] ?? '').matchAll(LABEL)) labels[key] = value;
    return [{ name: match[1] ?? '', labels, value: Number(match[3]) }];
  });
}

/** The value of the series with exactly these labels; 0 when it has not been written yet. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).sort();
  const found = samples.filter(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(wanted),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matched ${found.length} series`);
  return found[0]?.value ?? 0;
}

async function scrape(t: TestApp): Promise<Sample[]> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  assertOk(res);
  return parseExposition(res.body);
}

const apps: TestApp[] = [];
const servers: RedisServer[] = [];

after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  await Promise.all(servers.map((s) => s.destroy()));
});

describe('GET /metrics', () => {
  it('is the Prometheus text format and lists every Keyward metric', async () => {
    const t = await makeApp();
    apps.push(t);
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    assertOk(res);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    for (const [name, type] of [
      ['keyward_http_request_duration_seconds', 'histogram'],
      ['keyward_logins_total', 'counter'],
      ['keyward_password_hash_duration_seconds', 'histogram'],
      ['keyward_password_hash_queue_depth', 'gauge'],
      ['keyward_tokens_issued_total', 'counter'],
      ['keyward_tokens_consumed_total', 'counter'],
      ['keyward_sessions_revoked_total', 'counter'],
      ['keyward_refresh_reuse_detected_total', 'counter'],
      ['keyward_rate_limit_rejections_total', 'counter'],
      ['keyward_store_errors_total', 'counter'],
      ['keyward_audit_events_total', 'counter'],
      ['process_cpu_seconds_total', 'counter'],
    ]) {
      assert.ok(
        res.body.includes(`\n# TYPE ${name} ${type}\n`) || res.body.startsWith(`# TYPE ${name} ${type}\n`),
        name,
      );
      assert.match(res.body, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has help text`);
    }
    // Every sample line parses; values are numbers.
    for (const sample of parseExposition(res.body)) assert.ok(!Number.isNaN(sample.value), sample.name);
  });

  it(
    'counts a scripted session: logins, hashing, tokens, reuse, revocations, a 429 and a store outage',
    { skip },
    async () => {
      const redis = await RedisServer.start();
      servers.push(redis);
      const t = await makeApp({
        REDIS_URL: redis.url,
        RATE_LIMIT: 'on',
        RATE_LIMIT_LOGIN_FAILURES: '2',
        RATE_LIMIT_LOGIN_IP: '1000',
        RATE_LIMIT_SIGNUP_IP: '1000',
      });
      apps.push(t);
      const before = await scrape(t);
      assert.equal(valueOf(before, 'keyward_tokens_issued_total'), 0);
      assert.equal(valueOf(before, 'keyward_store_errors_total'), 0);
      // The hasher's warm-up at start is not a client's password.
      assert.equal(
        valueOf(before, 'keyward_password_hash_duration_seconds_count', { operation: 'verify' }),
        0,
      );

      const username = uniqueName('metrics');
      assertOk(
        await t.app.inject({ method: 'POST', url: '/user', payload: { username, password: PASSWORD } }),
        201,
      );
      const first = await login(t.app, username, PASSWORD);
      assertOk(first);
      const { token: t1, refresh_token: r0 } = first.json<TokenBody>();
      assertError(await login(t.app, username, 'not the password at all'), 401, 'invalid_credentials');

      const got = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(t1) });
      assertOk(got);
      const t2 = got.json<UserBody>().token;
      // A route with a parameter is labelled by its template, never by the raw URL.
      const missing = await t.app.inject({
        method: 'DELETE',
        url: '/sessions/no-such-session',
        headers: bearer(t2),
      });
      assertError(missing, 404, 'session_not_found');

      const r1 = (await refresh(t.app, r0)).json<TokenBody>().refresh_token;
      assertOk(await refresh(t.app, r1));
      // r0 is two rotations old: outside any grace window, its reuse revokes the session.
      assertError(await refresh(t.app, r0), 401, 'invalid_refresh_token');

      const second = await login(t.app, username, PASSWORD);
      assertOk(second);
      assertOk(
        await t.app.inject({
          method: 'POST',
          url: '/logout',
          headers: bearer(second.json<TokenBody>().token),
        }),
      );

      const stranger = uniqueName('nobody');
      assertError(await login(t.app, stranger, 'wrong password one'), 401, 'invalid_credentials');
      assertError(await login(t.app, stranger, 'wrong password two'), 401, 'invalid_credentials');
      assertError(await login(t.app, stranger, 'wrong password three'), 429, 'rate_limited');

      assertError(await t.app.inject({ method: 'GET', url: '/no/such/route' }), 404, 'not_found');

      await redis.stop();
      assertUnavailable(
        await timed(t.app, 'GET /user', { method: 'GET', url: '/user', headers: bearer(t2) }),
      );
      assertUnavailable(await timedLogin(t.app, username));
      await redis.restart();
      await waitUntilReady(t.app);

      const m = await scrape(t);
      const http = (method: string, route: string, status: number) =>
        valueOf(m, 'keyward_http_request_duration_seconds_count', {
          method,
          route,
          status_code: String(status),
        });
      assert.equal(http('POST', '/user', 201), 1);
      assert.equal(http('POST', '/authenticate_user', 200), 2);
      assert.equal(http('POST', '/authenticate_user', 401), 3);
      assert.equal(http('POST', '/authenticate_user', 429), 1);
      assert.equal(http('POST', '/authenticate_user', 503), 1);
      assert.equal(http('GET', '/user', 200), 1);
      assert.equal(http('GET', '/user', 503), 1);
      assert.equal(http('DELETE', '/sessions/:id', 404), 1);
      assert.equal(http('POST', '/refresh_token', 200), 2);
      assert.equal(http('POST', '/refresh_token', 401), 1);
      assert.equal(http('POST', '/logout', 200), 1);
      assert.equal(http('GET', 'unmatched', 404), 1);
      assert.equal(http('GET', '/metrics', 200), 1, 'the scrape before this one');
      assert.ok(!m.some((s) => s.labels.route?.includes('no-such') === true), 'no raw URL in a route label');
      const latency = valueOf(m, 'keyward_http_request_duration_seconds_sum', {
        method: 'POST',
        route: '/authenticate_user',
        status_code: '200',
      });
      assert.ok(latency > 0, 'request durations are recorded');
      assert.equal(
        valueOf(m, 'keyward_http_request_duration_seconds_bucket', {
          method: 'POST',
          route: '/user',
          status_code: '201',
          le: '+Inf',
        }),
        1,
      );

      // Succeeded: two good logins. Failed: one wrong password, two unknown users; the one refused by the limit
      // is counted among the rate-limit rejections instead.
      assert.equal(valueOf(m, 'keyward_logins_total', { result: 'succeeded' }), 2);
      assert.equal(valueOf(m, 'keyward_logins_total', { result: 'failed' }), 3);

      // One hash (signup); five verifications (two good logins, one wrong password, two dummy verifications).
      assert.equal(valueOf(m, 'keyward_password_hash_duration_seconds_count', { operation: 'hash' }), 1);
      assert.equal(valueOf(m, 'keyward_password_hash_duration_seconds_count', { operation: 'verify' }), 5);
      assert.ok(valueOf(m, 'keyward_password_hash_duration_seconds_sum', { operation: 'hash' }) > 0);

      // Issued: two logins, two renewals (GET /user, DELETE /sessions/:id), two refreshes. Consumed: the renewals.
      assert.equal(valueOf(m, 'keyward_tokens_issued_total'), 6);
      assert.equal(valueOf(m, 'keyward_tokens_consumed_total'), 2);
      // The reused refresh token's session and the logged-out one.
      assert.equal(valueOf(m, 'keyward_sessions_revoked_total'), 2);
      assert.equal(valueOf(m, 'keyward_refresh_reuse_detected_total'), 1);
      assert.equal(valueOf(m, 'keyward_rate_limit_rejections_total', { limit: 'login_failures' }), 1);
      assert.equal(valueOf(m, 'keyward_rate_limit_rejections_total', { limit: 'login_ip' }), 0);
      assert.equal(valueOf(m, 'keyward_store_errors_total'), 2);
    },
  );
});
