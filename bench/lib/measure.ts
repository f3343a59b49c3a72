import { LatencyHistogram } from '../histogram.js';
import type { ClientProcess, ServerProcess } from '../processes.js';
import type { RunResult, Workload } from '../protocol.js';
import type { Figures } from '../report.js';
import { BENCH_PASSWORD, benchUser } from '../seed.js';
import { CONNECTIONS, type Timing } from './options.js';

/** A server under load, and the tokens its chained loops carry from one request to the next. */
export interface Target {
  name: string;
  server: ServerProcess;
  /** Chained loops' tokens (placeholders for the bare server, which ignores them). */
  tokens: string[];
  /** Users whose sessions feed the chained loops (Keyward targets only). */
  users: string[];
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function login(origin: string, username: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${origin}/authenticate_user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: BENCH_PASSWORD }),
    });
    const body = (await response.json()) as { token?: string };
    if (response.status === 200 && typeof body.token === 'string') return body.token;
    if (attempt >= 5) throw new Error(`login of ${username} failed with ${response.status}`);
  }
}

/** Replaces the tokens of chained loops that lost theirs with fresh logins. */
async function refill(target: Target): Promise<void> {
  if (target.users.length === 0) return;
  await Promise.all(
    target.tokens.map(async (token, i) => {
      const user = target.users[i];
      if (token === '' && user !== undefined) target.tokens[i] = await login(target.server.origin, user);
    }),
  );
}

/** A Keyward server as a target: its chained loops log users `firstUser`… in, one per connection. */
export async function keywardTarget(server: ServerProcess, firstUser = 0): Promise<Target> {
  const users = Array.from({ length: CONNECTIONS }, (_, i) => benchUser(firstUser + i));
  const target: Target = { name: server.name, server, tokens: users.map(() => ''), users };
  const t0 = Date.now();
  await refill(target);
  log(`logged in ${users.length} users on ${server.name} in ${Date.now() - t0} ms`);
  return target;
}

/** A server that needs no login (the bare and floor servers). */
export function bareTarget(server: ServerProcess): Target {
  return { name: server.name, server, tokens: Array.from({ length: CONNECTIONS }, () => 'x'), users: [] };
}

export interface Accumulator {
  results: RunResult[];
  cpuSeconds: number;
  /** The server's main thread (event loop) alone. */
  loopCpuSeconds: number;
}

export function figures(acc: Accumulator): Figures {
  const histogram = new LatencyHistogram();
  let requests = 0;
  let elapsedMs = 0;
  let non2xx = 0;
  let socketErrors = 0;
  let lostLoops = 0;
  const statuses: Record<string, number> = {};
  for (const result of acc.results) {
    histogram.merge(LatencyHistogram.fromJSON(result.histogram));
    requests += result.requests;
    elapsedMs += result.elapsedMs;
    non2xx += result.non2xx;
    socketErrors += result.socketErrors;
    lostLoops += result.lostLoops;
    for (const [status, count] of Object.entries(result.statuses))
      statuses[status] = (statuses[status] ?? 0) + count;
  }
  return {
    rps: requests / (elapsedMs / 1000),
    roundsRps: acc.results.map((r) => r.requests / (r.elapsedMs / 1000)),
    p50Ms: histogram.percentileMs(50),
    p99Ms: histogram.percentileMs(99),
    maxMs: histogram.max / 1000,
    requests,
    non2xx,
    socketErrors,
    lostLoops,
    statuses,
    cpuUsPerRequest: requests > 0 ? (acc.cpuSeconds * 1e6) / requests : 0,
    loopUsPerRequest: requests > 0 ? (acc.loopCpuSeconds * 1e6) / requests : 0,
  };
}

/** One load-client run against one target, with the server's CPU time over it. */
export async function runOnce(
  client: ClientProcess,
  target: Target,
  workload: Workload,
  connections: number,
  ms: number,
) {
  await refill(target);
  const cpu0 = target.server.cpuSeconds();
  const result = await client.run({ origin: target.server.origin, connections, durationMs: ms, workload });
  const cpu1 = target.server.cpuSeconds();
  const cpu = { all: cpu1.all - cpu0.all, loop: cpu1.loop - cpu0.loop };
  if (workload.kind === 'get-user' || workload.kind === 'validate') target.tokens = result.tokens;
  return { result, cpu };
}

/** Warm-up, then `rounds` rounds of every target in turn (A/B/A/B…), each `durationMs` long. */
export async function measure(
  client: ClientProcess,
  targets: Target[],
  workloadFor: (target: Target, round: number) => Workload,
  connections: number,
  timing: Timing,
  /** Runs at the start of every measured round, before the targets (the login scenarios' hasher-alone rounds). */
  eachRound?: (round: number) => Promise<void>,
): Promise<Map<string, Figures>> {
  for (const target of targets)
    await runOnce(client, target, workloadFor(target, -1), connections, timing.warmupMs);
  const accumulators = new Map<string, Accumulator>(
    targets.map((t) => [t.name, { results: [], cpuSeconds: 0, loopCpuSeconds: 0 }]),
  );
  for (let round = 0; round < timing.rounds; round++) {
    await eachRound?.(round);
    // Each round starts one target further on. In a fixed order a target would always follow the same one, and
    // what a phase leaves behind (the load client's garbage, the caches) would always land on it.
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length] as Target;
      const { result, cpu } = await runOnce(
        client,
        target,
        workloadFor(target, round),
        connections,
        timing.durationMs,
      );
      const acc = accumulators.get(target.name);
      acc?.results.push(result);
      if (acc) {
        acc.cpuSeconds += cpu.all;
        acc.loopCpuSeconds += cpu.loop;
      }
    }
  }
  return new Map([...accumulators].map(([name, acc]) => [name, figures(acc)]));
}

/** Chained loops: each request carries the token of the previous answer. */
export function chained(kind: 'get-user' | 'validate'): (target: Target) => Workload {
  return (target) => ({ kind, tokens: target.tokens });
}

export function need(m: Map<string, Figures>, target: Target): Figures {
  const f = m.get(target.name);
  if (!f) throw new Error(`no figures for ${target.name}`);
  return f;
}

/** One line of figures for a target, as the single-scenario modes print them. */
export function describeFigures(name: string, f: Figures): string {
  return (
    `${name}: ${f.rps.toFixed(0)} req/s (rounds ${f.roundsRps.map((r) => r.toFixed(0)).join(', ')}), ` +
    `${f.cpuUsPerRequest.toFixed(1)} µs CPU/req (event loop ${f.loopUsPerRequest.toFixed(1)}), ` +
    `p99 ${f.p99Ms.toFixed(2)} ms, errors ${f.non2xx + f.socketErrors}`
  );
}
