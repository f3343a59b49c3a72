import type { FastifyInstance } from 'fastify';
import { assertOk } from './http-helpers.js';

/** One sample of GET /metrics (0 when the series has not been written yet), e.g. a counter or a `_count`. */
export async function metricValue(
  app: FastifyInstance,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assertOk(res);
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `;
  const line = res.body.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** Password verifications (argon2id or legacy PBKDF2) that actually ran, dummy verifications included. */
export function verifications(app: FastifyInstance): Promise<number> {
  return metricValue(app, 'keyward_password_hash_duration_seconds_count', { operation: 'verify' });
}
