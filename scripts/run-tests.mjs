#!/usr/bin/env node
// Runs every test file under test/ (or the files/folders given) with node:test and tsx, prints the spec
// report, then one closing line `N passed, N failed`. Exits non-zero when a test failed or none ran:
// node:test on Node 20 exits 0 when it finds no .ts file, which must never pass as green.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);

/** The workspaces' own tests (`packages/*\/test`, `examples/*\/test`) run with the server's. */
function workspaceTests() {
  return ['packages', 'examples'].flatMap((dir) => {
    let names = [];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return [];
    }
    return names
      .map((name) => path.join(dir, name, 'test'))
      .filter((candidate) => {
        try {
          return statSync(candidate).isDirectory();
        } catch {
          return false;
        }
      });
  });
}

const roots = args.length > 0 ? args : ['test', ...workspaceTests()];

function collect(entry, out) {
  const stat = statSync(entry);
  if (stat.isDirectory()) {
    if (path.basename(entry) === 'node_modules') return out;
    for (const name of readdirSync(entry).sort()) collect(path.join(entry, name), out);
  } else if (entry.endsWith('.test.ts')) {
    out.push(entry);
  }
  return out;
}

const files = roots.flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error(`no test files found under ${roots.join(', ')}`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}

// The CLI and end-to-end tests run the programs as users do, from dist/ (bin/keyward.js and the server-process
// helper fall back to tsx when dist/ is stale, at several seconds of compiling per process): build once first,
// with `npm run build` itself, so that the end-to-end tests run the bundled dist/server.js that `npm start` runs.
if (files.some((file) => /(^|[\\/])test[\\/](cli|e2e)[\\/]/.test(file))) {
  const build = spawnSync('npm', ['run', '--silent', 'build'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (build.status !== 0) {
    console.error('the build failed (npm run build): the CLI and end-to-end tests need it');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'keyward-tests-'));
const tap = path.join(dir, 'report.tap');
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);

child.on('exit', (code, signal) => {
  let report = '';
  try {
    report = readFileSync(tap, 'utf8');
  } catch {
    // no report: counted as nothing run
  }
  rmSync(dir, { recursive: true, force: true });
  const count = (name) => Number(report.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const skipped = count('skipped');
  console.log(`\n${files.length} test files; ${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  if (signal) process.exit(1);
  process.exit(code !== 0 || failed > 0 || passed === 0 ? 1 : 0);
});
