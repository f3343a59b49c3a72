import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REDIS_URL, redisUnavailable } from '../helpers/services.js';

const CONFIG = fileURLToPath(new URL('../../src/config.ts', import.meta.url));
const DEPS = fileURLToPath(new URL('../../src/deps.ts', import.meta.url));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Which of pg and ioredis a process has loaded once `createDeps` has built everything for `env` (SQLite in a
 * fresh DATA_DIR). Both are CommonJS packages, so their files show in the CommonJS module cache once loaded.
 */
function loadedDrivers(env: Record<string, string>): { pg: boolean; ioredis: boolean } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-lazy-'));
  dirs.push(dataDir);
  const script = `
    import { createRequire } from 'node:module';
    import { loadConfig } from ${JSON.stringify(CONFIG)};
    import { closeDeps, createDeps } from ${JSON.stringify(DEPS)};
    const config = loadConfig(${JSON.stringify({
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ARGON2_MEMORY_KIB: '8192',
      ARGON2_ITERATIONS: '1',
      ...env,
    })});
    const deps = await createDeps(config);
    const files = Object.keys(createRequire(import.meta.url).cache);
    const loaded = (name) => files.some((file) => file.includes('/node_modules/' + name + '/'));
    console.log(JSON.stringify({ pg: loaded('pg'), ioredis: loaded('ioredis') }));
    await closeDeps(deps);
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { pg: boolean; ioredis: boolean };
}

describe('drivers are loaded only for the configuration that needs them', () => {
  it('SQLite and the memory store: neither pg nor ioredis', () => {
    assert.deepEqual(loadedDrivers({}), { pg: false, ioredis: false });
  });

  it('SQLite and a Redis store: ioredis, not pg', async (t) => {
    const skip = await redisUnavailable();
    if (skip) {
      t.skip(skip);
      return;
    }
    const prefix = `kwlazy${String(process.pid)}`;
    assert.deepEqual(loadedDrivers({ REDIS_URL, REDIS_KEY_PREFIX: prefix }), { pg: false, ioredis: true });
  });
});
