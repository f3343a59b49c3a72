import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, uniqueName } from '../../../test/helpers/app.js';
import { listeningApp, type ListeningApp } from '../../../test/helpers/listening.js';
import { totpCode } from '../../../test/helpers/totp.js';
import { createClient, KeywardError, type MfaChallenge } from '../src/index.js';

const STEP = 30_000;

let k: ListeningApp;
before(async () => {
  k = await listeningApp();
});
after(async () => {
  await k.close();
});

/** A JSON POST through the client's authenticated request(). */
function postJson(client: ReturnType<typeof createClient>, path: string, body: object) {
  return client.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Signs up and turns TOTP on over real HTTP, through the client's own session. The confirm code is the one of
 * now; the codes for logins are taken one step ahead (±1 step of drift is accepted), so the step used at
 * enrolment is never presented twice.
 */
async function enrolled(): Promise<{ username: string; secret: string; recoveryCodes: string[] }> {
  const client = createClient({ baseUrl: k.baseUrl });
  const username = uniqueName('clientmfa');
  await client.signup(username, PASSWORD);
  assert.deepEqual(await client.login(username, PASSWORD), { status: 'logged_in' });
  const started = await postJson(client, '/mfa/totp/setup', { current_password: PASSWORD });
  assert.equal(started.status, 200);
  const { secret } = (await started.json()) as { secret: string };
  const confirmed = await postJson(client, '/mfa/totp/confirm', { code: totpCode(secret, Date.now()) });
  assert.equal(confirmed.status, 200);
  const { recovery_codes: recoveryCodes } = (await confirmed.json()) as { recovery_codes: string[] };
  await client.logout();
  return { username, secret, recoveryCodes };
}

async function userOf(client: ReturnType<typeof createClient>, username: string): Promise<void> {
  const res = await client.request('/user');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { user: { username: string; mfa_enabled: boolean } };
  assert.equal(body.user.username, username);
  assert.equal(body.user.mfa_enabled, true);
}

describe('@keyward/client: a login with a TOTP second factor, against a real Keyward server', () => {
  it('login with an mfa callback asks for the code, completes /mfa/verify, and request() is authenticated', async () => {
    const user = await enrolled();
    const client = createClient({ baseUrl: k.baseUrl });
    const challenges: MfaChallenge[] = [];
    const result = await client.login(user.username, PASSWORD, {
      mfa: (challenge) => {
        challenges.push(challenge);
        return Promise.resolve({ code: totpCode(user.secret, Date.now() + STEP) });
      },
    });
    assert.deepEqual(result, { status: 'logged_in' });
    assert.equal(challenges.length, 1);
    assert.equal(typeof challenges[0]?.mfaToken, 'string');
    assert.ok(challenges[0]?.methods.includes('totp'), `methods: ${challenges[0]?.methods.join(',')}`);
    assert.ok((challenges[0]?.expiresIn ?? 0) > 0);
    assert.equal(await client.isLoggedIn(), true);
    await userOf(client, user.username);
    await userOf(client, user.username);
  });

  it('without a callback, login returns the challenge (no session yet) and verifyMfa completes it', async () => {
    const user = await enrolled();
    const client = createClient({ baseUrl: k.baseUrl });
    const result = await client.login(user.username, PASSWORD);
    assert.equal(result.status, 'mfa_required');
    assert.equal(await client.isLoggedIn(), false, 'the password step alone is no session');
    await assert.rejects(client.request('/user'), (error: unknown) => {
      assert.ok(error instanceof KeywardError);
      assert.equal(error.code, 'not_logged_in');
      return true;
    });
    await client.verifyMfa(result.mfaToken, { code: totpCode(user.secret, Date.now() + STEP) });
    assert.equal(await client.isLoggedIn(), true);
    await userOf(client, user.username);
  });

  it('a wrong code is a KeywardError with the server code, and a recovery code logs in', async () => {
    const user = await enrolled();
    const client = createClient({ baseUrl: k.baseUrl });
    const result = await client.login(user.username, PASSWORD);
    assert.equal(result.status, 'mfa_required');
    const near = new Set([-1, 0, 1].map((d) => totpCode(user.secret, Date.now() + d * STEP)));
    const wrong = ['000000', '111111', '222222', '333333'].find((c) => !near.has(c)) ?? '444444';
    await assert.rejects(client.verifyMfa(result.mfaToken, { code: wrong }), (error: unknown) => {
      assert.ok(error instanceof KeywardError);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'invalid_mfa_code');
      return true;
    });
    assert.equal(await client.isLoggedIn(), false);
    const again = await client.login(user.username, PASSWORD, {
      mfa: () => Promise.resolve({ recovery_code: user.recoveryCodes[0] ?? '' }),
    });
    assert.deepEqual(again, { status: 'logged_in' });
    await userOf(client, user.username);
  });
});
