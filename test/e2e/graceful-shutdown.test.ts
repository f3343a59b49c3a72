import assert from 'node:assert/strict';
import net from 'node:net';
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

// Enough real-cost logins on one hashing thread to be in flight at the signal, few enough that a loaded CI
// machine still drains them well inside the server's own 10 s limit.
const LOGINS = 8;
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

    // Past its 10 s limit the server exits 1 ("graceful shutdown timed out"): exit 0 is the bound.
    assert.deepEqual(exit, { code: 0, signal: null }, `shutdown took ${shutdownMs} ms`);

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

/** One keep-alive HTTP/1.1 connection driven by hand: a request is written and its one answer read back. */
class RawConnection {
  private buffer = '';
  private waiting: (() => void) | undefined;
  error: string | undefined;
  closed = false;
  readonly ended: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      this.waiting?.();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error.code ?? error.message;
    });
    this.ended = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.waiting?.();
        resolve();
      });
    });
  }

  static open(base: string): Promise<RawConnection> {
    const { hostname, port } = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => {
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes `GET path` and resolves with the status line, the headers and the body of its answer. */
  async get(path: string): Promise<{ status: number; headers: string; body: string }> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const headers = this.buffer.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          const body = this.buffer.slice(end + 4, end + 4 + length);
          this.buffer = this.buffer.slice(end + 4 + length);
          return { status: Number(headers.split(' ')[1]), headers, body };
        }
      }
      if (this.closed) {
        throw new Error(`connection closed before an answer (${this.error ?? 'no error'}): ${this.buffer}`);
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

describe('the drain on SIGTERM, on kept-alive connections', { timeout: 2 * START_TIMEOUT_MS }, () => {
  const CONNECTIONS = 8;

  it('answers a request sent right after the signal on every idle kept-alive connection, without a reset', async () => {
    const server = await ServerProcess.start();
    const connections = await Promise.all(
      Array.from({ length: 2 * CONNECTIONS }, () => RawConnection.open(server.url)),
    );
    for (const connection of connections) {
      const warm = await connection.get('/healthz');
      assert.equal(warm.status, 200);
      assert.doesNotMatch(warm.headers, /connection: close/i);
    }

    process.kill(server.pid, 'SIGTERM');
    // Half the connections send at once (the signal may not even be handled yet), half once the drain has begun.
    const early = connections.slice(0, CONNECTIONS).map((c) => c.get('/healthz'));
    await server.waitForLog((line) => line.msg === 'shutting down', '"shutting down"');
    const late = connections.slice(CONNECTIONS).map((c) => c.get('/healthz'));
    const answers = await Promise.allSettled([...early, ...late]);

    const failures = answers.flatMap((a, i) =>
      a.status === 'rejected' ? [`${i}: ${String(a.reason)}`] : [],
    );
    assert.deepEqual(failures, []);
    for (const answer of answers) {
      assert.equal(answer.status, 'fulfilled');
      assert.equal(answer.value.status, 200);
      assert.equal(answer.value.body, '{"status":"ok"}');
    }
    // Every answer after the signal closed its connection, and the server closed each of them cleanly.
    await Promise.all(connections.map((c) => c.ended));
    assert.deepEqual(
      connections.map((c) => c.error),
      connections.map(() => undefined),
    );
    const late0 = answers[CONNECTIONS];
    assert.ok(late0?.status === 'fulfilled');
    assert.match(late0.value.headers, /\r\nconnection: close/i);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  it('keeps an idle kept-alive connection open and served during the grace period, then closes it', async () => {
    const server = await ServerProcess.start({ SHUTDOWN_GRACE: '3' });
    const idle = await RawConnection.open(server.url);
    const used = await RawConnection.open(server.url);
    assert.equal((await idle.get('/healthz')).status, 200);
    assert.equal((await used.get('/healthz')).status, 200);

    process.kill(server.pid, 'SIGTERM');
    await server.waitForLog((line) => line.msg === 'shutting down', '"shutting down"');
    // No new connection is accepted during the drain.
    await assert.rejects(RawConnection.open(server.url), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ECONNREFUSED');
      return true;
    });
    // A kept-alive connection is still served.
    const answer = await used.get('/healthz');
    assert.equal(answer.status, 200);
    assert.match(answer.headers, /\r\nconnection: close/i);
    await used.ended;
    assert.equal(used.error, undefined);
    // The idle one is closed by the server (a FIN, not a reset) once the grace period is over; then the process exits 0.
    await idle.ended;
    assert.equal(idle.error, undefined);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });
});
