import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { PASSWORD, uniqueName } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import {
  field,
  killAllServers,
  send,
  ServerProcess,
  START_TIMEOUT_MS,
  type Reply,
} from '../helpers/server-process.js';
import { deleteRedisKeys, REDIS_URL, redisUnavailable } from '../helpers/services.js';

const redisMissing = await redisUnavailable();
const postgresMissing = await postgresUnavailable();
const skip = redisMissing ?? postgresMissing ?? false;

const REUSE_WINDOW_S = 1;
const INVALID = { error: 'Invalid or expired token', code: 'invalid_token' };
const INVALID_REFRESH = { error: 'Invalid or expired refresh token', code: 'invalid_refresh_token' };

const agent = new Agent();
const prefix = `kwe2e:${randomBytes(4).toString('hex')}`;
const keyDir = mkdtempSync(path.join(tmpdir(), 'keyward-e2e-key-'));
let database: TestDatabase | undefined;
let a: ServerProcess;
let b: ServerProcess;

before(async () => {
  if (skip !== false) return;
  database = await createTestDatabase();
  const keyFile = path.join(keyDir, 'signing.pem');
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_PRIVATE_KEY_FILE: keyFile,
    REFRESH_REUSE_WINDOW: String(REUSE_WINDOW_S),
  };
  // Both start at once: they also race on the migrations of the empty database.
  [a, b] = await Promise.all([ServerProcess.start(env), ServerProcess.start(env)]);
});

after(async () => {
  await killAllServers();
  await agent.close();
  rmSync(keyDir, { recursive: true, force: true });
  await database?.drop();
  if (skip !== false) return;
  await deleteRedisKeys(prefix);
});

async function signUpAndLogin(on: ServerProcess): Promise<{ username: string; login: Reply }> {
  const username = uniqueName('multi');
  const created = await send(agent, on.url, 'POST', '/user', { json: { username, password: PASSWORD } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { username, login: await login(on, username) };
}

async function login(on: ServerProcess, username: string): Promise<Reply> {
  const reply = await send(agent, on.url, 'POST', '/authenticate_user', {
    json: { username, password: PASSWORD },
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply;
}

describe(
  'two server processes sharing PostgreSQL, Redis and a signing key',
  { skip, timeout: 4 * START_TIMEOUT_MS },
  () => {
    it('a token issued by A is accepted by B, and the token B returns by A', async () => {
      assert.notEqual(a.url, b.url);
      const jwksA = await send(agent, a.url, 'GET', '/.well-known/jwks.json');
      const jwksB = await send(agent, b.url, 'GET', '/.well-known/jwks.json');
      assert.equal(jwksA.status, 200);
      assert.deepEqual(jwksB.body, jwksA.body);

      const { username, login: session } = await signUpAndLogin(a);
      const onB = await send(agent, b.url, 'GET', '/user', { token: field(session, 'token') });
      assert.equal(onB.status, 200);
      assert.equal((onB.body.user as { username: string }).username, username);
      const onA = await send(agent, a.url, 'POST', '/validate_token', { token: field(onB, 'token') });
      assert.equal(onA.status, 200);
      assert.equal(onA.body.message, 'Token is valid');
    });

    it('a single-use token sent to A and B at the same moment succeeds exactly once (20 rounds)', async () => {
      const { login: session } = await signUpAndLogin(a);
      let token = field(session, 'token');
      for (let round = 0; round < 20; round += 1) {
        const replies = await Promise.all([
          send(agent, a.url, 'GET', '/user', { token }),
          send(agent, b.url, 'GET', '/user', { token }),
        ]);
        assert.deepEqual(replies.map((r) => r.status).sort(), [200, 401], `round ${round}`);
        const winner = replies.find((r) => r.status === 200);
        const loser = replies.find((r) => r.status === 401);
        assert.ok(winner && loser);
        assert.deepEqual(loser.body, INVALID);
        token = field(winner, 'token');
      }
    });

    it('a refresh token rotated on A and replayed on B after the reuse window revokes the session', async () => {
      const { login: session } = await signUpAndLogin(a);
      const rotated = await send(agent, a.url, 'POST', '/refresh_token', {
        json: { refresh_token: field(session, 'refresh_token') },
      });
      assert.equal(rotated.status, 200);
      // The reuse window is a duration: nothing to await but the clock.
      await sleep(REUSE_WINDOW_S * 1000 + 100);

      const replay = await send(agent, b.url, 'POST', '/refresh_token', {
        json: { refresh_token: field(session, 'refresh_token') },
      });
      assert.equal(replay.status, 401);
      assert.deepEqual(replay.body, INVALID_REFRESH);

      const successor = await send(agent, a.url, 'POST', '/refresh_token', {
        json: { refresh_token: field(rotated, 'refresh_token') },
      });
      assert.equal(successor.status, 401);
      assert.deepEqual(successor.body, INVALID_REFRESH);
      const access = await send(agent, a.url, 'GET', '/user', { token: field(rotated, 'token') });
      assert.equal(access.status, 401);
      assert.deepEqual(access.body, INVALID);
    });

    it('logout_all on A kills the sessions being used on B', async () => {
      const { username, login: onA } = await signUpAndLogin(a);
      const onB = await login(b, username);
      const used = await send(agent, b.url, 'GET', '/user', { token: field(onB, 'token') });
      assert.equal(used.status, 200);

      const all = await send(agent, a.url, 'POST', '/logout_all', { token: field(onA, 'token') });
      assert.equal(all.status, 200);
      assert.deepEqual(all.body, { message: 'Logged out of all sessions', revoked: 2 });

      const next = await send(agent, b.url, 'GET', '/user', { token: field(used, 'token') });
      assert.equal(next.status, 401);
      assert.deepEqual(next.body, INVALID);
      const refreshed = await send(agent, b.url, 'POST', '/refresh_token', {
        json: { refresh_token: field(onB, 'refresh_token') },
      });
      assert.equal(refreshed.status, 401);
      assert.deepEqual(refreshed.body, INVALID_REFRESH);
    });

    it('a token replayed on B after logout on A is rejected', async () => {
      const { login: session } = await signUpAndLogin(a);
      // A second live access token of the same session, issued by B.
      const refreshed = await send(agent, b.url, 'POST', '/refresh_token', {
        json: { refresh_token: field(session, 'refresh_token') },
      });
      assert.equal(refreshed.status, 200);

      const logout = await send(agent, a.url, 'POST', '/logout', { token: field(session, 'token') });
      assert.equal(logout.status, 200);
      assert.deepEqual(logout.body, { message: 'Logged out successfully' });

      for (const token of [field(session, 'token'), field(refreshed, 'token')]) {
        const replay = await send(agent, b.url, 'GET', '/user', { token });
        assert.equal(replay.status, 401);
        assert.deepEqual(replay.body, INVALID);
      }
      const validate = await send(agent, b.url, 'POST', '/validate_token', {
        json: { token: field(refreshed, 'token') },
      });
      assert.equal(validate.status, 401);
      assert.deepEqual(validate.body, INVALID);
    });
  },
);
