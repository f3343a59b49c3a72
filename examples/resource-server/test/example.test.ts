import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('examples/resource-server', () => {
  it('its one command runs: login, the protected API, the role check, logout', () => {
    // The README's command, run as a user runs it (npm from the repository root).
    const run = spawnSync('npm', ['run', '--silent', 'example'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const lines = run.stdout.trim().split('\n');
    assert.ok(lines.includes('logged in as demo-user'), run.stdout);
    assert.match(run.stdout, /GET http:\/\/127\.0\.0\.1:\d+\/orders -> 200 \{"owner":"1","orders":\[/);
    assert.match(run.stdout, /\/report -> 403 /);
    assert.match(run.stdout, /\/user again -> 200/);
    assert.match(run.stdout, /\/orders without a token -> 401/);
    assert.equal(lines[lines.length - 1], 'done');
  });
});
