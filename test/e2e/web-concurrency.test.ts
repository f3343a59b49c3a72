import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { PASSWORD, uniqueName } from '../helpers/app.js';
import {
  field,
  isRunning,
  killAllServers,
  parentPid,
  send,
  ServerProcess,
  START_TIMEOUT_MS,
  type Reply,
  type SendOptions,
} from '../helpers/server-process.js';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';

const skip = (await redisUnavailable()) ?? false;
const prefix = `kwe2e:${randomBytes(4).toString('hex')}`;
let server: ServerProcess;
let requests = 0;

before(async () => {
  if (skip !== false) return;
  server = await ServerProcess.start({ WEB_CONCURRENCY: '2', REDIS_URL, REDIS_KEY_PREFIX: prefix }, 2);
});

after(async () => {
  await killAllServers();
  if (skip !== false) return;
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    const stream = admin.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) keys.push(...batch);
    if (keys.length > 0) await admin.del(...keys);
  } finally {
    admin.disconnect();
  }
});

/** A request on a connection of its own (the primary hands each new connection to the next worker). */
async function onNewConnection(
  method: string,
  route: string,
  options: SendOptions = {},
): Promise<{ reply: Reply; pid: number }> {
  requests += 1;
  const id = `wc-${requests}`;
  const agent = new Agent();
  try {
    const reply = await send(agent, server.url, method, route, {
      ...options,
      headers: { ...options.headers, 'x-request-id': id },
    });
    const done = await server.waitForLog(
      (line) => line.msg === 'request completed' && line.reqId === id,
      `request ${id} completed`,
    );
    return { reply, pid: done.pid };
  } finally {
    await agent.close();
  }
}

async function healthzFromEachConnection(count: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < count; i += 1) {
    const { reply, pid } = await onNewConnection('GET', '/healthz');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok' });
    pids.add(pid);
  }
  return pids;
}

describe('WEB_CONCURRENCY=2 on Redis', { skip, timeout: 4 * START_TIMEOUT_MS }, () => {
  let token = '';

  it('runs two worker processes, children of the primary, listening on one port', () => {
    const listening = server.listening();
    assert.equal(listening.length, 2);
    const [first, second] = listening;
    assert.ok(first && second);
    assert.notEqual(first.pid, second.pid);
    assert.equal(second.url, first.url);
    for (const { pid } of listening) {
      assert.notEqual(pid, server.pid);
      assert.equal(parentPid(pid), server.pid);
    }
  });

  it('serves requests from both workers, with tokens valid across them', async () => {
    const username = uniqueName('wc');
    const created = await onNewConnection('POST', '/user', { json: { username, password: PASSWORD } });
    assert.equal(created.reply.status, 201);
    const login = await onNewConnection('POST', '/authenticate_user', {
      json: { username, password: PASSWORD },
    });
    assert.equal(login.reply.status, 200);
    token = field(login.reply, 'token');
    const servedBy = new Set<number>();
    for (let i = 0; i < 4; i += 1) {
      const me = await onNewConnection('GET', '/user', { token });
      assert.equal(me.reply.status, 200, JSON.stringify(me.reply.body));
      token = field(me.reply, 'token');
      servedBy.add(me.pid);
    }
    assert.deepEqual(
      [...servedBy].sort(),
      server
        .listening()
        .map((l) => l.pid)
        .sort(),
    );
  });

  it('survives a worker killed with SIGKILL and starts a replacement', async () => {
    const [victim, survivor] = server.listening();
    assert.ok(victim && survivor);
    process.kill(victim.pid, 'SIGKILL');
    const died = await server.waitForLog(
      (line) => line.msg === 'worker died unexpectedly; restarting it' && line.worker === victim.pid,
      'the primary noticing the dead worker',
    );
    assert.equal(died.signal, 'SIGKILL');
    assert.deepEqual([...(await healthzFromEachConnection(3))], [survivor.pid]);
    const me = await onNewConnection('GET', '/user', { token });
    assert.equal(me.reply.status, 200, 'the session outlived the worker that issued the token');
    token = field(me.reply, 'token');

    await server.waitForLog(() => server.listening().length === 3, 'a replacement worker listening');
    const replacement = server.listening()[2];
    assert.ok(replacement);
    assert.equal(replacement.url, survivor.url);
    assert.equal(parentPid(replacement.pid), server.pid);
    assert.equal(isRunning(victim.pid), false);
    assert.deepEqual(
      [...(await healthzFromEachConnection(4))].sort(),
      [survivor.pid, replacement.pid].sort(),
    );
  });

  it('exits 0 on SIGTERM to the primary and leaves no worker behind', async () => {
    const workers = server.listening().map((l) => l.pid);
    assert.deepEqual(await server.stop('SIGTERM'), { code: 0, signal: null });
    assert.deepEqual(
      workers.filter((pid) => isRunning(pid)),
      [],
    );
    const stopped = server.lines.filter((line) => line.msg === 'worker stopped');
    assert.deepEqual(
      stopped.map((line) => line.code),
      [0, 0],
    );
    assert.equal(server.lines.filter((line) => line.msg === 'stopped' && line.pid !== server.pid).length, 2);
  });
});

describe('WEB_CONCURRENCY=2 when the workers cannot start', { skip, timeout: 2 * START_TIMEOUT_MS }, () => {
  it('exits 1 (like a single process would) and leaves no worker behind', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const address = blocker.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const failing = ServerProcess.spawn({
        WEB_CONCURRENCY: '2',
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        PORT: String(address.port),
      });
      assert.deepEqual(await failing.exited, { code: 1, signal: null });
      assert.match(failing.stderr, /EADDRINUSE/);
      assert.ok(failing.lines.some((line) => line.msg === 'worker failed to start; stopping'));
      const workers = failing.lines
        .filter((line) => line.msg === 'worker started')
        .map((line) => line.worker);
      assert.equal(workers.length, 2);
      assert.deepEqual(
        workers.filter((pid) => typeof pid !== 'number' || isRunning(pid)),
        [],
      );
      assert.deepEqual(failing.listening(), []);
    } finally {
      blocker.close();
    }
  });

  it('with the database down, the primary exits 1 before forking, naming it without its password', async () => {
    const failing = ServerProcess.spawn({
      WEB_CONCURRENCY: '2',
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_URL: 'postgres://postgres:not-a-real-secret@127.0.0.1:1/test',
    });
    assert.deepEqual(await failing.exited, { code: 1, signal: null });
    assert.match(
      failing.stderr,
      /cannot reach the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/,
    );
    assert.doesNotMatch(failing.stderr, /not-a-real-secret/);
    assert.equal(failing.lines.filter((line) => line.msg === 'worker started').length, 0);
  });
});
