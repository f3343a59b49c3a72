import type { PoolClient } from 'pg';

/** At most this many distinct texts get a name; any further one runs unnamed (Keyward's own are far fewer). */
const MAX_NAMED_STATEMENTS = 128;

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Makes a pg pool client run every parameterised query (Kysely's, whose values are always parameters) as a named
 * prepared statement: pg then parses it once per connection and afterwards sends only Bind and Execute, where an
 * unnamed statement is parsed and planned again on every call (about half again as many user look-ups a second,
 * docs/performance-log.md). The names are shared by the pool's connections, one text per name, so that a
 * statement is prepared once on each connection. Queries without parameters (BEGIN, COMMIT, the migrations' DDL)
 * run as they are. Kysely reads none of the client's other methods, so only `query` is wrapped; this relies on pg
 * 8's `client.query(text, values, callback)` and `client.query({ name, text, values }, callback)`
 * (test/unit/library-pins.test.ts pins the version, the PostgreSQL contract suite the behaviour).
 */
export function nameStatements(client: Pick<PoolClient, 'query'>, names: Map<string, string>): void {
  const query = (client.query as Query).bind(client);
  const named: Query = (config, values, callback) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
      let name = names.get(config);
      if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
        name = `keyward_${names.size + 1}`;
        names.set(config, name);
      }
      if (name !== undefined) return query({ name, text: config, values }, callback);
    }
    return query(config, values, callback);
  };
  (client as { query: unknown }).query = named;
}
