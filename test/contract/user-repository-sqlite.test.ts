import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { KyselyMailRepository } from '../../src/repositories/kysely-mail-repository.js';
import { KyselyUserRepository } from '../../src/repositories/kysely-user-repository.js';
import { userRepositoryContract } from './user-repository-contract.js';

/** The contract on SQLite, with or without the synchronous reader that the server gives its two look-ups. */
async function onSqlite(title: string, withReader: boolean): Promise<void> {
  await userRepositoryContract(title, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyward-repo-'));
    const database = openDatabase(`sqlite:${path.join(dir, 'users.db')}`);
    await migrateToLatest(database);
    const repository = (db: Database) =>
      new KyselyUserRepository(withReader ? db : { ...db, readRow: undefined });
    return {
      users: repository(database),
      mail: new KyselyMailRepository(database),
      unreachable: async () => {
        // A database whose connection has been closed under the repository.
        const closed = openDatabase(`sqlite:${path.join(dir, 'closed.db')}`);
        await migrateToLatest(closed);
        await closed.close();
        return {
          users: repository(closed),
          mail: new KyselyMailRepository(closed),
          close: async () => undefined,
        };
      },
      cleanup: async () => {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

await onSqlite('KyselyUserRepository on SQLite', false);
await onSqlite("KyselyUserRepository on SQLite, the look-ups on the database's synchronous reader", true);
