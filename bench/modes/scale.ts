import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { BenchRun } from '../lib/bench-run.js';
import { chained, keywardTarget, log, measure, need, type Target } from '../lib/measure.js';
import { CONNECTIONS } from '../lib/options.js';
import type { ClientProcess, ServerProcess } from '../processes.js';
import type { BenchResults, Figures } from '../report.js';
import { seedSessions, seedUsers } from '../seed.js';

/**
 * The scale check (`--scale`, and the end of the full run): 1k vs 100k registered users and 1k vs 100k live
 * sessions (Redis, EdDSA), three Keyward servers side by side, measured in turn with the bare server. Users and
 * sessions are seeded through Keyward's own repository and token store, not through HTTP.
 */
export async function runScale(
  run: BenchRun,
  client: ClientProcess,
  bare: Target,
  hash: string,
): Promise<BenchResults['scale']> {
  const config = run.options.redisEddsa;
  const jwtKey = randomBytes(48).toString('base64');
  const setups = [
    { id: 'base', users: 1000, sessions: 1000 },
    { id: 'users100k', users: 100_000, sessions: 1000 },
    { id: 'sessions100k', users: 1000, sessions: 100_000 },
  ];
  const targets: Target[] = [bare];
  const started: ServerProcess[] = [];
  for (const setup of setups) {
    const dataDir = path.join(run.tmp, `scale-${setup.id}`);
    const prefix = run.redisPrefix(`s${setup.id}`);
    const server = await run.startKeyward(`keyward scale ${setup.id}`, config, dataDir, prefix, jwtKey);
    started.push(server);
    const t0 = Date.now();
    await seedUsers(path.join(dataDir, 'users.db'), 0, setup.users, hash);
    // Sessions of users that do not exist in the database: only the store's size matters here.
    await seedSessions(run.redisUrl, prefix, setup.sessions, 10_000_000);
    log(
      `scale ${setup.id}: seeded ${setup.users} users and ${setup.sessions} sessions in ${Date.now() - t0} ms`,
    );
    targets.push(await keywardTarget(server));
  }
  const m = await measure(client, targets, chained('get-user'), CONNECTIONS, run.options.plan.fast);
  const [, base, users, sessions] = targets.map((t) => need(m, t));
  const [baseServer, usersServer, sessionsServer] = started;
  if (!base || !users || !sessions || !baseServer || !usersServer || !sessionsServer) {
    throw new Error('scale figures missing');
  }
  const row = (scenario: string, server: ServerProcess, keyward: Figures) =>
    run.addRow({
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
  for (const server of started) await run.stopServer(server);
  return { base, users100k: users, sessions100k: sessions };
}
