import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeApp, PASSWORD, signUpAndLogin, type TestApp } from '../helpers/app.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';
import { assertOk, expectDead, expectLive, jwtPart, login, type TokenBody } from '../http/http-helpers.js';
import {
  assertCleanFailure,
  assertExit,
  jsonLines,
  makeWorkspace,
  runCli,
  type CliWorkspace,
} from './cli-helpers.js';

const skip = (await redisUnavailable()) ?? false;
const TTL = 600;

function kidOf(token: string): string {
  const kid = jwtPart(token, 0).kid;
  assert.equal(typeof kid, 'string');
  return kid as string;
}

function keyFiles(ws: CliWorkspace): string[] {
  const dir = path.join(ws.dataDir, 'keys');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.pem'))
        .sort()
    : [];
}

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

interface KeyEvent {
  event: string;
  userId: number | null;
  detail: Record<string, unknown> | null;
}

/** The key events the audit log holds, newest first, read with `keyward audit` as an operator would. */
async function keyEvents(ws: CliWorkspace, event: string): Promise<KeyEvent[]> {
  const r = await runCli(['audit', '--event', event, '--json'], ws.env);
  assertExit(r, 0);
  return jsonLines<KeyEvent>(r.stdout);
}

/** Sets a key file's modification time, which Keyward reads as the key's creation time. */
function backdate(ws: CliWorkspace, kid: string, secondsAgo: number): void {
  const when = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(path.join(ws.dataDir, 'keys', `${kid}.pem`), when, when);
}

describe('keyward keys', { skip }, () => {
  const prefix = `kwkeys:${process.pid}:${randomBytes(3).toString('hex')}`;
  const apps: TestApp[] = [];
  let ws: CliWorkspace;

  /** An instance started now on the shared data directory, database and token store. */
  async function startInstance(): Promise<TestApp> {
    const t = await makeApp(ws.env);
    apps.push(t);
    return t;
  }

  before(() => {
    // Tokens stay valid across requests, so that one token can be shown to several instances.
    ws = makeWorkspace({
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      TOKEN_ROTATION: 'off',
      ACCESS_TOKEN_TTL: String(TTL),
    });
  });

  after(async () => {
    await Promise.all(apps.map((t) => t.close()));
    ws.remove();
    await deleteRedisKeys(prefix);
  });

  let first = '';
  let second = '';
  let third = '';
  let firstToken = '';
  let firstUser = '';
  let secondToken = '';
  let before1: TestApp;

  it('list says there are no keys yet', async () => {
    const r = await runCli(['keys', 'list'], ws.env);
    assertExit(r, 0);
    assert.match(r.stdout, /^no keys in .*\/data\/keys: the server generates one on first start/);
  });

  it('generate writes a key file of mode 0600 named by its kid', async () => {
    const r = await runCli(['keys', 'generate'], ws.env);
    assertExit(r, 0);
    assert.match(r.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    first = r.stdout.trim();
    assert.deepEqual(keyFiles(ws), [`${first}.pem`]);
    assert.equal(modeOf(path.join(ws.dataDir, 'keys', `${first}.pem`)), 0o600);
    // No database exists yet (no instance has started): nothing to record the key in, and none is created for it.
    assert.match(
      r.stderr,
      /^wrote .*\.pem \(mode 0600\)\nnote: not audited: there is no database at sqlite:\S+users\.db yet\n$/,
    );
    assert.equal(existsSync(ws.databaseUrl.slice('sqlite:'.length)), false, 'no database file was created');
  });

  it('an instance started now signs with that key', async () => {
    before1 = await startInstance();
    const s = await signUpAndLogin(before1.app);
    firstToken = s.token;
    firstUser = s.username;
    assert.equal(kidOf(firstToken), first);
  });

  it('rotate adds a key that signs from the next start; old tokens stay valid until they expire', async () => {
    const r = await runCli(['keys', 'rotate'], ws.env);
    assertExit(r, 0);
    const match = /^new signing key ([A-Za-z0-9_-]{43})\n/.exec(r.stdout);
    assert.ok(match, r.stdout);
    second = match[1] ?? '';
    assert.notEqual(second, first);
    assert.match(
      r.stdout,
      new RegExp(
        `previous key ${first} stay valid until they expire, at most ACCESS_TOKEN_TTL \\(${TTL} s\\)`,
      ),
    );
    assert.equal(modeOf(path.join(ws.dataDir, 'keys', `${second}.pem`)), 0o600);
    assert.equal(r.stderr, '', 'the rotation was audited without a warning');
    assert.deepEqual(
      (await keyEvents(ws, 'signing_key_added')).map((e) => [e.event, e.userId, e.detail]),
      [['signing_key_added', null, { via: 'cli', kid: second, command: 'rotate', previous_kid: first }]],
    );

    // The running instance keeps the key it started with.
    const stillOld = await login(before1.app, firstUser, PASSWORD);
    assertOk(stillOld);
    assert.equal(kidOf(stillOld.json<TokenBody>().token), first);

    // An instance started after the rotation signs with the new key and accepts the old key's tokens.
    const after1 = await startInstance();
    const s = await signUpAndLogin(after1.app);
    secondToken = s.token;
    assert.equal(kidOf(secondToken), second);
    await expectLive(after1.app, firstToken);
    await expectLive(before1.app, firstToken);

    const jwks = await after1.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assertOk(jwks);
    const kids = jwks
      .json<{ keys: { kid: string }[] }>()
      .keys.map((k) => k.kid)
      .sort();
    assert.deepEqual(kids, [first, second].sort());
  });

  it('list shows which key signs and which only verify', async () => {
    const r = await runCli(['keys', 'list'], ws.env);
    assertExit(r, 0);
    const rows = r.stdout.trimEnd().split('\n');
    assert.match(rows[0] ?? '', /^KID +ALG +CREATED +STATUS +FILE$/);
    assert.match(rows[1] ?? '', new RegExp(`^${first} +EdDSA +\\S+Z +verifies +\\S+${first}\\.pem$`));
    assert.match(rows[2] ?? '', new RegExp(`^${second} +EdDSA +\\S+Z +signs +\\S+${second}\\.pem$`));
    assert.equal(rows.length, 3);

    const json = await runCli(['keys', 'list', '--json'], ws.env);
    const parsed = json.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { kid: string; status: string });
    assert.deepEqual(
      parsed.map((k) => [k.kid, k.status]),
      [
        [first, 'verifies'],
        [second, 'signs'],
      ],
    );
  });

  it('prune keeps a key whose tokens may still be valid', async () => {
    const r = await runCli(['keys', 'prune'], ws.env);
    assertExit(r, 0);
    assert.equal(r.stdout, 'nothing to prune (2 key(s) kept)\n');
    assert.deepEqual(keyFiles(ws), [`${first}.pem`, `${second}.pem`].sort());
  });

  it('prune removes only keys superseded for longer than ACCESS_TOKEN_TTL, never the newest', async () => {
    // first replaced 3 TTLs ago by second, second replaced just now by third: only first's tokens are all expired.
    backdate(ws, first, 4 * TTL);
    backdate(ws, second, 3 * TTL);
    const generated = await runCli(['keys', 'generate'], ws.env);
    assertExit(generated, 0);
    third = generated.stdout.trim();

    const dry = await runCli(['keys', 'prune', '--dry-run'], ws.env);
    assertExit(dry, 0);
    assert.match(
      dry.stdout,
      new RegExp(`^would remove ${first}  \\S+${first}\\.pem\\nwould remove 1 key\\(s\\), 2 kept\\n$`),
    );
    assert.equal(keyFiles(ws).length, 3);

    const list = await runCli(['keys', 'list'], ws.env);
    assert.match(list.stdout, new RegExp(`^${first} .* verifies \\(prunable\\) `, 'm'));

    const r = await runCli(['keys', 'prune'], ws.env);
    assertExit(r, 0);
    assert.match(
      r.stdout,
      new RegExp(`^removed ${first}  \\S+${first}\\.pem\\nremoved 1 key\\(s\\), 2 kept\\n$`),
    );
    assert.deepEqual(keyFiles(ws), [`${second}.pem`, `${third}.pem`].sort());

    // The generated key and the real prune are audited; the dry run is not.
    assert.deepEqual(
      (await keyEvents(ws, 'signing_key_added')).map((e) => e.detail),
      [
        { via: 'cli', kid: third, command: 'generate' },
        { via: 'cli', kid: second, command: 'rotate', previous_kid: first },
      ],
    );
    assert.deepEqual(
      (await keyEvents(ws, 'signing_keys_pruned')).map((e) => e.detail),
      [{ via: 'cli', removed: 1, kids: first, kept: 2 }],
    );

    // An instance started now no longer knows the pruned key; the second key's tokens still verify.
    const later = await startInstance();
    await expectDead(later.app, firstToken);
    await expectLive(later.app, secondToken);

    const again = await runCli(['keys', 'prune'], ws.env);
    assert.equal(again.stdout, 'nothing to prune (2 key(s) kept)\n');
    assert.equal((await keyEvents(ws, 'signing_keys_pruned')).length, 1, 'pruning nothing is not an event');
  });

  it('a key change is made even when its audit event cannot be recorded, with a warning', async () => {
    const other = makeWorkspace({
      DATABASE_URL: 'postgres://keyward:hunter2-not-logged@127.0.0.1:1/nowhere',
    });
    try {
      const r = await runCli(['keys', 'rotate'], other.env);
      assertExit(r, 0);
      const kid = /^new signing key (\S+)\n/.exec(r.stdout)?.[1];
      assert.deepEqual(keyFiles(other), [`${kid ?? '?'}.pem`]);
      assert.match(
        r.stderr,
        /^warning: done, but the audit event could not be recorded: cannot use the database postgres:\/\/keyward:\*+@127\.0\.0\.1:1\/nowhere: /,
      );
      assert.equal(r.stderr.includes('hunter2-not-logged'), false, 'the password was printed');
    } finally {
      other.remove();
    }
  });

  it('with JWT_KEY set, the key files are listed as unused and a note says why', async () => {
    const r = await runCli(['keys', 'list'], { ...ws.env, JWT_KEY: randomBytes(48).toString('base64') });
    assertExit(r, 0);
    assert.match(r.stdout, /^\S+ +HS256 +- +signs +JWT_KEY$/m);
    assert.match(r.stdout, new RegExp(`^${third} .* unused `, 'm'));
    assert.equal(
      r.stderr,
      'note: JWT_KEY is set: tokens are signed with HS256 and the key files are not used until it is removed\n',
    );
  });

  it('a damaged key file is reported, not a crash', async () => {
    const junk = path.join(ws.dataDir, 'keys', 'junk.pem');
    writeFileSync(junk, 'not a key', { mode: 0o600 });
    for (const command of ['list', 'rotate', 'prune']) {
      const r = await runCli(['keys', command], ws.env);
      assertCleanFailure(r, 1, `cannot read the keys directory: ${junk}: not a PKCS#8 PEM private key`);
    }
    assert.equal(keyFiles(ws).length, 3, 'nothing was written or removed');
  });
});
