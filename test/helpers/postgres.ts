import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { POSTGRES_URL } from './services.js';
import { inCi } from './ci.js';

/**
 * Resolves to undefined when PostgreSQL answers; otherwise to a skip reason outside CI, and throws when
 * CI is set, where a missing service must fail the run rather than skip it.
 */
export async function postgresUnavailable(url = POSTGRES_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    const reason = `PostgreSQL not reachable at ${url}: ${(error as Error).message}`;
    if (inCi) throw new Error(`${reason} (CI is set: a missing service fails the run)`);
    console.warn(`WARNING: skipping, ${reason}`);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  /** `postgres://…/kw_test_<random>`: a database nobody else uses. */
  url: string;
  name: string;
  /** Drops the database, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database `kw_test_<random>` on the test server; drop it when done. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `kw_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
