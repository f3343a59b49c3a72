import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { PASSWORD, uniqueName } from '../helpers/app.js';
import {
  field,
  killAllServers,
  ROOT,
  send,
  ServerProcess,
  START_TIMEOUT_MS,
} from '../helpers/server-process.js';
import { startCommand } from '../../scripts/start-command.js';

const agent = new Agent();
const dirs: string[] = [];

after(async () => {
  await killAllServers();
  await agent.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const INVALID = { error: 'Invalid or expired token', code: 'invalid_token' };
const MEMORY_STORE_LINE =
  'token store: in-process memory (single instance only; sessions are lost on restart)';

/** Resolves with why 127.0.0.1:`port` cannot be listened on, or undefined when it is free. */
function portTaken(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      resolve(`127.0.0.1:${port} is already taken (${error.code ?? error.message})`);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(undefined);
      });
    });
  });
}

/** The decoded JOSE header of a JWT. */
function jwtHeader(token: string): Record<string, unknown> {
  const part = token.split('.')[0] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('the server process over TCP', { timeout: 6 * START_TIMEOUT_MS }, () => {
  it('serves sign-up, login, GET /user, /validate_token, refresh and logout as a chain', async () => {
    const server = await ServerProcess.start();
    const base = server.url;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const username = uniqueName('e2e');

    const created = await send(agent, base, 'POST', '/user', { json: { username, password: PASSWORD } });
    assert.equal(created.status, 201);
    assert.equal(created.body.message, 'User created successfully');
    const user = created.body.user as { id: number; username: string };
    assert.deepEqual(user, {
      id: user.id,
      username,
      email: null,
      email_verified: false,
      roles: [],
      mfa_enabled: false,
    });

    const login = await send(agent, base, 'POST', '/authenticate_user', {
      json: { username, password: PASSWORD },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'Bearer');
    assert.equal(login.body.access_token, login.body.token);
    const first = field(login, 'token');
    const refreshToken = field(login, 'refresh_token');

    const me = await send(agent, base, 'GET', '/user', { token: first });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.user, user);
    const second = field(me, 'token');
    assert.notEqual(second, first);

    const replay = await send(agent, base, 'GET', '/user', { token: first });
    assert.equal(replay.status, 401);
    assert.deepEqual(replay.body, INVALID);

    const validated = await send(agent, base, 'POST', '/validate_token', { token: second });
    assert.equal(validated.status, 200);
    assert.equal(validated.body.message, 'Token is valid');
    assert.equal(validated.body.user_id, user.id);
    const third = field(validated, 'token');

    const refreshed = await send(agent, base, 'POST', '/refresh_token', {
      json: { refresh_token: refreshToken },
    });
    assert.equal(refreshed.status, 200);
    assert.notEqual(field(refreshed, 'refresh_token'), refreshToken);
    const fromRefresh = field(refreshed, 'token');

    const logout = await send(agent, base, 'POST', '/logout', { token: fromRefresh });
    assert.equal(logout.status, 200);
    assert.deepEqual(logout.body, { message: 'Logged out successfully' });

    // Logout revoked the session, so the other live token of that session died with it.
    const afterLogout = await send(agent, base, 'GET', '/user', { token: third });
    assert.equal(afterLogout.status, 401);
    assert.deepEqual(afterLogout.body, INVALID);

    const logs = server.lines.map((line) => JSON.stringify(line)).join('\n');
    for (const secret of [PASSWORD, first, second, third, fromRefresh, refreshToken]) {
      assert.equal(logs.includes(secret), false, 'a password or token reached the logs');
    }
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  it('keeps users and the signing key across a restart; in-memory sessions fail closed', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-e2e-restart-'));
    dirs.push(dataDir);
    const username = uniqueName('restart');

    const original = await ServerProcess.start({ DATA_DIR: dataDir });
    assert.equal(
      (await send(agent, original.url, 'POST', '/user', { json: { username, password: PASSWORD } })).status,
      201,
    );
    const login = await send(agent, original.url, 'POST', '/authenticate_user', {
      json: { username, password: PASSWORD },
    });
    const oldToken = field(login, 'token');
    const jwks = await send(agent, original.url, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.status, 200);
    assert.deepEqual(await original.stop(), { code: 0, signal: null });
    await original.kill();

    const again = await ServerProcess.start({ DATA_DIR: dataDir });
    assert.deepEqual((await send(agent, again.url, 'GET', '/.well-known/jwks.json')).body, jwks.body);
    const stale = await send(agent, again.url, 'GET', '/user', { token: oldToken });
    assert.equal(stale.status, 401);
    assert.deepEqual(stale.body, INVALID);
    const relogin = await send(agent, again.url, 'POST', '/authenticate_user', {
      json: { username, password: PASSWORD },
    });
    assert.equal(relogin.status, 200);
    const me = await send(agent, again.url, 'GET', '/user', { token: field(relogin, 'token') });
    assert.equal(me.status, 200);
    assert.equal((me.body.user as { username: string }).username, username);
    assert.deepEqual(await again.stop(), { code: 0, signal: null });
  });

  it('exits 1 on an invalid configuration, listing every problem and no secret value', async () => {
    const server = ServerProcess.spawn({
      JWT_KEY: 'default_jwt_secret_key',
      SESSION_IDLE_TTL: '90000',
      SESSION_MAX_TTL: '3600',
    });
    assert.deepEqual(await server.exited, { code: 1, signal: null });
    assert.match(server.stderr, /^Invalid configuration:$/m);
    assert.match(server.stderr, /^ {2}- JWT_KEY: must be at least 32 bytes/m);
    assert.match(server.stderr, /^ {2}- SESSION_IDLE_TTL: must not exceed SESSION_MAX_TTL$/m);
    assert.equal(server.stderr.includes('default_jwt_secret_key'), false, 'the secret was printed');
    assert.deepEqual(server.listening(), []);
  });

  it('without HOST and PORT listens on 127.0.0.1:5000', async (t) => {
    const taken = await portTaken(5000);
    if (taken !== undefined) {
      t.skip(`${taken}: the default port cannot be tested here`);
      return;
    }
    const server = await ServerProcess.start({ HOST: undefined, PORT: undefined });
    assert.deepEqual(server.listening(), [{ pid: server.pid, url: 'http://127.0.0.1:5000' }]);
    assert.ok(server.lines.some((line) => line.msg === 'Server listening at http://127.0.0.1:5000'));
    const health = await send(agent, 'http://127.0.0.1:5000', 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  it('logs at startup that the token store is the in-process memory one', async () => {
    const server = await ServerProcess.start();
    const stores = server.lines.filter((line) => line.msg.startsWith('token store:'));
    assert.deepEqual(
      stores.map((line) => line.msg),
      [MEMORY_STORE_LINE],
    );
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  it('with no key configured, writes DATA_DIR/keys/<kid>.pem (mode 0600) on first start and signs with it', async () => {
    const server = await ServerProcess.start();
    const keysDir = path.join(server.dataDir, 'keys');
    const pems = readdirSync(keysDir).filter((name) => name.endsWith('.pem'));
    assert.equal(pems.length, 1, `keys: ${pems.join(', ')}`);
    const file = path.join(keysDir, pems[0] ?? '');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    const kid = path.basename(file, '.pem');

    const username = uniqueName('kid');
    const created = await send(agent, server.url, 'POST', '/user', {
      json: { username, password: PASSWORD },
    });
    assert.equal(created.status, 201);
    const login = await send(agent, server.url, 'POST', '/authenticate_user', {
      json: { username, password: PASSWORD },
    });
    assert.equal(login.status, 200);
    const header = jwtHeader(field(login, 'token'));
    assert.equal(header.kid, kid);
    assert.equal(header.alg, 'EdDSA');
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  it('exits 1 on a well-known JWT_KEY of 32+ bytes, naming the problem and not the secret', async () => {
    const secret = 'changeme-changeme-changeme-changeme';
    assert.ok(Buffer.byteLength(secret) >= 32, 'long enough that the length rule does not apply');
    const server = ServerProcess.spawn({ JWT_KEY: secret });
    assert.deepEqual(await server.exited, { code: 1, signal: null });
    assert.match(server.stderr, /^Invalid configuration:$/m);
    assert.match(server.stderr, /^ {2}- JWT_KEY: is a well-known default or trivially weak secret/m);
    assert.doesNotMatch(server.stderr, /at least 32 bytes/);
    const output = server.stderr + server.lines.map((line) => JSON.stringify(line)).join('\n');
    assert.equal(output.includes('changeme-changeme'), false, 'the secret was printed');
    assert.deepEqual(server.listening(), []);
  });

  it("runs with npm start's V8 flags and malloc setting: the young generation stays at 2 × 4 MB under load", async () => {
    assert.deepEqual(startCommand(ROOT).nodeArgs, ['--max-semi-space-size=4']);
    const server = await ServerProcess.start();
    // And with its malloc setting (glibc reads it when the process starts; see docs/deployment.md).
    assert.deepEqual(startCommand(ROOT).env, { MALLOC_MMAP_THRESHOLD_: '131072' });
    if (process.platform === 'linux') {
      const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the server process has the setting');
    }
    const base = server.url;
    const tokens: string[] = [];
    for (let i = 0; i < 8; i += 1) {
      const username = uniqueName('heap');
      assert.equal(
        (await send(agent, base, 'POST', '/user', { json: { username, password: PASSWORD } })).status,
        201,
      );
      const login = await send(agent, base, 'POST', '/authenticate_user', {
        json: { username, password: PASSWORD },
      });
      tokens.push(field(login, 'token'));
    }
    // Chained GET /user on 8 connections: enough allocation for V8 to grow a young generation to its maximum (32 MB
    // with V8's default of 16 MB per semi-space, which a server reached while its modules loaded).
    await Promise.all(
      tokens.map(async (first) => {
        let token = first;
        for (let i = 0; i < 400; i += 1)
          token = field(await send(agent, base, 'GET', '/user', { token }), 'token');
      }),
    );
    const metrics = await (await fetch(`${base}/metrics`, { dispatcher: agent })).text();
    const young = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(metrics);
    assert.ok(young, 'the new-space gauge is exported');
    assert.ok(Number(young[1]) <= 2 * 4 * 2 ** 20, `new space ${young[1]} bytes`);
  });

  it('exits 1 when WEB_CONCURRENCY > 1 has no shared token store, before forking any worker', async () => {
    const server = ServerProcess.spawn({ WEB_CONCURRENCY: '2' });
    assert.deepEqual(await server.exited, { code: 1, signal: null });
    assert.match(server.stderr, /^ {2}- WEB_CONCURRENCY: more than one worker needs a shared token store/m);
    assert.deepEqual(
      server.lines.filter((line) => line.msg === 'worker started'),
      [],
    );
  });
});
