import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Selectable } from 'kysely';
import { loadConfig } from '../../src/config.js';
import type { AuditEventTable } from '../../src/db/database.js';
import { createLogger } from '../../src/deps.js';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import { assertError, assertOk, sidOf, type Reply, type TokenBody, type UserBody } from './http-helpers.js';

const WRONG = 'not the right passphrase';
const NEW_PASSWORD = 'a brand new passphrase';
const logged: string[] = [];
/** Every password, token and hash the tests used; none may appear in a stored event or a log line. */
const secrets = new Set<string>([PASSWORD, WRONG, NEW_PASSWORD]);

const skipPostgres = (await postgresUnavailable()) ?? false;
const logger = createLogger(loadConfig({ LOG_LEVEL: 'info' }), {
  write(line: string) {
    logged.push(line);
  },
});

/** The app of the suite running now (the suites run one after the other, on SQLite and on PostgreSQL). */
let t: TestApp;

/** A stored row, as the database holds it. */
type Row = Selectable<AuditEventTable>;

/** The stored rows, as the database holds them. */
function allRows(): Promise<Row[]> {
  return t.deps.database.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
}

/** The one row of `event` for this user id (or, with `username`, for this submitted username). */
async function theRow(event: string, match: { userId?: number; username?: string }): Promise<Row> {
  const rows = (await allRows()).filter(
    (r) =>
      r.event === event &&
      (match.userId === undefined || r.user_id === match.userId) &&
      (match.username === undefined || r.username === match.username),
  );
  assert.equal(rows.length, 1, `expected one ${event} row for ${JSON.stringify(match)}, got ${rows.length}`);
  const row = rows[0] as Row;
  assert.ok(!Number.isNaN(Date.parse(row.at)), `at ${row.at} is not a time`);
  return row;
}

function detailOf(row: Row): unknown {
  return row.detail === null ? null : JSON.parse(row.detail);
}

/** Some events are recorded after the response (refresh reuse is reported by the session service). */
async function eventually(event: string, userId: number): Promise<Row> {
  for (let i = 0; i < 500; i += 1) {
    if ((await allRows()).some((r) => r.event === event && r.user_id === userId)) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return theRow(event, { userId });
}

function from(ip: string) {
  return { remoteAddress: ip };
}

async function signup(app: FastifyInstance, ip: string, username = uniqueName('audit')) {
  const res = await app.inject({
    method: 'POST',
    url: '/user',
    payload: { username, password: PASSWORD },
    ...from(ip),
  });
  assertOk(res, 201);
  const userId = res.json<UserBody>().user.id;
  const stored = await t.deps.users.findWithHashById(userId);
  assert.ok(stored);
  secrets.add(stored.passwordHash);
  return { username, userId };
}

async function loginFrom(username: string, password: string, ip: string): Promise<Reply> {
  return t.app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
    ...from(ip),
  });
}

async function session(username: string, ip: string): Promise<TokenBody> {
  const res = await loginFrom(username, PASSWORD, ip);
  assertOk(res);
  const body = res.json<TokenBody>();
  secrets.add(body.token);
  secrets.add(body.refresh_token);
  return body;
}

function authed(token: string, ip: string) {
  return { headers: { authorization: `Bearer ${token}` }, ...from(ip) };
}

/** The token a response hands on, remembered as a secret. */
function next(res: Reply): string {
  const token = res.json<{ token: string }>().token;
  secrets.add(token);
  return token;
}

async function assertNoSecretStored(): Promise<void> {
  const stored = JSON.stringify(await allRows());
  const log = logged.join('');
  assert.ok(
    logged.some((line) => line.includes('"audit"')),
    'audit events should be logged',
  );
  for (const secret of secrets) {
    // A token's signature (JWT) or MAC (refresh token) on its own too: the other parts, such as the session id,
    // are not secret and are recorded on purpose.
    const signature = secret.includes('.') ? secret.slice(secret.lastIndexOf('.') + 1) : '';
    for (const piece of signature.length >= 16 ? [secret, signature] : [secret]) {
      assert.ok(!stored.includes(piece), `a stored audit event contains a secret (${piece.slice(0, 12)}…)`);
      assert.ok(!log.includes(piece), `a log line contains a secret (${piece.slice(0, 12)}…)`);
    }
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(
    `audit events (SPEC §6) stored in audit_events on ${backend}`,
    {
      skip: backend === 'postgres' ? skipPostgres : false,
    },
    () => {
      let database: TestDatabase | undefined;
      before(async () => {
        database = backend === 'postgres' ? await createTestDatabase() : undefined;
        const env: Record<string, string> = database ? { DATABASE_URL: database.url } : {};
        t = await makeApp({ ...env, RATE_LIMIT: 'on', RATE_LIMIT_LOGIN_FAILURES: '2' }, { logger });
      });
      after(async () => {
        await t.close();
        await database?.drop();
      });

      it('signup: user id, username and IP', async () => {
        const u = await signup(t.app, '198.51.100.1');
        const row = await theRow('signup', { userId: u.userId });
        assert.deepEqual(
          { user_id: row.user_id, username: row.username, ip: row.ip, detail: row.detail },
          { user_id: u.userId, username: u.username, ip: '198.51.100.1', detail: null },
        );
        await assertNoSecretStored();
      });

      it('each event names the request that caused it: its id in the row and in the audit log line', async () => {
        const u = await signup(t.app, '198.51.100.30');
        // Over real HTTP, as a proxy would send it: a well-formed X-Request-Id is kept, a malformed one replaced.
        const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
        const loginOverHttp = (password: string, requestId: string) =>
          fetch(`${base}/authenticate_user`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': requestId },
            body: JSON.stringify({ username: u.username, password }),
          });
        const given = `audit-${u.userId}.req:1`;
        const ok = await loginOverHttp(PASSWORD, given);
        assert.equal(ok.status, 200);
        const body = (await ok.json()) as TokenBody;
        secrets.add(body.token);
        secrets.add(body.refresh_token);
        assert.equal(ok.headers.get('x-request-id'), given);
        assert.equal((await theRow('login_succeeded', { userId: u.userId })).request_id, given);

        const bad = await loginOverHttp(WRONG, 'not a valid id/with spaces');
        assert.equal(bad.status, 401);
        assert.equal(((await bad.json()) as { code: string }).code, 'invalid_credentials');
        const generated = bad.headers.get('x-request-id');
        assert.match(generated ?? '', /^[0-9a-f-]{36}$/);
        assert.equal((await theRow('login_failed', { userId: u.userId })).request_id, generated);

        const lines = logged
          .map((line) => JSON.parse(line) as { reqId?: string; audit?: { event: string; username?: string } })
          // The two suites share the log; usernames are unique across them, user ids are not.
          .filter((line) => line.audit?.username === u.username);
        assert.deepEqual(
          lines.map((line) => [line.audit?.event, line.reqId]),
          [
            ['signup', (await theRow('signup', { userId: u.userId })).request_id],
            ['login_succeeded', given],
            ['login_failed', generated],
          ],
        );
        assert.equal(typeof lines[0]?.reqId, 'string', 'the signup line has its request id too');
        await assertNoSecretStored();
      });

      it('login succeeded: user id, IP and the session id', async () => {
        const u = await signup(t.app, '198.51.100.2');
        const s = await session(u.username, '198.51.100.3');
        const row = await theRow('login_succeeded', { userId: u.userId });
        assert.equal(row.username, u.username);
        assert.equal(row.ip, '198.51.100.3');
        assert.deepEqual(detailOf(row), { sid: sidOf(s.token) });
        await assertNoSecretStored();
      });

      it('login failed: the reason (wrong password, unknown user, rate limited), never the password', async () => {
        const u = await signup(t.app, '198.51.100.4');
        assertError(await loginFrom(u.username, WRONG, '198.51.100.5'), 401, 'invalid_credentials');
        const wrong = await theRow('login_failed', { userId: u.userId });
        assert.deepEqual(
          { username: wrong.username, ip: wrong.ip, detail: detailOf(wrong) },
          { username: u.username, ip: '198.51.100.5', detail: { reason: 'wrong_password' } },
        );

        const ghost = uniqueName('ghost');
        assertError(await loginFrom(ghost, WRONG, '198.51.100.6'), 401, 'invalid_credentials');
        const unknown = await theRow('login_failed', { username: ghost });
        assert.deepEqual(
          { user_id: unknown.user_id, ip: unknown.ip, detail: detailOf(unknown) },
          { user_id: null, ip: '198.51.100.6', detail: { reason: 'unknown_user' } },
        );

        assertError(await loginFrom(u.username, WRONG, '198.51.100.5'), 401, 'invalid_credentials');
        const rows = (await allRows()).length;
        assertError(await loginFrom(u.username, PASSWORD, '198.51.100.5'), 429, 'rate_limited');
        // Refused by the limit: counted in metrics, no row.
        assert.equal((await allRows()).length, rows);
        await assertNoSecretStored();
      });

      it('logout: user id, IP and the session id', async () => {
        const u = await signup(t.app, '198.51.100.7');
        const s = await session(u.username, '198.51.100.7');
        assertOk(await t.app.inject({ method: 'POST', url: '/logout', ...authed(s.token, '198.51.100.8') }));
        const row = await theRow('logout', { userId: u.userId });
        assert.equal(row.ip, '198.51.100.8');
        assert.deepEqual(detailOf(row), { sid: sidOf(s.token) });
        await assertNoSecretStored();
      });

      it('logout_all: user id, IP and the number of sessions revoked', async () => {
        const u = await signup(t.app, '198.51.100.9');
        const s = await session(u.username, '198.51.100.9');
        await session(u.username, '198.51.100.9');
        await session(u.username, '198.51.100.9');
        const res = await t.app.inject({
          method: 'POST',
          url: '/logout_all',
          ...authed(s.token, '198.51.100.10'),
        });
        assert.deepEqual(res.json(), { message: 'Logged out of all sessions', revoked: 3 });
        const row = await theRow('logout_all', { userId: u.userId });
        assert.equal(row.ip, '198.51.100.10');
        assert.deepEqual(detailOf(row), { revoked: 3 });
        await assertNoSecretStored();
      });

      it('password change (and username change): user id, IP, sessions revoked; no password or hash', async () => {
        const u = await signup(t.app, '198.51.100.11');
        const s = await session(u.username, '198.51.100.11');
        await session(u.username, '198.51.100.11');
        const renamed = uniqueName('renamed');
        const res = await t.app.inject({
          method: 'PUT',
          url: '/user',
          payload: { username: renamed, password: NEW_PASSWORD, current_password: PASSWORD },
          ...authed(s.token, '198.51.100.12'),
        });
        assertOk(res);
        next(res);
        const stored = await t.deps.users.findWithHashById(u.userId);
        assert.ok(stored);
        secrets.add(stored.passwordHash);

        const changed = await theRow('password_changed', { userId: u.userId });
        assert.deepEqual(
          { username: changed.username, ip: changed.ip, detail: detailOf(changed) },
          { username: renamed, ip: '198.51.100.12', detail: { other_sessions_revoked: 1 } },
        );
        const rename = await theRow('username_changed', { userId: u.userId });
        assert.deepEqual(
          { username: rename.username, ip: rename.ip },
          { username: renamed, ip: '198.51.100.12' },
        );
        await assertNoSecretStored();
      });

      it('session revoked: user id, IP and which session', async () => {
        const u = await signup(t.app, '198.51.100.13');
        const s = await session(u.username, '198.51.100.13');
        const other = await session(u.username, '198.51.100.13');
        const res = await t.app.inject({
          method: 'DELETE',
          url: `/sessions/${sidOf(other.token)}`,
          ...authed(s.token, '198.51.100.14'),
        });
        assertOk(res);
        next(res);
        const row = await theRow('session_revoked', { userId: u.userId });
        assert.equal(row.ip, '198.51.100.14');
        assert.deepEqual(detailOf(row), { sid: sidOf(other.token), current: false });
        await assertNoSecretStored();
      });

      it('refresh reuse detected: user id, IP and the revoked session', async () => {
        const u = await signup(t.app, '198.51.100.15');
        const s = await session(u.username, '198.51.100.15');
        const rotate = (refreshToken: string) =>
          t.app.inject({
            method: 'POST',
            url: '/refresh_token',
            payload: { refresh_token: refreshToken },
            ...from('198.51.100.16'),
          });
        const first = await rotate(s.refresh_token);
        assertOk(first);
        const r1 = first.json<TokenBody>();
        const second = await rotate(r1.refresh_token);
        assertOk(second);
        for (const body of [r1, second.json<TokenBody>()]) {
          secrets.add(body.token);
          secrets.add(body.refresh_token);
        }
        // Two rotations ago: outside the grace for the one just rotated, so it is a reuse.
        assertError(await rotate(s.refresh_token), 401, 'invalid_refresh_token');
        const row = await eventually('refresh_reuse_detected', u.userId);
        assert.equal(row.ip, '198.51.100.16');
        assert.deepEqual(detailOf(row), { sid: sidOf(s.token) });
        await assertNoSecretStored();
      });

      it('account deleted: user id, username, IP and sessions revoked', async () => {
        const u = await signup(t.app, '198.51.100.17');
        const s = await session(u.username, '198.51.100.17');
        await session(u.username, '198.51.100.17');
        assertOk(await t.app.inject({ method: 'DELETE', url: '/user', ...authed(s.token, '198.51.100.18') }));
        const row = await theRow('account_deleted', { userId: u.userId });
        assert.deepEqual(
          { username: row.username, ip: row.ip, detail: detailOf(row) },
          { username: u.username, ip: '198.51.100.18', detail: { sessions_revoked: 2 } },
        );
        await assertNoSecretStored();
      });

      it('a submitted username with control characters is a plain 401, stored defanged and shortened', async () => {
        // PostgreSQL refuses a NUL in text: neither the user look-up nor the audit row may trip over it.
        const submitted = `ghost\u0000\n${'x'.repeat(200)}`;
        assertError(await loginFrom(submitted, WRONG, '198.51.100.19'), 401, 'invalid_credentials');
        const rows = (await allRows()).filter((r) => r.event === 'login_failed' && r.ip === '198.51.100.19');
        assert.equal(rows.length, 1);
        const stored = rows[0]?.username ?? '';
        assert.ok(stored.startsWith('ghost'), stored);
        assert.ok(stored.length <= 128, `stored ${stored.length} characters`);
        assert.doesNotMatch(stored, /\p{Cc}/u);
      });
    },
  );
}
