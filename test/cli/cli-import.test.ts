import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { openDatabase } from '../../src/db/database.js';
import { KyselyUserRepository } from '../../src/repositories/kysely-user-repository.js';
import { usernameKey } from '../../src/domain/username.js';
import { makeApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { assertError, assertOk, login } from '../http/http-helpers.js';
import {
  assertCleanFailure,
  assertExit,
  makeWorkspace,
  runCli,
  writeDemoDatabase,
  type CliWorkspace,
  type DemoRow,
} from './cli-helpers.js';

const pgUnavailable = await postgresUnavailable();

const ROWS: DemoRow[] = [
  { id: 1, username: 'alice', password: 'alice-old-pass-1' },
  { id: 2, username: 'Robert', password: 'bob-old-pass-22' },
  { id: 3, username: 'ALICE', password: 'other-alice-pass' },
  { id: 4, username: 'al', password: 'too-short-name-4' },
  { id: 5, username: 'with space', password: 'space-pass-55' },
  { id: 6, username: 'ｃａｒｏｌ', password: 'carol-old-pass' },
  // The demo's first model stored the key without its salt; another version the plain text.
  { id: 7, username: 'trunc', password: { raw: randomBytes(32) } },
  { id: 8, username: 'texty', password: { raw: 'plaintext-password-8' } },
];

const REJECTED = [
  'rejected "ALICE" (demo id 3): clashes case-insensitively with "alice" (demo id 1) in the same file',
  'rejected "al" (demo id 4): username must be 4-64 characters long',
  'rejected "with space" (demo id 5): username must not contain spaces or control characters',
  'rejected "trunc" (demo id 7): malformed password: expected a 64-byte BLOB (salt + PBKDF2 key), got 32 bytes',
  'rejected "texty" (demo id 8): malformed password: expected a 64-byte BLOB (salt + PBKDF2 key), got a value of type string',
];

/** The stored password hash of a user, read through Keyward's own database layer (SQLite or PostgreSQL). */
async function storedHash(databaseUrl: string, username: string): Promise<string | undefined> {
  const database = openDatabase(databaseUrl);
  try {
    return (await new KyselyUserRepository(database).findByUsernameKey(usernameKey(username)))?.passwordHash;
  } finally {
    await database.close();
  }
}

interface ImportReport {
  file: string;
  database: string;
  dryRun: boolean;
  rows: number;
  imported: number;
  skipped: number;
  rejected: number;
  users: {
    imported: { username: string; seedId: number | null; id: number | null }[];
    skipped: { username: string; seedId: number | null; reason: string }[];
    rejected: { username: string; seedId: number | null; reason: string }[];
  };
}

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  const skip = backend === 'PostgreSQL' ? (pgUnavailable ?? false) : false;

  describe(`import-seed-db into ${backend}`, { skip }, () => {
    let ws: CliWorkspace;
    let env: Record<string, string>;
    let pgDb: TestDatabase | undefined;
    let t: TestApp | undefined;
    let seed: string;
    const app = () => {
      assert.ok(t, 'the app is built by an earlier test');
      return t.app;
    };

    before(async () => {
      ws = makeWorkspace();
      env = ws.env;
      if (backend === 'PostgreSQL') {
        pgDb = await createTestDatabase();
        env = { ...ws.env, DATABASE_URL: pgDb.url };
      }
      mkdirSync(path.join(ws.dir, 'demo'));
      seed = path.join(ws.dir, 'demo', 'users.db');
      writeDemoDatabase(seed, ROWS);
    });

    after(async () => {
      await t?.close();
      await pgDb?.drop();
      ws.remove();
    });

    it('a dry run reports every row and creates nobody', async () => {
      const r = await runCli(['import-seed-db', seed, '--dry-run'], env);
      assertExit(r, 3);
      assert.equal(
        r.stdout,
        [
          'would import "alice" (demo id 1)',
          'would import "Robert" (demo id 2)',
          'would import "carol" (demo id 6)',
          ...REJECTED,
          'dry run: 8 row(s): would import 3, skipped 0, rejected 5',
          '',
        ].join('\n'),
      );
      const list = await runCli(['user', 'list'], env);
      assert.equal(list.stdout, 'ID  USERNAME\n0 of 0 user(s)\n');
    });

    it('imports the valid rows, lists every rejected one with its reason, and exits 3', async () => {
      const r = await runCli(['import-seed-db', seed], env);
      assertExit(r, 3);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^imported "alice" \(demo id 1\) as id \d+$/);
      assert.match(lines[1] ?? '', /^imported "Robert" \(demo id 2\) as id \d+$/);
      assert.match(lines[2] ?? '', /^imported "carol" \(demo id 6\) as id \d+$/);
      assert.deepEqual(lines.slice(3), [
        ...REJECTED,
        'imported users log in with their old passwords; each hash is upgraded to argon2id at that login',
        '8 row(s): imported 3, skipped 0, rejected 5',
      ]);
      assert.equal(
        r.stderr,
        `keyward: 5 row(s) rejected (listed above): fix them in ${seed} and run the import again\n`,
      );
      assert.doesNotMatch(r.stdout + r.stderr, /plaintext-password/);
      assert.match((await storedHash(env.DATABASE_URL ?? '', 'alice')) ?? '', /^pbkdf2_sha256\$100000\$/);
    });

    it('imported users log in over HTTP with their old passwords; the hash becomes argon2id then', async () => {
      t = await makeApp(env);
      const unknown = await login(t.app, 'nobody-at-all', 'alice-old-pass-1');
      assertError(unknown, 401, 'invalid_credentials', 'Invalid credentials');
      // A wrong password against a legacy hash answers exactly like an unknown user.
      const wrong = await login(t.app, 'carol', 'alice-old-pass-1');
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(wrong.json(), unknown.json());
      assert.match((await storedHash(env.DATABASE_URL ?? '', 'carol')) ?? '', /^pbkdf2_sha256\$/);

      assertOk(await login(t.app, 'alice', 'alice-old-pass-1'));
      assert.match((await storedHash(env.DATABASE_URL ?? '', 'alice')) ?? '', /^\$argon2id\$v=19\$/);
      // The upgraded hash verifies the same password, and only it.
      assertOk(await login(t.app, 'ALICE', 'alice-old-pass-1'));
      const wrongAfter = await login(t.app, 'alice', 'bob-old-pass-22');
      assert.equal(wrongAfter.statusCode, 401);
      assert.deepEqual(wrongAfter.json(), unknown.json());

      assertOk(await login(t.app, 'ｃａｒｏｌ', 'carol-old-pass'));
      assert.match((await storedHash(env.DATABASE_URL ?? '', 'carol')) ?? '', /^\$argon2id\$/);
      // The rejected row's owner was not imported: the demo's second "alice" cannot log in as anyone.
      assertError(await login(t.app, 'ALICE', 'other-alice-pass'), 401, 'invalid_credentials');
    });

    it('importing again duplicates nobody and says what it skipped and why', async () => {
      const r = await runCli(['import-seed-db', seed], env);
      assertExit(r, 3);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), [
        'skipped "alice" (demo id 1): a user of this name already exists with another password hash; left unchanged',
        'skipped "Robert" (demo id 2): already imported',
        'skipped "ｃａｒｏｌ" (demo id 6): a user of this name already exists with another password hash; left unchanged',
        ...REJECTED,
        '8 row(s): imported 0, skipped 3, rejected 5',
      ]);
      const list = await runCli(['user', 'list', '--json'], env);
      assert.deepEqual(
        list.stdout
          .trimEnd()
          .split('\n')
          .map((line) => (JSON.parse(line) as { username: string }).username),
        ['alice', 'Robert', 'carol'],
      );
      // Robert's legacy hash is still in place and still works.
      assertOk(await login(app(), 'robert', 'bob-old-pass-22'));
    });

    it('a file whose rows are all importable or present exits 0; --json maps demo ids to new ids', async () => {
      const second = path.join(ws.dir, 'demo', 'second.db');
      writeDemoDatabase(second, [
        { id: 10, username: 'dave', password: 'dave-old-pass-10' },
        { id: 11, username: 'Robert', password: 'bob-other-pass' },
      ]);
      const r = await runCli(['import-seed-db', second, '--json'], env);
      assertExit(r, 0);
      assert.equal(r.stderr, '');
      const report = JSON.parse(r.stdout) as ImportReport;
      assert.equal(report.file, second);
      assert.equal(report.dryRun, false);
      assert.deepEqual([report.rows, report.imported, report.skipped, report.rejected], [2, 1, 1, 0]);
      assert.equal(report.users.imported[0]?.username, 'dave');
      assert.equal(report.users.imported[0].seedId, 10);
      assert.equal(typeof report.users.imported[0].id, 'number');
      assert.deepEqual(report.users.skipped, [
        {
          username: 'Robert',
          seedId: 11,
          reason: 'a user of this name already exists with another password hash; left unchanged',
        },
      ]);
      assert.deepEqual(report.users.rejected, []);
      // The existing Robert keeps his password; the other file's Robert does not get in.
      assertError(await login(app(), 'Robert', 'bob-other-pass'), 401, 'invalid_credentials');
      assertOk(await login(app(), 'dave', 'dave-old-pass-10'));
    });

    it('a name that clashes case-insensitively with an existing user is rejected', async () => {
      const third = path.join(ws.dir, 'demo', 'third.db');
      writeDemoDatabase(third, [{ id: 1, username: 'DAVE', password: 'another-dave-pass' }]);
      const r = await runCli(['import-seed-db', third], env);
      assertExit(r, 3);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), [
        'rejected "DAVE" (demo id 1): clashes case-insensitively with the existing user "dave"',
        '1 row(s): imported 0, skipped 0, rejected 1',
      ]);
    });

    it('each import writes an `import` audit event with counts only', async () => {
      const r = await runCli(['audit', '--json', '--event', 'import'], env);
      assertExit(r, 0);
      const events = r.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: string; userId: number | null; detail: unknown });
      assert.deepEqual(
        events.map((e) => e.detail),
        [
          {
            via: 'cli',
            file: path.join(ws.dir, 'demo', 'third.db'),
            rows: 1,
            imported: 0,
            skipped: 0,
            rejected: 1,
          },
          {
            via: 'cli',
            file: path.join(ws.dir, 'demo', 'second.db'),
            rows: 2,
            imported: 1,
            skipped: 1,
            rejected: 0,
          },
          { via: 'cli', file: seed, rows: 8, imported: 0, skipped: 3, rejected: 5 },
          { via: 'cli', file: seed, rows: 8, imported: 3, skipped: 0, rejected: 5 },
        ],
      );
      assert.ok(events.every((e) => e.event === 'import' && e.userId === null));
      assert.doesNotMatch(r.stdout, /pbkdf2|argon2|old-pass|other-pass|plaintext/i);
    });
  });
}

describe('import-seed-db refuses what is not the demo database', () => {
  let ws: CliWorkspace;

  before(() => {
    ws = makeWorkspace();
  });

  after(() => {
    ws.remove();
  });

  it('a missing file, a directory, a file that is not SQLite', async () => {
    const missing = path.join(ws.dir, 'nope.db');
    assertCleanFailure(await runCli(['import-seed-db', missing], ws.env), 1, `no such file: ${missing}`);
    assertCleanFailure(
      await runCli(['import-seed-db', ws.dir], ws.env),
      1,
      `${ws.dir} is a directory, not the demo's users.db`,
    );
    const text = path.join(ws.dir, 'users.txt');
    writeFileSync(text, 'id,username,password\n1,alice,secret\n'.repeat(50));
    assertCleanFailure(
      await runCli(['import-seed-db', text], ws.env),
      1,
      `cannot read ${text}: file is not a database`,
    );
  });

  it("a SQLite database without the demo's table or columns", async () => {
    const other = path.join(ws.dir, 'other.db');
    const db = new SQLite(other);
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password_hash TEXT)');
    db.close();
    assertCleanFailure(
      await runCli(['import-seed-db', other], ws.env),
      1,
      `${other} is not the Flask demo's database: it has no table "user"`,
    );
    const partial = path.join(ws.dir, 'partial.db');
    const db2 = new SQLite(partial);
    db2.exec('CREATE TABLE user (id INTEGER PRIMARY KEY, username VARCHAR(80))');
    db2.close();
    assertCleanFailure(
      await runCli(['import-seed-db', partial], ws.env),
      1,
      `${partial}: table "user" lacks the column(s) password`,
    );
    // Nothing was imported nor recorded.
    const audit = await runCli(['audit', '--event', 'import'], ws.env);
    assert.equal(audit.stdout, 'no matching audit events\n');
  });
});
