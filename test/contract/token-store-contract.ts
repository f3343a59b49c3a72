// node:test's describe/it return promises that the runner itself awaits.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, describe, it as nodeIt } from 'node:test';
import {
  MAX_TOKENS_PER_SESSION,
  type SessionGeneration,
  type SessionPolicy,
  type TokenGrant,
  type TokenRef,
  type TokenStore,
} from '../../src/stores/token-store.js';

/** The policy every store under contract must be built with. */
export const contractPolicy: SessionPolicy = {
  idleTtlMs: 60 * 60_000,
  maxTtlMs: 3 * 60 * 60_000,
  refreshReuseWindowMs: 10_000,
};

const ACCESS_TTL_MS = 35 * 60_000;
const { idleTtlMs: IDLE, maxTtlMs: MAX, refreshReuseWindowMs: WINDOW } = contractPolicy;

export interface StoreUnderTest {
  store: TokenStore;
  cleanup: () => Promise<void>;
}

/** Makes the store to test with `policy`, or returns why it cannot (the suite is then skipped, visibly). */
export type MakeStore = (policy: SessionPolicy) => Promise<StoreUnderTest | string>;

/** A user id no other test (or concurrent run against the same Redis) uses. */
export function uniqueUserId(): number {
  return randomInt(1_000_000_000, 2 ** 47);
}

function id(): string {
  return randomBytes(12).toString('base64url');
}

function grant(now: number, ttlMs = ACCESS_TTL_MS): TokenGrant {
  return { jti: id(), expiresAt: now + ttlMs };
}

interface Login {
  userId: number;
  sid: string;
  token: TokenRef & TokenGrant;
}

async function login(
  store: TokenStore,
  now: number,
  options: { userId?: number; tokenTtlMs?: number; userAgent?: string; ip?: string } = {},
): Promise<Login> {
  const userId = options.userId ?? uniqueUserId();
  const sid = id();
  const first = grant(now, options.tokenTtlMs);
  const created = await store.createSession(
    {
      userId,
      sid,
      userAgent: options.userAgent ?? 'contract-test',
      ip: options.ip ?? '192.0.2.1',
      token: first,
      generation: await store.generation(userId, now),
    },
    now,
  );
  assert.equal(created, true, 'a session created with the current generation');
  return { userId, sid, token: { userId, sid, ...first } };
}

/** Creates a session with a generation read earlier (a login whose credential check began before now). */
async function lateLogin(
  store: TokenStore,
  userId: number,
  generation: SessionGeneration,
  now: number,
): Promise<{ created: boolean; session: Login }> {
  const sid = id();
  const first = grant(now);
  const created = await store.createSession(
    { userId, sid, userAgent: 'late', ip: '192.0.2.2', token: first, generation },
    now,
  );
  return { created, session: { userId, sid, token: { userId, sid, ...first } } };
}

/** The next token of `session`, for consume/refresh. */
function successor(session: Login, now: number, ttlMs = ACCESS_TTL_MS): TokenRef & TokenGrant {
  return { userId: session.userId, sid: session.sid, ...grant(now, ttlMs) };
}

/**
 * Registers the TokenStore contract (SPEC §3) as a node:test suite named `name`. Awaits `makeStore` first so
 * that an unavailable backend skips every test visibly, with the reason, instead of failing each one.
 */
export async function tokenStoreContract(name: string, makeStore: MakeStore): Promise<void> {
  const made = await makeStore(contractPolicy);
  // Each test is skipped (rather than the suite) so that the runner's skipped count tells how much did not run.
  const skip = typeof made === 'string' ? made : false;
  const it = (behaviour: string, fn: () => Promise<void>) => nodeIt(behaviour, { skip }, fn);

  describe(name, () => {
    const storeOf = (): TokenStore => {
      if (typeof made === 'string') throw new Error(made);
      return made.store;
    };

    after(async () => {
      if (typeof made !== 'string') await made.cleanup();
    });

    describe('createSession', () => {
      it('a new session is listed with its metadata', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { userAgent: 'Mozilla/5.0 (X11)', ip: '2001:db8::1' });
        assert.deepEqual(await store.listSessions(s.userId, t0), [
          { id: s.sid, createdAt: t0, lastUsedAt: t0, userAgent: 'Mozilla/5.0 (X11)', ip: '2001:db8::1' },
        ]);
      });

      it('the first token of a new session is accepted', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.equal(await store.check(s.token, t0 + 1), true);
      });

      it('sessions are listed oldest first', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const b = await login(store, t0 + 20, { userId });
        const a = await login(store, t0, { userId });
        const c = await login(store, t0 + 40, { userId });
        const listed = await store.listSessions(userId, t0 + 50);
        assert.deepEqual(
          listed.map((s) => s.id),
          [a.sid, b.sid, c.sid],
        );
      });

      it('an empty user agent and ip are kept as given', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { userAgent: '', ip: '' });
        const [listed] = await store.listSessions(s.userId, t0);
        assert.ok(listed);
        assert.equal(listed.userAgent, '');
        assert.equal(listed.ip, '');
      });

      it("a user's sessions are not listed for another user", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const other = await login(store, t0);
        assert.deepEqual(
          (await store.listSessions(s.userId, t0)).map((x) => x.id),
          [s.sid],
        );
        assert.deepEqual(
          (await store.listSessions(other.userId, t0)).map((x) => x.id),
          [other.sid],
        );
      });
    });

    describe('consume', () => {
      it('consuming a token allows its successor and touches the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0 + 1000);
        assert.equal(await store.consume(s.token, next, t0 + 1000), true);
        assert.equal((await store.listSessions(s.userId, t0 + 1000))[0]?.lastUsedAt, t0 + 1000);
        assert.equal(await store.consume(next, successor(s, t0 + 2000), t0 + 2000), true);
      });

      it('a consumed token cannot be consumed again', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.equal(await store.consume(s.token, successor(s, t0), t0), true);
        assert.equal(await store.consume(s.token, successor(s, t0), t0), false);
        assert.equal(await store.check(s.token, t0), false);
      });

      it('of 20 concurrent consumes exactly one succeeds', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const nexts = Array.from({ length: 20 }, () => successor(s, t0 + 5));
        const results = await Promise.all(nexts.map((next) => store.consume(s.token, next, t0 + 5)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        const live = await Promise.all(nexts.map((next) => store.check(next, t0 + 6)));
        assert.deepEqual(
          live,
          nexts.map((_, i) => i === winner),
        );
      });

      it('a token is accepted until just before its expiry and rejected at it', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const expiresAt = s.token.expiresAt;
        assert.equal(await store.check(s.token, expiresAt - 1), true);
        assert.equal(await store.consume(s.token, successor(s, expiresAt), expiresAt), false);
        assert.equal(await store.check(s.token, expiresAt - 1), false, 'an expired token is forgotten');
      });

      it('a token of another user id is rejected and stays usable by its owner', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const other = await login(store, t0);
        const forged = { ...s.token, userId: other.userId };
        assert.equal(await store.check(forged, t0), false);
        assert.equal(await store.consume(forged, successor(other, t0), t0), false);
        assert.equal(await store.endSession(forged, t0), false);
        assert.equal(await store.consume(s.token, successor(s, t0), t0), true);
      });

      it('a token of another session id is rejected and stays usable in its session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const s = await login(store, t0, { userId });
        const sibling = await login(store, t0, { userId });
        const forged = { ...s.token, sid: sibling.sid };
        assert.equal(await store.check(forged, t0), false);
        assert.equal(await store.consume(forged, successor(sibling, t0), t0), false);
        assert.equal(await store.endSession(forged, t0), false);
        assert.equal((await store.listSessions(userId, t0)).length, 2);
        assert.equal(await store.consume(s.token, successor(s, t0), t0), true);
      });

      it('an unknown jti is rejected', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const unknown = { ...s.token, jti: id() };
        assert.equal(await store.check(unknown, t0), false);
        assert.equal(await store.consume(unknown, successor(s, t0), t0), false);
      });

      it('a token of an unknown session is rejected', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const ref = { userId: uniqueUserId(), sid: id(), jti: id() };
        assert.equal(await store.check(ref, t0), false);
        assert.equal(await store.consume(ref, grant(t0), t0), false);
        assert.equal(await store.endSession(ref, t0), false);
      });

      it('a successor that is already expired is not accepted', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0, 0);
        assert.equal(await store.consume(s.token, next, t0), true);
        assert.equal(await store.check(next, t0), false);
      });
    });

    describe('check', () => {
      it('check does not consume', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.equal(await store.check(s.token, t0), true);
        assert.equal(await store.check(s.token, t0 + 1), true);
        assert.equal(await store.consume(s.token, successor(s, t0 + 2), t0 + 2), true);
      });

      it('check touches the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { tokenTtlMs: MAX });
        assert.equal(await store.check(s.token, t0 + IDLE - 1), true);
        assert.equal((await store.listSessions(s.userId, t0 + IDLE - 1))[0]?.lastUsedAt, t0 + IDLE - 1);
        assert.equal(
          await store.check(s.token, t0 + IDLE + 1),
          true,
          'the idle clock restarted at the last use',
        );
      });
    });

    describe('session lifetime', () => {
      it('idle ttl expires a session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { tokenTtlMs: MAX });
        assert.equal(await store.check(s.token, t0 + IDLE), false);
        assert.equal(await store.consume(s.token, successor(s, t0 + IDLE), t0 + IDLE), false);
      });

      it('an expired session is not listed', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const idle = await login(store, t0, { userId });
        const used = await login(store, t0, { userId, tokenTtlMs: MAX });
        assert.equal(await store.check(used.token, t0 + IDLE / 2), true);
        assert.deepEqual(
          (await store.listSessions(userId, t0 + IDLE - 1)).map((x) => x.id).sort(),
          [idle.sid, used.sid].sort(),
        );
        assert.deepEqual(
          (await store.listSessions(userId, t0 + IDLE)).map((x) => x.id),
          [used.sid],
        );
      });

      it('max ttl expires a session even if used', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { tokenTtlMs: 2 * MAX });
        for (let t = t0 + IDLE / 2; t < t0 + MAX; t += IDLE / 2) {
          assert.equal(await store.check(s.token, t), true, `in use at +${t - t0} ms`);
        }
        assert.equal(await store.check(s.token, t0 + MAX - 1), true);
        assert.equal(await store.check(s.token, t0 + MAX), false);
        assert.deepEqual(await store.listSessions(s.userId, t0 + MAX), []);
      });

      it('a live token of an expired session is rejected', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { tokenTtlMs: 2 * MAX });
        assert.equal(await store.check(s.token, t0 + IDLE + 1), false);
        assert.equal(await store.check(s.token, t0 + 1), false, 'an expired session is forgotten');
      });
    });

    describe('endSession', () => {
      it('endSession revokes the session and all its tokens', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0);
        assert.equal(await store.consume(s.token, next, t0), true);
        const refreshed = successor(s, t0 + 1);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, refreshed, t0 + 1), {
          status: 'rotated',
          counter: 1,
        });
        assert.equal(await store.endSession(next, t0 + 2), true);
        assert.equal(await store.check(next, t0 + 2), false);
        assert.equal(await store.check(refreshed, t0 + 2), false);
        assert.deepEqual(await store.listSessions(s.userId, t0 + 2), []);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 1, successor(s, t0 + 3), t0 + 3), {
          status: 'invalid',
        });
      });

      it('endSession requires a live token', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0);
        assert.equal(await store.consume(s.token, next, t0), true);
        assert.equal(await store.endSession(s.token, t0), false, 'a consumed token');
        assert.equal(await store.endSession({ ...next, jti: id() }, t0), false, 'an unknown token');
        assert.equal(await store.endSession(next, next.expiresAt), false, 'an expired token');
        assert.deepEqual(
          (await store.listSessions(s.userId, t0)).map((x) => x.id),
          [s.sid],
        );
      });

      it('endSession with a token of an expired session returns false', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0, { tokenTtlMs: 2 * MAX });
        assert.equal(await store.endSession(s.token, t0 + IDLE), false);
      });

      it("endSession leaves the user's other sessions alone", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const a = await login(store, t0, { userId });
        const b = await login(store, t0 + 1, { userId });
        assert.equal(await store.endSession(a.token, t0 + 2), true);
        assert.equal(await store.check(b.token, t0 + 2), true);
        assert.deepEqual(
          (await store.listSessions(userId, t0 + 2)).map((x) => x.id),
          [b.sid],
        );
      });
    });

    describe('refresh', () => {
      it('refresh with the current counter rotates and allows the next token', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0 + 100);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, next, t0 + 100), {
          status: 'rotated',
          counter: 1,
        });
        assert.equal(await store.check(next, t0 + 100), true);
        assert.equal((await store.listSessions(s.userId, t0 + 100))[0]?.lastUsedAt, t0 + 100);
        assert.equal(
          await store.check(s.token, t0 + 100),
          true,
          'refresh does not revoke older access tokens',
        );
      });

      it('each rotation advances the counter by one', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        for (let counter = 0; counter < 5; counter += 1) {
          const t = t0 + counter * 2 * WINDOW;
          assert.deepEqual(await store.refresh(s.userId, s.sid, counter, successor(s, t), t), {
            status: 'rotated',
            counter: counter + 1,
          });
        }
      });

      it('refresh within the window returns the same successor', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, successor(s, t0 + 1), t0 + 1), {
          status: 'rotated',
          counter: 1,
        });
        const graceToken = successor(s, t0 + 1 + WINDOW / 2);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, graceToken, t0 + 1 + WINDOW / 2), {
          status: 'grace',
          counter: 1,
        });
        assert.equal(await store.check(graceToken, t0 + 1 + WINDOW / 2), true);
        assert.deepEqual(
          await store.refresh(s.userId, s.sid, 0, successor(s, t0 + 1 + WINDOW), t0 + 1 + WINDOW),
          { status: 'grace', counter: 1 },
          'the window includes its last millisecond',
        );
        assert.deepEqual(
          await store.refresh(s.userId, s.sid, 1, successor(s, t0 + 2 + WINDOW), t0 + 2 + WINDOW),
          {
            status: 'rotated',
            counter: 2,
          },
        );
      });

      it('the reuse window counts from the last rotation, not from grace', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.refresh(s.userId, s.sid, 0, successor(s, t0), t0);
        await store.refresh(s.userId, s.sid, 0, successor(s, t0 + WINDOW), t0 + WINDOW);
        assert.deepEqual(
          await store.refresh(s.userId, s.sid, 0, successor(s, t0 + WINDOW + 1), t0 + WINDOW + 1),
          {
            status: 'reuse',
          },
        );
      });

      it('refresh reuse after the window revokes the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const rotated = successor(s, t0);
        await store.refresh(s.userId, s.sid, 0, rotated, t0);
        const late = successor(s, t0 + WINDOW + 1);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, late, t0 + WINDOW + 1), { status: 'reuse' });
        assert.equal(await store.check(late, t0 + WINDOW + 1), false, 'no token is issued on reuse');
        assert.equal(await store.check(rotated, t0 + WINDOW + 1), false);
        assert.equal(await store.check(s.token, t0 + WINDOW + 1), false);
        assert.deepEqual(await store.listSessions(s.userId, t0 + WINDOW + 1), []);
        assert.deepEqual(
          await store.refresh(s.userId, s.sid, 1, successor(s, t0 + WINDOW + 2), t0 + WINDOW + 2),
          {
            status: 'invalid',
          },
        );
      });

      it('an older refresh counter revokes the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.refresh(s.userId, s.sid, 0, successor(s, t0), t0);
        await store.refresh(s.userId, s.sid, 1, successor(s, t0 + 1), t0 + 1);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, successor(s, t0 + 2), t0 + 2), {
          status: 'reuse',
        });
        assert.deepEqual(await store.listSessions(s.userId, t0 + 2), []);
        assert.equal(await store.check(s.token, t0 + 2), false);
      });

      it('a counter the server never issued is invalid and keeps the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const next = successor(s, t0);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 1, next, t0), { status: 'invalid' });
        assert.deepEqual(await store.refresh(s.userId, s.sid, 7, next, t0), { status: 'invalid' });
        assert.equal(await store.check(next, t0), false, 'no token is issued when invalid');
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, next, t0), {
          status: 'rotated',
          counter: 1,
        });
      });

      it('refresh of an unknown session or of another user is invalid', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const other = uniqueUserId();
        assert.deepEqual(await store.refresh(s.userId, id(), 0, successor(s, t0), t0), { status: 'invalid' });
        assert.deepEqual(await store.refresh(other, s.sid, 0, grant(t0), t0), { status: 'invalid' });
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, successor(s, t0), t0), {
          status: 'rotated',
          counter: 1,
        });
      });

      it('refresh of an expired session is invalid', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.deepEqual(await store.refresh(s.userId, s.sid, 0, successor(s, t0 + IDLE), t0 + IDLE), {
          status: 'invalid',
        });
      });

      it('refresh touches the session', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.refresh(s.userId, s.sid, 0, successor(s, t0 + IDLE - 1), t0 + IDLE - 1);
        assert.deepEqual(
          await store.refresh(s.userId, s.sid, 1, successor(s, t0 + IDLE + 1), t0 + IDLE + 1),
          {
            status: 'rotated',
            counter: 2,
          },
        );
      });

      it('of 10 concurrent refreshes with one counter exactly one rotates and the rest get grace', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () => store.refresh(s.userId, s.sid, 0, successor(s, t0 + 1), t0 + 1)),
        );
        assert.equal(outcomes.filter((o) => o.status === 'rotated').length, 1);
        assert.equal(outcomes.filter((o) => o.status === 'grace').length, 9);
        for (const o of outcomes) assert.equal('counter' in o ? o.counter : undefined, 1);
      });
    });

    describe('revokeSession', () => {
      it('revoking a session kills all its tokens', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const consumed = successor(s, t0);
        await store.consume(s.token, consumed, t0);
        const refreshed = successor(s, t0);
        await store.refresh(s.userId, s.sid, 0, refreshed, t0);
        assert.equal(await store.revokeSession(s.userId, s.sid, t0 + 1), true);
        assert.equal(await store.check(consumed, t0 + 1), false);
        assert.equal(await store.check(refreshed, t0 + 1), false);
        assert.equal(await store.consume(refreshed, successor(s, t0 + 1), t0 + 1), false);
        assert.deepEqual(await store.listSessions(s.userId, t0 + 1), []);
      });

      it('revoking a session twice returns false the second time', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.equal(await store.revokeSession(s.userId, s.sid, t0), true);
        assert.equal(await store.revokeSession(s.userId, s.sid, t0), false);
      });

      it("revoking an unknown session or another user's session returns false and changes nothing", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const intruder = await login(store, t0);
        assert.equal(await store.revokeSession(s.userId, id(), t0), false);
        assert.equal(await store.revokeSession(intruder.userId, s.sid, t0), false);
        assert.equal(await store.check(s.token, t0), true);
        assert.equal((await store.listSessions(s.userId, t0)).length, 1);
      });

      it('revoking an expired session returns false', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        assert.equal(await store.revokeSession(s.userId, s.sid, t0 + IDLE), false);
        assert.equal(await store.check(s.token, t0 + 1), false);
      });

      it("revoking a session leaves the user's other sessions alone", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const a = await login(store, t0, { userId });
        const b = await login(store, t0 + 1, { userId });
        assert.equal(await store.revokeSession(userId, a.sid, t0 + 2), true);
        assert.equal(await store.check(b.token, t0 + 2), true);
        assert.deepEqual(
          (await store.listSessions(userId, t0 + 2)).map((x) => x.id),
          [b.sid],
        );
      });
    });

    describe('revokeUserSessions', () => {
      it('revokeUserSessions counts live sessions', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        await login(store, t0, { userId });
        const b = await login(store, t0, { userId, tokenTtlMs: MAX });
        const c = await login(store, t0, { userId, tokenTtlMs: MAX });
        await store.check(b.token, t0 + IDLE / 2);
        await store.check(c.token, t0 + IDLE / 2);
        assert.equal(await store.revokeUserSessions(userId, t0 + IDLE), 2);
        assert.equal(await store.check(b.token, t0 + IDLE), false);
        assert.equal(await store.check(c.token, t0 + IDLE), false);
        assert.deepEqual(await store.listSessions(userId, t0 + IDLE), []);
        assert.equal(await store.revokeUserSessions(userId, t0 + IDLE), 0);
      });

      it('revokeUserSessions of a user without sessions returns 0', async () => {
        const store = storeOf();
        assert.equal(await store.revokeUserSessions(uniqueUserId(), Date.now()), 0);
      });

      it("revokeUserSessions leaves other users' sessions alone", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const other = await login(store, t0);
        assert.equal(await store.revokeUserSessions(s.userId, t0), 1);
        assert.equal(await store.check(other.token, t0), true);
        assert.equal((await store.listSessions(other.userId, t0)).length, 1);
      });

      it('a session created after revokeUserSessions works', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.revokeUserSessions(s.userId, t0);
        const again = await login(store, t0 + 1, { userId: s.userId });
        assert.equal(await store.check(again.token, t0 + 1), true);
        assert.equal(await store.check(s.token, t0 + 1), false);
        assert.deepEqual(
          (await store.listSessions(s.userId, t0 + 1)).map((x) => x.id),
          [again.sid],
        );
      });
    });

    describe('fences (SPEC §8)', () => {
      it('a session based on a generation read before revokeUserSessions is refused and leaves nothing', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const generation = await store.generation(userId, t0);
        await store.revokeUserSessions(userId, t0 + 1);
        const late = await lateLogin(store, userId, generation, t0 + 2);
        assert.equal(late.created, false);
        assert.equal(await store.check(late.session.token, t0 + 3), false);
        assert.equal(await store.consume(late.session.token, successor(late.session, t0 + 3), t0 + 3), false);
        assert.deepEqual(
          await store.refresh(userId, late.session.sid, 0, successor(late.session, t0 + 3), t0 + 3),
          {
            status: 'invalid',
          },
        );
        assert.deepEqual(await store.listSessions(userId, t0 + 3), []);
      });

      it('a session created before the fence is revoked by it', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const generation = await store.generation(userId, t0);
        const early = await lateLogin(store, userId, generation, t0 + 1);
        assert.equal(early.created, true);
        assert.equal(await store.revokeUserSessions(userId, t0 + 2), 1);
        assert.equal(await store.check(early.session.token, t0 + 3), false);
        assert.deepEqual(await store.listSessions(userId, t0 + 3), []);
      });

      it('a login that reads the generation after the fence works', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        await store.revokeUserSessions(userId, t0);
        const after = await lateLogin(store, userId, await store.generation(userId, t0 + 1), t0 + 1);
        assert.equal(after.created, true);
        assert.equal(await store.check(after.session.token, t0 + 2), true);
      });

      it('every fence moves the generation on', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const seen = new Set([await store.generation(userId, t0)]);
        for (let i = 1; i <= 3; i += 1) {
          await store.revokeUserSessions(userId, t0 + i, i === 2 ? { except: id() } : {});
          seen.add(await store.generation(userId, t0 + i));
        }
        assert.equal(seen.size, 4);
      });

      it('a fence that keeps one session refuses stale logins and revokes the others', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const keep = await login(store, t0, { userId });
        const other = await login(store, t0 + 1, { userId });
        const generation = await store.generation(userId, t0 + 2);
        assert.equal(await store.revokeUserSessions(userId, t0 + 3, { except: keep.sid }), 1);
        assert.equal(await store.check(other.token, t0 + 4), false);
        assert.equal(await store.consume(keep.token, successor(keep, t0 + 4), t0 + 4), true);
        assert.equal((await lateLogin(store, userId, generation, t0 + 5)).created, false);
        assert.deepEqual(
          (await store.listSessions(userId, t0 + 5)).map((x) => x.id),
          [keep.sid],
        );
      });

      it('revoking without a fence (a new account) revokes but keeps the generation', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const userId = uniqueUserId();
        const stale = await login(store, t0, { userId });
        const generation = await store.generation(userId, t0 + 1);
        assert.equal(await store.revokeUserSessions(userId, t0 + 2, { fence: false }), 1);
        assert.equal(await store.check(stale.token, t0 + 3), false);
        assert.equal(await store.generation(userId, t0 + 3), generation);
        assert.equal((await lateLogin(store, userId, generation, t0 + 3)).created, true);
      });

      it("a fence leaves other users' logins alone", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const fenced = uniqueUserId();
        const bystander = uniqueUserId();
        const generation = await store.generation(bystander, t0);
        await store.revokeUserSessions(fenced, t0 + 1);
        assert.equal((await lateLogin(store, bystander, generation, t0 + 2)).created, true);
      });
    });

    describe(`at most ${MAX_TOKENS_PER_SESSION} live access tokens per session (SPEC §8)`, () => {
      it('after 20 refreshes only the newest tokens work, the oldest fail', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const issued: (TokenRef & TokenGrant)[] = [s.token];
        for (let counter = 0; counter < 20; counter += 1) {
          const t = t0 + counter * 2 * WINDOW;
          const next = successor(s, t);
          assert.deepEqual(await store.refresh(s.userId, s.sid, counter, next, t), {
            status: 'rotated',
            counter: counter + 1,
          });
          issued.push(next);
        }
        const t = t0 + 40 * WINDOW;
        const live = await Promise.all(issued.map((token) => store.check(token, t)));
        assert.deepEqual(
          live,
          issued.map((_, i) => i >= issued.length - MAX_TOKENS_PER_SESSION),
        );
      });

      it('replays inside the reuse window are bounded too', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.refresh(s.userId, s.sid, 0, successor(s, t0), t0);
        const replays: (TokenRef & TokenGrant)[] = [];
        for (let i = 0; i < MAX_TOKENS_PER_SESSION + 4; i += 1) {
          const next = successor(s, t0 + 1);
          assert.deepEqual(await store.refresh(s.userId, s.sid, 0, next, t0 + 1), {
            status: 'grace',
            counter: 1,
          });
          replays.push(next);
        }
        const live = await Promise.all(replays.map((token) => store.check(token, t0 + 2)));
        assert.equal(live.filter(Boolean).length, MAX_TOKENS_PER_SESSION);
        assert.deepEqual(live.slice(-MAX_TOKENS_PER_SESSION), Array(MAX_TOKENS_PER_SESSION).fill(true));
        assert.equal(await store.check(s.token, t0 + 2), false, 'the login token was the oldest');
      });

      it("consuming a token frees its place: another client's token outlives many renewals", async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        const held = successor(s, t0);
        await store.refresh(s.userId, s.sid, 0, held, t0);
        let current: TokenRef & TokenGrant = s.token;
        for (let i = 1; i <= 3 * MAX_TOKENS_PER_SESSION; i += 1) {
          const next = successor(s, t0 + i);
          assert.equal(await store.consume(current, next, t0 + i), true);
          current = next;
        }
        assert.equal(await store.check(held, t0 + 100), true);
        assert.equal(await store.check(current, t0 + 100), true);
      });
    });

    describe('listSessions', () => {
      it('a user without sessions has an empty list', async () => {
        const store = storeOf();
        assert.deepEqual(await store.listSessions(uniqueUserId(), Date.now()), []);
      });

      it('listing does not touch sessions', async () => {
        const store = storeOf();
        const t0 = Date.now();
        const s = await login(store, t0);
        await store.listSessions(s.userId, t0 + IDLE - 1);
        assert.equal(await store.check(s.token, t0 + IDLE), false);
      });
    });

    describe('ping', () => {
      it('ping resolves while the store is reachable', async () => {
        await storeOf().ping();
      });
    });
  });
}
