// SPEC §9's limits and enumeration rules: per-IP 429 on /password/forgot and /email/verify, per-account mails
// dropped silently, RATE_LIMIT=off, and /password/forgot taking the same time for every kind of account.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { drained, mailsTo, outbox, uniqueEmail, verifiedUser } from './account-scenarios.js';
import { assertError, assertOk, login } from './http-helpers.js';

function forgot(t: TestApp, loginName: string, ip = '127.0.0.1') {
  return t.app.inject({
    method: 'POST',
    url: '/password/forgot',
    payload: { login: loginName },
    remoteAddress: ip,
  });
}

describe('recovery rate limits', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp({
      RATE_LIMIT: 'on',
      RATE_LIMIT_RECOVERY_IP: '3',
      RATE_LIMIT_RECOVERY: '2',
      RATE_LIMIT_SIGNUP_IP: '1000',
      RATE_LIMIT_LOGIN_IP: '1000',
      MAIL_POLL_INTERVAL_MS: '30',
    });
  });
  after(async () => {
    await t.close();
  });

  it('per IP: over RATE_LIMIT_RECOVERY_IP, 429 with Retry-After, the same for known and unknown accounts', async () => {
    const real = await verifiedUser(t);
    for (const [ip, name] of [
      ['10.1.0.1', real.username],
      ['10.1.0.2', uniqueName('ghost')],
    ] as const) {
      for (let i = 0; i < 3; i += 1) assertOk(await forgot(t, name, ip), 202);
      const refused = await forgot(t, name, ip);
      assertError(refused, 429, 'rate_limited', 'Too many requests');
      assert.match(String(refused.headers['retry-after']), /^\d+$/);
    }
    // /email/verify counts in the same window.
    const ip = '10.1.0.3';
    for (let i = 0; i < 3; i += 1) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/email/verify',
        payload: { token: 'x'.repeat(43) },
        remoteAddress: ip,
      });
      assertError(res, 400, 'invalid_verification_token');
    }
    const res = await t.app.inject({
      method: 'POST',
      url: '/email/verify',
      payload: { token: 'x'.repeat(43) },
      remoteAddress: ip,
    });
    assertError(res, 429, 'rate_limited');
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /keyward_rate_limit_rejections_total\{limit="recovery_ip"\} 3/);
  });

  it('per account: mails over RATE_LIMIT_RECOVERY are dropped silently (the answer stays 202)', async () => {
    const real = await verifiedUser(t);
    // The verification mail counted already: one reset mail is left in this window.
    const ips = ['10.2.0.1', '10.2.0.2', '10.2.0.3'];
    for (const ip of ips) assertOk(await forgot(t, real.username, ip), 202);
    await drained(t);
    const resets = (await mailsTo(t, real.email)).filter((m) => m.subject === 'Reset your password');
    assert.equal(resets.length, 1);
    const dropped = await t.deps.database.db
      .selectFrom('mail_queue')
      .select(['status', 'last_error'])
      .where('login', '=', real.username)
      .execute();
    assert.deepEqual(dropped.map((r) => r.status).sort(), ['dropped', 'dropped', 'sent']);

    // The same for verification mails.
    const username = uniqueName();
    const email = uniqueEmail();
    assertOk(
      await t.app.inject({ method: 'POST', url: '/user', payload: { username, password: PASSWORD, email } }),
      201,
    );
    let token = (await login(t.app, username, PASSWORD)).json<{ token: string }>().token;
    for (let i = 0; i < 4; i += 1) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/email/verification',
        headers: { authorization: `Bearer ${token}` },
      });
      assertOk(res, 202);
      token = res.json<{ token: string }>().token;
    }
    await drained(t);
    const stored = email.replace(/@.*$/, (d) => d.toLowerCase());
    assert.equal((await outbox(t)).filter((m) => m.to === stored).length, 2);
  });
});

describe('RATE_LIMIT=off', () => {
  it('turns the recovery limits off too', async () => {
    const t = await makeApp({ RATE_LIMIT: 'off', RATE_LIMIT_RECOVERY_IP: '1' });
    try {
      for (let i = 0; i < 5; i += 1) assertOk(await forgot(t, uniqueName('ghost')), 202);
    } finally {
      await t.close();
    }
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe('POST /password/forgot timing', () => {
  it('the median time is the same (ratio within 0.5–2) for unknown, unverified and real accounts', async (context) => {
    const t = await makeApp({ MAIL_POLL_INTERVAL_MS: '30' });
    try {
      const real = await verifiedUser(t);
      const unverified = uniqueName('u');
      assertOk(
        await t.app.inject({
          method: 'POST',
          url: '/user',
          payload: { username: unverified, password: PASSWORD, email: uniqueEmail() },
        }),
        201,
      );
      const kinds = {
        unknown: () => uniqueName('ghost'),
        unverified: () => unverified,
        real: () => real.username,
      };
      type Kind = keyof typeof kinds;
      // Warm-up, then round-robin so that drift hits every kind alike.
      for (const pick of Object.values(kinds)) await forgot(t, pick());
      const measure = async (): Promise<Record<Kind, number>> => {
        const times: Record<Kind, number[]> = { unknown: [], unverified: [], real: [] };
        for (let round = 0; round < 30; round += 1) {
          for (const [kind, pick] of Object.entries(kinds) as [Kind, () => string][]) {
            const start = performance.now();
            const res = await forgot(t, pick());
            times[kind].push(performance.now() - start);
            assert.equal(res.statusCode, 202);
          }
        }
        return {
          unknown: median(times.unknown),
          unverified: median(times.unverified),
          real: median(times.real),
        };
      };
      const within = (m: Record<Kind, number>) =>
        (['unverified', 'real'] as const).every(
          (kind) => m[kind] / m.unknown > 0.5 && m[kind] / m.unknown < 2,
        );
      // The machine is shared: a burst of someone else's load can skew one series. A real difference (the
      // sender's work inside the request, as before it stopped being woken) skews every series the same way.
      const series: Record<Kind, number>[] = [];
      let ok = false;
      for (let attempt = 0; attempt < 3 && !ok; attempt += 1) {
        const medians = await measure();
        series.push(medians);
        context.diagnostic(`median ms: ${JSON.stringify(medians)}`);
        ok = within(medians);
      }
      assert.ok(ok, `medians out of 0.5–2 three times: ${JSON.stringify(series)}`);
    } finally {
      await t.close();
    }
  });
});
