import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimitedError, RateLimiter } from '../../src/services/rate-limiter.js';
import { MemoryRateLimitStore } from '../../src/stores/memory-rate-limit-store.js';

const WINDOW_SEC = 900;
const ATTACKER = '203.0.113.66';

function limiter(store: MemoryRateLimitStore, limits: { loginFailures?: number; loginPerIp?: number } = {}) {
  let ms = Date.parse('2026-06-01T00:00:00Z');
  const rateLimiter = new RateLimiter({
    store,
    enabled: true,
    loginFailures: limits.loginFailures ?? 3,
    loginPerIp: limits.loginPerIp ?? 1_000_000_000,
    signupPerIp: 20,
    mfaPerUser: 10,
    recoveryPerAccount: 5,
    recoveryPerIp: 20,
    windowSec: WINDOW_SEC,
    now: () => ms,
    onReject: () => undefined,
  });
  return { rateLimiter, advance: (sec: number) => (ms += sec * 1000) };
}

async function isLimited(attempt: Promise<unknown>): Promise<boolean> {
  try {
    await attempt;
    return false;
  } catch (error) {
    if (error instanceof RateLimitedError) return true;
    throw error;
  }
}

/** Three wrong passwords for `victim` from the attacker's IP: the fourth attempt is refused. */
async function lockOut(rateLimiter: RateLimiter, victim: string): Promise<void> {
  for (let i = 0; i < 3; i += 1) await (await rateLimiter.beginLogin(victim, ATTACKER)).failed();
  assert.equal(await isLimited(rateLimiter.beginLogin(victim, ATTACKER)), true);
}

describe('the memory rate-limit store under a key spray', () => {
  it("a victim's lockout survives abandoned attempts for other names from the same IP", async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 10_000 });
    const { rateLimiter } = limiter(store);
    await lockOut(rateLimiter, 'victim');
    // Ten times the store's whole room; attempts that never reach a password check (server busy, a store error)
    // are given back.
    for (let i = 0; i < 100_000; i += 1) {
      await (await rateLimiter.beginLogin(`other${i}`, ATTACKER)).abandoned();
    }
    assert.equal(await isLimited(rateLimiter.beginLogin('victim', ATTACKER)), true);
    // Abandoned attempts leave nothing behind: the attacker's IP counter and the victim's lockout.
    assert.ok(store.size <= 2, `${store.size} keys`);
  });

  it('at the default size, 1,000,000 abandoned hits from one IP leave only the keys that count', async () => {
    // The store's side of the test above at full scale, with the limiter's calls and key shapes (hit the IP's
    // counter and a username's counter, then give both back), without its hashing of each username.
    const store = new MemoryRateLimitStore();
    const now = Date.parse('2026-06-01T00:00:00Z');
    const windowMs = WINDOW_SEC * 1000;
    const ip = ATTACKER;
    for (let i = 0; i < 3; i += 1) await store.hit(`lf:victim:${ip}`, windowMs, now, ip);
    // Each call does its work synchronously (the memory store's promises are already settled when returned), so
    // the loop need not wait a microtask per call.
    for (let i = 0; i < 1_000_000; i += 1) {
      void store.hit(`li:${ip}`, windowMs, now, ip);
      void store.hit(`lf:other${i}:${ip}`, windowMs, now, ip);
      void store.release(`lf:other${i}:${ip}`, now);
      void store.release(`li:${ip}`, now);
    }
    assert.equal((await store.hit(`lf:victim:${ip}`, windowMs, now, ip)).count, 4);
    assert.ok(store.size <= 2, `${store.size} keys`);
  });

  it('one IP cannot hold more keys than its cap: failed attempts beyond it are refused and evict nothing', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 500, maxKeysPerGroup: 100 });
    const { rateLimiter } = limiter(store, { loginFailures: 3 });
    await lockOut(rateLimiter, 'victim');
    let refused = 0;
    for (let i = 0; i < 10_000; i += 1) {
      try {
        await (await rateLimiter.beginLogin(`other${i}`, ATTACKER)).failed();
      } catch (error) {
        if (!(error instanceof RateLimitedError)) throw error;
        refused += 1;
      }
    }
    // The IP counter and 99 failure counters (the victim's among them) fill the cap; every later name is refused.
    assert.equal(refused, 10_000 - 98);
    assert.equal(await isLimited(rateLimiter.beginLogin('victim', ATTACKER)), true);
    assert.ok(store.size <= 100);
    // Other IPs are not affected by the attacker's cap.
    const other = await rateLimiter.beginLogin('someone', '198.51.100.5');
    await other.succeeded();
  });

  it('the cap per IP lifts when the IP’s windows end', async () => {
    const store = new MemoryRateLimitStore({ maxKeysPerGroup: 10 });
    const { rateLimiter, advance } = limiter(store, { loginFailures: 3 });
    for (let i = 0; i < 9; i += 1) await (await rateLimiter.beginLogin(`n${i}`, ATTACKER)).failed();
    assert.equal(await isLimited(rateLimiter.beginLogin('n-new', ATTACKER)), true);
    advance(WINDOW_SEC);
    await (await rateLimiter.beginLogin('n-new', ATTACKER)).failed();
  });

  it('many IPs together stay within the global bound (the oldest windows go first)', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 1000, maxKeysPerGroup: 100 });
    const { rateLimiter } = limiter(store, { loginFailures: 3 });
    for (let i = 0; i < 5000; i += 1) {
      await (await rateLimiter.beginLogin(`name${i}`, `10.0.${Math.floor(i / 250)}.${i % 250}`)).failed();
    }
    assert.ok(store.size <= 1000, `${store.size} keys`);
  });
});
