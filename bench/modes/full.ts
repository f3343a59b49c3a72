import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import type { BenchRun } from '../lib/bench-run.js';
import { figures, keywardTarget, log, measure, need, runOnce, type Target } from '../lib/measure.js';
import { CONNECTIONS, HASH_CONCURRENCY, LOGIN_CONNECTIONS, USERS, type BenchConfig } from '../lib/options.js';
import { START, type ClientProcess } from '../processes.js';
import { writeResults, type BenchResults, type Row } from '../report.js';
import { ARGON2, BENCH_PASSWORD, benchPasswordHash, benchUser, seedUsers } from '../seed.js';
import { seedTotpUsers } from '../lib/totp-users.js';
import { runScale } from './scale.js';

/** The introspection client of the bench servers (`INTROSPECTION_CLIENTS`). */
const INTROSPECTION_CLIENT = { id: 'bench-rs', secret: randomBytes(24).toString('base64url') };

/**
 * The full run (and `--quick`, and `--scale` alone): the hasher alone, every scenario of every configuration
 * against the bare server, then the scale check; writes the results files.
 */
export async function runFull(
  run: BenchRun,
  clients: [ClientProcess, ClientProcess],
  bare: Target,
): Promise<void> {
  const { options } = run;
  const startedAt = Date.now();
  const scaleOnly = options.mode === 'scale';
  const hasher = scaleOnly
    ? { params: ARGON2, stored: await benchPasswordHash(), results: [] }
    : await run.hasherAlone();
  const storms: BenchResults['storms'] = [];
  let scale: BenchResults['scale'];
  try {
    if (!scaleOnly)
      for (const config of options.configs) await runConfig(run, config, clients, bare, hasher, storms);
    if (options.withScale) scale = await runScale(run, clients[0], bare, hasher.stored);
  } finally {
    await run.cleanUp();
  }
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode: options.mode,
      quick: options.quick,
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
        ...options.serverNodeArgs,
        START.entry,
      ].join(' '),
      logLevel: options.logLevel,
      timing: options.plan,
      seconds: Math.round((Date.now() - startedAt) / 1000),
    },
    hasher: { ...hasher, stored: '(argon2id PHC string, omitted)' },
    rows: run.rows,
    storms,
    scale,
    peakRssMb: run.peakRss,
  };
  const written = writeResults(results);
  log(`done in ${results.meta.seconds} s: ${written.join(', ')}`);
}

async function runConfig(
  run: BenchRun,
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
    const server = await run.startKeyward(
      `keyward ${id}`,
      config,
      path.join(run.tmp, id),
      run.redisPrefix(id),
      jwtKey,
      env,
    );
    await seedUsers(path.join(run.tmp, id, 'users.db'), 0, USERS, hasher.stored);
    return server;
  };
  const [perRequestServer, offServer, offInfoServer] = await Promise.all([
    perRequest.length > 0
      ? start('', { INTROSPECTION_CLIENTS: `${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret}` })
      : undefined,
    config.scenarios.includes('get-user-off') ? start('-off', { TOKEN_ROTATION: 'off' }) : undefined,
    config.scenarios.includes('get-user-off-info')
      ? start('-off-info', { TOKEN_ROTATION: 'off', LOG_LEVEL: 'info' })
      : undefined,
  ]);
  if (perRequestServer) {
    const server = perRequestServer;
    const kw = await keywardTarget(server);
    const base = { config: label, server: server.name };
    for (const scenario of perRequest) {
      if (scenario === 'get-user' || scenario === 'validate') {
        const floorMode = scenario === 'get-user' ? 'single-use' : undefined;
        const { m, floor } = await run.measureChained(client, config, [bare, kw], scenario, floorMode);
        const name =
          scenario === 'get-user' ? 'GET /user, single-use tokens' : 'POST /validate_token (chained)';
        run.addRow({
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
        const { m, hasher: alone } = await run.measureHashing(
          client,
          [bare, kw],
          () => ({ kind: 'login', credentials }),
          hasher.stored,
        );
        run.addRow({
          ...base,
          scenario: 'POST /authenticate_user (login)',
          connections: LOGIN_CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          hasher: alone,
        });
      } else if (scenario === 'introspect') {
        const row = await introspection(run, client, kw, bare);
        run.addRow({ ...base, ...row });
      } else if (scenario === 'login-totp') {
        // Users USERS… (apart from every other scenario's), each loop its own. A step logs a user in once, and
        // each user has the current and the next step: the full run's 8 × 800 users last about 20 s of logins at
        // 300/s before the next step, longer than the scenario's rounds (a wait for a fresh step is logged below).
        const perLoop = run.options.quick ? 100 : 800;
        const t0 = Date.now();
        const users = await seedTotpUsers(
          path.join(run.tmp, config.id),
          USERS,
          LOGIN_CONNECTIONS,
          perLoop,
          hasher.stored,
        );
        log(`turned TOTP on for ${LOGIN_CONNECTIONS * perLoop} users in ${Date.now() - t0} ms`);
        const { m, hasher: alone } = await run.measureHashing(
          client,
          [bare, kw],
          (target) => ({ kind: 'login-totp', users, anyStep: target === bare }),
          hasher.stored,
        );
        const waits = need(m, kw).statuses['no-fresh-step'] ?? 0;
        if (waits > 0)
          log(`login + TOTP: ${waits} waits for a fresh step (too few TOTP users for this speed)`);
        run.addRow({
          ...base,
          scenario: 'Login + TOTP (POST /authenticate_user, then POST /mfa/verify)',
          connections: LOGIN_CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          hasher: alone,
          note:
            'one login = both requests, timed together; each loop logs in its own TOTP users, each at most once ' +
            `per 30-second step; the bare server answers both requests${waits > 0 ? `; ${waits} waits for a fresh step` : ''}`,
        });
      } else if (scenario === 'signup') {
        const { m, hasher: alone } = await run.measureHashing(
          client,
          [bare, kw],
          (target, round) => ({
            kind: 'signup',
            prefix: `s${run.id}${target === bare ? 'b' : 'k'}${round + 1}_`,
            password: BENCH_PASSWORD,
          }),
          hasher.stored,
        );
        run.addRow({
          ...base,
          scenario: 'POST /user (signup)',
          connections: LOGIN_CONNECTIONS,
          keyward: need(m, kw),
          bare: need(m, bare),
          hasher: alone,
          note: 'signup hashes where login verifies: the same argon2id work',
        });
      } else {
        await storm(run, config, [client, second], kw, storms);
      }
      // Which scenario raised the process's peak resident memory (the report gives the process's peak only).
      log(`${server.name}: peak RSS after ${scenario}: ${server.peakRssMb()} MB`);
    }
    await run.stopServer(server);
  }
  if (offServer) {
    const server = offServer;
    const kw = await keywardTarget(server);
    // At LOG_LEVEL=info (the default) in the same rounds, so that what the access line costs is read off one run.
    const info = offInfoServer ? await keywardTarget(offInfoServer) : undefined;
    const { m, floor } = await run.measureChained(
      client,
      config,
      info ? [bare, kw, info] : [bare, kw],
      'get-user',
      'off',
    );
    run.addRow({
      scenario: 'GET /user, TOKEN_ROTATION=off',
      config: label,
      connections: CONNECTIONS,
      server: server.name,
      keyward: need(m, kw),
      bare: need(m, bare),
      floor: floor ? need(m, floor) : undefined,
    });
    if (info) {
      run.addRow({
        scenario: 'GET /user, TOKEN_ROTATION=off, LOG_LEVEL=info',
        config: label,
        connections: CONNECTIONS,
        server: info.server.name,
        keyward: need(m, info),
        bare: need(m, bare),
        note: `the default LOG_LEVEL: one access line per request, written to a file; the other rows run at ${run.options.logLevel}`,
      });
      await run.stopServer(info.server);
    }
    await run.stopServer(server);
  }
}

/**
 * RFC 7662 `POST /introspect` (HTTP Basic client) of the chained loops' current access tokens, 16 connections:
 * introspection never consumes a token, so the same tokens serve every request.
 */
async function introspection(
  run: BenchRun,
  client: ClientProcess,
  kw: Target,
  bare: Target,
): Promise<Omit<Row, 'config' | 'server'>> {
  const authorization = `Basic ${Buffer.from(`${INTROSPECTION_CLIENT.id}:${INTROSPECTION_CLIENT.secret}`).toString('base64')}`;
  const probe = await fetch(`${kw.server.origin}/introspect`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(kw.tokens[0] ?? '')}`,
  });
  const answer = (await probe.json()) as { active?: unknown };
  if (probe.status !== 200 || answer.active !== true) {
    throw new Error(`POST /introspect of a live token answered ${probe.status} ${JSON.stringify(answer)}`);
  }
  const m = await measure(
    client,
    [bare, kw],
    (target) => ({
      kind: 'introspect',
      tokens: target === kw ? kw.tokens.filter(Boolean) : ['x'],
      authorization,
    }),
    CONNECTIONS,
    run.options.plan.fast,
  );
  return {
    scenario: 'POST /introspect (RFC 7662, HTTP Basic)',
    connections: CONNECTIONS,
    keyward: need(m, kw),
    bare: need(m, bare),
    note: 'the access tokens of the chained loops, each introspected over and over (introspection consumes none)',
  };
}

/** `GET /user` (chained, 16 connections) alone, then again while 8 connections log in without pause. */
async function storm(
  run: BenchRun,
  config: BenchConfig,
  [client, second]: [ClientProcess, ClientProcess],
  kw: Target,
  storms: BenchResults['storms'],
): Promise<void> {
  const { plan } = run.options;
  const credentials = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => ({
    username: benchUser(200 + i),
    password: BENCH_PASSWORD,
  }));
  const quiet = await runOnce(
    client,
    kw,
    { kind: 'get-user', tokens: kw.tokens },
    CONNECTIONS,
    plan.fast.durationMs,
  );
  const cpu0 = kw.server.cpuSeconds();
  const [reads, logins] = await Promise.all([
    runOnce(client, kw, { kind: 'get-user', tokens: kw.tokens }, CONNECTIONS, plan.stormMs),
    second.run({
      origin: kw.server.origin,
      connections: LOGIN_CONNECTIONS,
      durationMs: plan.stormMs,
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
