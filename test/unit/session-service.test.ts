import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, nextTokenOf, type ErrorCode } from '../../src/errors.js';
import { RefreshTokens } from '../../src/services/refresh-tokens.js';
import { SessionService, type TokenRotation } from '../../src/services/session-service.js';
import { loadKeySet, type KeySet } from '../../src/services/signing-keys.js';
import { TokenService } from '../../src/services/token-service.js';
import { MemoryTokenStore } from '../../src/stores/memory-token-store.js';
import { INITIAL_GENERATION, type SessionPolicy } from '../../src/stores/token-store.js';
import { decodeToken } from '../helpers/jwt-forge.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const CLIENT = { ip: '203.0.113.7', userAgent: 'unit-test' };

let keysDir: string;
let keys: KeySet;

before(() => {
  keysDir = mkdtempSync(path.join(tmpdir(), 'keyward-sessions-'));
  keys = loadKeySet({ keysDir });
});

after(() => {
  rmSync(keysDir, { recursive: true, force: true });
});

interface Rig {
  sessions: SessionService;
  store: MemoryTokenStore;
  refreshTokens: RefreshTokens;
  /** Moves the fixed clock forward. */
  advance: (ms: number) => void;
  events: { issued: number; consumed: number; revoked: number; reuse: number };
}

const rigs: Rig[] = [];

after(async () => {
  await Promise.all(rigs.map((r) => r.store.close()));
});

/**
 * A session service over the memory store with a fixed clock. The clock starts at the real time because the JWT
 * library also checks exp against Date.now(); the tests only ever move it forward.
 */
function rig(
  options: { rotation?: TokenRotation; accessTtlSec?: number; policy?: Partial<SessionPolicy> } = {},
): Rig {
  let now = Date.now();
  const clock = () => now;
  const store = new MemoryTokenStore({
    idleTtlMs: 14 * 86400 * SECOND,
    maxTtlMs: 30 * 86400 * SECOND,
    refreshReuseWindowMs: 10 * SECOND,
    ...options.policy,
  });
  const tokens = new TokenService({
    keys,
    issuer: 'keyward',
    audience: 'keyward',
    accessTtlSec: options.accessTtlSec ?? 2100,
    maxTokenBytes: 8192,
    now: clock,
  });
  const refreshTokens = new RefreshTokens(keys.refreshSecret);
  const events = { issued: 0, consumed: 0, revoked: 0, reuse: 0 };
  const sessions = new SessionService({
    store,
    tokens,
    refreshTokens,
    rotation: options.rotation ?? 'per-request',
    now: clock,
    events: {
      tokenIssued: () => {
        events.issued += 1;
      },
      tokenConsumed: () => {
        events.consumed += 1;
      },
      sessionsRevoked: (n) => {
        events.revoked += n;
      },
      refreshReuse: () => {
        events.reuse += 1;
      },
    },
  });
  const r: Rig = {
    sessions,
    store,
    refreshTokens,
    advance: (ms) => {
      now += ms;
    },
    events,
  };
  rigs.push(r);
  return r;
}

function code(expected: ErrorCode) {
  return (error: unknown) => error instanceof DomainError && error.code === expected;
}

let nextUser = 1;
const newUser = () => nextUser++;

describe('SessionService.start', () => {
  it('opens a session with an access token, its lifetime and a refresh token', async () => {
    const { sessions } = rig();
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    assert.equal(grant.userId, userId);
    assert.equal(grant.expiresIn, 2100);
    const { payload } = decodeToken(grant.accessToken);
    assert.equal(payload.sid, grant.sid);
    assert.equal(payload.user_id, userId);
    assert.deepEqual(sessions.accessTtlSec, 2100);
    assert.match(grant.refreshToken, /^kwr1\./);
  });

  it('gives sessions ids of at least 128 random bits', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    assert.ok(Buffer.from(grant.sid, 'base64url').length >= 16);
    const other = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    assert.notEqual(other.sid, grant.sid);
  });

  it('records the client and truncates a huge user agent', async () => {
    const { sessions } = rig();
    const userId = newUser();
    await sessions.start(userId, { ip: '198.51.100.1', userAgent: 'x'.repeat(5000) }, INITIAL_GENERATION);
    const [session] = await sessions.list(userId);
    assert.ok(session);
    assert.equal(session.ip, '198.51.100.1');
    assert.equal(session.userAgent, 'x'.repeat(512));
  });
});

describe('per-request rotation', () => {
  it('consumes the token and hands out the next one', async () => {
    const { sessions, events } = rig();
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    const auth = await sessions.authorize(grant.accessToken);
    assert.equal(auth.userId, userId);
    assert.equal(auth.sid, grant.sid);
    assert.notEqual(auth.token, grant.accessToken);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    assert.equal((await sessions.authorize(auth.token)).sid, grant.sid);
    assert.equal(events.consumed, 2);
  });

  it('lets exactly one of concurrent uses of a token succeed', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => sessions.authorize(grant.accessToken)),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  });

  it('gives renewed tokens the same lifetime as login tokens', async () => {
    const { sessions, advance } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    advance(5 * MINUTE);
    const next = decodeToken((await sessions.authorize(grant.accessToken)).token).payload;
    assert.equal(Number(next.exp) - Number(next.iat), 2100);
  });
});

describe("TOKEN_ROTATION 'off'", () => {
  it('checks without consuming and echoes the token', async () => {
    const { sessions } = rig({ rotation: 'off' });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    assert.equal((await sessions.authorize(grant.accessToken)).token, grant.accessToken);
    assert.equal((await sessions.authorize(grant.accessToken)).token, grant.accessToken);
  });

  it('still consumes on renew', async () => {
    const { sessions } = rig({ rotation: 'off' });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const renewed = await sessions.renew(grant.accessToken);
    assert.notEqual(renewed.token, grant.accessToken);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    assert.equal((await sessions.authorize(renewed.token)).token, renewed.token);
  });

  it('rejects the token once its session is revoked', async () => {
    const { sessions } = rig({ rotation: 'off' });
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    assert.equal(await sessions.revoke(userId, grant.sid), true);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
  });

  it('rejects the token once it expires on the clock', async () => {
    const { sessions, advance } = rig({ rotation: 'off', accessTtlSec: 600 });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    advance(599 * SECOND);
    await sessions.authorize(grant.accessToken);
    advance(SECOND);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
  });

  it('still asks the store for a token whose signature check is remembered: revocation wins', async () => {
    const { sessions } = rig({ rotation: 'off' });
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    await sessions.authorize(grant.accessToken);
    await sessions.authorize(grant.accessToken);
    assert.equal(await sessions.revoke(userId, grant.sid), true);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
  });

  it('does not let a remembered token vouch for a tampered copy of it', async () => {
    const { sessions } = rig({ rotation: 'off' });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    await sessions.authorize(grant.accessToken);
    const [header, payload, signature = ''] = grant.accessToken.split('.');
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.slice(-1);
    await assert.rejects(sessions.authorize(`${header}.${payload}.${flipped}`), code('invalid_token'));
  });
});

describe('SessionService.guard', () => {
  it('attaches the next token to a DomainError thrown by the work', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    let caught: unknown;
    try {
      await sessions.guard(grant.accessToken, async () => {
        throw new DomainError('username_taken');
      });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof DomainError);
    assert.equal(caught.code, 'username_taken');
    assert.ok(caught.nextToken);
    assert.equal((await sessions.authorize(caught.nextToken)).sid, grant.sid, 'the attached token is live');
  });

  it('marks other errors with the next token, off the error object', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const failure = new Error('boom');
    let next: string | undefined;
    await assert.rejects(
      sessions.guard(grant.accessToken, async () => {
        throw failure;
      }),
      (error: unknown) => {
        next = nextTokenOf(error);
        return error === failure && !('nextToken' in failure);
      },
    );
    assert.ok(next);
    assert.equal((await sessions.authorize(next)).sid, grant.sid, 'the attached token is live');
  });

  it('never runs the work for an invalid token', async () => {
    const { sessions } = rig();
    let ran = false;
    await assert.rejects(
      sessions.guard('not-a-token', async () => {
        ran = true;
      }),
      (error: unknown) =>
        error instanceof DomainError && error.code === 'invalid_token' && error.nextToken === undefined,
    );
    assert.equal(ran, false);
  });

  it('withAuth adds the next token to the result', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const result = await sessions.withAuth(grant.accessToken, async (auth) => ({ sid: auth.sid }));
    assert.equal(result.sid, grant.sid);
    assert.equal((await sessions.authorize(result.token)).sid, grant.sid);
  });
});

describe('refresh tokens', () => {
  it('rotates: a new access and refresh token for the same session', async () => {
    const { sessions, advance } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    advance(MINUTE);
    const next = await sessions.refresh(grant.refreshToken);
    assert.equal(next.sid, grant.sid);
    assert.notEqual(next.refreshToken, grant.refreshToken);
    assert.equal(next.expiresIn, 2100);
    assert.equal((await sessions.authorize(next.accessToken)).sid, grant.sid);
    assert.equal((await sessions.refresh(next.refreshToken)).sid, grant.sid);
  });

  it('keeps older access tokens of the session valid after a refresh', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    await sessions.refresh(grant.refreshToken);
    assert.equal((await sessions.authorize(grant.accessToken)).sid, grant.sid);
  });

  it('returns the current successor to the just-rotated token within the reuse window', async () => {
    const { sessions, advance } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const first = await sessions.refresh(grant.refreshToken);
    advance(10 * SECOND);
    const second = await sessions.refresh(grant.refreshToken);
    assert.equal(second.refreshToken, first.refreshToken);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal((await sessions.authorize(second.accessToken)).sid, grant.sid);
    assert.equal((await sessions.refresh(first.refreshToken)).sid, grant.sid, 'the session survives');
  });

  it('revokes the whole session when the rotated token is reused after the window', async () => {
    const { sessions, advance, events } = rig();
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    const first = await sessions.refresh(grant.refreshToken);
    advance(10 * SECOND + 1);
    await assert.rejects(sessions.refresh(grant.refreshToken), code('invalid_refresh_token'));
    assert.equal(events.reuse, 1);
    await assert.rejects(sessions.refresh(first.refreshToken), code('invalid_refresh_token'));
    await assert.rejects(sessions.authorize(first.accessToken), code('invalid_token'));
    assert.deepEqual(await sessions.list(userId), []);
  });

  it('revokes the session when an older refresh token is reused, even inside the window', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const first = await sessions.refresh(grant.refreshToken);
    const second = await sessions.refresh(first.refreshToken);
    await assert.rejects(sessions.refresh(grant.refreshToken), code('invalid_refresh_token'));
    await assert.rejects(sessions.refresh(second.refreshToken), code('invalid_refresh_token'));
    await assert.rejects(sessions.authorize(second.accessToken), code('invalid_token'));
  });

  it('refuses a counter ahead of the session without revoking it', async () => {
    const { sessions, refreshTokens } = rig();
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    const ahead = refreshTokens.encode({ userId, sid: grant.sid, counter: 5 });
    await assert.rejects(sessions.refresh(ahead), code('invalid_refresh_token'));
    assert.equal((await sessions.refresh(grant.refreshToken)).sid, grant.sid);
  });

  it('refuses a refresh token of another secret, a tampered one and an access token', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    const other = new RefreshTokens(Buffer.alloc(32, 7)).encode({
      userId: grant.userId,
      sid: grant.sid,
      counter: 0,
    });
    await assert.rejects(sessions.refresh(other), code('invalid_refresh_token'));
    // The last character changed to another one (a fixed 'A' would leave the token intact 1 time in 16).
    const last = grant.refreshToken.slice(-1);
    await assert.rejects(
      sessions.refresh(`${grant.refreshToken.slice(0, -1)}${last === 'A' ? 'E' : 'A'}`),
      code('invalid_refresh_token'),
    );
    await assert.rejects(sessions.refresh(grant.accessToken), code('invalid_refresh_token'));
    assert.equal((await sessions.refresh(grant.refreshToken)).sid, grant.sid);
  });

  it('refuses the refresh token of a logged-out session', async () => {
    const { sessions } = rig();
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    await sessions.end(grant.accessToken);
    await assert.rejects(sessions.refresh(grant.refreshToken), code('invalid_refresh_token'));
  });
});

describe('session lifetimes on the fixed clock', () => {
  const policy = { idleTtlMs: 5 * MINUTE, maxTtlMs: 20 * MINUTE, refreshReuseWindowMs: 10 * SECOND };

  it('expires a session left idle for the idle lifetime', async () => {
    const { sessions, advance } = rig({ accessTtlSec: 600, policy });
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    advance(5 * MINUTE);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    await assert.rejects(sessions.refresh(grant.refreshToken), code('invalid_refresh_token'));
    assert.deepEqual(await sessions.list(userId), []);
  });

  it('keeps a used session alive past the idle lifetime', async () => {
    const { sessions, advance } = rig({ accessTtlSec: 600, policy });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    let token = grant.accessToken;
    for (let i = 0; i < 3; i += 1) {
      advance(4 * MINUTE);
      token = (await sessions.authorize(token)).token;
    }
    advance(4 * MINUTE); // 16 minutes after login, 4 after the last use
    assert.equal((await sessions.refresh(grant.refreshToken)).sid, grant.sid);
  });

  it('ends a session at its absolute lifetime however much it is used', async () => {
    const { sessions, advance } = rig({ accessTtlSec: 600, policy });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    let token = grant.accessToken;
    for (let i = 0; i < 4; i += 1) {
      advance(4 * MINUTE + 59 * SECOND);
      token = (await sessions.authorize(token)).token;
    }
    advance(4 * SECOND); // 20 minutes after login
    await assert.rejects(sessions.authorize(token), code('invalid_token'));
  });

  it('ends a session at its absolute lifetime even through refresh', async () => {
    const { sessions, advance } = rig({ accessTtlSec: 600, policy });
    let grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    for (let i = 0; i < 4; i += 1) {
      advance(4 * MINUTE + 59 * SECOND);
      grant = await sessions.refresh(grant.refreshToken);
    }
    advance(4 * SECOND);
    await assert.rejects(sessions.refresh(grant.refreshToken), code('invalid_refresh_token'));
  });

  it('expires an access token at its own exp while the session lives on', async () => {
    const { sessions, advance } = rig({ accessTtlSec: 120, policy });
    const grant = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    advance(2 * MINUTE);
    await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    const refreshed = await sessions.refresh(grant.refreshToken);
    assert.equal((await sessions.authorize(refreshed.accessToken)).sid, grant.sid);
  });
});

describe('revocation', () => {
  it('logout ends the session and every token of it', async () => {
    const { sessions, events } = rig();
    const userId = newUser();
    const grant = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    const claims = await sessions.end(grant.accessToken);
    assert.equal(claims.sid, grant.sid);
    assert.equal(events.revoked, 1);
    await assert.rejects(sessions.end(grant.accessToken), code('invalid_token'));
    assert.deepEqual(await sessions.list(userId), []);
  });

  it('lists live sessions oldest first and revokes one', async () => {
    const { sessions, advance } = rig();
    const userId = newUser();
    const a = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    advance(SECOND);
    const b = await sessions.start(userId, { ip: '192.0.2.9', userAgent: 'other' }, INITIAL_GENERATION);
    const list = await sessions.list(userId);
    assert.deepEqual(
      list.map((s) => s.id),
      [a.sid, b.sid],
    );
    assert.equal(await sessions.revoke(userId, a.sid), true);
    assert.equal(await sessions.revoke(userId, a.sid), false);
    await assert.rejects(sessions.authorize(a.accessToken), code('invalid_token'));
    assert.equal((await sessions.authorize(b.accessToken)).sid, b.sid);
  });

  it("does not revoke another user's session", async () => {
    const { sessions } = rig();
    const owner = newUser();
    const grant = await sessions.start(owner, CLIENT, INITIAL_GENERATION);
    assert.equal(await sessions.revoke(newUser(), grant.sid), false);
    assert.equal((await sessions.authorize(grant.accessToken)).sid, grant.sid);
  });

  it('revokeAll ends every session of the user and counts them', async () => {
    const { sessions } = rig();
    const userId = newUser();
    const grants = [
      await sessions.start(userId, CLIENT, INITIAL_GENERATION),
      await sessions.start(userId, CLIENT, INITIAL_GENERATION),
    ];
    const bystander = await sessions.start(newUser(), CLIENT, INITIAL_GENERATION);
    assert.equal(await sessions.revokeAll(userId), 2);
    for (const grant of grants)
      await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    assert.equal((await sessions.authorize(bystander.accessToken)).sid, bystander.sid);
  });

  it('start refuses a login whose generation was read before revokeAll, with invalid_credentials', async () => {
    const { sessions } = rig();
    const userId = newUser();
    const generation = await sessions.generation(userId);
    await sessions.revokeAll(userId);
    await assert.rejects(sessions.start(userId, CLIENT, generation), code('invalid_credentials'));
    assert.deepEqual(await sessions.list(userId), []);
    const fresh = await sessions.start(userId, CLIENT, await sessions.generation(userId));
    assert.equal((await sessions.authorize(fresh.accessToken)).sid, fresh.sid);
  });

  it('revokeOthers keeps only the given session', async () => {
    const { sessions } = rig();
    const userId = newUser();
    const keep = await sessions.start(userId, CLIENT, INITIAL_GENERATION);
    const others = [
      await sessions.start(userId, CLIENT, INITIAL_GENERATION),
      await sessions.start(userId, CLIENT, INITIAL_GENERATION),
    ];
    assert.equal(await sessions.revokeOthers(userId, keep.sid), 2);
    for (const grant of others)
      await assert.rejects(sessions.authorize(grant.accessToken), code('invalid_token'));
    assert.equal((await sessions.authorize(keep.accessToken)).sid, keep.sid);
  });
});
