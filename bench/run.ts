// `npm run bench [-- --quick | --scale | --profile[=seconds] | --ab=DIR | --limits] [--no-build] [--no-scale] [--keep-tmp]`:
// Keyward against a bare node:http server, same client, same run. See docs/performance.md for what is
// measured and how to read it.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { builtIsCurrent } from '../scripts/build-state.js';
import { LatencyHistogram } from './histogram.js';
import { ClientProcess, ROOT, ServerProcess, START } from './processes.js';
import { readProfile, renderSummary, summarise } from './profile-summary.js';
import type { RunResult, Workload } from './protocol.js';
import { writeResults, type BenchResults, type Figures, type Row } from './report.js';
import {
  ARGON2,
  BENCH_PASSWORD,
  benchPasswordHash,
  benchUser,
  deleteRedisPrefix,
  seedSessions,
  seedUsers,
} from './seed.js';

const execFileAsync = promisify(execFile);

const USAGE = `usage: npm run bench -- [options]
  (none)             full run: every scenario and configuration, then the scale check; writes bench/results.{md,json}
  --quick            a subset with short rounds, under a minute; writes bench/.tmp/results-quick.{md,json}
  --scale            only the scale check (1k vs 100k users, 1k vs 100k live sessions); writes bench/results.scale.*
  --profile[=S]      only GET /user (chained, Redis, EdDSA) for S seconds (default 15) with --cpu-prof on the
                     server; writes bench/.tmp/profiles/*.cpuprofile and bench/.tmp/profile-summary-*.md
  --ab=DIR           only GET /user (chained, Redis, EdDSA): this checkout's build against the build of another
                     checkout in DIR (e.g. a git worktree of the previous commit, built), with the floor server,
                     alternating in 6 rounds of 4 s; prints each one's req/s and CPU per request
  --limits           only the platform's limits for the two throughput targets, no Keyward: the bare server beside
                     the floor servers (the Ed25519 signature alone, the single-use floor, the TOKEN_ROTATION=off
                     floor), alternating in 6 rounds of 4 s; prints each one's req/s as a ratio of the bare server
  --rotation-off     with --profile or --ab: the servers run with TOKEN_ROTATION=off
  --store=memory     with --profile or --ab: the in-process token store (npm start's default) instead of Redis; no
                     floor server then (the floor is Redis's round trip)
  --no-scale         full run without the scale check
  --no-build         use dist/ as it is (the full run rebuilds otherwise)
  --keep-tmp         keep bench/.tmp/run-*/ (databases, keys, server logs)
  --log-level=L      Keyward's LOG_LEVEL (default warn)
  --node-args=A,B    extra node flags for every Keyward process, comma-separated (e.g. V8 heap settings)`;

const args = process.argv.slice(2);
const KNOWN =
  /^--(quick|scale|no-scale|no-build|keep-tmp|profile(=\d+)?|ab=\S+|limits|rotation-off|store=(memory|redis)|log-level=\w+|node-args=\S+|help)$/;
const unknown = args.filter((a) => !KNOWN.test(a));
if (unknown.length > 0 || args.includes('--help')) {
  if (unknown.length > 0) console.error(`unknown option(s): ${unknown.join(' ')}`);
  console.error(USAGE);
  process.exit(unknown.length > 0 ? 2 : 0);
}
const option = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const noBuild = args.includes('--no-build');
const keepTmp = args.includes('--keep-tmp');
const profileMode = args.some((a) => a === '--profile' || a.startsWith('--profile='));
const profileSeconds = Number(option('profile') ?? 15);
const rotationOff = args.includes('--rotation-off');
/** `--ab=DIR`: the other checkout whose build runs beside this one's. */
const abRoot = option('ab');
const limitsOnly = args.includes('--limits');
const scaleOnly = args.includes('--scale');
const withScale = scaleOnly || (!quick && !args.includes('--no-scale'));
const logLevel = option('log-level') ?? 'warn';
/** Extra flags for every Keyward process (`--node-args=--max-semi-space-size=2,--other`), to try V8 settings. */
const serverNodeArgs = option('node-args')?.split(',').filter(Boolean) ?? [];
const mode = profileMode
  ? 'profile'
  : abRoot
    ? 'ab'
    : limitsOnly
      ? 'limits'
      : scaleOnly
        ? 'scale'
        : quick
          ? 'quick'
          : 'full';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNECTIONS = 16;
const LOGIN_CONNECTIONS = 8;
const USERS = 1000;
const HASH_CONCURRENCY = Math.max(1, availableParallelism());

interface Timing {
  warmupMs: number;
  rounds: number;
  durationMs: number;
}

const PLAN = quick
  ? {
      fast: { warmupMs: 300, rounds: 2, durationMs: 800 },
      hashing: { warmupMs: 400, rounds: 1, durationMs: 1200 },
      stormMs: 1500,
      hasherMs: 1000,
    }
  : {
      fast: { warmupMs: 2000, rounds: 3, durationMs: 3000 },
      hashing: { warmupMs: 1000, rounds: 2, durationMs: 3000 },
      stormMs: 6000,
      hasherMs: 4000,
    };

type Scenario = 'get-user' | 'validate' | 'login' | 'signup' | 'storm' | 'get-user-off' | 'get-user-off-info';

interface BenchConfig {
  id: string;
  label: string;
  store: 'memory' | 'redis';
  alg: 'EdDSA' | 'HS256';
  scenarios: Scenario[];
}

const ALL: Scenario[] = ['get-user', 'validate', 'login', 'signup', 'storm', 'get-user-off'];
const TOKEN_ONLY: Scenario[] = ['get-user', 'validate', 'get-user-off'];
const REDIS_EDDSA: BenchConfig = {
  id: 'redis-eddsa',
  label: 'Redis, EdDSA',
  store: 'redis',
  alg: 'EdDSA',
  // The full run also measures TOKEN_ROTATION=off at the default LOG_LEVEL=info (one access line per request)
  // beside the bench's own level (warn unless --log-level says otherwise).
  scenarios: quick ? ALL : [...ALL, 'get-user-off-info'],
};

/** The configuration of `--profile` and `--ab`: Redis and EdDSA, or with `--store=memory` the in-process store. */
const SINGLE: BenchConfig =
  option('store') === 'memory'
    ? { id: 'memory-eddsa', label: 'memory, EdDSA', store: 'memory', alg: 'EdDSA', scenarios: ['get-user'] }
    : REDIS_EDDSA;

// The quick run still goes through every scenario and both stores and both algorithms once.
const CONFIGS: BenchConfig[] = quick
  ? [
      {
        id: 'memory-hs256',
        label: 'memory, HS256',
        store: 'memory',
        alg: 'HS256',
        scenarios: ['get-user', 'validate'],
      },
      { ...REDIS_EDDSA, scenarios: ['get-user', 'login', 'signup', 'storm', 'get-user-off'] },
    ]
  : [
      { id: 'memory-eddsa', label: 'memory, EdDSA', store: 'memory', alg: 'EdDSA', scenarios: ALL },
      { id: 'memory-hs256', label: 'memory, HS256', store: 'memory', alg: 'HS256', scenarios: TOKEN_ONLY },
      REDIS_EDDSA,
      { id: 'redis-hs256', label: 'Redis, HS256', store: 'redis', alg: 'HS256', scenarios: TOKEN_ONLY },
    ];

// Temporary data (databases, keys, logs, profiles) lives under bench/.tmp/, which git ignores. Each run has
// its own folder with an owner file, so that a later run can clean up after one that was killed.
const TMP_ROOT = path.join(ROOT, 'bench', '.tmp');
const runId = randomBytes(3).toString('hex');
const TMP = path.join(TMP_ROOT, `run-${runId}`);
const OWNER = path.join(TMP, 'owner.json');
const PROFILES = path.join(TMP_ROOT, 'profiles');

const redisPrefixes: string[] = [];
const servers: ServerProcess[] = [];
const clients: ClientProcess[] = [];
const peakRss: Record<string, number> = {};
const rows: Row[] = [];

interface Target {
  name: string;
  server: ServerProcess;
  /** Chained loops' tokens (placeholders for the bare server, which ignores them). */
  tokens: string[];
  /** Users whose sessions feed the chained loops (Keyward targets only). */
  users: string[];
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function writeOwner(): void {
  writeFileSync(OWNER, JSON.stringify({ pid: process.pid, redisUrl: REDIS_URL, redisPrefixes }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the folders and Redis keys of earlier runs that did not get to clean up (killed, crashed). */
async function cleanStaleRuns(): Promise<void> {
  if (!existsSync(TMP_ROOT)) return;
  for (const entry of readdirSync(TMP_ROOT, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^run-[0-9a-f]{6}$/.test(entry.name)) continue;
    const dir = path.join(TMP_ROOT, entry.name);
    let owner: { pid?: number; redisUrl?: string; redisPrefixes?: string[] } = {};
    try {
      owner = JSON.parse(readFileSync(path.join(dir, 'owner.json'), 'utf8')) as typeof owner;
    } catch {
      // no owner file: a run killed before it wrote one, hence before it touched Redis
    }
    if (typeof owner.pid === 'number' && alive(owner.pid)) continue;
    for (const prefix of owner.redisPrefixes ?? []) {
      const deleted = await deleteRedisPrefix(owner.redisUrl ?? REDIS_URL, prefix).catch(() => 0);
      if (deleted > 0) log(`removed ${deleted} Redis keys of an earlier run (${prefix}:*)`);
    }
    rmSync(dir, { recursive: true, force: true });
    log(`removed ${path.relative(ROOT, dir)} of an earlier run`);
  }
}

let cleanedUp: Promise<void> | undefined;

/** Stops every child process, deletes the run's Redis keys and its temporary folder; runs once. */
function cleanUp(): Promise<void> {
  cleanedUp ??= (async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    for (const server of [...servers]) await stopServer(server).catch(() => undefined);
    for (const prefix of redisPrefixes) await deleteRedisPrefix(REDIS_URL, prefix).catch(() => 0);
    if (!keepTmp) rmSync(TMP, { recursive: true, force: true });
    else log(`kept ${path.relative(ROOT, TMP)}`);
  })();
  return cleanedUp;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** `npm run build`, as users build Keyward; quick runs skip it when dist/ is newer than src/. */
function build(): void {
  const server = path.join(ROOT, 'dist', 'server.js');
  const upToDate = builtIsCurrent(ROOT);
  if (noBuild || (mode !== 'full' && upToDate)) {
    if (!existsSync(server)) throw new Error('dist/server.js is missing: run `npm run build` first');
    log(upToDate ? 'dist/ is up to date: not rebuilding' : 'not rebuilding (--no-build)');
    return;
  }
  log('npm run build');
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
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

async function keywardTarget(server: ServerProcess, firstUser: number): Promise<Target> {
  const users = Array.from({ length: CONNECTIONS }, (_, i) => benchUser(firstUser + i));
  const target: Target = { name: server.name, server, tokens: users.map(() => ''), users };
  const t0 = Date.now();
  await refill(target);
  log(`logged in ${CONNECTIONS} users on ${server.name} in ${Date.now() - t0} ms`);
  return target;
}

/**
 * The floor server (bench/floor-server.ts) for the two throughput targets' configuration (Redis, EdDSA): the
 * store round trip, and for single-use tokens the signature, with Keyward's own parts and nothing else.
 */
async function startFloor(
  config: BenchConfig,
  floorMode: 'off' | 'single-use' | 'sign',
): Promise<Target | undefined> {
  if (config.store !== 'redis' || config.alg !== 'EdDSA') return undefined;
  const prefix = redisPrefix(`floor${floorMode}`);
  redisPrefixes.push(prefix);
  writeOwner();
  const server = await ServerProcess.floor(floorMode, REDIS_URL, prefix);
  servers.push(server);
  return bareTarget(server);
}

/** A chained scenario on the bare server and Keyward, with the floor server beside them where it applies. */
async function measureChained(
  client: ClientProcess,
  config: BenchConfig,
  targets: Target[],
  kind: 'get-user' | 'validate',
  floorMode: 'off' | 'single-use' | undefined,
): Promise<{ m: Map<string, Figures>; floor: Target | undefined }> {
  const floor = floorMode ? await startFloor(config, floorMode) : undefined;
  const m = await measure(
    client,
    floor ? [...targets, floor] : targets,
    chained(kind),
    CONNECTIONS,
    PLAN.fast,
  );
  if (floor) await stopServer(floor.server);
  return { m, floor };
}

function bareTarget(server: ServerProcess): Target {
  return { name: server.name, server, tokens: Array.from({ length: CONNECTIONS }, () => 'x'), users: [] };
}

interface Accumulator {
  results: RunResult[];
  cpuSeconds: number;
  /** The server's main thread (event loop) alone. */
  loopCpuSeconds: number;
}

function figures(acc: Accumulator): Figures {
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

async function runOnce(
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
async function measure(
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

function chained(kind: 'get-user' | 'validate'): (target: Target) => Workload {
  return (target) => ({ kind, tokens: target.tokens });
}

async function startKeyward(
  name: string,
  config: BenchConfig,
  dataDir: string,
  redisPrefix: string,
  jwtKey: string,
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
  root: string = ROOT,
): Promise<ServerProcess> {
  mkdirSync(dataDir, { recursive: true });
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: logLevel,
    // The bench logs in the same few users over and over from one IP: rate limits would turn that into 429s.
    RATE_LIMIT: 'off',
    ...extraEnv,
  };
  if (config.store === 'redis') {
    env.REDIS_URL = REDIS_URL;
    env.REDIS_KEY_PREFIX = redisPrefix;
    if (!redisPrefixes.includes(redisPrefix)) {
      redisPrefixes.push(redisPrefix);
      writeOwner();
    }
  }
  if (config.alg === 'HS256') env.JWT_KEY = jwtKey;
  const t0 = Date.now();
  const server = await ServerProcess.keyward(name, env, {
    cwd: dataDir,
    logFile: path.join(TMP, `${name.replace(/[^\w.-]+/g, '_')}.log`),
    nodeArgs: [...serverNodeArgs, ...nodeArgs],
    root,
  });
  servers.push(server);
  log(`started ${name} in ${Date.now() - t0} ms`);
  return server;
}

async function stopServer(server: ServerProcess): Promise<void> {
  const rss = server.peakRssMb();
  if (Number.isFinite(rss)) peakRss[server.name] = rss;
  const t0 = Date.now();
  await server.stop();
  if (Date.now() - t0 > 1000) log(`${server.name} took ${Date.now() - t0} ms to stop`);
  const at = servers.indexOf(server);
  if (at >= 0) servers.splice(at, 1);
}

function addRow(row: Row): Row {
  rows.push(row);
  const { keyward, bare, hasher } = row;
  const ratio = bare
    ? ` = ${((keyward.rps / bare.rps) * 100).toFixed(1)}% of bare (${bare.rps.toFixed(0)})`
    : '';
  const floorRatio = row.floor
    ? `, floor ${row.floor.rps.toFixed(0)} (${row.floor.cpuUsPerRequest.toFixed(0)} µs CPU/req)`
    : '';
  const hasherRatio = hasher
    ? `, ${((keyward.rps / hasher.perSecond) * 100).toFixed(1)}% of the hasher alone at ${hasher.concurrency} (${hasher.perSecond.toFixed(1)}/s)`
    : '';
  log(
    `${row.scenario} [${row.config}] ${keyward.rps.toFixed(0)} req/s${ratio}${floorRatio}${hasherRatio}, ` +
      `p50 ${keyward.p50Ms.toFixed(2)} ms, p99 ${keyward.p99Ms.toFixed(2)} ms, ` +
      `errors ${keyward.non2xx + keyward.socketErrors}, ${keyward.cpuUsPerRequest.toFixed(0)} µs CPU/req ` +
      `(event loop ${keyward.loopUsPerRequest.toFixed(0)})`,
  );
  return row;
}

/** argon2id verifications/s with nothing around them, at each concurrency (bench/hasher-alone.ts). */
/** Runs bench/hasher-alone.ts in a process of its own with `options` (Keyward's argon2 parameters added). */
async function runHasherAlone(options: {
  concurrency: number[];
  durationMs: number;
  stored?: string;
}): Promise<{ stored: string; results: { concurrency: number; perSecond: number }[] }> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'bench', 'hasher-alone.ts'),
      JSON.stringify({ ...ARGON2, ...options }),
    ],
    { cwd: ROOT },
  );
  return JSON.parse(stdout) as { stored: string; results: { concurrency: number; perSecond: number }[] };
}

async function hasherAlone(): Promise<BenchResults['hasher']> {
  const concurrency = [...new Set([HASH_CONCURRENCY, LOGIN_CONNECTIONS])];
  const parsed = await runHasherAlone({ concurrency, durationMs: PLAN.hasherMs });
  for (const r of parsed.results)
    log(`hasher alone: ${r.perSecond.toFixed(1)} verifications/s at concurrency ${r.concurrency}`);
  return { params: ARGON2, stored: parsed.stored, results: parsed.results };
}

/** One round of the hasher alone at `concurrency` verifications in flight, `durationMs` long: verifications/s. */
async function hasherRound(stored: string, concurrency: number, durationMs: number): Promise<number> {
  const { results } = await runHasherAlone({ concurrency: [concurrency], durationMs, stored });
  const perSecond = results[0]?.perSecond;
  if (perSecond === undefined) throw new Error('the hasher alone returned no result');
  return perSecond;
}

/**
 * The login and signup scenarios: Keyward (and the bare server) in alternating rounds, and the hasher alone at the
 * same concurrency at the start of every round, so that the ratio to the hasher compares figures of the same
 * minutes (a host whose speed drifts during the run moves both).
 */
async function measureHashing(
  client: ClientProcess,
  targets: Target[],
  workloadFor: (target: Target, round: number) => Workload,
  stored: string,
): Promise<{ m: Map<string, Figures>; hasher: NonNullable<Row['hasher']> }> {
  const rounds: number[] = [];
  const m = await measure(client, targets, workloadFor, LOGIN_CONNECTIONS, PLAN.hashing, async () => {
    rounds.push(await hasherRound(stored, LOGIN_CONNECTIONS, PLAN.hashing.durationMs));
  });
  const perSecond = rounds.reduce((a, b) => a + b, 0) / rounds.length;
  log(`hasher alone in the same rounds: ${rounds.map((r) => r.toFixed(1)).join(', ')} verifications/s`);
  return { m, hasher: { concurrency: LOGIN_CONNECTIONS, perSecond, rounds } };
}

function need(m: Map<string, Figures>, target: Target): Figures {
  const f = m.get(target.name);
  if (!f) throw new Error(`no figures for ${target.name}`);
  return f;
}

function redisPrefix(id: string): string {
  return `kwbench${runId}${id.replace(/\W/g, '')}`.slice(0, 32);
}

async function runConfig(
  config: BenchConfig,
  [client, second]: [ClientProcess, ClientProcess],
  bare: Target,
  hasher: BenchResults['hasher'],
  storms: BenchResults['storms'],
): Promise<void> {
  const jwtKey = randomBytes(48).toString('base64');
  const label = config.label;
  const perRequest = config.scenarios.filter((s) => s !== 'get-user-off' && s !== 'get-user-off-info');
  // TOKEN_ROTATION is read at start-up, so rotation=off needs a server of its own (own data folder and Redis
  // prefix); both start together to save a start-up, and the idle one costs nothing while the other runs.
  const start = async (suffix: string, env: Record<string, string>) => {
    const id = `${config.id}${suffix}`;
    const server = await startKeyward(
      `keyward ${id}`,
      config,
      path.join(TMP, id),
      redisPrefix(id),
      jwtKey,
      env,
    );
    seedUsers(path.join(TMP, id, 'users.db'), 0, USERS, hasher.stored);
    return server;
  };
  const [perRequestServer, offServer, offInfoServer] = await Promise.all([
    perRequest.length > 0 ? start('', {}) : undefined,
    config.scenarios.includes('get-user-off') ? start('-off', { TOKEN_ROTATION: 'off' }) : undefined,
    config.scenarios.includes('get-user-off-info')
      ? start('-off-info', { TOKEN_ROTATION: 'off', LOG_LEVEL: 'info' })
      : undefined,
  ]);
  if (perRequestServer) {
    const server = perRequestServer;
    const kw = await keywardTarget(server, 0);
    const base = { config: label, server: server.name };
    for (const scenario of perRequest) {
      if (scenario === 'get-user' || scenario === 'validate') {
        const floorMode = scenario === 'get-user' ? 'single-use' : undefined;
        const { m, floor } = await measureChained(client, config, [bare, kw], scenario, floorMode);
        const name =
          scenario === 'get-user' ? 'GET /user, single-use tokens' : 'POST /validate_token (chained)';
        addRow({
          ...base,
          scenario: name,
          connections: CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          floor: floor ? need(m, floor) : undefined,
        });
      } else if (scenario === 'login') {
        // Users 100… log in, so that the chained loops' sessions (users 0…15) are left alone.
        const credentials = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => ({
          username: benchUser(100 + i),
          password: BENCH_PASSWORD,
        }));
        const { m, hasher: alone } = await measureHashing(
          client,
          [bare, kw],
          () => ({ kind: 'login', credentials }),
          hasher.stored,
        );
        addRow({
          ...base,
          scenario: 'POST /authenticate_user (login)',
          connections: LOGIN_CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          hasher: alone,
        });
      } else if (scenario === 'signup') {
        const { m, hasher: alone } = await measureHashing(
          client,
          [bare, kw],
          (target, round) => ({
            kind: 'signup',
            prefix: `s${runId}${target === bare ? 'b' : 'k'}${round + 1}_`,
            password: BENCH_PASSWORD,
          }),
          hasher.stored,
        );
        addRow({
          ...base,
          scenario: 'POST /user (signup)',
          connections: LOGIN_CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          hasher: alone,
          note: 'signup hashes where login verifies: the same argon2id work',
        });
      } else {
        await storm(config, [client, second], kw, storms);
      }
    }
    await stopServer(server);
  }
  if (offServer) {
    const server = offServer;
    const kw = await keywardTarget(server, 0);
    // At LOG_LEVEL=info (the default) in the same rounds, so that what the access line costs is read off one run.
    const info = offInfoServer ? await keywardTarget(offInfoServer, 0) : undefined;
    const { m, floor } = await measureChained(
      client,
      config,
      info ? [bare, kw, info] : [bare, kw],
      'get-user',
      'off',
    );
    addRow({
      scenario: 'GET /user, TOKEN_ROTATION=off',
      config: label,
      connections: CONNECTIONS,
      server: server.name,
      keyward: need(m, kw),
      bare: need(m, bare),
      floor: floor ? need(m, floor) : undefined,
    });
    if (info) {
      addRow({
        scenario: 'GET /user, TOKEN_ROTATION=off, LOG_LEVEL=info',
        config: label,
        connections: CONNECTIONS,
        server: info.server.name,
        keyward: need(m, info),
        bare: need(m, bare),
        note: `the default LOG_LEVEL: one access line per request, written to a file; the other rows run at ${logLevel}`,
      });
      await stopServer(info.server);
    }
    await stopServer(server);
  }
}

/** `GET /user` (chained, 16 connections) alone, then again while 8 connections log in without pause. */
async function storm(
  config: BenchConfig,
  [client, second]: [ClientProcess, ClientProcess],
  kw: Target,
  storms: BenchResults['storms'],
): Promise<void> {
  const credentials = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => ({
    username: benchUser(200 + i),
    password: BENCH_PASSWORD,
  }));
  const quiet = await runOnce(
    client,
    kw,
    { kind: 'get-user', tokens: kw.tokens },
    CONNECTIONS,
    PLAN.fast.durationMs,
  );
  const cpu0 = kw.server.cpuSeconds();
  const [reads, logins] = await Promise.all([
    runOnce(client, kw, { kind: 'get-user', tokens: kw.tokens }, CONNECTIONS, PLAN.stormMs),
    second.run({
      origin: kw.server.origin,
      connections: LOGIN_CONNECTIONS,
      durationMs: PLAN.stormMs,
      workload: { kind: 'login', credentials },
    }),
  ]);
  const cpu = kw.server.cpuSeconds().all - cpu0.all;
  const result = {
    config: config.label,
    quiet: figures({ results: [quiet.result], cpuSeconds: quiet.cpu.all, loopCpuSeconds: quiet.cpu.loop }),
    // Server CPU during the storm is shared by reads and logins: not attributed per request.
    reads: figures({ results: [reads.result], cpuSeconds: 0, loopCpuSeconds: 0 }),
    logins: figures({ results: [logins], cpuSeconds: 0, loopCpuSeconds: 0 }),
    serverCpuSeconds: cpu,
  };
  storms.push(result);
  log(
    `storm [${config.label}] GET /user ${result.reads.rps.toFixed(0)} req/s p99 ${result.reads.p99Ms.toFixed(2)} ms ` +
      `(quiet: ${result.quiet.rps.toFixed(0)} req/s p99 ${result.quiet.p99Ms.toFixed(2)} ms) while ` +
      `${result.logins.rps.toFixed(1)} logins/s (errors ${result.logins.non2xx + result.logins.socketErrors})`,
  );
}

/**
 * 1k vs 100k registered users and 1k vs 100k live sessions (Redis, EdDSA), three Keyward servers side by
 * side, measured in turn with the bare server. Users go straight into SQLite and sessions straight into
 * Redis (through the store's own Lua script), not through HTTP.
 */
async function runScale(client: ClientProcess, bare: Target, hash: string): Promise<BenchResults['scale']> {
  const config = REDIS_EDDSA;
  const jwtKey = randomBytes(48).toString('base64');
  const setups = [
    { id: 'base', users: 1000, sessions: 1000 },
    { id: 'users100k', users: 100_000, sessions: 1000 },
    { id: 'sessions100k', users: 1000, sessions: 100_000 },
  ];
  const targets: Target[] = [bare];
  const started: ServerProcess[] = [];
  for (const setup of setups) {
    const dataDir = path.join(TMP, `scale-${setup.id}`);
    const prefix = redisPrefix(`s${setup.id}`);
    const server = await startKeyward(`keyward scale ${setup.id}`, config, dataDir, prefix, jwtKey);
    started.push(server);
    const t0 = Date.now();
    seedUsers(path.join(dataDir, 'users.db'), 0, setup.users, hash);
    // Sessions of users that do not exist in the database: only the store's size matters here.
    await seedSessions(REDIS_URL, prefix, setup.sessions, 10_000_000);
    log(
      `scale ${setup.id}: seeded ${setup.users} users and ${setup.sessions} sessions in ${Date.now() - t0} ms`,
    );
    targets.push(await keywardTarget(server, 0));
  }
  const m = await measure(client, targets, chained('get-user'), CONNECTIONS, PLAN.fast);
  const [, base, users, sessions] = targets.map((t) => need(m, t));
  const [baseServer, usersServer, sessionsServer] = started;
  if (!base || !users || !sessions || !baseServer || !usersServer || !sessionsServer) {
    throw new Error('scale figures missing');
  }
  const row = (scenario: string, server: ServerProcess, keyward: Figures) =>
    addRow({
      scenario,
      config: config.label,
      connections: CONNECTIONS,
      server: server.name,
      keyward,
      bare: need(m, bare),
    });
  row('GET /user, 1k users, 1k live sessions', baseServer, base);
  row('GET /user, 100k users, 1k live sessions', usersServer, users);
  row('GET /user, 1k users, 100k live sessions', sessionsServer, sessions);
  for (const server of started) await stopServer(server);
  return { base, users100k: users, sessions100k: sessions };
}

/** GET /user (chained, EdDSA, Redis or `--store=memory`) under `--cpu-prof`, summarised over the measured window only. */
async function runProfile(): Promise<void> {
  mkdirSync(PROFILES, { recursive: true });
  const variant = rotationOff ? 'rotation-off' : 'single-use';
  const name = `keyward-get-user-${variant}-${SINGLE.id}-${runId}.cpuprofile`;
  const server = await startKeyward(
    'keyward profile',
    SINGLE,
    path.join(TMP, 'profile'),
    redisPrefix('profile'),
    '',
    rotationOff ? { TOKEN_ROTATION: 'off' } : {},
    ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${name}`],
  );
  seedUsers(path.join(TMP, 'profile', 'users.db'), 0, USERS, await benchPasswordHash());
  const kw = await keywardTarget(server, 0);
  const [client] = clients;
  if (!client) throw new Error('no load client');
  await runOnce(client, kw, { kind: 'get-user', tokens: kw.tokens }, CONNECTIONS, 3000);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const { result, cpu } = await runOnce(
    client,
    kw,
    { kind: 'get-user', tokens: kw.tokens },
    CONNECTIONS,
    profileSeconds * 1000,
  );
  const toUs = Number(process.hrtime.bigint() / 1000n);
  await stopServer(server); // the profile is written as the server exits
  const file = path.join(PROFILES, name);
  if (!existsSync(file)) throw new Error(`no profile at ${file}: did the server exit cleanly?`);
  const rps = result.requests / (result.elapsedMs / 1000);
  const head =
    `GET /user, ${rotationOff ? 'TOKEN_ROTATION=off' : 'chained single-use tokens'}, ${SINGLE.label}, ` +
    `${CONNECTIONS} connections, under --cpu-prof: ` +
    `${rps.toFixed(0)} req/s, ${((cpu.all * 1e6) / result.requests).toFixed(0)} µs of server CPU per request ` +
    `(event loop ${((cpu.loop * 1e6) / result.requests).toFixed(0)} µs), ` +
    `${result.non2xx + result.socketErrors} errors. Profile: ${path.relative(ROOT, file)}\n\n`;
  const summary = head + renderSummary(summarise(readProfile(file), 25, { fromUs, toUs }), result.requests);
  const out = path.join(TMP_ROOT, `profile-summary-${variant}-${SINGLE.id}.md`);
  writeFileSync(out, summary);
  process.stdout.write(`${summary}\n`);
  log(`profile summary written to ${path.relative(ROOT, out)}`);
}

/**
 * `--ab=DIR`: chained GET /user (EdDSA, Redis or `--store=memory`; `--rotation-off` for TOKEN_ROTATION=off) on this checkout's build
 * and on DIR's, with the floor server beside them, in alternating rounds: how a change moves the figures, measured
 * in one run so that the machine's moods hit both.
 */
async function runAb(otherRoot: string): Promise<void> {
  const other = path.resolve(otherRoot);
  if (!existsSync(path.join(other, START.entry))) {
    throw new Error(`${path.join(other, START.entry)} is missing: build that checkout first (npm run build)`);
  }
  const [client] = clients;
  if (!client) throw new Error('no load client');
  const env: Record<string, string> = rotationOff ? { TOKEN_ROTATION: 'off' } : {};
  const passwordHash = await benchPasswordHash();
  const targets: Target[] = [];
  for (const [id, root] of [
    ['this checkout', ROOT],
    [other, other],
  ] as const) {
    const dir = path.join(TMP, `ab-${targets.length}`);
    const server = await startKeyward(
      `keyward (${id})`,
      SINGLE,
      dir,
      redisPrefix(`ab${targets.length}`),
      '',
      env,
      [],
      root,
    );
    seedUsers(path.join(dir, 'users.db'), 0, USERS, passwordHash);
    targets.push(await keywardTarget(server, 0));
  }
  const floor = await startFloor(SINGLE, rotationOff ? 'off' : 'single-use');
  if (floor) targets.push(floor);
  const m = await measure(client, targets, chained('get-user'), CONNECTIONS, {
    warmupMs: 2000,
    rounds: 6,
    durationMs: 4000,
  });
  const measured = targets.map((t) => need(m, t));
  const [mine, theirs] = measured;
  const lines = targets.map((t, i) => {
    const f = measured[i] as Figures;
    return (
      `${t.name}: ${f.rps.toFixed(0)} req/s (rounds ${f.roundsRps.map((r) => r.toFixed(0)).join(', ')}), ` +
      `${f.cpuUsPerRequest.toFixed(1)} µs CPU/req (event loop ${f.loopUsPerRequest.toFixed(1)}), ` +
      `p99 ${f.p99Ms.toFixed(2)} ms, errors ${f.non2xx + f.socketErrors}`
    );
  });
  if (mine && theirs) {
    lines.push(
      `this checkout / ${targets[1]?.name ?? 'other'}: ${((mine.rps / theirs.rps) * 100).toFixed(1)} % of the ` +
        `req/s, ${((mine.cpuUsPerRequest / theirs.cpuUsPerRequest) * 100).toFixed(1)} % of the CPU per request`,
    );
  }
  process.stdout.write(
    `GET /user, ${rotationOff ? 'TOKEN_ROTATION=off' : 'chained single-use tokens'}, ${SINGLE.label}, ` +
      `${CONNECTIONS} connections, LOG_LEVEL=${logLevel}\n${lines.join('\n')}\n`,
  );
}

/**
 * `--limits`: what the platform leaves for the two throughput targets, with no Keyward in it: the bare server and
 * the three floor servers (the Ed25519 signature alone on libuv's pool, the single-use floor, the
 * TOKEN_ROTATION=off floor) in the same alternating rounds, each as a ratio of the bare server.
 */
async function runLimits(client: ClientProcess, bare: Target): Promise<void> {
  const targets: Target[] = [bare];
  for (const floorMode of ['sign', 'single-use', 'off'] as const) {
    const floor = await startFloor(REDIS_EDDSA, floorMode);
    if (floor) targets.push(floor);
  }
  const m = await measure(client, targets, chained('get-user'), CONNECTIONS, {
    warmupMs: 2000,
    rounds: 6,
    durationMs: 4000,
  });
  const base = need(m, bare);
  const lines = targets.map((t) => {
    const f = need(m, t);
    return (
      `${t.name}: ${f.rps.toFixed(0)} req/s (rounds ${f.roundsRps.map((r) => r.toFixed(0)).join(', ')}), ` +
      `${((f.rps / base.rps) * 100).toFixed(1)} % of bare, ${f.cpuUsPerRequest.toFixed(1)} µs CPU/req ` +
      `(event loop ${f.loopUsPerRequest.toFixed(1)}), p99 ${f.p99Ms.toFixed(2)} ms, errors ${f.non2xx + f.socketErrors}`
    );
  });
  process.stdout.write(
    `chained GET /user, ${CONNECTIONS} connections, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}\n` +
      `${lines.join('\n')}\n`,
  );
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  mkdirSync(TMP_ROOT, { recursive: true });
  await cleanStaleRuns();
  mkdirSync(TMP, { recursive: true });
  writeOwner();
  build();
  // Registered as soon as each is up, so that cleanUp stops them whatever fails next.
  const startClient = () =>
    ClientProcess.start().then((c) => {
      clients.push(c);
      return c;
    });
  const [client, second, bareServer] = await Promise.all([
    startClient(),
    startClient(),
    profileMode || abRoot !== undefined
      ? undefined
      : ServerProcess.bare().then((server) => {
          servers.push(server);
          return server;
        }),
  ]);
  if (abRoot !== undefined) {
    try {
      await runAb(abRoot);
    } finally {
      await cleanUp();
    }
    return;
  }
  if (limitsOnly && bareServer) {
    try {
      await runLimits(client, bareTarget(bareServer));
    } finally {
      await cleanUp();
    }
    return;
  }
  if (profileMode || !bareServer) {
    await runProfile();
    await cleanUp();
    return;
  }
  const bare = bareTarget(bareServer);

  const hasher = scaleOnly
    ? { params: ARGON2, stored: await benchPasswordHash(), results: [] }
    : await hasherAlone();
  const storms: BenchResults['storms'] = [];
  let scale: BenchResults['scale'];
  try {
    if (!scaleOnly)
      for (const config of CONFIGS) await runConfig(config, [client, second], bare, hasher, storms);
    if (withScale) scale = await runScale(client, bare, hasher.stored);
  } finally {
    await cleanUp();
  }
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode,
      quick,
      node: process.version,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      connections: CONNECTIONS,
      loginConnections: LOGIN_CONNECTIONS,
      hashConcurrency: HASH_CONCURRENCY,
      serverCommand: [
        ...Object.entries(START.env).map(([name, value]) => `${name}=${value}`),
        'node',
        ...START.nodeArgs,
        ...serverNodeArgs,
        START.entry,
      ].join(' '),
      logLevel,
      timing: PLAN,
      seconds: Math.round((Date.now() - startedAt) / 1000),
    },
    hasher: { ...hasher, stored: '(argon2id PHC string, omitted)' },
    rows,
    storms,
    scale,
    peakRssMb: peakRss,
  };
  const written = writeResults(results);
  log(`done in ${results.meta.seconds} s: ${written.join(', ')}`);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanUp();
  process.exit(1);
});
