import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CommonPasswords } from '../../src/services/common-passwords.js';

describe('CommonPasswords', () => {
  const entries = [
    'password',
    'Dragon12',
    'zz',
    'a',
    'pass',
    'passwords',
    'ÄRGER123',
    'pass word',
    'password',
  ];
  const list = new CommonPasswords(entries);

  it('holds each entry once, lowercased', () => {
    assert.equal(list.size, 8);
    for (const entry of entries) assert.ok(list.has(entry), entry);
    for (const entry of ['PASSWORD', 'dragon12', 'DRAGON12', 'ärger123', 'PASS WORD', 'A', 'ZZ']) {
      assert.ok(list.has(entry), entry);
    }
  });

  it('finds nothing else: no prefix, extension or neighbour of an entry', () => {
    for (const other of [
      '',
      'p',
      'passw',
      'password1',
      'passwordz',
      'dragon1',
      'dragon123',
      'b',
      'zzz',
      'a ',
    ]) {
      assert.ok(!list.has(other), other);
    }
  });

  it('works empty and with one entry', () => {
    assert.ok(!new CommonPasswords([]).has(''));
    const one = new CommonPasswords(['only']);
    assert.ok(one.has('ONLY'));
    assert.ok(!one.has('onl'));
    assert.ok(!one.has('onlyy'));
  });
});

describe('loadCommonPasswords', () => {
  it('keeps what the filter accepts, and leaves the package to the collector', () => {
    // In a fresh process, so that nothing else has loaded the package: its modules are gone from the module
    // cache afterwards, and the heap grew by the compact list, not by the package's 2.5 MB of decompressed lists.
    // The package is first required and dropped once by the script itself: what a dropped module leaves behind
    // in V8 and Node's loader (on Node 22 and 24, the source text of its 380 kB compressed list) is not the
    // loader's doing, so it is settled before the measured part.
    const script = `
      const { createRequire } = await import('node:module');
      const { loadCommonPasswords, COMMON_PASSWORDS_PACKAGE } = await import(${JSON.stringify(
        fileURLToPath(new URL('../../src/services/common-passwords.ts', import.meta.url)),
      )});
      const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
      const turn = () => new Promise((resolve) => setTimeout(resolve, 50)); // tsx lets go of sources a turn later
      const dropOnce = () => {
        const require = createRequire(import.meta.url);
        const loaded = new Set(Object.keys(require.cache));
        require(COMMON_PASSWORDS_PACKAGE);
        for (const key of Object.keys(require.cache)) if (!loaded.has(key)) delete require.cache[key];
      };
      dropOnce();
      await turn();
      const before = heap();
      const list = loadCommonPasswords((p) => p.length >= 8);
      await turn();
      const grown = heap() - before;
      const require = createRequire(import.meta.url);
      const cached = Object.keys(require.cache).filter((key) => key.includes('@zxcvbn-ts'));
      const { dictionary } = require(COMMON_PASSWORDS_PACKAGE);
      const kept = heap() - before - grown;
      const all = dictionary['passwords-common'];
      const long = all.filter((p) => p.length >= 8);
      console.log(JSON.stringify({
        grown, kept, cached, size: list.size, total: all.length,
        allLongFound: long.every((p) => list.has(p) && list.has(p.toUpperCase())),
        shortFound: all.filter((p) => p.length < 8).some((p) => list.has(p)),
        distinctLong: new Set(long.map((p) => p.toLowerCase())).size,
      }));`;
    const result = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '--eval', script],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      grown: number;
      kept: number;
      cached: string[];
      size: number;
      total: number;
      allLongFound: boolean;
      shortFound: boolean;
      distinctLong: number;
    };
    assert.deepEqual(out.cached, []);
    assert.ok(out.total > 40_000, String(out.total));
    assert.equal(out.size, out.distinctLong);
    assert.ok(out.allLongFound);
    assert.ok(!out.shortFound);
    // Holding the package costs its decompressed lists (2 MB); the loader keeps the compact list (0.2 MB).
    assert.ok(out.kept > 1.5 * 1024 * 1024, `holding the package costs ${out.kept} bytes`);
    assert.ok(
      out.grown < out.kept / 4,
      `the heap grew by ${out.grown} bytes, holding the package ${out.kept}`,
    );
  });
});
