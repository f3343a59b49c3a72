import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { PASSWORD, uniqueName } from '../helpers/app.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { freePort, redisBinariesMissing, RedisServer } from '../helpers/redis-server.js';
import {
  field,
  isRunning,
  killAllServers,
  send,
  ServerProcess,
  START_TIMEOUT_MS,
  type Reply,
} from '../helpers/server-process.js';
import { POSTGRES_URL } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { OUTAGE_DEADLINE_MS, UNAVAILABLE } from '../http/outage-helpers.js';

const agent = new Agent();
const redisSkip = (await redisBinariesMissing()) ?? false;
const postgresSkip = (await postgresUnavailable()) ?? false;
const servers: RedisServer[] = [];
const proxies: TcpProxy[] = [];

after(async () => {
  await killAllServers();
  await agent.close();
  await Promise.all(servers.map((s) => s.destroy()));
  await Promise.all(proxies.map((p) => p.close()));
});

async function timedSend(base: string, method: string, route: string, json?: unknown): Promise<Reply> {
  const started = performance.now();
  const reply = await send(agent, base, method, route, json === undefined ? {} : { json });
  const ms = performance.now() - started;
  assert.ok(ms < OUTAGE_DEADLINE_MS, `${method} ${route} answered in ${Math.round(ms)} ms`);
  return reply;
}

function assertUnavailable(reply: Reply): void {
  assert.equal(reply.status, 503, JSON.stringify(reply.body));
  assert.equal(reply.headers.get('retry-after'), '1');
  assert.deepEqual(reply.body, UNAVAILABLE);
}

/** Polls /readyz (the signal an orchestrator watches) until it answers 200. */
async function waitUntilReady(base: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await send(agent, base, 'GET', '/readyz');
    if (reply.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`not ready after ${timeoutMs} ms: ${JSON.stringify(reply.body)}`);
    await sleep(100);
  }
}

describe('store outages on the real server process', { timeout: 4 * START_TIMEOUT_MS }, () => {
  it(
    'started while Redis is down: serves 503, recovers when Redis comes up, survives another outage',
    { skip: redisSkip },
    async () => {
      const port = await freePort();
      const server = await ServerProcess.start({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT: 'on' });
      const base = server.url;

      const ready = await send(agent, base, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, {
        status: 'unavailable',
        checks: { database: 'ok', token_store: 'unavailable' },
      });
      assert.equal((await send(agent, base, 'GET', '/healthz')).status, 200);
      const username = uniqueName('e2edown');
      assertUnavailable(await timedSend(base, 'POST', '/user', { username, password: PASSWORD }));
      assertUnavailable(
        await timedSend(base, 'POST', '/authenticate_user', { username, password: PASSWORD }),
      );

      const redis = await RedisServer.start({ port });
      servers.push(redis);
      await waitUntilReady(base);
      assert.equal(
        (await send(agent, base, 'POST', '/user', { json: { username, password: PASSWORD } })).status,
        201,
      );
      const login = await send(agent, base, 'POST', '/authenticate_user', {
        json: { username, password: PASSWORD },
      });
      assert.equal(login.status, 200);
      const token = field(login, 'token');

      await redis.stop();
      // Fail closed: the token issued before the outage is not accepted while the store is away.
      assertUnavailable(await timedSend(base, 'POST', '/validate_token', { token }));
      assert.ok(isRunning(server.pid), 'the process is still running');

      await redis.restart();
      await waitUntilReady(base);
      // The private Redis kept nothing: the old session is gone, a new login works.
      const stale = await send(agent, base, 'POST', '/validate_token', { json: { token } });
      assert.equal(stale.status, 401);
      const again = await send(agent, base, 'POST', '/authenticate_user', {
        json: { username, password: PASSWORD },
      });
      assert.equal(again.status, 200);

      const exit = await server.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
    },
  );

  it(
    'started while PostgreSQL is down: a clear error naming the database, and exit code 1',
    { skip: postgresSkip },
    async () => {
      const upstream = new URL(POSTGRES_URL);
      const proxy = await TcpProxy.start({ host: upstream.hostname, port: Number(upstream.port || 5432) });
      proxies.push(proxy);
      await proxy.cut();
      const url = new URL(POSTGRES_URL);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      url.password = 'not-a-real-secret';

      const server = ServerProcess.spawn({ DATABASE_URL: url.toString() });
      const exit = await server.exited;
      assert.deepEqual(exit, { code: 1, signal: null });
      assert.match(
        server.stderr,
        new RegExp(
          `keyward failed to start: cannot reach the database at postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}/`,
        ),
      );
      assert.match(server.stderr, /cause: .*ECONNREFUSED/);
      assert.doesNotMatch(server.stderr + JSON.stringify(server.lines), /not-a-real-secret/);
      await server.kill();
    },
  );
});
