import type { FastifyInstance } from 'fastify';
import { assertOk } from './http-helpers.js';

/** The metric family a sample name belongs to: a histogram's `_count`, `_sum` and `_bucket` belong to its name. */
function familyOf(name: string, exposition: string): string | undefined {
  const candidates = [name, name.replace(/_(count|sum|bucket)$/, '')];
  return candidates.find((family) => new RegExp(`^# TYPE ${family} `, 'm').test(exposition));
}

/** The label keys of one sample line, e.g. `x{a="1",b="2"} 3` → ["a", "b"]. */
function labelKeys(line: string): string[] {
  const open = line.indexOf('{');
  if (open === -1) return [];
  return [...line.slice(open, line.lastIndexOf('}')).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map(
    (m) => m[1] ?? '',
  );
}

/**
 * One sample of GET /metrics, e.g. a counter or a `_count`. A metric that /metrics does not declare at all
 * (a `# TYPE` line) throws, so that a renamed metric can never read as 0 and make an `=== 0` assertion pass;
 * so does a label key that the metric's samples do not carry. A labelled series of a declared metric that has
 * not been written yet is 0 (prom-client only exposes label values that were used).
 */
export async function metricValue(
  app: FastifyInstance,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assertOk(res);
  const family = familyOf(name, res.body);
  if (family === undefined) throw new Error(`/metrics does not declare the metric ${name}`);
  const samples = res.body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  for (const key of Object.keys(labels)) {
    if (samples.length > 0 && !samples.some((l) => labelKeys(l).includes(key))) {
      throw new Error(`no sample of ${name} carries the label ${key}: ${samples[0]}`);
    }
  }
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `;
  const line = samples.find((l) => l.startsWith(prefix));
  if (line === undefined && wanted === '')
    throw new Error(`/metrics declares ${family} but has no sample ${name}`);
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** Password verifications (argon2id or legacy PBKDF2) that actually ran, dummy verifications included. */
export function verifications(app: FastifyInstance): Promise<number> {
  return metricValue(app, 'keyward_password_hash_duration_seconds_count', { operation: 'verify' });
}
