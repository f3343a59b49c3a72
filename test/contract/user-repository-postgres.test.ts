// node:test's describe/it return promises that the runner itself awaits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { KyselyMailRepository } from '../../src/repositories/kysely-mail-repository.js';
import { KyselyUserRepository } from '../../src/repositories/kysely-user-repository.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { userRepositoryContract } from './user-repository-contract.js';

const unavailable = await postgresUnavailable();
const skip = unavailable ?? false;

await userRepositoryContract('KyselyUserRepository on PostgreSQL', async () => {
  if (unavailable !== undefined) return unavailable;
  const testDb = await createTestDatabase();
  const database = openDatabase(testDb.url);
  await migrateToLatest(database);
  return {
    users: new KyselyUserRepository(database),
    mail: new KyselyMailRepository(database),
    unreachable: async () => {
      const down = openDatabase('postgres://postgres@127.0.0.1:1/test');
      return {
        users: new KyselyUserRepository(down),
        mail: new KyselyMailRepository(down),
        close: () => down.close(),
      };
    },
    cleanup: async () => {
      await database.close();
      await testDb.drop();
    },
  };
});

describe('the database on PostgreSQL: migrations and prepared statements', () => {
  let testDb: TestDatabase;

  before(async () => {
    if (unavailable === undefined) testDb = await createTestDatabase();
  });

  after(async () => {
    if (unavailable === undefined) await testDb.drop();
  });

  it('two migrators started at once both succeed and apply each migration once', { skip }, async () => {
    const a = openDatabase(testDb.url);
    const b = openDatabase(testDb.url);
    try {
      const [ranA, ranB] = await Promise.all([migrateToLatest(a), migrateToLatest(b)]);
      const applied = [...ranA, ...ranB].sort();
      assert.deepEqual(applied, [
        '001_users',
        '002_audit_events',
        '003_audit_request_id',
        '005_email_accounts',
        '006_mfa_totp',
        '007_roles_users',
      ]);
      const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(a.db);
      assert.deepEqual(
        rows.rows.map((r) => r.name),
        [
          '001_users',
          '002_audit_events',
          '003_audit_request_id',
          '005_email_accounts',
          '006_mfa_totp',
          '007_roles_users',
        ],
      );
      assert.deepEqual(await migrateToLatest(b), [], 'a third run has nothing to do');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('ids come from an identity column that never reuses a value', { skip }, async () => {
    const database = openDatabase(testDb.url);
    try {
      await migrateToLatest(database);
      const column = await sql<{ is_identity: string; identity_generation: string }>`
        SELECT is_identity, identity_generation FROM information_schema.columns
        WHERE table_name = 'users' AND column_name = 'id'`.execute(database.db);
      assert.deepEqual(column.rows, [{ is_identity: 'YES', identity_generation: 'ALWAYS' }]);
    } finally {
      await database.close();
    }
  });

  /** The user look-up run twice on one connection, then what that connection holds as prepared statements. */
  async function preparedAfterLookups(
    preparedStatements: boolean,
  ): Promise<{ name: string; statement: string }[]> {
    const database = openDatabase(testDb.url, { preparedStatements });
    try {
      await migrateToLatest(database);
      const created = await new KyselyUserRepository(database).create({
        username: 'Prepared',
        usernameKey: `prepared-${String(preparedStatements)}`,
        passwordHash: 'not a real hash',
      });
      return await database.db.connection().execute(async (db) => {
        const users = new KyselyUserRepository({ ...database, db });
        assert.deepEqual(await users.findById(created.id), created);
        assert.deepEqual(
          await users.findById(created.id),
          created,
          'the second run of the prepared statement',
        );
        assert.equal(await users.findById(created.id + 1000), undefined);
        const held = await sql<{ name: string; statement: string }>`
          SELECT name, statement FROM pg_prepared_statements ORDER BY name`.execute(db);
        return held.rows;
      });
    } finally {
      await database.close();
    }
  }

  it(
    'by default each parameterised query is a named statement, parsed once per connection',
    { skip },
    async () => {
      const held = await preparedAfterLookups(true);
      const lookups = held.filter((s) =>
        /^select "id", "username", "email", "email_verified", "roles", "disabled", "mfa_enabled" from "users" where "id" = \$1$/.test(
          s.statement,
        ),
      );
      assert.equal(lookups.length, 1, JSON.stringify(held));
      assert.match(lookups[0]?.name ?? '', /^keyward_\d+$/);
      // The statement naming is the pool's: the query listing them has no parameters and stays unnamed.
      assert.ok(held.every((s) => s.name.startsWith('keyward_')));
    },
  );

  it(
    'with DATABASE_PREPARED_STATEMENTS=off nothing is prepared (a PgBouncer in transaction mode)',
    { skip },
    async () => {
      assert.deepEqual(await preparedAfterLookups(false), []);
    },
  );
});
