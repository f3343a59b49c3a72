// `npm run bench [-- --quick | --scale | --profile[=seconds] | --ab=DIR | --limits] [--no-build] [--no-scale] [--keep-tmp]`:
// Keyward against a bare node:http server, same client, same run. See docs/performance.md for what is measured and
// how to read it. This file parses the options and runs one mode: each mode is a module of bench/modes/ over the
// small library of bench/lib/ (BenchRun: the run's processes, folders and Redis prefixes; measure.ts: the rounds).
import { BenchRun } from './lib/bench-run.js';
import { log } from './lib/measure.js';
import { parseOptions } from './lib/options.js';
import { runAb } from './modes/ab.js';
import { runFull } from './modes/full.js';
import { runLimits } from './modes/limits.js';
import { runProfile } from './modes/profile.js';

const run = new BenchRun(parseOptions(process.argv.slice(2), process.env));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void run.cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const { mode, abRoot } = run.options;
  await run.prepare();
  const needsBare = mode !== 'profile' && mode !== 'ab';
  const [clients, bare] = await Promise.all([run.startClients(), needsBare ? run.startBare() : undefined]);
  try {
    if (mode === 'ab' && abRoot !== undefined) await runAb(run, clients[0], abRoot);
    else if (mode === 'profile' || !bare) await runProfile(run, clients[0]);
    else if (mode === 'limits') await runLimits(run, clients[0], bare);
    else await runFull(run, clients, bare);
  } finally {
    await run.cleanUp();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await run.cleanUp();
  process.exit(1);
});
