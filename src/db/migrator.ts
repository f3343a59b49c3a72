import { Migrator, type MigrationResultSet } from 'kysely';
import { redactUrl } from '../redact-url.js';
import type { Database } from './database.js';
import { migrations } from './migrations.js';

/** Runs every pending migration; throws (so callers exit non-zero) when one fails. */
export async function migrateToLatest(database: Database): Promise<string[]> {
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations(database.dialect) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Checks that the database answers, then migrates: a database that is down is named (credentials masked) rather
 * than reported as a failed migration.
 */
export async function migrateReachable(database: Database, url: string): Promise<string[]> {
  await database.ping().catch((error: unknown) => {
    throw new Error(`cannot reach the database at ${redactUrl(url)}`, { cause: error });
  });
  return migrateToLatest(database);
}
