import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DestinationStream } from 'pino';
import { closeDeps } from '../../src/deps.js';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { base32Decode, totpCode } from '../helpers/totp.js';
import { assertError, assertOk, expectLive, refresh, type TokenBody } from './http-helpers.js';
import { enrolledUser, fixedClock, mfaToken, verify, type Clock } from './mfa-helpers.js';

const STEP = 30_000;
const redisSkip = (await redisUnavailable()) ?? false;
const runId = `kwmfaa:${process.pid}:${randomBytes(3).toString('hex')}`;

after(async () => {
  if (!redisSkip) await deleteRedisKeys(runId);
});

/** A code of `secret` at `atMs` that is not right at any step from one before to one after. */
function wrongCode(secret: string, atMs: number, seed = 0): string {
  const near = new Set([-1, 0, 1].map((d) => totpCode(secret, atMs + d * STEP)));
  let n = seed;
  for (;;) {
    const code = String(n % 1_000_000).padStart(6, '0');
    if (!near.has(code)) return code;
    n += 1;
  }
}

class Capture implements DestinationStream {
  readonly lines: string[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(line);
  }
}

describe('MFA attacks', () => {
  let t: TestApp;
  let clock: Clock;

  before(async () => {
    clock = fixedClock();
    t = await makeApp({}, { now: clock.now });
  });
  after(async () => {
    await t.close();
  });

  it('skipping the step: an mfa_token is no access token and no refresh token', async () => {
    const user = await enrolledUser(t.app, clock);
    const token = await mfaToken(t.app, user.username);
    assertError(
      await t.app.inject({ method: 'GET', url: '/user', headers: bearer(token) }),
      401,
      'invalid_token',
    );
    assertError(
      await t.app.inject({ method: 'POST', url: '/validate_token', payload: { token } }),
      401,
      'invalid_token',
    );
    assertError(await refresh(t.app, token), 401, 'invalid_refresh_token');
    // None of those spent it: it still completes the login with a code.
    clock.at += STEP;
    assertOk(await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }));
  });

  it('reusing an mfa_token after success is refused, with any code', async () => {
    const user = await enrolledUser(t.app, clock);
    clock.at += STEP;
    const token = await mfaToken(t.app, user.username);
    assertOk(await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }));
    assertError(
      await verify(t.app, { mfa_token: token, recovery_code: user.recoveryCodes[0] }),
      401,
      'invalid_mfa_token',
    );
  });

  it("another user's mfa_token: my code does not complete their login, and a re-labelled token is dead", async () => {
    const victim = await enrolledUser(t.app, clock);
    const attacker = await enrolledUser(t.app, clock);
    clock.at += STEP;
    const victims = await mfaToken(t.app, victim.username);
    assertError(
      await verify(t.app, { mfa_token: victims, code: totpCode(attacker.secret, clock.at) }),
      401,
      'invalid_mfa_code',
    );
    assertError(
      await verify(t.app, { mfa_token: victims, recovery_code: attacker.recoveryCodes[0] }),
      401,
      'invalid_mfa_code',
    );
    // The attacker's own token with the victim's id in front: no such challenge.
    const own = await mfaToken(t.app, attacker.username);
    const relabelled = `${victim.userId}.${own.split('.')[1] ?? ''}`;
    assertError(
      await verify(t.app, { mfa_token: relabelled, code: totpCode(victim.secret, clock.at) }),
      401,
      'invalid_mfa_token',
    );
  });

  it('a fence between the password step and the code: the second step opens no session', async () => {
    const user = await enrolledUser(t.app, clock);
    clock.at += STEP;
    const token = await mfaToken(t.app, user.username);
    const changed = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(user.token),
      payload: { password: 'a brand new passphrase 9', current_password: PASSWORD },
    });
    assertOk(changed);
    assertError(
      await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }),
      401,
      'invalid_mfa_token',
    );
  });

  it('brute force: five wrong codes kill an mfa_token; a fresh one still needs the right code', async () => {
    const user = await enrolledUser(t.app, clock);
    clock.at += STEP;
    const token = await mfaToken(t.app, user.username);
    for (let i = 0; i < 5; i += 1) {
      assertError(
        await verify(t.app, { mfa_token: token, code: wrongCode(user.secret, clock.at, i * 7919) }),
        401,
        'invalid_mfa_code',
      );
    }
    for (let i = 0; i < 3; i += 1) {
      assertError(
        await verify(t.app, { mfa_token: token, code: wrongCode(user.secret, clock.at, 500_000 + i) }),
        401,
        'invalid_mfa_token',
      );
    }
    assertOk(
      await verify(t.app, {
        mfa_token: await mfaToken(t.app, user.username),
        code: totpCode(user.secret, clock.at),
      }),
    );
  });

  it('parallel guesses on one mfa_token: at most five are judged, the rest find it dead', async () => {
    const user = await enrolledUser(t.app, clock);
    clock.at += STEP;
    const token = await mfaToken(t.app, user.username);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        verify(t.app, { mfa_token: token, code: wrongCode(user.secret, clock.at, i * 104_729) }),
      ),
    );
    const codes = replies.map((r) => r.json<{ code: string }>().code);
    assert.equal(codes.filter((c) => c === 'invalid_mfa_code').length, 5);
    assert.equal(codes.filter((c) => c === 'invalid_mfa_token').length, 15);
  });
});

describe('MFA brute force across many mfa_tokens: the per-user limit (RATE_LIMIT_MFA)', () => {
  it('counts codes per user over all their mfa_tokens and answers 429 with Retry-After', async () => {
    const clock = fixedClock();
    const t = await makeApp(
      { RATE_LIMIT: 'on', RATE_LIMIT_MFA: '7', RATE_LIMIT_LOGIN_IP: '1000' },
      { now: clock.now },
    );
    try {
      const user = await enrolledUser(t.app, clock);
      clock.at += STEP;
      let guess = 0;
      for (let i = 0; i < 7; i += 1) {
        // A new mfa_token every second guess: the per-token limit alone would never stop this.
        const token = await mfaToken(t.app, user.username);
        assertError(
          await verify(t.app, {
            mfa_token: token,
            code: wrongCode(user.secret, clock.at, (guess += 13_337)),
          }),
          401,
          'invalid_mfa_code',
        );
      }
      const refused = await verify(t.app, {
        mfa_token: await mfaToken(t.app, user.username),
        code: totpCode(user.secret, clock.at),
      });
      assertError(refused, 429, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) > 0);
      // Another user is not affected.
      const other = await enrolledUser(t.app, clock);
      clock.at += STEP;
      assertOk(
        await verify(t.app, {
          mfa_token: await mfaToken(t.app, other.username),
          code: totpCode(other.secret, clock.at),
        }),
      );
      // The window ends by itself.
      clock.at += 900_000;
      assertOk(
        await verify(t.app, {
          mfa_token: await mfaToken(t.app, user.username),
          code: totpCode(user.secret, clock.at),
        }),
      );
    } finally {
      await t.close();
    }
  });
});

describe('a TOTP code is accepted once across two instances sharing one Redis', { skip: redisSkip }, () => {
  let a: TestApp;
  let b: TestApp;
  let clock: Clock;

  before(async () => {
    clock = fixedClock();
    const env = { REDIS_URL, REDIS_KEY_PREFIX: runId };
    a = await makeApp(env, { now: clock.now });
    // The same data directory: the same SQLite file and the same data key, as instances share them.
    b = await makeApp({ ...env, DATA_DIR: a.dataDir }, { now: clock.now });
  });
  after(async () => {
    // b shares a's data directory, which a.close() removes.
    await b.app.close();
    await closeDeps(b.deps);
    await a.close();
  });

  it('a code used on one instance is refused on the other; an mfa_token from one verifies on the other', async () => {
    const user = await enrolledUser(a.app, clock);
    clock.at += STEP;
    const code = totpCode(user.secret, clock.at);
    const ok = await verify(b.app, { mfa_token: await mfaToken(a.app, user.username), code });
    assertOk(ok);
    await expectLive(a.app, ok.json<TokenBody>().token);
    assertError(
      await verify(a.app, { mfa_token: await mfaToken(b.app, user.username), code }),
      401,
      'invalid_mfa_code',
    );
  });

  it('the same code sent to both instances at once with two mfa_tokens logs in exactly once', async () => {
    const user = await enrolledUser(a.app, clock);
    clock.at += STEP;
    const code = totpCode(user.secret, clock.at);
    const tokens = await Promise.all([mfaToken(a.app, user.username), mfaToken(b.app, user.username)]);
    const replies = await Promise.all([
      verify(a.app, { mfa_token: tokens[0], code }),
      verify(b.app, { mfa_token: tokens[1], code }),
    ]);
    assert.deepEqual(replies.map((r) => r.statusCode).sort(), [200, 401]);
  });
});

describe('secrets at rest and in the records', () => {
  it('the TOTP secret (base32 and raw) and the recovery codes are nowhere in the SQLite files, logs or audit rows', async () => {
    const clock = fixedClock();
    const capture = new Capture();
    const t = await makeApp({ LOG_LEVEL: 'trace' }, { now: clock.now }, { logDestination: capture });
    try {
      const user = await enrolledUser(t.app, clock);
      clock.at += STEP;
      const wrong = wrongCode(user.secret, clock.at, 734_521);
      assertError(
        await verify(t.app, { mfa_token: await mfaToken(t.app, user.username), code: wrong }),
        401,
        'invalid_mfa_code',
      );
      const recovery = user.recoveryCodes[0] ?? '';
      const token = await mfaToken(t.app, user.username);
      assertOk(await verify(t.app, { mfa_token: token, recovery_code: recovery }));
      const rows = await t.deps.database.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
      const events = rows.map((row) => row.event);
      for (const event of ['mfa_enabled', 'login_mfa_required', 'mfa_failed', 'recovery_code_used']) {
        assert.ok(events.includes(event), `audit event ${event} in ${events.join(',')}`);
      }
      // Checkpoint nothing: the WAL holds the latest writes, and it is read as well as the main file.
      const files = readdirSync(t.dataDir)
        .filter((name) => name.startsWith('users.db'))
        .map((name) => readFileSync(path.join(t.dataDir, name)));
      assert.ok(files.length >= 2, 'the database file and its WAL');
      const raw = base32Decode(user.secret);
      const secrets = [
        Buffer.from(user.secret),
        Buffer.from(user.secret.toLowerCase()),
        raw,
        Buffer.from(raw.toString('base64')),
        Buffer.from(raw.toString('hex')),
        ...user.recoveryCodes.flatMap((code) => [Buffer.from(code), Buffer.from(code.replace(/-/g, ''))]),
      ];
      for (const file of files) {
        for (const secret of secrets)
          assert.equal(file.indexOf(secret), -1, 'a secret in the database files');
      }
      const text = [...capture.lines, JSON.stringify(rows)].join('\n');
      for (const secret of [user.secret, ...user.recoveryCodes, token, wrong]) {
        assert.ok(!text.includes(secret), `a secret or code in the logs or audit rows: ${secret}`);
      }
      assert.ok(!text.includes(PASSWORD));
    } finally {
      await t.close();
    }
  });

  it('a secret copied onto another user row does not decrypt there (AES-GCM bound to the user)', async () => {
    const clock = fixedClock();
    const t = await makeApp({}, { now: clock.now });
    try {
      const victim = await enrolledUser(t.app, clock);
      const attacker = await enrolledUser(t.app, clock);
      const db = t.deps.database.db;
      const row = await db
        .selectFrom('users')
        .select('totp_secret')
        .where('id', '=', victim.userId)
        .executeTakeFirst();
      await db
        .updateTable('users')
        .set({ totp_secret: row?.totp_secret ?? null })
        .where('id', '=', attacker.userId)
        .execute();
      clock.at += STEP;
      const res = await verify(t.app, {
        mfa_token: await mfaToken(t.app, attacker.username),
        code: totpCode(victim.secret, clock.at),
      });
      // Refused: the server cannot read that row's secret (a logged 500: tampered data, not a client's input).
      assert.equal(res.statusCode, 500, res.body);
    } finally {
      await t.close();
    }
  });
});

describe('a login without a second factor is unchanged', () => {
  it('answers tokens at once for a user who never enrolled', async () => {
    const t = await makeApp();
    try {
      const user = await signUpAndLogin(t.app);
      await expectLive(t.app, user.token);
    } finally {
      await t.close();
    }
  });
});
