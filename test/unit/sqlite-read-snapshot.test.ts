import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { openDatabase, type Database, type RowReader } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';

// Database.readRow on SQLite reads in one snapshot per event-loop turn (src/db/database.ts). What must hold: this
// process's writes are committed at once and seen by its next read, another process's writes are seen from the
// next turn, and no transaction outlives the turn (it would pin the WAL and hide every later write).
describe('SQLite readRow: one read snapshot per event-loop turn', () => {
  let dir: string;
  let database: Database;
  let readRow: RowReader;
  let other: SQLite.Database;

  const byId = () => database.db.selectFrom('users').select(['id', 'username']).where('id', '=', 0).compile();
  const read = (id: number) => readRow(byId(), [id]);
  const rename = (id: number, username: string) =>
    database.db.updateTable('users').set({ username, username_key: username }).where('id', '=', id).execute();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyward-snapshot-'));
    const file = path.join(dir, 'users.db');
    database = openDatabase(`sqlite:${file}`);
    await migrateToLatest(database);
    assert.ok(database.readRow);
    readRow = database.readRow;
    const now = new Date().toISOString();
    await database.db
      .insertInto('users')
      .values({ username: 'ada', username_key: 'ada', password_hash: 'x', created_at: now, updated_at: now })
      .execute();
    // Another connection to the same file, as the CLI or another worker process would have.
    other = new SQLite(file);
    other.pragma('busy_timeout = 1000');
  });

  after(async () => {
    other.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits this process's write at once, though a read of the same turn opened a snapshot", async () => {
    assert.equal(read(1)?.username, 'ada');
    await rename(1, 'ada2');
    // Still the same turn: the write must not have joined the read transaction (then it would stay uncommitted,
    // invisible to other connections and lost in a crash, until the turn ends).
    assert.equal(
      (other.prepare('select username from users where id = 1').get() as { username: string }).username,
      'ada2',
    );
    assert.equal(read(1)?.username, 'ada2');
  });

  it("sees another connection's write from the next turn on", async () => {
    assert.equal(read(1)?.username, 'ada2');
    other.prepare("update users set username = 'ada3', username_key = 'ada3' where id = 1").run();
    await nextTurn();
    assert.equal(read(1)?.username, 'ada3');
  });

  it('leaves no transaction open once the turn ends: another connection can checkpoint the whole WAL', async () => {
    assert.equal(read(1)?.username, 'ada3');
    await nextTurn();
    const [result] = other.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    assert.equal(result?.busy, 0);
  });

  it('reads inside a transaction opened on the connection instead of opening its own', async () => {
    await database.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ username: 'ada4' }).where('id', '=', 1).execute();
      assert.equal(read(1)?.username, 'ada4');
    });
    await nextTurn();
    assert.equal(read(1)?.username, 'ada4');
  });
});
