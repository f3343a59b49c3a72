import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCi } from '../../scripts/ci-flag.mjs';

const RUNNER = path.resolve('scripts/run-tests.mjs');

/** Runs scripts/run-tests.mjs on one test file of the given source, with CI set to `ci` (or unset). */
function runOn(source: string, ci: string | undefined): { status: number | null; stdout: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyward-runner-'));
  try {
    const file = path.join(dir, 'sample.test.ts');
    writeFileSync(file, source);
    const env: NodeJS.ProcessEnv = { ...process.env };
    // node:test marks the processes it runs; a runner started from one must not think it is a child of ours
    delete env.NODE_TEST_CONTEXT;
    delete env.CI;
    if (ci !== undefined) env.CI = ci;
    const result = spawnSync(process.execPath, [RUNNER, file], { env, encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WITH_SKIP = `import { it } from 'node:test';
it('runs', () => {});
it('is skipped', { skip: 'no service' }, () => {});
`;
const WITH_TODO = `import { it } from 'node:test';
it('runs', () => {});
it('is not written yet', { todo: true }, () => {});
`;
const ALL_RUN = `import { it } from 'node:test';
it('runs', () => {});
`;

describe('the CI flag (scripts/ci-flag.mjs)', () => {
  it('any truthy CI counts, not only "true"', () => {
    for (const value of ['true', 'TRUE', '1', 'yes', 'on', 'github-actions', ' true ']) {
      assert.equal(isCi(value), true, value);
    }
  });

  it('unset, empty, 0, false, no and off do not count', () => {
    // (Unset is tested through the runner below: isCi() without an argument reads process.env.CI.)
    for (const value of ['', ' ', '0', 'false', 'False', 'no', 'off', 'OFF']) {
      assert.equal(isCi(value), false, value);
    }
  });
});

describe('scripts/run-tests.mjs and skipped tests', () => {
  it('with CI set to any truthy value, a skipped test fails the run', () => {
    for (const ci of ['true', '1']) {
      const run = runOn(WITH_SKIP, ci);
      assert.equal(run.status, 1, `CI=${ci}\n${run.stdout}`);
      assert.match(run.stdout, /1 test files; 1 skipped\n1 passed, 0 failed/);
    }
  });

  it('with CI set, a todo test fails the run too', () => {
    const run = runOn(WITH_TODO, '1');
    assert.equal(run.status, 1, run.stdout);
  });

  it('with CI set and every test run, the run passes', () => {
    const run = runOn(ALL_RUN, 'true');
    assert.equal(run.status, 0, run.stdout);
    assert.match(run.stdout, /1 passed, 0 failed/);
  });

  it('without CI (or CI=false), a skipped test is reported and the run passes', () => {
    for (const ci of [undefined, 'false']) {
      const run = runOn(WITH_SKIP, ci);
      assert.equal(run.status, 0, `CI=${String(ci)}\n${run.stdout}`);
      assert.match(run.stdout, /1 skipped\n1 passed, 0 failed/);
    }
  });
});
