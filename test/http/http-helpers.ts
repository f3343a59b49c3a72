import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { bearer } from '../helpers/app.js';

export type Reply = LightMyRequestResponse;

export interface ErrorBody {
  error: string;
  code: string;
  token?: string;
}

export interface TokenBody {
  token: string;
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
}

export interface UserBody {
  user: { id: number; username: string; mfa_enabled: boolean };
  token: string;
}

export interface SessionItem {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string;
  ip: string;
  current: boolean;
}

/** Asserts the `{error, code}` envelope with this status and code (and message, when given); returns the body. */
export function assertError(res: Reply, status: number, code: string, message?: string): ErrorBody {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode} ${res.body}`);
  const body = res.json<ErrorBody>();
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error.length > 0);
  if (message !== undefined) assert.equal(body.error, message);
  return body;
}

export function assertOk(res: Reply, status = 200): void {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode} ${res.body}`);
}

/** The decoded JSON of one part (0 header, 1 payload) of a JWT. */
export function jwtPart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split('.')[index];
  assert.ok(part !== undefined, 'not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The `sid` claim of an access token. */
export function sidOf(token: string): string {
  const sid = jwtPart(token, 1).sid;
  assert.equal(typeof sid, 'string');
  return sid as string;
}

/** GET /user with this token. */
export function getUser(
  app: FastifyInstance,
  token: string,
  extra: Partial<InjectOptions> = {},
): Promise<Reply> {
  return app.inject({ method: 'GET', url: '/user', headers: bearer(token), ...extra });
}

/** GET /user must succeed; returns the next token. */
export async function expectLive(app: FastifyInstance, token: string): Promise<string> {
  const res = await getUser(app, token);
  assertOk(res);
  return res.json<UserBody>().token;
}

/** GET /user must fail with 401 invalid_token. */
export async function expectDead(app: FastifyInstance, token: string): Promise<void> {
  assertError(await getUser(app, token), 401, 'invalid_token', 'Invalid or expired token');
}

export function login(
  app: FastifyInstance,
  username: string,
  password: string,
  headers = {},
): Promise<Reply> {
  return app.inject({ method: 'POST', url: '/authenticate_user', payload: { username, password }, headers });
}

export function refresh(app: FastifyInstance, refreshToken: string): Promise<Reply> {
  return app.inject({ method: 'POST', url: '/refresh_token', payload: { refresh_token: refreshToken } });
}
