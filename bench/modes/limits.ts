import { cpus } from 'node:os';
import type { BenchRun } from '../lib/bench-run.js';
import { chained, measure, need, type Target } from '../lib/measure.js';
import { CONNECTIONS } from '../lib/options.js';
import type { ClientProcess } from '../processes.js';

/**
 * `--limits`: what the platform leaves for the two throughput targets, with no Keyward in it: the bare server and
 * the three floor servers (the Ed25519 signature alone on libuv's pool, the single-use floor, the
 * TOKEN_ROTATION=off floor) in the same alternating rounds, each as a ratio of the bare server.
 */
export async function runLimits(run: BenchRun, client: ClientProcess, bare: Target): Promise<void> {
  const targets: Target[] = [bare];
  for (const floorMode of ['sign', 'single-use', 'off'] as const) {
    const floor = await run.startFloor(run.options.redisEddsa, floorMode);
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
