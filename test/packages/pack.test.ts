import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(path.join(tmpdir(), 'keyward-pack-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** `npm pack` (which builds through prepack), then the tarball unpacked into a fresh node_modules. */
function packAndInstall(dir: string, name: string, deps: string[]): string[] {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: path.join(root, dir),
    encoding: 'utf8',
  });
  const [result] = JSON.parse(out) as PackResult[];
  assert.ok(result);
  const target = path.join(work, 'app', 'node_modules', name);
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, result.filename), '-C', target, '--strip-components=1']);
  for (const dep of deps) {
    const link = path.join(work, 'app', 'node_modules', dep);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(root, 'node_modules', dep), link);
  }
  return result.files.map((f) => f.path).sort();
}

function importFrom(name: string, expression: string): string {
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as m from '${name}'; console.log(${expression});`],
    { cwd: path.join(work, 'app'), encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim();
}

describe('npm pack', () => {
  it('@keyward/verify packs its built ESM, types and README, and the tarball imports', () => {
    const files = packAndInstall('packages/verify', '@keyward/verify', ['jose']);
    for (const file of [
      'README.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/verifier.js',
    ]) {
      assert.ok(files.includes(file), `${file} missing from ${files.join(', ')}`);
    }
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), files.join(', '));
    assert.equal(
      importFrom('@keyward/verify', 'typeof m.createVerifier + typeof m.requireRoles'),
      'functionfunction',
    );
  });

  it('@keyward/client packs its built ESM, types and README, and the tarball imports', () => {
    const files = packAndInstall('packages/client', '@keyward/client', []);
    for (const file of ['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/client.js']) {
      assert.ok(files.includes(file), `${file} missing from ${files.join(', ')}`);
    }
    assert.equal(importFrom('@keyward/client', 'typeof m.createClient'), 'function');
  });
});
