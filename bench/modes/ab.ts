import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchRun } from '../lib/bench-run.js';
import { chained, describeFigures, keywardTarget, measure, need, type Target } from '../lib/measure.js';
import { CONNECTIONS, USERS } from '../lib/options.js';
import { ROOT, START, type ClientProcess } from '../processes.js';
import type { Figures } from '../report.js';
import { benchPasswordHash, seedUsers } from '../seed.js';

/**
 * `--ab=DIR`: chained GET /user (EdDSA, Redis or `--store=memory`; `--rotation-off` for TOKEN_ROTATION=off) on this
 * checkout's build and on DIR's, with the floor server beside them, in alternating rounds: how a change moves the
 * figures, measured in one run so that the machine's moods hit both.
 */
export async function runAb(run: BenchRun, client: ClientProcess, otherRoot: string): Promise<void> {
  const { single, rotationOff, logLevel } = run.options;
  const other = path.resolve(otherRoot);
  if (!existsSync(path.join(other, START.entry))) {
    throw new Error(`${path.join(other, START.entry)} is missing: build that checkout first (npm run build)`);
  }
  const env: Record<string, string> = rotationOff ? { TOKEN_ROTATION: 'off' } : {};
  const passwordHash = await benchPasswordHash();
  const targets: Target[] = [];
  for (const [id, root] of [
    ['this checkout', ROOT],
    [other, other],
  ] as const) {
    const dir = path.join(run.tmp, `ab-${targets.length}`);
    const server = await run.startKeyward(
      `keyward (${id})`,
      single,
      dir,
      run.redisPrefix(`ab${targets.length}`),
      '',
      env,
      [],
      root,
    );
    // Each checkout seeds its own database with its own bench/seed.ts: the schema may differ between the two.
    const seed = (
      root === ROOT ? { seedUsers } : await import(pathToFileURL(path.join(root, 'bench', 'seed.ts')).href)
    ) as { seedUsers: typeof seedUsers };
    await seed.seedUsers(path.join(dir, 'users.db'), 0, USERS, passwordHash);
    targets.push(await keywardTarget(server));
  }
  const floor = await run.startFloor(single, rotationOff ? 'off' : 'single-use');
  if (floor) targets.push(floor);
  const m = await measure(client, targets, chained('get-user'), CONNECTIONS, {
    warmupMs: 2000,
    rounds: 6,
    durationMs: 4000,
  });
  const measured = targets.map((t) => need(m, t));
  const [mine, theirs] = measured;
  const lines = targets.map((t, i) => describeFigures(t.name, measured[i] as Figures));
  if (mine && theirs) {
    lines.push(
      `this checkout / ${targets[1]?.name ?? 'other'}: ${((mine.rps / theirs.rps) * 100).toFixed(1)} % of the ` +
        `req/s, ${((mine.cpuUsPerRequest / theirs.cpuUsPerRequest) * 100).toFixed(1)} % of the CPU per request`,
    );
  }
  process.stdout.write(
    `GET /user, ${rotationOff ? 'TOKEN_ROTATION=off' : 'chained single-use tokens'}, ${single.label}, ` +
      `${CONNECTIONS} connections, LOG_LEVEL=${logLevel}\n${lines.join('\n')}\n`,
  );
}
