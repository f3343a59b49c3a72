import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCommand } from '../../scripts/start-command.js';

function withStart(start: string | undefined): ReturnType<typeof startCommand> {
  const root = mkdtempSync(path.join(tmpdir(), 'keyward-start-'));
  try {
    writeFileSync(
      path.join(root, 'package.json'),
      JSON.stringify({ scripts: start === undefined ? {} : { start } }),
    );
    return startCommand(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('startCommand (package.json start script)', () => {
  it('splits the environment settings, the node flags and the entry', () => {
    assert.deepEqual(withStart('A_B=1  MALLOC_MMAP_THRESHOLD_=131072 node --x=1 --y dist/server.js'), {
      env: { A_B: '1', MALLOC_MMAP_THRESHOLD_: '131072' },
      nodeArgs: ['--x=1', '--y'],
      entry: 'dist/server.js',
    });
    assert.deepEqual(withStart('node dist/server.js'), { env: {}, nodeArgs: [], entry: 'dist/server.js' });
  });

  it('refuses a start script of another shape', () => {
    for (const start of [
      undefined,
      '',
      'tsx src/server.ts',
      'A=1 tsx server.js',
      'node --x',
      'a=1 node s.js',
    ]) {
      assert.throws(() => withStart(start), /start script is not/, String(start));
    }
  });
});
