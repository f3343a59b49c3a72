import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Redis } from 'ioredis';

// Each tuning module relies on one library's internals or exact behaviour. These tests pin the major version it
// was written against, so that an upgrade fails here, next to a note of what to re-check, instead of silently
// losing the fast path (or worse). The behaviour itself is tested where it is used (named in each note).
const require = createRequire(import.meta.url);

function installedVersion(name: string): string {
  const file = require.resolve(`${name}/package.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function assertMajor(name: string, major: number, recheck: string): void {
  const version = installedVersion(name);
  assert.equal(Number(version.split('.')[0]), major, `${name} ${version} is installed: ${recheck}`);
}

describe('the library versions the tuning modules rely on', () => {
  it('ioredis 5: redis-client.ts corks the socket from an overridden sendCommand', () => {
    assertMajor(
      'ioredis',
      5,
      're-check batchWritesPerTurn in src/stores/redis-client.ts (the per-turn batching test is in test/contract/redis-token-store.test.ts)',
    );
    // Every command goes through the instance's sendCommand, which the batching wraps.
    const client = new Redis({ lazyConnect: true });
    assert.equal(typeof client.sendCommand, 'function');
    assert.equal(client.status, 'wait');
    client.disconnect();
  });

  it('pg 8: pg-prepared.ts names statements through client.query({ name, text, values })', () => {
    assertMajor(
      'pg',
      8,
      're-check nameStatements in src/db/pg-prepared.ts (the prepared-statement tests are in test/contract/user-repository-postgres.test.ts)',
    );
  });

  it('better-sqlite3 12: database.ts keeps a read snapshot per turn and reuses idle statements', () => {
    assertMajor(
      'better-sqlite3',
      12,
      're-check preparedOnce in src/db/database.ts (test/unit/sqlite-read-snapshot.test.ts tests the snapshot)',
    );
    const sqlite = new SQLite(':memory:');
    try {
      sqlite.exec('CREATE TABLE t (x INTEGER)');
      sqlite.exec('INSERT INTO t VALUES (1), (2)');
      // inTransaction follows prepared BEGIN and COMMIT statements.
      sqlite.prepare('BEGIN').run();
      assert.equal(sqlite.inTransaction, true);
      sqlite.prepare('COMMIT').run();
      assert.equal(sqlite.inTransaction, false);
      // A statement is busy only while it is being iterated; `get` leaves it free for the next caller.
      const select = sqlite.prepare('SELECT x FROM t');
      assert.deepEqual(select.get(), { x: 1 });
      assert.equal(select.busy, false);
      const rows = select.iterate();
      rows.next();
      assert.equal(select.busy, true);
      rows.return?.();
      assert.equal(select.busy, false);
    } finally {
      sqlite.close();
    }
  });
});
