import path from 'node:path';
import { generateSecret } from 'otplib';
import { openDatabase } from '../../src/db/database.js';
import { KyselyUserRepository } from '../../src/repositories/kysely-user-repository.js';
import { loadDataKeyRing } from '../../src/services/data-key.js';
import type { TotpUser } from '../protocol.js';
import { BENCH_PASSWORD, benchUser } from '../seed.js';
import { currentStep } from '../totp.js';

/**
 * Creates users `first`… of a running (hence migrated and keyed) Keyward whose data directory is `dataDir`, with
 * TOTP on, through Keyward's own repository and data key in one transaction: the secret is encrypted under the
 * server's data key (DATA_DIR/keys) for the user's row, stored pending and then enabled, as setup and confirm
 * store it. A TOTP step logs a user in once, so the scenario needs about (logins per second × 30 s) users; turning
 * TOTP on over HTTP costs two argon2id verifications per user, which for thousands of users would take minutes.
 * Returns `perLoop` users per loop; each may use the current step first.
 */
export async function seedTotpUsers(
  dataDir: string,
  first: number,
  loops: number,
  perLoop: number,
  passwordHash: string,
): Promise<TotpUser[][]> {
  const keys = loadDataKeyRing({ keysDir: path.join(dataDir, 'keys'), generate: false });
  const database = openDatabase(`sqlite:${path.join(dataDir, 'users.db')}`);
  const all: TotpUser[] = [];
  const confirmedStep = currentStep() - 1;
  try {
    const created: { id: number; username: string }[] = [];
    await database.db.transaction().execute(async (db) => {
      // Kysely's queries only: the synchronous reader would read outside this transaction.
      const users = new KyselyUserRepository({ ...database, db, readRow: undefined });
      for (let i = 0; i < loops * perLoop; i++) {
        const username = benchUser(first + i);
        created.push(await users.create({ username, usernameKey: username, passwordHash }));
      }
    });
    // Each enable is a transaction of its own (the repository's), so these run after the users are committed.
    const users = new KyselyUserRepository({ ...database, readRow: undefined });
    for (const { id, username } of created) {
      const secret = generateSecret();
      const encrypted = keys.encrypt(secret, `totp:${id}`);
      if (!(await users.setPendingTotp(id, encrypted)) || !(await users.enableTotp(id, encrypted, []))) {
        throw new Error(`could not turn TOTP on for ${username}`);
      }
      all.push({ username, password: BENCH_PASSWORD, secret, confirmedStep });
    }
  } finally {
    await database.close();
  }
  return Array.from({ length: loops }, (_, loop) => all.slice(loop * perLoop, (loop + 1) * perLoop));
}
