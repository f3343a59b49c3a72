import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StoredAuditEvent } from '../../src/repositories/audit-repository.js';
import { makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { assertError, assertOk, expectDead, expectLive, login, refresh } from '../http/http-helpers.js';
import {
  assertCleanFailure,
  assertExit,
  jsonLines,
  makeWorkspace,
  runCli,
  type CliWorkspace,
} from './cli-helpers.js';

const skipRedis = (await redisUnavailable()) ?? false;

/** One line of `keyward audit --json`: a stored event as the repository returns it. */
type AuditLine = StoredAuditEvent;

describe('keyward user and audit on the embedded stores', () => {
  let ws: CliWorkspace;
  let t: TestApp;

  before(async () => {
    ws = makeWorkspace();
    t = await makeApp(ws.env);
  });

  after(async () => {
    await t.close();
    ws.remove();
  });

  const createdIds = new Map<string, number>();

  it('user create reads the password from stdin (dropping one newline); the user logs in over HTTP', async () => {
    const r = await runCli(['user', 'create', 'alice', '--password-stdin'], ws.env, {
      stdin: `${PASSWORD}\n`,
    });
    assertExit(r, 0);
    const match = /^created user "alice" \(id (\d+)\)\n$/.exec(r.stdout);
    assert.ok(match, r.stdout);
    createdIds.set('alice', Number(match[1]));
    assertOk(await login(t.app, 'alice', PASSWORD));
    assertError(await login(t.app, 'alice', `${PASSWORD}\n`), 401, 'invalid_credentials');
  });

  it('user create takes the password from KEYWARD_PASSWORD and stores the NFKC form', async () => {
    const r = await runCli(['user', 'create', 'ｂｏｂｂｙ'], { ...ws.env, KEYWARD_PASSWORD: PASSWORD });
    assertExit(r, 0);
    const match = /^created user "bobby" \(id (\d+)\)\n$/.exec(r.stdout);
    assert.ok(match, r.stdout);
    createdIds.set('bobby', Number(match[1]));
    assertOk(await login(t.app, 'BOBBY', PASSWORD));
  });

  it('user create refuses exactly what POST /user refuses, with the same message', async () => {
    const cases: [string, string, number][] = [
      ['abc', PASSWORD, 400],
      ['has space', PASSWORD, 400],
      ['tab\there', PASSWORD, 400],
      ['carol', 'short', 400],
      ['carol', 'qwertyuiop', 400],
      ['carol', 'my-name-is-Carol!', 400],
      ['ALICE', PASSWORD, 409],
    ];
    for (const [username, password, status] of cases) {
      const http = await t.app.inject({ method: 'POST', url: '/user', payload: { username, password } });
      assert.equal(http.statusCode, status, `${username}: ${http.body}`);
      const { error } = http.json<{ error: string }>();
      const r = await runCli(['user', 'create', username, '--password-stdin'], ws.env, { stdin: password });
      assertCleanFailure(r, 1, error);
      assert.equal(r.stdout, '');
      assert.ok(!r.stderr.includes(password), 'the password is never echoed');
    }
  });

  it('user list shows every user, oldest first, in text and JSON', async () => {
    const text = await runCli(['user', 'list'], ws.env);
    assertExit(text, 0);
    const alice = createdIds.get('alice') ?? 0;
    const bobby = createdIds.get('bobby') ?? 0;
    assert.match(
      text.stdout,
      new RegExp(`^ID  USERNAME\\n +${alice}  alice\\n +${bobby}  bobby\\n2 of 2 user\\(s\\)\\n$`),
    );
    const json = await runCli(['user', 'list', '--json', '--limit', '1'], ws.env);
    assertExit(json, 0);
    assert.deepEqual(jsonLines(json.stdout), [
      {
        id: alice,
        username: 'alice',
        email: null,
        email_verified: false,
        roles: [],
        disabled: false,
        mfa_enabled: false,
      },
    ]);
  });

  it('user roles adds and removes roles; the next login carries them; a removal warns without a shared store', async () => {
    const s = await signUpAndLogin(t.app, uniqueName('roles'));
    const added = await runCli(['user', 'roles', s.username, '--add', 'editor,admin'], ws.env);
    assertExit(added, 0);
    assert.equal(added.stdout, `roles of "${s.username}": admin editor\n`);
    assert.deepEqual((await t.deps.users.findById(s.userId))?.roles, ['admin', 'editor']);
    const res = await login(t.app, s.username, PASSWORD);
    assertOk(res);
    const token = res.json<{ token: string }>().token;
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      roles: string[];
    };
    assert.deepEqual(payload.roles, ['admin', 'editor']);
    const removed = await runCli(['user', 'roles', s.username, '--remove', 'admin'], ws.env);
    assertExit(removed, 0);
    assert.equal(removed.stdout, `roles of "${s.username}": editor\n`);
    assert.match(removed.stderr, /^warning: sessions live in the memory/);
    const shown = await runCli(['user', 'roles', s.username], ws.env);
    assert.equal(shown.stdout, 'editor\n');
    const bad = await runCli(['user', 'roles', s.username, '--add', 'not ok'], ws.env);
    assertExit(bad, 2);
  });

  it('user delete without a shared token store deletes and warns that sessions are out of reach', async () => {
    const s = await signUpAndLogin(t.app, uniqueName('gone'));
    const r = await runCli(['user', 'delete', s.username.toUpperCase()], ws.env);
    assertExit(r, 0);
    assert.equal(r.stdout, `deleted user "${s.username}" (id ${s.userId})\n`);
    assert.match(r.stderr, /^warning: sessions live in the memory of each running server \(no REDIS_URL\)/);
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
    createdIds.set('gone', s.userId);
  });

  it('user revoke-sessions needs the shared token store', async () => {
    const r = await runCli(['user', 'revoke-sessions', 'alice'], ws.env);
    assertCleanFailure(
      r,
      1,
      /^keyward: cannot revoke sessions: sessions live in the memory of each running server/,
    );
  });

  it('user delete and revoke-sessions of an unknown user fail', async () => {
    for (const command of ['delete', 'revoke-sessions']) {
      const r = await runCli(['user', command, 'nobody-here'], ws.env);
      assertCleanFailure(r, 1, 'no user named "nobody-here"');
    }
  });

  it('audit lists the events of the CLI and of the server, newest first', async () => {
    const r = await runCli(['audit', '--json'], ws.env);
    assertExit(r, 0);
    const events = jsonLines<AuditLine>(r.stdout);
    const ids = events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      'newest first',
    );
    const deleted = events.find((e) => e.event === 'account_deleted');
    assert.ok(deleted);
    assert.equal(deleted.userId, createdIds.get('gone'));
    assert.deepEqual(deleted.detail, { via: 'cli', sessions_revoked: null });
    assert.equal(deleted.ip, null);
    assert.equal(deleted.requestId, null, 'an event of the CLI has no request');
    // The failed login after the deletion came last.
    assert.deepEqual(
      events.slice(0, 2).map((e) => e.event),
      ['login_failed', 'account_deleted'],
    );
    const aliceSignup = events.find((e) => e.event === 'signup' && e.username === 'alice');
    assert.deepEqual(aliceSignup?.detail, { via: 'cli' });
    // The server's own events land in the same table.
    const served = events.find((e) => e.event === 'login_succeeded' && e.username === 'alice');
    assert.ok(served);
    assert.notEqual(served.ip, null);
    assert.match(served.requestId ?? '', /^[0-9a-f-]{36}$/, 'an event of the server names its request');
    assert.ok(!r.stdout.includes(PASSWORD));
  });

  it('audit filters by event, by user name and by user id (also of a deleted account)', async () => {
    const bySignup = jsonLines<AuditLine>(
      (await runCli(['audit', '--json', '--event', 'signup'], ws.env)).stdout,
    );
    assert.ok(bySignup.length >= 3);
    assert.ok(bySignup.every((e) => e.event === 'signup'));

    const alice = createdIds.get('alice');
    const byName = await runCli(['audit', '--json', '--user', 'ALICE'], ws.env);
    assertExit(byName, 0);
    const aliceEvents = jsonLines<AuditLine>(byName.stdout);
    assert.ok(aliceEvents.every((e) => e.userId === alice));
    assert.equal(aliceEvents.at(-1)?.event, 'signup');
    assert.ok(aliceEvents.some((e) => e.event === 'login_succeeded'));

    const gone = createdIds.get('gone') ?? 0;
    const byId = jsonLines<AuditLine>(
      (await runCli(['audit', '--json', '--user-id', String(gone)], ws.env)).stdout,
    );
    assert.ok(byId.every((e) => e.userId === gone));
    assert.equal(byId[0]?.event, 'account_deleted');
    assert.equal(byId.at(-1)?.event, 'signup');

    const unknown = await runCli(['audit', '--user', 'gone-for-good'], ws.env);
    assertCleanFailure(
      unknown,
      1,
      /^keyward: no user named "gone-for-good" \(for a deleted account, use --user-id/,
    );
    const none = await runCli(['audit', '--event', 'no_such_event'], ws.env);
    assertExit(none, 0);
    assert.equal(none.stdout, 'no matching audit events\n');
  });

  it('audit prints one readable line per event and honours --limit', async () => {
    const r = await runCli(['audit', '--limit', '1', '--event', 'account_deleted'], ws.env);
    assertExit(r, 0);
    const gone = createdIds.get('gone') ?? 0;
    assert.match(
      r.stdout,
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  account_deleted  user="gone[^"]*" \\(#${gone}\\)  ip=-  \\{"via":"cli","sessions_revoked":null\\}\\n$`,
      ),
    );
    // An event of the server also shows the request it came from.
    const served = await runCli(
      ['audit', '--limit', '1', '--event', 'login_succeeded', '--user', 'alice'],
      ws.env,
    );
    assertExit(served, 0);
    assert.match(
      served.stdout,
      /^\S+Z {2}login_succeeded {2}user="alice" \(#\d+\) {2}ip=\S+ {2}req=[0-9a-f-]{36} {2}\{"sid":"[^"]+"\}\n$/,
    );
  });
});

describe('keyward user delete and revoke-sessions on Redis', { skip: skipRedis }, () => {
  const prefix = `kwcli:${process.pid}:${randomBytes(3).toString('hex')}`;
  let ws: CliWorkspace;
  let t: TestApp;

  before(async () => {
    ws = makeWorkspace({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    // The server and the command share the database and the token store, as in production.
    t = await makeApp(ws.env);
  });

  after(async () => {
    await t.close();
    ws.remove();
    await deleteRedisKeys(prefix);
  });

  it('revoke-sessions kills every access and refresh token of the user at once', async () => {
    const first = await signUpAndLogin(t.app);
    const second = await login(t.app, first.username, PASSWORD);
    assertOk(second);
    const other = await signUpAndLogin(t.app);

    const r = await runCli(['user', 'revoke-sessions', first.username], ws.env);
    assertExit(r, 0);
    assert.equal(r.stdout, `revoked 2 session(s) of "${first.username}"\n`);

    await expectDead(t.app, first.token);
    await expectDead(t.app, second.json<{ token: string }>().token);
    assertError(await refresh(t.app, first.refreshToken), 401, 'invalid_refresh_token');
    await expectLive(t.app, other.token);
    // The account itself is intact: its owner logs in again.
    assertOk(await login(t.app, first.username, PASSWORD));

    const audit = await runCli(['audit', '--json', '--limit', '1', '--event', 'logout_all'], ws.env);
    assert.deepEqual(
      jsonLines<AuditLine>(audit.stdout).map((e) => [e.event, e.userId, e.detail]),
      [['logout_all', first.userId, { via: 'cli', revoked: 2 }]],
    );
  });

  it('delete removes the account and revokes its sessions', async () => {
    const s = await signUpAndLogin(t.app);
    const r = await runCli(['user', 'delete', s.username], ws.env);
    assertExit(r, 0);
    assert.equal(r.stdout, `deleted user "${s.username}" (id ${s.userId})\nrevoked 1 session(s)\n`);
    assert.equal(r.stderr, '');
    await expectDead(t.app, s.token);
    assertError(await refresh(t.app, s.refreshToken), 401, 'invalid_refresh_token');
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials', 'Invalid credentials');
  });

  it('an unreachable token store fails before anything is deleted, and hides its password', async () => {
    const s = await signUpAndLogin(t.app);
    const env = {
      ...ws.env,
      REDIS_URL: 'redis://:redis-s3cret-pw@127.0.0.1:1',
      REDIS_COMMAND_TIMEOUT_MS: '200',
    };
    for (const command of ['delete', 'revoke-sessions']) {
      const r = await runCli(['user', command, s.username], env);
      assertCleanFailure(
        r,
        1,
        'cannot reach the token store redis://***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1',
      );
      assert.doesNotMatch(r.stderr, /redis-s3cret-pw/);
    }
    await expectLive(t.app, s.token);
  });

  it('user create on Redis gives a working account', async () => {
    const name = uniqueName('cli');
    const r = await runCli(['user', 'create', name, '--password-stdin'], ws.env, { stdin: PASSWORD });
    assertExit(r, 0);
    assertOk(await login(t.app, name, PASSWORD));
  });
});
