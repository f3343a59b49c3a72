import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { base32Decode, totpCode } from '../helpers/totp.js';
import {
  assertError,
  assertOk,
  expectLive,
  getUser,
  login,
  type TokenBody,
  type UserBody,
} from './http-helpers.js';
import {
  confirm,
  enrolledUser,
  fixedClock,
  loginWithTotp,
  mfaToken,
  setup,
  verify,
  type Clock,
} from './mfa-helpers.js';

const STEP = 30_000;
const redisSkip = (await redisUnavailable()) ?? false;
const runId = `kwmfa:${process.pid}:${randomBytes(3).toString('hex')}`;

interface Store {
  name: string;
  skip: string | false;
  env: () => Record<string, string>;
}

let prefixes = 0;
const STORES: Store[] = [
  { name: 'memory store', skip: false, env: () => ({}) },
  {
    name: 'Redis',
    skip: redisSkip,
    env: () => ({ REDIS_URL, REDIS_KEY_PREFIX: `${runId}:${(prefixes += 1)}` }),
  },
];

after(async () => {
  if (!redisSkip) await deleteRedisKeys(runId);
});

function disable(app: TestApp['app'], token: string, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/mfa/totp/disable', headers: bearer(token), payload });
}

function regenerate(app: TestApp['app'], token: string, currentPassword = PASSWORD) {
  return app.inject({
    method: 'POST',
    url: '/mfa/recovery_codes',
    headers: bearer(token),
    payload: { current_password: currentPassword },
  });
}

for (const store of STORES) {
  describe(
    `second factor: TOTP and recovery codes (SPEC §10) on the ${store.name}`,
    { skip: store.skip },
    () => {
      let t: TestApp;
      let clock: Clock;

      before(async () => {
        clock = fixedClock();
        t = await makeApp(store.env(), { now: clock.now });
      });
      after(async () => {
        await t.close();
      });

      it('setup answers a base32 secret and an otpauth URL (SHA-1, 6 digits, 30 s, issuer Keyward)', async () => {
        const user = await signUpAndLogin(t.app);
        const res = await setup(t.app, user.token);
        assertOk(res);
        const body = res.json<{ secret: string; otpauth_url: string; token: string }>();
        assert.match(body.secret, /^[A-Z2-7]+$/);
        assert.ok(base32Decode(body.secret).length >= 20, 'a secret of at least 160 bits');
        const url = new URL(body.otpauth_url);
        assert.equal(url.protocol, 'otpauth:');
        assert.equal(url.host, 'totp');
        assert.equal(decodeURIComponent(url.pathname), `/Keyward:${user.username}`);
        assert.equal(url.searchParams.get('secret'), body.secret);
        assert.equal(url.searchParams.get('issuer'), 'Keyward');
        assert.equal(url.searchParams.get('algorithm') ?? 'SHA1', 'SHA1');
        assert.equal(url.searchParams.get('digits') ?? '6', '6');
        assert.equal(url.searchParams.get('period') ?? '30', '30');
        await expectLive(t.app, body.token);
      });

      it('setup needs a token and the right current_password (403 otherwise)', async () => {
        const user = await signUpAndLogin(t.app);
        assertError(
          await t.app.inject({
            method: 'POST',
            url: '/mfa/totp/setup',
            payload: { current_password: PASSWORD },
          }),
          401,
          'token_missing',
          'Token is missing',
        );
        const wrong = assertError(
          await setup(t.app, user.token, 'not the password'),
          403,
          'wrong_current_password',
        );
        assert.equal(typeof wrong.token, 'string', 'the next token comes with the error');
        assertError(
          await t.app.inject({
            method: 'POST',
            url: '/mfa/totp/setup',
            headers: bearer(wrong.token ?? ''),
            payload: {},
          }),
          400,
          'validation_failed',
        );
      });

      it('confirm: a wrong code is 400 invalid_mfa_code; the right one enables and shows 10 recovery codes', async () => {
        const user = await signUpAndLogin(t.app);
        assertError(await confirm(t.app, user.token, '123456'), 409, 'mfa_setup_required');
        const started = await setup(t.app, (await signUpAndLogin(t.app, user.username + 'b')).token);
        assertOk(started);
        const { secret, token } = started.json<{ secret: string; token: string }>();
        const right = totpCode(secret, clock.at);
        const wrongCode = right === '000000' ? '000001' : '000000';
        const wrong = assertError(await confirm(t.app, token, wrongCode), 400, 'invalid_mfa_code');
        const res = await confirm(t.app, wrong.token ?? '', right);
        assertOk(res);
        const body = res.json<{ message: string; recovery_codes: string[]; token: string }>();
        assert.equal(body.message, 'Two-factor authentication enabled');
        assert.equal(body.recovery_codes.length, 10);
        assert.equal(new Set(body.recovery_codes).size, 10);
        for (const code of body.recovery_codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
        const me = await getUser(t.app, body.token);
        assertOk(me);
        assert.equal(me.json<UserBody & { user: { mfa_enabled: boolean } }>().user.mfa_enabled, true);
        const again = await setup(t.app, me.json<UserBody>().token);
        assertError(again, 409, 'mfa_already_enabled');
      });

      it('user objects carry mfa_enabled: false without a second factor', async () => {
        const user = await signUpAndLogin(t.app);
        const me = await getUser(t.app, user.token);
        assert.deepEqual(me.json<UserBody>().user, {
          id: user.userId,
          username: user.username,
          email: null,
          email_verified: false,
          roles: [],
          mfa_enabled: false,
        });
      });

      it('with TOTP on, the right password answers an mfa_token and no access token', async () => {
        const user = await enrolledUser(t.app, clock);
        const res = await login(t.app, user.username, PASSWORD);
        assertOk(res);
        const body = res.json<Record<string, unknown>>();
        assert.deepEqual(Object.keys(body).sort(), ['expires_in', 'methods', 'mfa_required', 'mfa_token']);
        assert.equal(body.mfa_required, true);
        assert.deepEqual(body.methods, ['totp', 'recovery_code']);
        assert.equal(body.expires_in, 300);
        assert.ok(String(body.mfa_token).length >= 43);
      });

      it('with TOTP on, a wrong password is the usual 401 "Invalid credentials" (nothing about MFA)', async () => {
        const user = await enrolledUser(t.app, clock);
        const plain = await signUpAndLogin(t.app);
        const withMfa = await login(t.app, user.username, 'wrong password here');
        const without = await login(t.app, plain.username, 'wrong password here');
        assertError(withMfa, 401, 'invalid_credentials', 'Invalid credentials');
        assert.equal(withMfa.body, without.body);
      });

      it('verify with the right code answers the login body, whose token works', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += STEP;
        const body = await loginWithTotp(t.app, user, clock.at);
        assert.equal(body.token_type, 'Bearer');
        assert.equal(body.token, body.access_token);
        assert.equal(typeof body.refresh_token, 'string');
        await expectLive(t.app, body.token);
      });

      it('an mfa_token is single use: used again after success it is 401 invalid_mfa_token', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += STEP;
        const token = await mfaToken(t.app, user.username);
        assertOk(await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }));
        clock.at += STEP;
        assertError(
          await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }),
          401,
          'invalid_mfa_token',
        );
      });

      it('a TOTP code is accepted once: replayed with a new mfa_token it is 401 invalid_mfa_code', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += STEP;
        const code = totpCode(user.secret, clock.at);
        assertOk(await verify(t.app, { mfa_token: await mfaToken(t.app, user.username), code }));
        assertError(
          await verify(t.app, { mfa_token: await mfaToken(t.app, user.username), code }),
          401,
          'invalid_mfa_code',
        );
      });

      it('the code used to confirm enrolment cannot log in', async () => {
        const user = await enrolledUser(t.app, clock);
        const res = await verify(t.app, {
          mfa_token: await mfaToken(t.app, user.username),
          code: totpCode(user.secret, clock.at),
        });
        assertError(res, 401, 'invalid_mfa_code');
      });

      it('after 5 wrong codes the mfa_token is dead, even for the right code', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += STEP;
        const token = await mfaToken(t.app, user.username);
        const right = totpCode(user.secret, clock.at);
        for (let i = 0; i < 5; i += 1) {
          const wrong = String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
          assertError(await verify(t.app, { mfa_token: token, code: wrong }), 401, 'invalid_mfa_code');
        }
        assertError(await verify(t.app, { mfa_token: token, code: right }), 401, 'invalid_mfa_token');
      });

      it('after 300 s the mfa_token is dead', async () => {
        const user = await enrolledUser(t.app, clock);
        const token = await mfaToken(t.app, user.username);
        clock.at += 300_000;
        assertError(
          await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }),
          401,
          'invalid_mfa_token',
        );
      });

      it('clock drift: codes of one step before or after are accepted, two steps are refused', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += 10 * STEP;
        for (const drift of [-2, 2]) {
          assertError(
            await verify(t.app, {
              mfa_token: await mfaToken(t.app, user.username),
              code: totpCode(user.secret, clock.at + drift * STEP),
            }),
            401,
            'invalid_mfa_code',
          );
        }
        for (const drift of [-1, 1]) {
          await loginWithTotp(t.app, user, clock.at + drift * STEP);
        }
      });

      it('a recovery code logs in once (case and dashes do not matter)', async () => {
        const user = await enrolledUser(t.app, clock);
        const [first = '', second = ''] = user.recoveryCodes;
        const res = await verify(t.app, {
          mfa_token: await mfaToken(t.app, user.username),
          recovery_code: first,
        });
        assertOk(res);
        await expectLive(t.app, res.json<TokenBody>().token);
        assertError(
          await verify(t.app, { mfa_token: await mfaToken(t.app, user.username), recovery_code: first }),
          401,
          'invalid_mfa_code',
        );
        const typed = second.replace(/-/g, '').toUpperCase();
        assertOk(
          await verify(t.app, { mfa_token: await mfaToken(t.app, user.username), recovery_code: typed }),
        );
      });

      it('verify wants exactly one of code and recovery_code, and a well-formed mfa_token', async () => {
        const user = await enrolledUser(t.app, clock);
        const token = await mfaToken(t.app, user.username);
        assertError(await verify(t.app, { mfa_token: token }), 400, 'validation_failed');
        assertError(
          await verify(t.app, { mfa_token: token, code: '123456', recovery_code: user.recoveryCodes[0] }),
          400,
          'validation_failed',
        );
        assertError(await verify(t.app, { code: '123456' }), 400, 'validation_failed');
        assertError(await verify(t.app, { mfa_token: 'nonsense', code: '123456' }), 401, 'invalid_mfa_token');
        // None of those spent an attempt: the token still logs in.
        clock.at += STEP;
        assertOk(await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }));
      });

      it('new recovery codes replace the old ones (password needed: 403 when wrong)', async () => {
        const user = await enrolledUser(t.app, clock);
        const wrong = assertError(
          await regenerate(t.app, user.token, 'not the password'),
          403,
          'wrong_current_password',
        );
        const res = await regenerate(t.app, wrong.token ?? '');
        assertOk(res);
        const body = res.json<{ recovery_codes: string[]; token: string }>();
        assert.equal(body.recovery_codes.length, 10);
        await expectLive(t.app, body.token);
        assertError(
          await verify(t.app, {
            mfa_token: await mfaToken(t.app, user.username),
            recovery_code: user.recoveryCodes[0],
          }),
          401,
          'invalid_mfa_code',
        );
        assertOk(
          await verify(t.app, {
            mfa_token: await mfaToken(t.app, user.username),
            recovery_code: body.recovery_codes[0],
          }),
        );
      });

      it('recovery codes and disable without a second factor are 409 mfa_not_enabled', async () => {
        const user = await signUpAndLogin(t.app);
        const res = assertError(await regenerate(t.app, user.token), 409, 'mfa_not_enabled');
        assertError(
          await disable(t.app, res.token ?? '', { current_password: PASSWORD, code: '123456' }),
          409,
          'mfa_not_enabled',
        );
      });

      it('disable needs the password and a code; then login is one step again', async () => {
        const user = await enrolledUser(t.app, clock);
        clock.at += STEP;
        const right = totpCode(user.secret, clock.at);
        const wrongCode = right === '000000' ? '000001' : '000000';
        let res = await disable(t.app, user.token, { current_password: 'not the password', code: right });
        const wrongPassword = assertError(res, 403, 'wrong_current_password');
        res = await disable(t.app, wrongPassword.token ?? '', {
          current_password: PASSWORD,
          code: wrongCode,
        });
        const wrong = assertError(res, 400, 'invalid_mfa_code');
        res = await disable(t.app, wrong.token ?? '', { current_password: PASSWORD, code: right });
        assertOk(res);
        const body = res.json<{ message: string; token: string }>();
        assert.equal(body.message, 'Two-factor authentication disabled');
        const me = await getUser(t.app, body.token);
        assert.equal(me.json<{ user: { mfa_enabled: boolean } }>().user.mfa_enabled, false);
        const direct = await login(t.app, user.username, PASSWORD);
        assertOk(direct);
        await expectLive(t.app, direct.json<TokenBody>().token);
      });

      it('disable also takes a recovery code', async () => {
        const user = await enrolledUser(t.app, clock);
        assertOk(
          await disable(t.app, user.token, {
            current_password: PASSWORD,
            recovery_code: user.recoveryCodes[3],
          }),
        );
      });

      it('an mfa_token issued before the second factor was disabled no longer verifies', async () => {
        const user = await enrolledUser(t.app, clock);
        const token = await mfaToken(t.app, user.username);
        clock.at += STEP;
        assertOk(
          await disable(t.app, user.token, {
            current_password: PASSWORD,
            recovery_code: user.recoveryCodes[0],
          }),
        );
        assertError(
          await verify(t.app, { mfa_token: token, code: totpCode(user.secret, clock.at) }),
          401,
          'invalid_mfa_token',
        );
      });

      it('a user without a second factor logs in as before: the same body as the seed', async () => {
        const user = await signUpAndLogin(t.app);
        const res = await login(t.app, user.username, PASSWORD);
        assertOk(res);
        assert.deepEqual(Object.keys(res.json<object>()).sort(), [
          'access_token',
          'expires_in',
          'refresh_token',
          'token',
          'token_type',
        ]);
      });
    },
  );
}

describe('MFA_ISSUER names the issuer in the otpauth URL', () => {
  it('uses the configured issuer', async () => {
    const t = await makeApp({ MFA_ISSUER: 'Acme Corp' });
    try {
      const user = await signUpAndLogin(t.app);
      const res = await setup(t.app, user.token);
      const url = new URL(res.json<{ otpauth_url: string }>().otpauth_url);
      assert.equal(url.searchParams.get('issuer'), 'Acme Corp');
      assert.equal(decodeURIComponent(url.pathname), `/Acme Corp:${user.username}`);
    } finally {
      await t.close();
    }
  });
});

describe('a TOTP secret whose data key is not loaded', () => {
  it('answers 503 with Retry-After and logs which key is missing, never a 500; the right key brings it back', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-mfa-key-'));
    const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
    const clock = fixedClock();
    const lines: string[] = [];
    const capture = { write: (chunk: string) => void lines.push(chunk) };
    let t = await makeApp({ DATA_DIR: dataDir, DATA_ENCRYPTION_KEY: key(1) }, { now: clock.now });
    try {
      const user = await enrolledUser(t.app, clock);
      await t.close();
      // The same database and signing key, another data key: the operator changed DATA_ENCRYPTION_KEY.
      t = await makeApp(
        { DATA_DIR: dataDir, DATA_ENCRYPTION_KEY: key(2), LOG_LEVEL: 'warn' },
        { now: clock.now },
        { logDestination: capture },
      );
      const mfa = await mfaToken(t.app, user.username);
      clock.at += STEP;
      const res = await verify(t.app, { mfa_token: mfa, code: totpCode(user.secret, clock.at) });
      assertError(res, 503, 'store_unavailable');
      assert.equal(res.headers['retry-after'], '1');
      const logged = lines.join('');
      assert.match(logged, /the TOTP secret of user \d+ cannot be decrypted: the data key \S+ is not loaded/);
      assert.ok(!logged.includes(user.secret), 'the secret is never logged');
      await t.close();

      // The old key back (beside the new one): the same mfa_token flow signs in.
      t = await makeApp(
        { DATA_DIR: dataDir, DATA_ENCRYPTION_KEY: `${key(2)},${key(1)}` },
        { now: clock.now },
      );
      clock.at += STEP;
      assert.equal(typeof (await loginWithTotp(t.app, user, clock.at)).token, 'string');
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
