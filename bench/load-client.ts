// The load client: a process of its own (never the same as a server's), driven over IPC by bench/run.ts.
// N concurrent keep-alive loops over a pooled undici client, one request in flight per connection.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import { LatencyHistogram } from './histogram.js';
import type { ClientMessage, RunResult, RunSpec, TotpUser, Workload } from './protocol.js';
import { base32Bytes, currentStep, totpAt } from './totp.js';

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

type OneRequest = Exclude<Workload, { kind: 'login-totp' }>;

function buildRequest(workload: OneRequest, loop: number, n: number, token: string): Request {
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
    case 'introspect':
      return {
        method: 'POST',
        path: '/introspect',
        headers: {
          authorization: workload.authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `token=${encodeURIComponent(workload.tokens[loop % workload.tokens.length] ?? '')}`,
      };
  }
}

/** `<origin>|<username>` → the last TOTP step presented for that user (kept across runs: a step is used once). */
const usedSteps = new Map<string, number>();
const keys = new Map<string, Buffer>();

/** A user of this loop with a step not yet used, and that step (the current one or the next); none: undefined. */
function freshStep(
  origin: string,
  users: TotpUser[],
  anyStep: boolean,
): { user: TotpUser; step: number } | undefined {
  const now = currentStep();
  if (anyStep) {
    const user = users[Math.floor(Math.random() * users.length)];
    return user ? { user, step: now } : undefined;
  }
  for (const user of users) {
    const used = usedSteps.get(`${origin}|${user.username}`) ?? user.confirmedStep;
    const step = Math.max(used + 1, now);
    if (step <= now + 1) return { user, step };
  }
  return undefined;
}

function json(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** One login with a TOTP second factor: both requests, the status of the last one that was sent. */
async function loginTotp(
  pool: Pool,
  origin: string,
  users: TotpUser[],
  anyStep: boolean,
): Promise<{ status: number; body: string } | 'no-fresh-step'> {
  const fresh = freshStep(origin, users, anyStep);
  if (!fresh) return 'no-fresh-step';
  const { user, step } = fresh;
  usedSteps.set(`${origin}|${user.username}`, step);
  const first = await pool.request({
    method: 'POST',
    path: '/authenticate_user',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password }),
  });
  const firstBody = await first.body.text();
  if (first.statusCode < 200 || first.statusCode >= 300) return { status: first.statusCode, body: firstBody };
  const mfaToken = json(firstBody).mfa_token;
  let key = keys.get(user.secret);
  if (!key) {
    key = base32Bytes(user.secret);
    keys.set(user.secret, key);
  }
  const second = await pool.request({
    method: 'POST',
    path: '/mfa/verify',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      mfa_token: typeof mfaToken === 'string' ? mfaToken : '',
      code: totpAt(key, step),
    }),
  });
  return { status: second.statusCode, body: await second.body.text() };
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
      const t0 = performance.now();
      let status: number;
      let body: string;
      try {
        if (workload.kind === 'login-totp') {
          const answer = await loginTotp(
            pool,
            spec.origin,
            workload.users[i % workload.users.length] ?? [],
            workload.anyStep === true,
          );
          if (answer === 'no-fresh-step') {
            // Every user of this loop has used the steps Keyward accepts now: wait (counted, not timed).
            statuses['no-fresh-step'] = (statuses['no-fresh-step'] ?? 0) + 1;
            await sleep(20);
            continue;
          }
          ({ status, body } = answer);
        } else {
          const response = await pool.request(buildRequest(workload, i, n, token));
          body = await response.body.text();
          status = response.statusCode;
        }
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
