import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StoredAuditEvent } from '../../src/repositories/audit-repository.js';
import { INITIAL_GENERATION } from '../../src/stores/token-store.js';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { assertError, assertOk, expectDead, expectLive, login } from '../http/http-helpers.js';
import { assertExit, makeWorkspace, runCli, type CliWorkspace } from './cli-helpers.js';

const skipRedis = (await redisUnavailable()) ?? false;
const NEW_PASSWORD = 'a quite different passphrase';

/** A user's audit events, oldest first, as [event, detail without the CLI's `via`]. */
async function trail(t: TestApp, userId: number): Promise<[string, Record<string, unknown> | null][]> {
  const events: StoredAuditEvent[] = await t.deps.audit.recent(100, { userId });
  return events.reverse().map((e) => {
    if (e.detail === null) return [e.event, null];
    const rest: Record<string, unknown> = { ...e.detail };
    delete rest.via;
    return [e.event, Object.keys(rest).length === 0 ? null : rest];
  });
}

/** A user signed up over HTTP with two live sessions. */
async function twoSessions(t: TestApp) {
  const first = await signUpAndLogin(t.app);
  const second = await login(t.app, first.username, PASSWORD);
  assertOk(second);
  return { ...first, otherToken: second.json<{ token: string }>().token };
}

// The command and the server share the database and the token store (Redis), as in production: each use case
// done both ways must leave the same audit trail and revoke the same sessions.
describe('the CLI and HTTP take the same path', { skip: skipRedis }, () => {
  const prefix = `kwsame:${process.pid}:${randomBytes(3).toString('hex')}`;
  let ws: CliWorkspace;
  let t: TestApp;

  before(async () => {
    ws = makeWorkspace({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    t = await makeApp(ws.env);
  });

  after(async () => {
    await t.close();
    ws.remove();
    await deleteRedisKeys(prefix);
  });

  it('signup: the same event, and stale sessions of the new id revoked either way', async () => {
    // Sessions that a token store kept across a database reset, planted for the next two ids.
    const last = (await t.deps.users.list({ limit: 100_000 })).at(-1)?.id ?? 0;
    const stale = [last + 1, last + 2];
    for (const userId of stale) {
      await t.deps.tokenStore.createSession(
        {
          userId,
          sid: `stale${userId}`,
          userAgent: '',
          ip: '',
          token: { jti: `j${userId}`, expiresAt: Date.now() + 60_000 },
          generation: INITIAL_GENERATION,
        },
        Date.now(),
      );
    }
    const viaHttp = await t.app.inject({
      method: 'POST',
      url: '/user',
      payload: { username: uniqueName('h'), password: PASSWORD },
    });
    assertOk(viaHttp, 201);
    const httpId = viaHttp.json<{ user: { id: number } }>().user.id;
    const name = uniqueName('c');
    const viaCli = await runCli(['user', 'create', name, '--password-stdin'], ws.env, { stdin: PASSWORD });
    assertExit(viaCli, 0);
    const cliId = Number(/\(id (\d+)\)/.exec(viaCli.stdout)?.[1]);
    assert.deepEqual([httpId, cliId], stale);
    for (const userId of stale)
      assert.deepEqual(await t.deps.tokenStore.listSessions(userId, Date.now()), []);
    assert.deepEqual(await trail(t, httpId), [['signup', null]]);
    assert.deepEqual(await trail(t, cliId), await trail(t, httpId));
    assertOk(await login(t.app, name, PASSWORD));
  });

  it('password change: the same event; the caller keeps its session over HTTP, an operator has none', async () => {
    const viaHttp = await twoSessions(t);
    const changed = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(viaHttp.token),
      payload: { password: NEW_PASSWORD, current_password: PASSWORD },
    });
    assertOk(changed);
    await expectDead(t.app, viaHttp.otherToken);
    await expectLive(t.app, changed.json<{ token: string }>().token);

    const viaCli = await twoSessions(t);
    const r = await runCli(['user', 'set-password', viaCli.username, '--password-stdin'], ws.env, {
      stdin: NEW_PASSWORD,
    });
    assertExit(r, 0);
    assert.equal(
      r.stdout,
      `set the password of "${viaCli.username}" (id ${viaCli.userId})\nrevoked 2 session(s)\n`,
    );
    await expectDead(t.app, viaCli.token);
    await expectDead(t.app, viaCli.otherToken);

    for (const s of [viaHttp, viaCli]) {
      assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
      assertOk(await login(t.app, s.username, NEW_PASSWORD));
    }
    const http = await trail(t, viaHttp.userId);
    const cli = await trail(t, viaCli.userId);
    assert.deepEqual(
      http.map(([event]) => event),
      ['signup', 'login_succeeded', 'login_succeeded', 'password_changed', 'login_failed', 'login_succeeded'],
    );
    assert.deepEqual(
      cli.map(([event]) => event),
      http.map(([event]) => event),
    );
    assert.deepEqual(http[3]?.[1], { other_sessions_revoked: 1 });
    assert.deepEqual(cli[3]?.[1], { sessions_revoked: 2 });
  });

  it('password change: the CLI applies the password rules of PUT /user', async () => {
    const s = await signUpAndLogin(t.app);
    const http = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { password: 'short', current_password: PASSWORD },
    });
    const { error } = assertError(http, 400, 'weak_password');
    const r = await runCli(['user', 'set-password', s.username, '--password-stdin'], ws.env, {
      stdin: 'short',
    });
    assertExit(r, 1);
    assert.equal(r.stderr, `keyward: ${error}\n`);
    assertOk(await login(t.app, s.username, PASSWORD));
  });

  it('deletion: the same event and the same revocations', async () => {
    const viaHttp = await twoSessions(t);
    assertOk(await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(viaHttp.token) }));
    const viaCli = await twoSessions(t);
    assertExit(await runCli(['user', 'delete', viaCli.username], ws.env), 0);
    for (const s of [viaHttp, viaCli]) {
      await expectDead(t.app, s.otherToken);
      assert.deepEqual(await t.deps.tokenStore.listSessions(s.userId, Date.now()), []);
      assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
    }
    const http = await trail(t, viaHttp.userId);
    assert.deepEqual(http.at(-1), ['account_deleted', { sessions_revoked: 2 }]);
    const cli = await trail(t, viaCli.userId);
    assert.deepEqual(
      cli.map(([event]) => event),
      http.map(([event]) => event),
    );
    assert.deepEqual(cli.at(-1), http.at(-1));
  });
});
