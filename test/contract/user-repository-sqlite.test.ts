import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { KyselyUserRepository } from '../../src/repositories/kysely-user-repository.js';
import { userRepositoryContract } from './user-repository-contract.js';

await userRepositoryContract('KyselyUserRepository on SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyward-repo-'));
  const database = openDatabase(`sqlite:${path.join(dir, 'users.db')}`);
  await migrateToLatest(database);
  return {
    users: new KyselyUserRepository(database.db),
    unreachable: async () => {
      // A database whose connection has been closed under the repository.
      const closed = openDatabase(`sqlite:${path.join(dir, 'closed.db')}`);
      await migrateToLatest(closed);
      await closed.close();
      return { users: new KyselyUserRepository(closed.db), close: async () => undefined };
    },
    cleanup: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
