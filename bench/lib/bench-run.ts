import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { builtIsCurrent } from '../../scripts/build-state.js';
import { ClientProcess, ROOT, ServerProcess } from '../processes.js';
import type { Workload } from '../protocol.js';
import type { BenchResults, Figures, Row } from '../report.js';
import { ARGON2, deleteRedisPrefix } from '../seed.js';
import {
  CONNECTIONS,
  HASH_CONCURRENCY,
  LOGIN_CONNECTIONS,
  type BenchConfig,
  type BenchOptions,
} from './options.js';
import { bareTarget, chained, log, measure, type Target } from './measure.js';

const execFileAsync = promisify(execFile);

// Temporary data (databases, keys, logs, profiles) lives under bench/.tmp/, which git ignores. Each run has
// its own folder with an owner file, so that a later run can clean up after one that was killed.
export const TMP_ROOT = path.join(ROOT, 'bench', '.tmp');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One `npm run bench`: its options, its temporary folder and Redis prefixes, the processes it started (each
 * registered as soon as it is up, so that `cleanUp` stops them whatever fails next), and what it measured. The
 * modes (bench/modes/) are functions of it.
 */
export class BenchRun {
  readonly id = randomBytes(3).toString('hex');
  readonly tmp = path.join(TMP_ROOT, `run-${this.id}`);
  readonly rows: Row[] = [];
  readonly peakRss: Record<string, number> = {};
  readonly clients: ClientProcess[] = [];
  private readonly servers: ServerProcess[] = [];
  private readonly redisPrefixes: string[] = [];
  private cleanedUp: Promise<void> | undefined;

  constructor(readonly options: BenchOptions) {}

  get redisUrl(): string {
    return this.options.redisUrl;
  }

  /** Cleans up after earlier runs, makes this run's folder and builds Keyward (unless it is up to date). */
  async prepare(): Promise<void> {
    mkdirSync(TMP_ROOT, { recursive: true });
    await this.cleanStaleRuns();
    mkdirSync(this.tmp, { recursive: true });
    this.writeOwner();
    this.build();
  }

  /** Two load-client processes. */
  async startClients(): Promise<[ClientProcess, ClientProcess]> {
    const start = () =>
      ClientProcess.start().then((c) => {
        this.clients.push(c);
        return c;
      });
    return Promise.all([start(), start()]);
  }

  /** The bare node:http server, as a target. */
  async startBare(): Promise<Target> {
    const server = await ServerProcess.bare();
    this.servers.push(server);
    return bareTarget(server);
  }

  /** A Redis key prefix of this run (deleted at the end, and by a later run if this one is killed). */
  redisPrefix(id: string): string {
    return `kwbench${this.id}${id.replace(/\W/g, '')}`.slice(0, 32);
  }

  async startKeyward(
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
      LOG_LEVEL: this.options.logLevel,
      // The bench logs in the same few users over and over from one IP: rate limits would turn that into 429s.
      RATE_LIMIT: 'off',
      ...extraEnv,
    };
    if (config.store === 'redis') {
      env.REDIS_URL = this.redisUrl;
      env.REDIS_KEY_PREFIX = redisPrefix;
      this.ownPrefix(redisPrefix);
    }
    if (config.alg === 'HS256') env.JWT_KEY = jwtKey;
    const t0 = Date.now();
    const server = await ServerProcess.keyward(name, env, {
      cwd: dataDir,
      logFile: path.join(this.tmp, `${name.replace(/[^\w.-]+/g, '_')}.log`),
      nodeArgs: [...this.options.serverNodeArgs, ...nodeArgs],
      root,
    });
    this.servers.push(server);
    log(`started ${name} in ${Date.now() - t0} ms`);
    return server;
  }

  /**
   * The floor server (bench/floor-server.ts) for the two throughput targets' configuration (Redis, EdDSA): the
   * store round trip, and for single-use tokens the signature, with Keyward's own parts and nothing else.
   */
  async startFloor(
    config: BenchConfig,
    floorMode: 'off' | 'single-use' | 'sign',
  ): Promise<Target | undefined> {
    if (config.store !== 'redis' || config.alg !== 'EdDSA') return undefined;
    const prefix = this.redisPrefix(`floor${floorMode}`);
    this.ownPrefix(prefix);
    const server = await ServerProcess.floor(floorMode, this.redisUrl, prefix);
    this.servers.push(server);
    return bareTarget(server);
  }

  async stopServer(server: ServerProcess): Promise<void> {
    const rss = server.peakRssMb();
    if (Number.isFinite(rss)) this.peakRss[server.name] = rss;
    const t0 = Date.now();
    await server.stop();
    if (Date.now() - t0 > 1000) log(`${server.name} took ${Date.now() - t0} ms to stop`);
    const at = this.servers.indexOf(server);
    if (at >= 0) this.servers.splice(at, 1);
  }

  /** A chained scenario on the bare server and Keyward, with the floor server beside them where it applies. */
  async measureChained(
    client: ClientProcess,
    config: BenchConfig,
    targets: Target[],
    kind: 'get-user' | 'validate',
    floorMode: 'off' | 'single-use' | undefined,
  ): Promise<{ m: Map<string, Figures>; floor: Target | undefined }> {
    const floor = floorMode ? await this.startFloor(config, floorMode) : undefined;
    const m = await measure(
      client,
      floor ? [...targets, floor] : targets,
      chained(kind),
      CONNECTIONS,
      this.options.plan.fast,
    );
    if (floor) await this.stopServer(floor.server);
    return { m, floor };
  }

  /** argon2id verifications/s with nothing around them, at Keyward's and the login scenario's concurrency. */
  async hasherAlone(): Promise<BenchResults['hasher']> {
    const concurrency = [...new Set([HASH_CONCURRENCY, LOGIN_CONNECTIONS])];
    const parsed = await runHasherAlone({ concurrency, durationMs: this.options.plan.hasherMs });
    for (const r of parsed.results)
      log(`hasher alone: ${r.perSecond.toFixed(1)} verifications/s at concurrency ${r.concurrency}`);
    return { params: ARGON2, stored: parsed.stored, results: parsed.results };
  }

  /**
   * The login and signup scenarios: Keyward (and the bare server) in alternating rounds, and the hasher alone at
   * the same concurrency at the start of every round, so that the ratio to the hasher compares figures of the
   * same minutes (a host whose speed drifts during the run moves both).
   */
  async measureHashing(
    client: ClientProcess,
    targets: Target[],
    workloadFor: (target: Target, round: number) => Workload,
    stored: string,
  ): Promise<{ m: Map<string, Figures>; hasher: NonNullable<Row['hasher']> }> {
    const { hashing } = this.options.plan;
    const rounds: number[] = [];
    const m = await measure(client, targets, workloadFor, LOGIN_CONNECTIONS, hashing, async () => {
      rounds.push(await hasherRound(stored, LOGIN_CONNECTIONS, hashing.durationMs));
    });
    const perSecond = rounds.reduce((a, b) => a + b, 0) / rounds.length;
    log(`hasher alone in the same rounds: ${rounds.map((r) => r.toFixed(1)).join(', ')} verifications/s`);
    return { m, hasher: { concurrency: LOGIN_CONNECTIONS, perSecond, rounds } };
  }

  /** Records a row of the results and logs it. */
  addRow(row: Row): Row {
    this.rows.push(row);
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

  /** Stops every child process, deletes the run's Redis keys and its temporary folder; runs once. */
  cleanUp(): Promise<void> {
    this.cleanedUp ??= (async () => {
      await Promise.all(this.clients.map((c) => c.stop().catch(() => undefined)));
      for (const server of [...this.servers]) await this.stopServer(server).catch(() => undefined);
      for (const prefix of this.redisPrefixes) await deleteRedisPrefix(this.redisUrl, prefix).catch(() => 0);
      if (!this.options.keepTmp) rmSync(this.tmp, { recursive: true, force: true });
      else log(`kept ${path.relative(ROOT, this.tmp)}`);
    })();
    return this.cleanedUp;
  }

  private ownPrefix(prefix: string): void {
    if (this.redisPrefixes.includes(prefix)) return;
    this.redisPrefixes.push(prefix);
    this.writeOwner();
  }

  private writeOwner(): void {
    writeFileSync(
      path.join(this.tmp, 'owner.json'),
      JSON.stringify({ pid: process.pid, redisUrl: this.redisUrl, redisPrefixes: this.redisPrefixes }),
    );
  }

  /** Removes the folders and Redis keys of earlier runs that did not get to clean up (killed, crashed). */
  private async cleanStaleRuns(): Promise<void> {
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
        const deleted = await deleteRedisPrefix(owner.redisUrl ?? this.redisUrl, prefix).catch(() => 0);
        if (deleted > 0) log(`removed ${deleted} Redis keys of an earlier run (${prefix}:*)`);
      }
      rmSync(dir, { recursive: true, force: true });
      log(`removed ${path.relative(ROOT, dir)} of an earlier run`);
    }
  }

  /** `npm run build`, as users build Keyward; runs other than the full one skip it when dist/ is newer than src/. */
  private build(): void {
    const server = path.join(ROOT, 'dist', 'server.js');
    const upToDate = builtIsCurrent(ROOT);
    if (this.options.noBuild || (this.options.mode !== 'full' && upToDate)) {
      if (!existsSync(server)) throw new Error('dist/server.js is missing: run `npm run build` first');
      log(upToDate ? 'dist/ is up to date: not rebuilding' : 'not rebuilding (--no-build)');
      return;
    }
    log('npm run build');
    const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (result.status !== 0) throw new Error('npm run build failed');
  }
}

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

/** One round of the hasher alone at `concurrency` verifications in flight, `durationMs` long: verifications/s. */
async function hasherRound(stored: string, concurrency: number, durationMs: number): Promise<number> {
  const { results } = await runHasherAlone({ concurrency: [concurrency], durationMs, stored });
  const perSecond = results[0]?.perSecond;
  if (perSecond === undefined) throw new Error('the hasher alone returned no result');
  return perSecond;
}
