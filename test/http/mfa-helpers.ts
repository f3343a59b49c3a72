import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { bearer, PASSWORD, signUpAndLogin } from '../helpers/app.js';
import { totpCode } from '../helpers/totp.js';
import { assertOk, login, type Reply, type TokenBody } from './http-helpers.js';

/** A clock the app reads (`makeApp(env, { now: clock.now })`), moved by the test only. */
export interface Clock {
  now: () => number;
  at: number;
}

/** A fixed clock in the middle of a 30-second step, so that ±1 step is always a whole step away. */
export function fixedClock(start = Date.UTC(2026, 11, 7, 3, 0, 15)): Clock {
  const clock: Clock = { at: start, now: () => clock.at };
  return clock;
}

export interface Enrolled {
  username: string;
  userId: number;
  secret: string;
  recoveryCodes: string[];
  /** The next access token of the session that enrolled. */
  token: string;
}

export function setup(app: FastifyInstance, token: string, currentPassword = PASSWORD): Promise<Reply> {
  return app.inject({
    method: 'POST',
    url: '/mfa/totp/setup',
    headers: bearer(token),
    payload: { current_password: currentPassword },
  });
}

export function confirm(app: FastifyInstance, token: string, code: string): Promise<Reply> {
  return app.inject({ method: 'POST', url: '/mfa/totp/confirm', headers: bearer(token), payload: { code } });
}

export function verify(app: FastifyInstance, payload: Record<string, unknown>): Promise<Reply> {
  return app.inject({ method: 'POST', url: '/mfa/verify', payload });
}

/** Signs up, logs in and turns TOTP on at the clock's time. */
export async function enrolledUser(app: FastifyInstance, clock: Clock): Promise<Enrolled> {
  const user = await signUpAndLogin(app);
  const started = await setup(app, user.token);
  assertOk(started);
  const { secret, token } = started.json<{ secret: string; token: string }>();
  const confirmed = await confirm(app, token, totpCode(secret, clock.at));
  assertOk(confirmed);
  const body = confirmed.json<{ recovery_codes: string[]; token: string }>();
  return { ...user, secret, recoveryCodes: body.recovery_codes, token: body.token };
}

/** The password step of a user with TOTP: returns the mfa_token. */
export async function mfaToken(app: FastifyInstance, username: string, password = PASSWORD): Promise<string> {
  const res = await login(app, username, password);
  assertOk(res);
  const body = res.json<{ mfa_required?: boolean; mfa_token?: string }>();
  assert.equal(body.mfa_required, true, res.body);
  assert.equal(typeof body.mfa_token, 'string');
  return body.mfa_token as string;
}

/** Both steps of a login with the TOTP code of `atMs`; returns the token body. */
export async function loginWithTotp(
  app: FastifyInstance,
  user: { username: string; secret: string },
  atMs: number,
): Promise<TokenBody> {
  const res = await verify(app, {
    mfa_token: await mfaToken(app, user.username),
    code: totpCode(user.secret, atMs),
  });
  assertOk(res);
  return res.json<TokenBody>();
}
