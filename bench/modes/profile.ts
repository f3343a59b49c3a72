import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TMP_ROOT, type BenchRun } from '../lib/bench-run.js';
import { keywardTarget, log, runOnce } from '../lib/measure.js';
import { CONNECTIONS, USERS } from '../lib/options.js';
import { ROOT, type ClientProcess } from '../processes.js';
import { readProfile, renderSummary, summarise } from '../profile-summary.js';
import { benchPasswordHash, seedUsers } from '../seed.js';

const PROFILES = path.join(TMP_ROOT, 'profiles');

/**
 * `--profile[=S]`: GET /user (chained, EdDSA, Redis or `--store=memory`) under `--cpu-prof`, summarised over the
 * measured window only.
 */
export async function runProfile(run: BenchRun, client: ClientProcess): Promise<void> {
  const { single, rotationOff, profileSeconds } = run.options;
  mkdirSync(PROFILES, { recursive: true });
  const variant = rotationOff ? 'rotation-off' : 'single-use';
  const name = `keyward-get-user-${variant}-${single.id}-${run.id}.cpuprofile`;
  const server = await run.startKeyward(
    'keyward profile',
    single,
    path.join(run.tmp, 'profile'),
    run.redisPrefix('profile'),
    '',
    rotationOff ? { TOKEN_ROTATION: 'off' } : {},
    ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${name}`],
  );
  await seedUsers(path.join(run.tmp, 'profile', 'users.db'), 0, USERS, await benchPasswordHash());
  const kw = await keywardTarget(server);
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
  await run.stopServer(server); // the profile is written as the server exits
  const file = path.join(PROFILES, name);
  if (!existsSync(file)) throw new Error(`no profile at ${file}: did the server exit cleanly?`);
  const rps = result.requests / (result.elapsedMs / 1000);
  const head =
    `GET /user, ${rotationOff ? 'TOKEN_ROTATION=off' : 'chained single-use tokens'}, ${single.label}, ` +
    `${CONNECTIONS} connections, under --cpu-prof: ` +
    `${rps.toFixed(0)} req/s, ${((cpu.all * 1e6) / result.requests).toFixed(0)} µs of server CPU per request ` +
    `(event loop ${((cpu.loop * 1e6) / result.requests).toFixed(0)} µs), ` +
    `${result.non2xx + result.socketErrors} errors. Profile: ${path.relative(ROOT, file)}\n\n`;
  const summary = head + renderSummary(summarise(readProfile(file), 25, { fromUs, toUs }), result.requests);
  const out = path.join(TMP_ROOT, `profile-summary-${variant}-${single.id}.md`);
  writeFileSync(out, summary);
  process.stdout.write(`${summary}\n`);
  log(`profile summary written to ${path.relative(ROOT, out)}`);
}
