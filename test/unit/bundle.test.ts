import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BANNER, dirnamePlugin, EXTERNAL, serverBuild } from '../../scripts/bundle.js';

const work = mkdtempSync(path.join(tmpdir(), 'keyward-bundle-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/**
 * A checkout in miniature: a CommonJS package that reports its `__dirname` and `__filename` and reads a file
 * beside itself (as @fastify/swagger reads its package.json), and an entry importing it, bundled into dist/ as
 * scripts/bundle.ts bundles the server.
 */
async function bundleFixture(root: string, plugins: boolean): Promise<string> {
  const lib = path.join(root, 'node_modules', 'fixture-pkg', 'lib');
  mkdirSync(lib, { recursive: true });
  writeFileSync(path.join(lib, 'data.txt'), 'beside the module');
  writeFileSync(
    path.join(lib, 'index.js'),
    [
      "const fs = require('node:fs');",
      "const path = require('node:path');",
      'module.exports = {',
      '  dir: __dirname,',
      '  file: __filename,',
      "  read: () => fs.readFileSync(path.join(__dirname, 'data.txt'), 'utf8'),",
      '};',
    ].join('\n'),
  );
  writeFileSync(path.join(root, 'node_modules', 'fixture-pkg', 'package.json'), '{"main": "lib/index.js"}');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  writeFileSync(
    path.join(root, 'src', 'entry.ts'),
    "import fixture from 'fixture-pkg';\nconsole.log(JSON.stringify({ ...fixture, text: fixture.read() }));\n",
  );
  const outfile = path.join(root, 'dist', 'entry.js');
  await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src', 'entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    banner: { js: BANNER },
    plugins: plugins ? [dirnamePlugin(root)] : [],
    logLevel: 'silent',
  });
  return outfile;
}

function run(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the server bundle (scripts/bundle.ts)', () => {
  it('gives bundled CommonJS packages their own __dirname and __filename, wherever the checkout is moved', async () => {
    const built = path.join(work, 'built');
    await bundleFixture(built, true);
    // Built in one place, run from another: the paths are resolved when the bundle runs.
    const moved = path.join(work, 'moved');
    renameSync(built, moved);
    const result = run(path.join(moved, 'dist', 'entry.js'));
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { dir: string; file: string; text: string };
    assert.equal(out.dir, path.join(moved, 'node_modules', 'fixture-pkg', 'lib'));
    assert.equal(out.file, path.join(moved, 'node_modules', 'fixture-pkg', 'lib', 'index.js'));
    assert.equal(out.text, 'beside the module');
  });

  it('without the plugin, the same bundle fails: esbuild leaves __dirname free in an ES module', async () => {
    const root = path.join(work, 'bare');
    const result = run(await bundleFixture(root, false));
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /__dirname is not defined/);
  });

  it('bundles the server with its dependencies, and leaves the native addons to node_modules', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const result = await build({ ...serverBuild(root), write: false, metafile: true });
    const packages = new Set(
      Object.keys(result.metafile.inputs).flatMap((file) => {
        const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
        return match?.[1] === undefined ? [] : [match[1]];
      }),
    );
    for (const name of ['fastify', 'ioredis', 'kysely', 'pino', 'pg', 'prom-client'])
      assert.ok(packages.has(name), name);
    for (const name of EXTERNAL) assert.ok(!packages.has(name), name);
    // What the bundle may load from node_modules at run time: external packages only (argon2 is the hashing
    // thread's, pg-native an optional require of pg's; nodemailer and qrcode at their first use), never a
    // bundled one a second time.
    const output = Object.values(result.metafile.outputs).find((out) => out.entryPoint !== undefined);
    const loaded = new Set(
      output?.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path),
    );
    assert.deepEqual([...loaded].sort(), [
      '@fastify/swagger-ui',
      'better-sqlite3',
      'nodemailer',
      'nodemailer/lib/mail-composer',
      'pg-native',
      'qrcode',
    ]);
  });

  it('writes the server as ASCII without comments, so that V8 holds its source as one byte per character', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const result = await build({ ...serverBuild(root), write: false });
    const server = result.outputFiles.find((file) => file.path.endsWith(`${path.sep}server.js`));
    assert.ok(server);
    assert.deepEqual(server.text.match(/[\u0080-\u{10ffff}]/gu), null);
    // Whitespace-minified: a few hundred lines (the multi-line template literals of the packages), not 100,000.
    assert.ok(server.text.split('\n').length < 5000);
    // The licence comments are kept, in a file of their own.
    const legal = result.outputFiles.find((file) => file.path.endsWith('server.js.LEGAL.txt'));
    assert.match(legal?.text ?? '', /@license MIT/);
  });
});
