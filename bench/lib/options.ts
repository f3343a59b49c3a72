import { availableParallelism } from 'node:os';

export const USAGE = `usage: npm run bench -- [options]
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

const KNOWN =
  /^--(quick|scale|no-scale|no-build|keep-tmp|profile(=\d+)?|ab=\S+|limits|rotation-off|store=(memory|redis)|log-level=\w+|node-args=\S+|help)$/;

export type Mode = 'full' | 'quick' | 'scale' | 'profile' | 'ab' | 'limits';

export type Scenario =
  | 'get-user'
  | 'validate'
  | 'introspect'
  | 'login'
  | 'login-totp'
  | 'signup'
  | 'storm'
  | 'get-user-off'
  | 'get-user-off-info';

/** A server configuration: token store and signing algorithm, and the scenarios measured on it. */
export interface BenchConfig {
  id: string;
  label: string;
  store: 'memory' | 'redis';
  alg: 'EdDSA' | 'HS256';
  scenarios: Scenario[];
}

export interface Timing {
  warmupMs: number;
  rounds: number;
  durationMs: number;
}

export interface Plan {
  fast: Timing;
  hashing: Timing;
  stormMs: number;
  hasherMs: number;
}

/** What one `npm run bench` invocation asked for. */
export interface BenchOptions {
  mode: Mode;
  quick: boolean;
  noBuild: boolean;
  keepTmp: boolean;
  profileSeconds: number;
  rotationOff: boolean;
  /** `--ab=DIR`: the other checkout whose build runs beside this one's. */
  abRoot: string | undefined;
  /** The full run (and `--scale`) ends with the scale check. */
  withScale: boolean;
  logLevel: string;
  /** Extra flags for every Keyward process (`--node-args=--max-semi-space-size=2,--other`), to try V8 settings. */
  serverNodeArgs: string[];
  redisUrl: string;
  plan: Plan;
  /** The configurations of the full (or quick) run. */
  configs: BenchConfig[];
  /** Redis and EdDSA: the configuration of the throughput targets and of the scale check. */
  redisEddsa: BenchConfig;
  /** The configuration of `--profile` and `--ab`: Redis and EdDSA, or with `--store=memory` the in-process store. */
  single: BenchConfig;
}

export const CONNECTIONS = 16;
export const LOGIN_CONNECTIONS = 8;
export const USERS = 1000;
export const HASH_CONCURRENCY = Math.max(1, availableParallelism());

const ALL: Scenario[] = [
  'get-user',
  'validate',
  'introspect',
  'login',
  'login-totp',
  'signup',
  'storm',
  'get-user-off',
];
const TOKEN_ONLY: Scenario[] = ['get-user', 'validate', 'get-user-off'];

const QUICK_PLAN: Plan = {
  fast: { warmupMs: 300, rounds: 2, durationMs: 800 },
  hashing: { warmupMs: 400, rounds: 1, durationMs: 1200 },
  stormMs: 1500,
  hasherMs: 1000,
};

const FULL_PLAN: Plan = {
  fast: { warmupMs: 2000, rounds: 3, durationMs: 3000 },
  hashing: { warmupMs: 1000, rounds: 2, durationMs: 3000 },
  stormMs: 6000,
  hasherMs: 4000,
};

/** Parses the command line; prints the usage and exits on `--help` (0) or an unknown option (2). */
export function parseOptions(args: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const unknown = args.filter((a) => !KNOWN.test(a));
  if (unknown.length > 0 || args.includes('--help')) {
    if (unknown.length > 0) console.error(`unknown option(s): ${unknown.join(' ')}`);
    console.error(USAGE);
    process.exit(unknown.length > 0 ? 2 : 0);
  }
  const option = (name: string): string | undefined =>
    args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = args.includes('--quick');
  const profile = args.some((a) => a === '--profile' || a.startsWith('--profile='));
  const abRoot = option('ab');
  const scaleOnly = args.includes('--scale');
  const mode: Mode = profile
    ? 'profile'
    : abRoot
      ? 'ab'
      : args.includes('--limits')
        ? 'limits'
        : scaleOnly
          ? 'scale'
          : quick
            ? 'quick'
            : 'full';
  const redisEddsa: BenchConfig = {
    id: 'redis-eddsa',
    label: 'Redis, EdDSA',
    store: 'redis',
    alg: 'EdDSA',
    // The full run also measures TOKEN_ROTATION=off at the default LOG_LEVEL=info (one access line per request)
    // beside the bench's own level (warn unless --log-level says otherwise).
    scenarios: quick ? ALL : [...ALL, 'get-user-off-info'],
  };
  // The quick run still goes through every scenario and both stores and both algorithms once.
  const configs: BenchConfig[] = quick
    ? [
        {
          id: 'memory-hs256',
          label: 'memory, HS256',
          store: 'memory',
          alg: 'HS256',
          scenarios: ['get-user', 'validate'],
        },
        {
          ...redisEddsa,
          scenarios: ['get-user', 'introspect', 'login', 'login-totp', 'signup', 'storm', 'get-user-off'],
        },
      ]
    : [
        { id: 'memory-eddsa', label: 'memory, EdDSA', store: 'memory', alg: 'EdDSA', scenarios: ALL },
        { id: 'memory-hs256', label: 'memory, HS256', store: 'memory', alg: 'HS256', scenarios: TOKEN_ONLY },
        redisEddsa,
        { id: 'redis-hs256', label: 'Redis, HS256', store: 'redis', alg: 'HS256', scenarios: TOKEN_ONLY },
      ];
  return {
    mode,
    quick,
    noBuild: args.includes('--no-build'),
    keepTmp: args.includes('--keep-tmp'),
    profileSeconds: Number(option('profile') ?? 15),
    rotationOff: args.includes('--rotation-off'),
    abRoot,
    withScale: scaleOnly || (!quick && !args.includes('--no-scale')),
    logLevel: option('log-level') ?? 'warn',
    serverNodeArgs: option('node-args')?.split(',').filter(Boolean) ?? [],
    redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    plan: quick ? QUICK_PLAN : FULL_PLAN,
    configs,
    redisEddsa,
    single:
      option('store') === 'memory'
        ? {
            id: 'memory-eddsa',
            label: 'memory, EdDSA',
            store: 'memory',
            alg: 'EdDSA',
            scenarios: ['get-user'],
          }
        : redisEddsa,
  };
}
