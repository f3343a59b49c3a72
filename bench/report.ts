import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './processes.js';

/** What one target did in one scenario, all rounds together. */
export interface Figures {
  rps: number;
  roundsRps: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  lostLoops: number;
  statuses: Record<string, number>;
  /** CPU time of the server process (all threads) per request, in microseconds. */
  cpuUsPerRequest: number;
  /** CPU of the server's main thread (the event loop) per request. */
  loopUsPerRequest: number;
}

export interface Row {
  scenario: string;
  config: string;
  connections: number;
  /** The Keyward process the row ran on (see peakRssMb). */
  server: string;
  keyward: Figures;
  bare: Figures | undefined;
  /**
   * The floor server in the same rounds (bench/floor-server.ts): the store round trip, and the signature for
   * single-use tokens, with nothing else (the two throughput targets' rows only).
   */
  floor?: Figures | undefined;
  /**
   * The hasher alone at the same concurrency (login and signup rows), measured at the start of each of the
   * scenario's rounds (`rounds`; `perSecond` is their mean).
   */
  hasher?: { concurrency: number; perSecond: number; rounds?: number[] } | undefined;
  note?: string | undefined;
}

export interface Storm {
  config: string;
  /** GET /user alone, just before the storm. */
  quiet: Figures;
  /** GET /user while the logins run. */
  reads: Figures;
  logins: Figures;
  /** Server CPU seconds during the storm (reads and logins together). */
  serverCpuSeconds: number;
}

export interface BenchResults {
  meta: Record<string, unknown> & {
    mode: string;
    quick: boolean;
    date: string;
    seconds: number;
    hashConcurrency: number;
    /** How each Keyward process was started (`npm start`'s command, plus any `--node-args`). */
    serverCommand: string;
  };
  hasher: {
    params: { memoryCost: number; timeCost: number; parallelism: number };
    stored: string;
    results: { concurrency: number; perSecond: number }[];
  };
  rows: Row[];
  storms: Storm[];
  scale: { base: Figures; users100k: Figures; sessions100k: Figures } | undefined;
  peakRssMb: Record<string, number>;
}

interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

function find(results: BenchResults, scenario: string, config: string): Row | undefined {
  return results.rows.find((r) => r.scenario === scenario && r.config === config);
}

/** The issue's targets (issue 6, item 2), checked against this run. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const ratio = (row: Row | undefined) => (row?.bare ? row.keyward.rps / row.bare.rps : undefined);
  // Where the floor server ran beside them: how far the platform itself gets, and Keyward's share of that.
  const floorText = (row: Row | undefined) =>
    row?.floor && row.bare
      ? ` (the floor server: ${pct(row.floor.rps / row.bare.rps)} of bare; Keyward ${pct(row.keyward.rps / row.floor.rps)} of the floor)`
      : '';
  const chained = find(results, 'GET /user, single-use tokens', 'Redis, EdDSA');
  const r1 = ratio(chained);
  if (r1 !== undefined) {
    checks.push({
      target: '`GET /user`, single-use tokens, Redis, EdDSA, 16 connections ≥ 40% of bare',
      measured: pct(r1) + floorText(chained),
      met: r1 >= 0.4,
    });
  }
  const off = find(results, 'GET /user, TOKEN_ROTATION=off', 'Redis, EdDSA');
  const r2 = ratio(off);
  if (r2 !== undefined) {
    checks.push({
      target: '`GET /user`, TOKEN_ROTATION=off (Redis, EdDSA) ≥ 60% of bare',
      measured: pct(r2) + floorText(off),
      met: r2 >= 0.6,
    });
  }
  const ownConcurrency = results.hasher.results.find((r) => r.concurrency === results.meta.hashConcurrency);
  for (const row of results.rows.filter((r) => r.scenario.startsWith('POST /authenticate_user'))) {
    if (!row.hasher) continue;
    const share = row.keyward.rps / row.hasher.perSecond;
    checks.push({
      target: `Login (${row.config}, ${row.connections} connections) ≥ 90% of the hasher alone at ${row.hasher.concurrency} in flight`,
      measured:
        `${f1(row.keyward.rps)}/s = ${pct(share)} of ${f1(row.hasher.perSecond)}/s` +
        (row.hasher.rounds
          ? ` (the hasher alone in the same rounds: ${row.hasher.rounds.map(f1).join(', ')}/s)`
          : '') +
        // Keyward hashes HASH_CONCURRENCY at a time whatever the connections; the hasher alone at 8 in flight
        // runs as many as libuv's pool (4): the figure at Keyward's own hashing concurrency is given beside it.
        (ownConcurrency && ownConcurrency.concurrency !== row.hasher.concurrency
          ? ` (${pct(row.keyward.rps / ownConcurrency.perSecond)} of ${f1(ownConcurrency.perSecond)}/s at ${ownConcurrency.concurrency} in flight, Keyward's HASH_CONCURRENCY)`
          : ''),
      met: share >= 0.9,
    });
  }
  for (const storm of results.storms) {
    checks.push({
      target: `\`GET /user\` p99 ≤ 20 ms while logins saturate the hasher (${storm.config})`,
      measured: `${f2(storm.reads.p99Ms)} ms (${f1(storm.logins.rps)} logins/s alongside)`,
      met: storm.reads.p99Ms <= 20,
    });
  }
  const keyward = Object.entries(results.peakRssMb).filter(([name]) => name.startsWith('keyward'));
  if (keyward.length > 0) {
    const [name, peak] = keyward.reduce((a, b) => (b[1] > a[1] ? b : a));
    checks.push({
      target: 'Peak RSS ≤ 150 MB under these loads',
      measured: `${f0(peak)} MB (highest Keyward process: ${name})`,
      met: peak <= 150,
    });
  }
  if (results.scale) {
    const { base, users100k, sessions100k } = results.scale;
    const u = users100k.rps / base.rps;
    const s = sessions100k.rps / base.rps;
    checks.push({
      target: 'Throughput within 10% between 1k and 100k registered users',
      measured: `${pct(u)} of the 1k figure`,
      met: Math.abs(1 - u) <= 0.1,
    });
    checks.push({
      target: 'Throughput within 10% between 1k and 100k live sessions',
      measured: `${pct(s)} of the 1k figure`,
      met: Math.abs(1 - s) <= 0.1,
    });
  }
  return checks;
}

export function renderMarkdown(results: BenchResults): string {
  const { meta } = results;
  const lines: string[] = [];
  lines.push('# Keyward benchmark results', '');
  lines.push(
    `Run ${meta.date} (${meta.mode} mode, ${meta.seconds} s) on ${String(meta.cpus)}, ${String(meta.memoryGb)} GB, ` +
      `Node ${String(meta.node)}. Load client: bench/load-client.ts (undici Pool, one request in flight per ` +
      `connection) in its own process; the bare server is bench/bare-server.ts. Keyward: \`${meta.serverCommand}\`, ` +
      `RATE_LIMIT=off, LOG_LEVEL=${String(meta.logLevel)}, argon2id m=19456 t=2 p=1, HASH_CONCURRENCY=${meta.hashConcurrency}. ` +
      'Reproduce with `npm run bench` (`-- --quick` for a one-minute run); see docs/performance.md.',
    '',
  );
  lines.push('## Targets (issue 6)', '');
  lines.push('| Target | Measured | Met |', '|---|---|---|');
  for (const check of checkTargets(results))
    lines.push(`| ${check.target} | ${check.measured} | ${check.met ? 'yes' : '**no**'} |`);
  lines.push('');
  lines.push(
    '## Throughput and latency, Keyward vs bare `node:http` (same client, same run, alternating)',
    '',
  );
  lines.push(
    '| Scenario | Config | Conns | Keyward req/s | bare req/s | ratio to bare | ratio to hasher alone | p50 ms (Keyward / bare) | p99 ms (Keyward / bare) | errors | CPU µs/req (Keyward, its event loop in brackets / bare) | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of results.rows) {
    const k = row.keyward;
    const b = row.bare;
    const errors = k.non2xx + k.socketErrors;
    const errorText =
      errors === 0
        ? '0'
        : `${errors} (${Object.entries(k.statuses)
            .filter(([s]) => !s.startsWith('2'))
            .map(([s, n]) => `${n}×${s}`)
            .join(', ')}${k.socketErrors ? `, ${k.socketErrors} socket` : ''})`;
    lines.push(
      `| ${row.scenario} | ${row.config} | ${row.connections} | ${f0(k.rps)} | ${b ? f0(b.rps) : '–'} | ${b ? pct(k.rps / b.rps) : '–'} | ` +
        `${row.hasher ? `${pct(k.rps / row.hasher.perSecond)} (${f1(row.hasher.perSecond)}/s at ${row.hasher.concurrency})` : '–'} | ` +
        `${f2(k.p50Ms)} / ${b ? f2(b.p50Ms) : '–'} | ${f2(k.p99Ms)} / ${b ? f2(b.p99Ms) : '–'} | ${errorText} | ` +
        `${f0(k.cpuUsPerRequest)} (${f0(k.loopUsPerRequest)}) / ${b ? f0(b.cpuUsPerRequest) : '–'} | ${f0(results.peakRssMb[row.server] ?? Number.NaN)} |`,
    );
  }
  lines.push('');
  const floored = results.rows.filter((r) => r.floor !== undefined);
  if (floored.length > 0) {
    lines.push(
      '## The floor: the store round trip and the signature alone',
      '',
      'bench/floor-server.ts, in the same rounds: bare `node:http` plus what the scenario cannot do without, ' +
        "with Keyward's own parts (RedisTokenStore and its Redis client; for single-use tokens the next token's " +
        'Ed25519 signature on the thread pool) and nothing else: no framework, user look-up, logging or metrics.',
      '',
      '| Scenario | Config | floor req/s | floor / bare | Keyward / floor | CPU µs/req (floor, its event loop in brackets) |',
      '|---|---|---|---|---|---|',
    );
    for (const row of floored) {
      const floor = row.floor as Figures;
      lines.push(
        `| ${row.scenario} | ${row.config} | ${f0(floor.rps)} | ${row.bare ? pct(floor.rps / row.bare.rps) : '–'} | ` +
          `${pct(row.keyward.rps / floor.rps)} | ${f0(floor.cpuUsPerRequest)} (${f0(floor.loopUsPerRequest)}) |`,
      );
    }
    lines.push('');
  }
  if (results.hasher.results.length > 0) {
    lines.push(
      '## The hasher alone',
      '',
      `@node-rs/argon2 verify, m=${results.hasher.params.memoryCost} t=${results.hasher.params.timeCost} ` +
        `p=${results.hasher.params.parallelism}, in a process of its own, at the start of the run (the login and ` +
        'signup rows compare with the hasher alone measured again in their own rounds):',
      '',
      '| In flight | verifications/s |',
      '|---|---|',
    );
    for (const r of results.hasher.results) lines.push(`| ${r.concurrency} | ${f1(r.perSecond)} |`);
    lines.push('');
  }
  const notes = results.rows.filter((r) => r.note !== undefined);
  if (notes.length > 0) {
    lines.push('Notes:', '');
    for (const row of notes) lines.push(`- ${row.scenario} (${row.config}): ${row.note ?? ''}`);
    lines.push('');
  }
  if (results.storms.length > 0) {
    lines.push('## `GET /user` while logins saturate the hasher', '');
    lines.push(
      '| Config | GET /user req/s (quiet → storm) | GET p50 ms (quiet → storm) | GET p99 ms (quiet → storm) | GET errors | logins/s | login p99 ms | login errors |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const s of results.storms) {
      lines.push(
        `| ${s.config} | ${f0(s.quiet.rps)} → ${f0(s.reads.rps)} | ${f2(s.quiet.p50Ms)} → ${f2(s.reads.p50Ms)} | ` +
          `${f2(s.quiet.p99Ms)} → ${f2(s.reads.p99Ms)} | ${s.reads.non2xx + s.reads.socketErrors} | ${f1(s.logins.rps)} | ` +
          `${f1(s.logins.p99Ms)} | ${s.logins.non2xx + s.logins.socketErrors} |`,
      );
    }
    lines.push('');
  }
  if (results.scale) {
    const { base, users100k, sessions100k } = results.scale;
    lines.push('## Scale: registered users and live sessions (Redis, EdDSA, `GET /user` chained)', '');
    lines.push('| Setup | req/s | vs 1k/1k | p99 ms |', '|---|---|---|---|');
    lines.push(`| 1k users, 1k sessions | ${f0(base.rps)} | 100% | ${f2(base.p99Ms)} |`);
    lines.push(
      `| 100k users, 1k sessions | ${f0(users100k.rps)} | ${pct(users100k.rps / base.rps)} | ${f2(users100k.p99Ms)} |`,
    );
    lines.push(
      `| 1k users, 100k sessions | ${f0(sessions100k.rps)} | ${pct(sessions100k.rps / base.rps)} | ${f2(sessions100k.p99Ms)} |`,
    );
    lines.push('');
  }
  lines.push('## Peak RSS per process (VmHWM)', '', '| Process | MB |', '|---|---|');
  for (const [name, mb] of Object.entries(results.peakRssMb)) lines.push(`| ${name} | ${f0(mb)} |`);
  lines.push('');
  return lines.join('\n');
}

/**
 * Writes the results; returns the paths. Full runs: bench/results.{md,json}; `--scale` alone:
 * bench/results.scale.*; anything with `--quick`: bench/.tmp/results-quick[.scale].* (never overwriting the
 * figures of a full run).
 */
export function writeResults(results: BenchResults): string[] {
  const { quick, mode } = results.meta;
  const dir = quick ? path.join(ROOT, 'bench', '.tmp') : path.join(ROOT, 'bench');
  // `results.*`, which .prettierignore leaves alone: generated tables are not reformatted.
  const stem = `results${quick ? '-quick' : ''}${mode === 'scale' ? '.scale' : ''}`;
  mkdirSync(dir, { recursive: true });
  const md = path.join(dir, `${stem}.md`);
  const json = path.join(dir, `${stem}.json`);
  writeFileSync(md, renderMarkdown(results));
  writeFileSync(json, `${JSON.stringify({ ...results, targets: checkTargets(results) }, null, 2)}\n`);
  return [path.relative(ROOT, md), path.relative(ROOT, json)];
}
