import { existsSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { DomainError } from '../errors.js';
import type { UserRepository } from '../repositories/user-repository.js';
import { legacyHashFromSeedBlob } from '../services/password-hasher.js';
import type { PasswordPolicy } from '../services/password-policy.js';
import { CliError } from './cli-error.js';
import { reasonOf } from './failure.js';

/** One row of the Flask demo's `user` table, as SQLite hands it over (its typing is dynamic). */
export interface SeedRow {
  id: unknown;
  username: unknown;
  password: unknown;
}

export interface SeedOutcome {
  /** The username as written in the demo's database. */
  username: string;
  seedId: number | null;
  reason: string;
}

export interface SeedImportReport {
  /** `id`: the new Keyward id (null in a dry run). */
  imported: { username: string; seedId: number | null; id: number | null }[];
  skipped: SeedOutcome[];
  rejected: SeedOutcome[];
}

const SALT_AND_KEY_BYTES = 64;

/** The rows of the demo's `user` table; a CliError when the file is missing or is not that database. */
export function readSeedRows(file: string): SeedRow[] {
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
  if (statSync(file).isDirectory()) throw new CliError(`${file} is a directory, not the demo's users.db`);
  let seed: SQLite.Database;
  try {
    seed = new SQLite(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CliError(`cannot open ${file}: ${reasonOf(error)}`, 1, { cause: error });
  }
  try {
    const columns = seed.prepare(`PRAGMA table_info("user")`).all() as { name: string }[];
    const names = new Set(columns.map((c) => c.name.toLowerCase()));
    if (columns.length === 0) {
      throw new CliError(`${file} is not the Flask demo's database: it has no table "user"`);
    }
    const missing = ['id', 'username', 'password'].filter((c) => !names.has(c));
    if (missing.length > 0) {
      throw new CliError(`${file}: table "user" lacks the column(s) ${missing.join(', ')}`);
    }
    return seed.prepare(`SELECT id, username, password FROM "user" ORDER BY id`).all() as SeedRow[];
  } catch (error) {
    if (error instanceof CliError) throw error;
    // SQLITE_NOTADB and friends: the file exists but is not a readable SQLite database.
    throw new CliError(`cannot read ${file}: ${reasonOf(error)}`, 1, { cause: error });
  } finally {
    seed.close();
  }
}

function seedIdOf(row: SeedRow): number | null {
  return typeof row.id === 'number' || typeof row.id === 'bigint' ? Number(row.id) : null;
}

/** A non-text username, described without dumping its bytes. */
function describeValue(value: unknown): string {
  if (value === null) return '<null>';
  if (Buffer.isBuffer(value)) return `<blob of ${value.length} bytes>`;
  // SQLite hands over only null, numbers, bigints, text and blobs.
  return typeof value === 'number' || typeof value === 'bigint' ? value.toString() : `<${typeof value}>`;
}

export interface SeedImportOptions {
  /** Decide every row as for a real import, but create nobody. */
  dryRun?: boolean;
}

/**
 * Imports the users read from the Flask demo's `users.db` (table `user`: id, username, password BLOB = 32-byte salt +
 * 32-byte PBKDF2-HMAC-SHA256 key). Hashes are kept as legacy PBKDF2 entries and upgraded to argon2id at each
 * user's next login. Usernames follow Keyward's rules (NFKC, case-insensitively unique); nothing is dropped
 * silently: every row is imported, skipped (a user of that very name exists) or rejected with a reason. Of two
 * rows whose names clash case-insensitively, the one with the lower demo id (the older account) is imported and
 * the other rejected. The demo's ids are not kept: Keyward assigns its own (the report maps them).
 */
export async function importSeedRows(
  rows: readonly SeedRow[],
  users: UserRepository,
  policy: PasswordPolicy,
  options: SeedImportOptions = {},
): Promise<SeedImportReport> {
  const report: SeedImportReport = { imported: [], skipped: [], rejected: [] };
  const seenInFile = new Map<string, { username: string; seedId: number | null }>();

  for (const row of rows) {
    const seedId = seedIdOf(row);
    if (typeof row.username !== 'string') {
      report.rejected.push({
        username: describeValue(row.username),
        seedId,
        reason: 'username is not text',
      });
      continue;
    }
    const username = row.username;
    const reject = (reason: string) => report.rejected.push({ username, seedId, reason });

    let name: { display: string; key: string };
    try {
      name = policy.checkUsername(username);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      reject(error.message);
      continue;
    }
    const earlier = seenInFile.get(name.key);
    if (earlier) {
      reject(
        `clashes case-insensitively with ${JSON.stringify(earlier.username)} (demo id ${String(earlier.seedId)}) in the same file`,
      );
      continue;
    }
    // Claimed even if this row turns out unusable: the clash is the operator's to settle either way.
    seenInFile.set(name.key, { username, seedId });

    if (!Buffer.isBuffer(row.password) || row.password.length !== SALT_AND_KEY_BYTES) {
      const got = Buffer.isBuffer(row.password)
        ? `${row.password.length} bytes`
        : `a value of type ${row.password === null ? 'null' : typeof row.password}`;
      reject(
        `malformed password: expected a ${SALT_AND_KEY_BYTES}-byte BLOB (salt + PBKDF2 key), got ${got}`,
      );
      continue;
    }
    const passwordHash = legacyHashFromSeedBlob(row.password);

    const existing = await users.findByUsernameKey(name.key);
    if (existing) {
      if (existing.username !== name.display) {
        reject(`clashes case-insensitively with the existing user ${JSON.stringify(existing.username)}`);
      } else if (existing.passwordHash === passwordHash) {
        report.skipped.push({ username, seedId, reason: 'already imported' });
      } else {
        // Imported earlier and upgraded at a login since, or another account of that name: either way the
        // account in Keyward is left as it is.
        report.skipped.push({
          username,
          seedId,
          reason: 'a user of this name already exists with another password hash; left unchanged',
        });
      }
      continue;
    }
    if (options.dryRun === true) {
      report.imported.push({ username: name.display, seedId, id: null });
      continue;
    }
    try {
      const user = await users.create({ username: name.display, usernameKey: name.key, passwordHash });
      report.imported.push({ username: user.username, seedId, id: user.id });
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'username_taken') throw error;
      report.skipped.push({ username, seedId, reason: 'created by someone else during the import' });
    }
  }
  return report;
}
