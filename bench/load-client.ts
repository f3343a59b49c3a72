// The load client: a process of its own (never the same as a server's), driven over IPC by bench/run.ts.
// N concurrent keep-alive loops over a pooled undici client, one request in flight per connection.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import { LatencyHistogram } from './histogram.js';
import type { ClientMessage, RunResult, RunSpec, Workload } from './protocol.js';

const pools = new Map<string, Pool>();

function poolFor(origin: string, connections: number): Pool {
  const key = `${origin}|${connections}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    pools.set(key, pool);
  }
  return pool;
}

type Request = Dispatcher.RequestOptions;

function buildRequest(workload: Workload, loop: number, n: number, token: string): Request {
  switch (workload.kind) {
    case 'get-user':
      return { method: 'GET', path: '/user', headers: { authorization: `Bearer ${token}` } };
    case 'validate':
      return { method: 'POST', path: '/validate_token', headers: { authorization: `Bearer ${token}` } };
    case 'login': {
      const credential = workload.credentials[loop % workload.credentials.length];
      return {
        method: 'POST',
        path: '/authenticate_user',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credential),
      };
    }
    case 'signup':
      return {
        method: 'POST',
        path: '/user',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: `${workload.prefix}${loop}x${n}`, password: workload.password }),
      };
  }
}

function nextToken(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { token?: unknown };
    return typeof parsed.token === 'string' ? parsed.token : undefined;
  } catch {
    return undefined;
  }
}

async function run(spec: RunSpec): Promise<RunResult> {
  const pool = poolFor(spec.origin, spec.connections);
  const { workload } = spec;
  const chained = workload.kind === 'get-user' || workload.kind === 'validate';
  const tokens = chained ? [...workload.tokens] : [];
  const histogram = new LatencyHistogram();
  const statuses: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let socketErrors = 0;
  let lostLoops = 0;
  const started = performance.now();
  const deadline = started + spec.durationMs;

  const loop = async (i: number): Promise<void> => {
    let token = tokens[i] ?? '';
    for (let n = 0; performance.now() < deadline; n++) {
      const request = buildRequest(workload, i, n, token);
      const t0 = performance.now();
      let status: number;
      let body: string;
      try {
        const response = await pool.request(request);
        body = await response.body.text();
        status = response.statusCode;
      } catch {
        socketErrors += 1;
        if (chained) {
          // The request may or may not have consumed the token: this loop cannot go on.
          lostLoops += 1;
          tokens[i] = '';
          return;
        }
        await sleep(10);
        continue;
      }
      histogram.record((performance.now() - t0) * 1000);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) ok += 1;
      else non2xx += 1;
      if (chained) {
        const next = nextToken(body);
        if (next === undefined) {
          lostLoops += 1;
          tokens[i] = '';
          return;
        }
        token = next;
      }
    }
    if (chained) tokens[i] = token;
  };

  const loops = Array.from({ length: spec.connections }, (_, i) => loop(i));
  await Promise.all(loops);
  return {
    id: spec.id,
    requests: ok + non2xx,
    ok,
    non2xx,
    socketErrors,
    lostLoops,
    elapsedMs: performance.now() - started,
    histogram: histogram.toJSON(),
    statuses,
    tokens,
  };
}

process.on('message', (message: ClientMessage) => {
  if (message.type === 'exit') {
    void Promise.allSettled([...pools.values()].map((pool) => pool.destroy())).then(() => process.exit(0));
    return;
  }
  run(message.spec).then(
    (result) => process.send?.(result),
    (error: unknown) => {
      console.error('load client failed:', error);
      process.exit(1);
    },
  );
});
process.send?.({ ready: true });
