import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, type TestApp } from '../helpers/app.js';
import { totpCode } from '../helpers/totp.js';
import { assertOk, expectLive, login, type TokenBody } from '../http/http-helpers.js';
import { enrolledUser, fixedClock, mfaToken, verify, type Clock } from '../http/mfa-helpers.js';
import { assertExit, makeWorkspace, runCli, type CliWorkspace } from './cli-helpers.js';

const STEP = 30_000;

describe('keyward user mfa-reset and keys data-key', () => {
  let ws: CliWorkspace;
  let t: TestApp;
  let clock: Clock;

  before(async () => {
    ws = makeWorkspace();
    clock = fixedClock();
    t = await makeApp(ws.env, { now: clock.now });
  });

  after(async () => {
    await t.close();
    ws.remove();
  });

  async function secretKeyId(userId: number): Promise<string | undefined> {
    const row = await t.deps.database.db
      .selectFrom('users')
      .select('totp_secret')
      .where('id', '=', userId)
      .executeTakeFirst();
    return row?.totp_secret?.split('.')[1];
  }

  it('user mfa-reset removes the second factor (audited); the user logs in with the password alone', async () => {
    const user = await enrolledUser(t.app, clock);
    const r = await runCli(['user', 'mfa-reset', user.username.toUpperCase()], ws.env);
    assertExit(r, 0);
    assert.match(r.stdout, /^removed the second factor of ".+" \(id \d+\)\n$/);
    const res = await login(t.app, user.username, PASSWORD);
    assertOk(res);
    await expectLive(t.app, res.json<TokenBody>().token);
    const again = await runCli(['user', 'mfa-reset', user.username], ws.env);
    assertExit(again, 0);
    assert.match(again.stdout, /nothing to reset/);
    const rows = await t.deps.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('user_id', '=', user.userId)
      .where('event', '=', 'mfa_disabled')
      .execute();
    assert.equal(rows.length, 1);
    assert.match(rows[0]?.detail ?? '', /"by":"cli"/);
  });

  it('user mfa-reset of an unknown user fails with exit 1', async () => {
    const r = await runCli(['user', 'mfa-reset', 'nobody-here'], ws.env);
    assertExit(r, 1);
  });

  it('data-key rotate writes a new key (0600) and re-encrypts; a running server still verifies codes', async () => {
    const user = await enrolledUser(t.app, clock);
    const before = await secretKeyId(user.userId);
    assert.ok(before);
    const r = await runCli(['keys', 'data-key', 'rotate'], ws.env);
    assertExit(r, 0);
    const match = /^new data key ([A-Za-z0-9_-]{12})\n/.exec(r.stdout);
    assert.ok(match?.[1], r.stdout);
    assert.notEqual(match[1], before);
    assert.match(r.stdout, /re-encrypted [1-9]\d* secret row\(s\)/);
    const file = path.join(ws.dataDir, 'keys', `data-${match[1]}.key`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(await secretKeyId(user.userId), match[1]);
    // The server started with the old key only: it reads the new file when it meets a secret encrypted under it.
    clock.at += STEP;
    assertOk(
      await verify(t.app, {
        mfa_token: await mfaToken(t.app, user.username),
        code: totpCode(user.secret, clock.at),
      }),
    );
    const list = await runCli(['keys', 'data-key', 'list'], ws.env);
    assertExit(list, 0);
    assert.match(list.stdout, new RegExp(`^${match[1]}\\s+encrypts\\s+[1-9]`, 'm'));
    assert.match(
      list.stdout,
      new RegExp(`^${before}\\s+decrypts\\s+0\\s+[1-9]`, 'm'),
      'recovery codes stay on the old key',
    );
    assert.equal(readdirSync(path.join(ws.dataDir, 'keys')).filter((n) => n.startsWith('data-')).length, 2);
    // Recovery codes made under the old key still work while it is kept.
    assertOk(
      await verify(t.app, {
        mfa_token: await mfaToken(t.app, user.username),
        recovery_code: user.recoveryCodes[0],
      }),
    );
  });

  it('data-key with an unknown action is a usage error', async () => {
    const r = await runCli(['keys', 'data-key', 'shred'], ws.env);
    assertExit(r, 2);
  });
});
