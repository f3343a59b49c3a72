import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { KyselyAuditRepository } from '../../src/repositories/kysely-audit-repository.js';
import { PRUNE_EVERY_MS } from '../../src/services/audit-log.js';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';

const skipPostgres = (await postgresUnavailable()) ?? false;
const DAY_MS = 86_400_000;

/** A fixed clock the test moves by hand. */
class Clock {
  private ms = Date.parse('2026-06-01T12:00:00.000Z');
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

const apps: TestApp[] = [];
const databases: TestDatabase[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  await Promise.all(databases.map((d) => d.drop()));
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(
    `audit retention (AUDIT_RETENTION_DAYS) on ${backend}`,
    { skip: backend === 'postgres' ? skipPostgres : false },
    () => {
      async function setup(env: Record<string, string> = {}) {
        const database = backend === 'postgres' ? await createTestDatabase() : undefined;
        if (database) databases.push(database);
        const clock = new Clock();
        const t = await makeApp(
          { ...env, ...(database ? { DATABASE_URL: database.url } : {}) },
          { now: clock.now },
        );
        apps.push(t);
        const repository = new KyselyAuditRepository(t.deps.database.db);
        const plant = async (ageDays: number, username: string) => {
          await repository.append(
            { event: 'login_failed', username },
            new Date(clock.now() - ageDays * DAY_MS),
          );
        };
        const names = async () =>
          (await t.deps.audit.recent(10_000)).flatMap((row) => (row.username === null ? [] : [row.username]));
        /** A request that records an event (a signup); then waits for the prune it may have started. */
        const signup = async () => {
          const res = await t.app.inject({
            method: 'POST',
            url: '/user',
            payload: { username: uniqueName('ret'), password: PASSWORD },
          });
          assert.equal(res.statusCode, 201, res.body);
          await t.deps.audit.settled();
        };
        return { t, clock, plant, names, signup };
      }

      it('events older than 90 days (the default) are deleted by the running server, younger ones kept', async () => {
        const { clock, plant, names, signup } = await setup();
        await plant(400, 'old-400');
        await plant(91, 'old-91');
        await plant(89, 'young-89');
        await plant(1, 'young-1');
        await signup();
        const kept = await names();
        assert.ok(kept.includes('young-89') && kept.includes('young-1'), kept.join());
        assert.ok(!kept.includes('old-400') && !kept.includes('old-91'), kept.join());

        // At most one pass an hour: an event that expires in the meantime waits for the next pass.
        await plant(95, 'old-between');
        clock.advance(PRUNE_EVERY_MS - 1000);
        await signup();
        assert.ok((await names()).includes('old-between'));
        clock.advance(1000);
        await signup();
        assert.ok(!(await names()).includes('old-between'));
        // Time passes: what was young expires.
        clock.advance(2 * DAY_MS);
        await signup();
        const later = await names();
        assert.ok(!later.includes('young-89') && later.includes('young-1'), later.join());
      });

      it('AUDIT_RETENTION_DAYS sets the age; a backlog beyond one batch is deleted in batches', async () => {
        const { plant, names, signup } = await setup({ AUDIT_RETENTION_DAYS: '7' });
        for (let i = 0; i < 2500; i += 1) await plant(8, 'backlog');
        await plant(6, 'six-days');
        await signup();
        const kept = await names();
        assert.ok(!kept.includes('backlog'));
        assert.ok(kept.includes('six-days'));
      });
    },
  );
}
