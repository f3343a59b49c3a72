import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { PASSWORD, uniqueName } from '../helpers/app.js';
import { field, killAllServers, send, ServerProcess, START_TIMEOUT_MS } from '../helpers/server-process.js';

const agent = new Agent({ connections: null, pipelining: 1 });
const lateAgent = new Agent();

after(async () => {
  await killAllServers();
  await Promise.all([agent.close(), lateAgent.close()]);
});

const LOGINS = 24;
const PROBES = 16;

describe('graceful shutdown on SIGTERM', { timeout: 2 * START_TIMEOUT_MS }, () => {
  it('answers every request already received, exits 0 within 10 s, then refuses connections', async () => {
    // The real argon2 cost and one hashing thread make the logins queue up: they are still in flight when
    // the signal arrives.
    const server = await ServerProcess.start({
      ARGON2_MEMORY_KIB: '19456',
      ARGON2_ITERATIONS: '2',
      HASH_CONCURRENCY: '1',
      HASH_QUEUE_LIMIT: '1000',
      // `incoming request` (below: every request of the burst has reached the server) is a debug line.
      LOG_LEVEL: 'debug',
    });
    const base = server.url;
    const username = uniqueName('drain');
    const created = await send(agent, base, 'POST', '/user', { json: { username, password: PASSWORD } });
    assert.equal(created.status, 201);

    // Open the keep-alive connections first, so that the burst below travels on idle keep-alive sockets.
    const warmUp = await Promise.all(
      Array.from({ length: LOGINS + PROBES }, () => send(agent, base, 'GET', '/healthz')),
    );
    assert.deepEqual(
      warmUp.map((r) => r.status),
      warmUp.map(() => 200),
    );

    const ids = Array.from({ length: LOGINS + PROBES }, (_, i) => `drain-${i}`);
    const inFlight = ids.map((id, i) =>
      i < LOGINS
        ? send(agent, base, 'POST', '/authenticate_user', {
            json: { username, password: PASSWORD },
            headers: { 'x-request-id': id },
          })
        : send(agent, base, 'GET', '/healthz', { headers: { 'x-request-id': id } }),
    );
    const pending = new Set(ids);
    await server.waitForLog((line) => {
      if (line.msg === 'incoming request' && typeof line.reqId === 'string') pending.delete(line.reqId);
      return pending.size === 0;
    }, 'every request of the burst received');

    const signalledAt = Date.now();
    process.kill(server.pid, 'SIGTERM');
    const results = await Promise.allSettled(inFlight);
    const exit = await server.exited;
    const shutdownMs = Date.now() - signalledAt;

    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${ids[i] ?? i}: ${String((r.reason as Error).cause ?? r.reason)}`] : [],
    );
    assert.deepEqual(failures, [], 'a request in flight failed at the transport level');
    const replies = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    assert.deepEqual(
      replies.map((r) => r?.status),
      ids.map(() => 200),
    );
    for (const reply of replies.slice(0, LOGINS)) {
      assert.ok(reply);
      assert.equal(reply.body.token_type, 'Bearer');
      assert.match(field(reply, 'token'), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    }
    for (const reply of replies.slice(LOGINS)) assert.deepEqual(reply?.body, { status: 'ok' });

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(shutdownMs < 10_000, `shutdown took ${shutdownMs} ms`);

    // The test only means something if logins were still running when the signal came.
    const shutdownAt = server.lines.findIndex((line) => line.msg === 'shutting down');
    assert.ok(shutdownAt >= 0, 'no "shutting down" log line');
    const completedAfter = server.lines
      .slice(shutdownAt)
      .filter(
        (line) =>
          line.msg === 'request completed' &&
          typeof line.reqId === 'string' &&
          line.reqId.startsWith('drain-'),
      );
    assert.ok(completedAfter.length > 0, 'every request had completed before SIGTERM');
    assert.equal(server.lines.at(-1)?.msg, 'stopped');

    await assert.rejects(send(lateAgent, base, 'GET', '/healthz'), (error: Error) => {
      assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
      return true;
    });
  });
});
