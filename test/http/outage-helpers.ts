import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { PASSWORD } from '../helpers/app.js';
import type { Reply } from './http-helpers.js';

/** SPEC §7: a store outage is answered with 503 within this time. */
export const OUTAGE_DEADLINE_MS = 2000;

export const UNAVAILABLE = { error: 'Service temporarily unavailable', code: 'store_unavailable' } as const;

export interface TimedReply {
  label: string;
  res: Reply;
  ms: number;
}

/** Sends one request and measures how long the answer took. */
export async function timed(
  app: FastifyInstance,
  label: string,
  options: InjectOptions,
): Promise<TimedReply> {
  const started = performance.now();
  const res = await app.inject(options);
  return { label, res, ms: performance.now() - started };
}

/** A timed login with the test password (the request every outage test makes). */
export function timedLogin(app: FastifyInstance, username: string): Promise<TimedReply> {
  return timed(app, 'POST /authenticate_user', {
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password: PASSWORD },
  });
}

/**
 * Asserts the exact 503 store_unavailable answer, with Retry-After, within the deadline. `withToken` is for
 * requests whose presented token was consumed before the store failed: their body carries the next token.
 */
export function assertUnavailable(reply: TimedReply, withToken = false): void {
  const { label, res, ms } = reply;
  assert.equal(res.statusCode, 503, `${label}: expected 503, got ${res.statusCode} ${res.body}`);
  assert.equal(res.headers['retry-after'], '1', `${label}: Retry-After`);
  const body = res.json<Record<string, unknown>>();
  if (withToken) {
    const { token, ...rest } = body;
    assert.equal(typeof token, 'string', `${label}: next token in the 503 body`);
    assert.deepEqual(rest, UNAVAILABLE, label);
  } else {
    assert.deepEqual(body, UNAVAILABLE, label);
  }
  assert.ok(ms < OUTAGE_DEADLINE_MS, `${label}: answered in ${Math.round(ms)} ms`);
}

/**
 * Polls /readyz until it answers 200. The clients reconnect on their own schedule (and /readyz is the signal an
 * orchestrator would watch), so polling is the event here.
 */
export async function waitUntilReady(app: FastifyInstance, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    if (res.statusCode === 200) return;
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${res.body}`);
    await sleep(100);
  }
}
