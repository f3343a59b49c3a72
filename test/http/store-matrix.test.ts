// The core HTTP scenarios on each real backend combination (SPEC: every route and rule over real HTTP on the
// real stores): accounts on PostgreSQL with the memory store, sessions on SQLite with a Redis Cluster and
// with a Redis master found through Sentinel. user-routes and session-routes cover SQLite + memory.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bearer, makeApp, PASSWORD, signUpAndLogin, uniqueName, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { redisBinariesMissing, redisCli, RedisServer, startSentinel } from '../helpers/redis-server.js';
import {
  assertError,
  assertOk,
  expectDead,
  expectLive,
  login,
  refresh,
  sidOf,
  type SessionItem,
  type TokenBody,
  type UserBody,
} from './http-helpers.js';

const skipPostgres = (await postgresUnavailable()) ?? false;
const skipRedis = (await redisBinariesMissing()) ?? false;
const prefix = `kwm${randomBytes(3).toString('hex')}`;

const signUp = (app: FastifyInstance, username: string) =>
  app.inject({ method: 'POST', url: '/user', payload: { username, password: PASSWORD } });

/** The answer must be 409 username_taken; returns the token it carries (the empty string when there is none). */
function expectTaken(res: Awaited<ReturnType<typeof signUp>>): string {
  return assertError(res, 409, 'username_taken', 'Username already exists').token ?? '';
}

describe('accounts over HTTP on PostgreSQL with the memory token store', { skip: skipPostgres }, () => {
  let database: TestDatabase;
  let t: TestApp;

  before(async () => {
    database = await createTestDatabase();
    t = await makeApp({ DATABASE_URL: database.url });
  });
  after(async () => {
    await t.close();
    await database.drop();
  });

  it('a username differing only by case or by width (fullwidth letters) is taken (409)', async () => {
    const base = uniqueName('Alice');
    assertOk(await signUp(t.app, base), 201);
    expectTaken(await signUp(t.app, base.toLowerCase()));
    expectTaken(await signUp(t.app, base.toUpperCase()));

    const suffix = uniqueName('x');
    const wide = await signUp(t.app, `ｆｉｆｉ${suffix}`);
    assertOk(wide, 201);
    assert.equal(wide.json<UserBody>().user.username, `fifi${suffix}`);
    expectTaken(await signUp(t.app, `fifi${suffix}`));
    expectTaken(await signUp(t.app, `FiFi${suffix}`));
  });

  it('of 50 concurrent signups of one name exactly one gets 201 and 49 get 409', async () => {
    const username = uniqueName('race');
    const results = await Promise.all(Array.from({ length: 50 }, () => signUp(t.app, username)));
    const created = results.filter((r) => r.statusCode === 201);
    assert.equal(created.length, 1, results.map((r) => r.statusCode).join(','));
    for (const r of results.filter((x) => x.statusCode !== 201)) expectTaken(r);
  });

  it("a rename onto another user's name (other case) gets 409 with the next token", async () => {
    const other = await signUpAndLogin(t.app, uniqueName('Taken'));
    const s = await signUpAndLogin(t.app);
    const res = await t.app.inject({
      method: 'PUT',
      url: '/user',
      headers: bearer(s.token),
      payload: { username: other.username.toUpperCase(), current_password: PASSWORD },
    });
    const next = expectTaken(res);
    await expectDead(t.app, s.token);
    const user = await t.app.inject({ method: 'GET', url: '/user', headers: bearer(next) });
    assertOk(user);
    assert.equal(user.json<UserBody>().user.username, s.username);
  });

  it('after DELETE /user the same name signs up again', async () => {
    const s = await signUpAndLogin(t.app);
    assertOk(await t.app.inject({ method: 'DELETE', url: '/user', headers: bearer(s.token) }));
    assertError(await login(t.app, s.username, PASSWORD), 401, 'invalid_credentials');
    const again = await signUp(t.app, s.username);
    assertOk(again, 201);
    assert.notEqual(again.json<UserBody>().user.id, s.userId);
    assertOk(await login(t.app, s.username, PASSWORD));
  });
});

/**
 * On `t`: login → GET /user (chained) → GET /sessions → DELETE another own session (its token dies) →
 * DELETE another user's session (404, next token, that session lives) → POST /logout_all (every session of
 * the user dies, the current one included).
 */
async function sessionScenario(t: TestApp): Promise<void> {
  const { app } = t;
  const s = await signUpAndLogin(app);
  const other = (await login(app, s.username, PASSWORD, { 'user-agent': 'MatrixPhone/1' })).json<TokenBody>();
  let token = await expectLive(app, s.token);
  await expectDead(app, s.token);

  const listed = await app.inject({ method: 'GET', url: '/sessions', headers: bearer(token) });
  assertOk(listed);
  const body = listed.json<{ sessions: SessionItem[]; token: string }>();
  assert.deepEqual(body.sessions.map((x) => x.id).sort(), [sidOf(s.token), sidOf(other.token)].sort());
  assert.equal(body.sessions.find((x) => x.current)?.id, sidOf(s.token));
  assert.equal(body.sessions.find((x) => !x.current)?.user_agent, 'MatrixPhone/1');
  await expectDead(app, token);
  token = body.token;

  const revoke = (sid: string) =>
    app.inject({ method: 'DELETE', url: `/sessions/${sid}`, headers: bearer(token) });
  const revoked = await revoke(sidOf(other.token));
  assertOk(revoked);
  token = revoked.json<{ token: string }>().token;
  await expectDead(app, other.token);
  assertError(await refresh(app, other.refresh_token), 401, 'invalid_refresh_token');

  const victim = await signUpAndLogin(app);
  const foreign = assertError(await revoke(sidOf(victim.token)), 404, 'session_not_found');
  assert.equal(typeof foreign.token, 'string');
  await expectLive(app, victim.token);
  token = await expectLive(app, foreign.token ?? '');

  const third = (await login(app, s.username, PASSWORD)).json<TokenBody>();
  const all = await app.inject({ method: 'POST', url: '/logout_all', headers: bearer(token) });
  assert.deepEqual(all.json(), { message: 'Logged out of all sessions', revoked: 2 });
  await expectDead(app, token);
  await expectDead(app, third.token);
  assertError(await refresh(app, s.refreshToken), 401, 'invalid_refresh_token');
}

/** Redis processes this file starts for one describe, the app's settings for them, and their teardown. */
interface RedisRig {
  env: Record<string, string>;
  /** The nodes that hold the data. */
  ports: number[];
  /** Stops the processes; their keys go with them. */
  stop(): Promise<void>;
}

/** Runs the session scenario on SQLite with the token store on the Redis `start` brings up. */
function sessionsOn(store: string, label: string, start: () => Promise<RedisRig>): void {
  describe(`sessions over HTTP on SQLite with ${label}`, { skip: skipRedis }, () => {
    let rig: RedisRig | undefined;
    let t: TestApp | undefined;

    before(async () => {
      rig = await start();
      t = await makeApp({ ...rig.env, REDIS_KEY_PREFIX: `${prefix}:${store}` });
    });
    // Also when `start` or makeApp failed: the processes of a half-started rig must not outlive the file.
    after(async () => {
      await t?.close();
      await rig?.stop();
    });

    it('login, chained GET /user, sessions, revocation, 404 on a foreign session and logout_all', async () => {
      if (t === undefined || rig === undefined) throw new Error('the Redis rig did not start');
      await sessionScenario(t);
      // The bystander's session stays: the store really is that Redis.
      const listings = await Promise.all(
        rig.ports.map((port) => redisCli(port, '--scan', '--pattern', `${prefix}:${store}:*`)),
      );
      const keys = listings.flatMap((text) => text.split('\n').filter(Boolean));
      assert.ok(keys.length > 0, `no session keys on ${label}`);
    });
  });
}

sessionsOn('cluster', 'a Redis Cluster token store', async () => {
  const cluster: RedisCluster = await startRedisCluster();
  return {
    env: { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') },
    ports: cluster.nodes.map((n) => n.port),
    stop: () => cluster.stop(),
  };
});

sessionsOn('sentinel', 'a Redis master found through Sentinel', async () => {
  const name = `${prefix}-master`;
  const master = await RedisServer.start();
  const sentinel = await startSentinel(master.port, name).catch(async (error: unknown) => {
    await master.destroy();
    throw error;
  });
  return {
    env: { REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_NAME: name },
    ports: [master.port],
    stop: async () => {
      await sentinel.destroy();
      await master.destroy();
    },
  };
});
