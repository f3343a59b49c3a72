import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { DestinationStream } from 'pino';
import { bearer, makeApp, uniqueName, type TestApp } from '../helpers/app.js';
import { assertError, assertOk, type Reply } from './http-helpers.js';

const FIRST_PASSWORD = 'Plum-Heron-Quartz-9431-first';
const SECOND_PASSWORD = 'Violet-Anchor-Mesa-2718-second';
const WRONG_PASSWORD = 'Cobalt-Lantern-Dune-5566-wrong';
const HMAC_SECRET = 'hs256-log-test-9f3c1a7e5b2d4c6e8a0b1d3f5e7c9a2b4d6f';
const REFRESH_SECRET = 'refresh-log-test-4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b';

/** Collects every line the logger writes. */
class Capture implements DestinationStream {
  readonly lines: string[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(line);
  }
}

/** A secret and the parts of it that are secret on their own (a JWT's signature, a refresh token's MAC). */
function secretParts(value: string): string[] {
  const parts = value.split('.');
  const last = parts[parts.length - 1] ?? '';
  return last.length >= 16 && last !== value ? [value, last] : [value];
}

/** Every token a response body handed out (success bodies, and error bodies that carry the next token). */
function tokensOf(res: Reply): string[] {
  if (!(res.headers['content-type'] ?? '').toString().startsWith('application/json')) return [];
  const body = res.json<Record<string, unknown>>();
  return ['token', 'access_token', 'refresh_token'].flatMap((key) => {
    const value = body[key];
    return typeof value === 'string' ? [value] : [];
  });
}

interface Cycle {
  secrets: Set<string>;
  requestIds: Set<string>;
}

/** Signup, login, every authenticated route, a password change, failures and bad input; records every secret. */
async function fullCycle(t: TestApp): Promise<Cycle> {
  const secrets = new Set<string>([FIRST_PASSWORD, SECOND_PASSWORD, WRONG_PASSWORD]);
  const requestIds = new Set<string>();
  const send = async (options: InjectOptions): Promise<Reply> => {
    const res = await t.app.inject(options);
    for (const token of tokensOf(res)) for (const part of secretParts(token)) secrets.add(part);
    const id = res.headers['x-request-id'];
    assert.equal(typeof id, 'string');
    requestIds.add(String(id));
    return res;
  };
  const tokenOf = (res: Reply): string => res.json<{ token: string }>().token;
  const username = uniqueName('logs');

  assertOk(
    await send({ method: 'POST', url: '/user', payload: { username, password: FIRST_PASSWORD } }),
    201,
  );
  const login = await send({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password: FIRST_PASSWORD },
  });
  assertOk(login);
  const first = tokenOf(login);
  const firstRefresh = login.json<{ refresh_token: string }>().refresh_token;

  const got = await send({ method: 'GET', url: '/user', headers: bearer(first) });
  assertOk(got);
  const validated = await send({ method: 'POST', url: '/validate_token', payload: { token: tokenOf(got) } });
  assertOk(validated);
  const refreshed = await send({
    method: 'POST',
    url: '/refresh_token',
    payload: { refresh_token: firstRefresh },
  });
  assertOk(refreshed);

  assertError(
    await send({
      method: 'PUT',
      url: '/user',
      headers: bearer(tokenOf(validated)),
      payload: { password: SECOND_PASSWORD, current_password: WRONG_PASSWORD },
    }),
    403,
    'wrong_current_password',
  );
  const changed = await send({
    method: 'PUT',
    url: '/user',
    headers: bearer(tokenOf(refreshed)),
    payload: { password: SECOND_PASSWORD, current_password: FIRST_PASSWORD },
  });
  assertOk(changed);

  assertError(
    await send({
      method: 'POST',
      url: '/authenticate_user',
      payload: { username, password: FIRST_PASSWORD },
    }),
    401,
    'invalid_credentials',
  );
  const sessions = await send({ method: 'GET', url: '/sessions', headers: bearer(tokenOf(changed)) });
  assertOk(sessions);
  assertOk(await send({ method: 'POST', url: '/logout_all', headers: bearer(tokenOf(sessions)) }));

  // Failures: replayed and forged tokens, a revoked refresh token, a token in the URL, broken JSON with a password.
  assertError(await send({ method: 'GET', url: '/user', headers: bearer(first) }), 401, 'invalid_token');
  const [head, payload] = first.split('.');
  const forged = `${head ?? ''}.${payload ?? ''}.${'A'.repeat(86)}`;
  secrets.add(forged);
  assertError(await send({ method: 'GET', url: '/user', headers: bearer(forged) }), 401, 'invalid_token');
  assertError(
    await send({ method: 'POST', url: '/validate_token', payload: { token: forged } }),
    401,
    'invalid_token',
  );
  assertError(
    await send({ method: 'POST', url: '/refresh_token', payload: { refresh_token: firstRefresh } }),
    401,
    'invalid_refresh_token',
  );
  assertError(
    await send({
      method: 'POST',
      url: '/logout',
      headers: { authorization: `Basic ${Buffer.from(`${username}:${SECOND_PASSWORD}`).toString('base64')}` },
    }),
    401,
    'invalid_token',
  );
  secrets.add(Buffer.from(`${username}:${SECOND_PASSWORD}`).toString('base64'));
  assertError(
    await send({
      method: 'POST',
      url: '/authenticate_user',
      headers: { 'content-type': 'application/json' },
      payload: `{"username":"${username}","password":"${SECOND_PASSWORD}"`,
    }),
    400,
    'invalid_json',
  );
  assertError(
    await send({
      method: 'POST',
      url: '/user',
      headers: { 'content-type': 'application/json' },
      payload: `{"username":"${username}","password":"${SECOND_PASSWORD}",}`,
    }),
    400,
    'invalid_json',
  );
  assertError(
    await send({
      method: 'PUT',
      url: '/user',
      headers: { ...bearer(first), 'content-type': 'application/json' },
      payload: `{"password":"${SECOND_PASSWORD}","current_password":${FIRST_PASSWORD}}`,
    }),
    400,
    'invalid_json',
  );

  // No route reads a token from the URL, but a client may still put one there: the logged URL must not show it.
  assertError(
    await send({ method: 'GET', url: `/user?token=${encodeURIComponent(tokenOf(changed))}&x=1` }),
    401,
    'token_missing',
  );

  const again = await send({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password: SECOND_PASSWORD },
  });
  assertOk(again);
  assertOk(await send({ method: 'DELETE', url: '/user', headers: bearer(tokenOf(again)) }));
  return { secrets, requestIds };
}

/** The PEM body lines (base64) of every signing key under the data directory. */
function privateKeyBodies(dataDir: string): string[] {
  const dir = path.join(dataDir, 'keys');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.pem'))
    .flatMap((name) => {
      const body = readFileSync(path.join(dir, name), 'utf8')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('-----'));
      return [...body, body.join('')];
    });
}

function assertNoSecret(lines: string[], secrets: Iterable<string>): void {
  for (const secret of secrets) {
    assert.ok(secret.length >= 16, `secret too short to search for: ${secret}`);
    const leaking = lines.filter((line) => line.includes(secret));
    assert.deepEqual(leaking, [], `a log line contains the secret ${secret.slice(0, 12)}…`);
  }
}

const apps: TestApp[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
});

async function loggedApp(
  level: string,
  env: Record<string, string> = {},
): Promise<{ t: TestApp; capture: Capture }> {
  const capture = new Capture();
  const t = await makeApp({ LOG_LEVEL: level, ...env }, {}, { logDestination: capture });
  apps.push(t);
  return { t, capture };
}

describe('logs never contain a secret', () => {
  for (const level of ['debug', 'trace']) {
    it(`EdDSA at LOG_LEVEL=${level}: no password, token or private key; JSON lines with request ids`, async () => {
      const { t, capture } = await loggedApp(level);
      const { secrets, requestIds } = await fullCycle(t);
      const lines = capture.lines;
      assert.ok(lines.length > 20, `only ${lines.length} log lines`);
      assertNoSecret(lines, [...secrets, ...privateKeyBodies(t.dataDir)]);

      const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const entry of parsed) assert.equal(typeof entry.level, 'number');
      const seenIds = new Set(parsed.map((entry) => entry.reqId).filter((id) => typeof id === 'string'));
      for (const id of requestIds) assert.ok(seenIds.has(id), `no log line for request ${id}`);
      assert.ok([...seenIds].every((id) => requestIds.has(id)));
      // Lines without a request id: the startup lines, audit events, which the facades log through the root
      // logger (they carry user id and IP instead), and the background mail sender's.
      const unbound = parsed.filter((entry) => entry.reqId === undefined);
      const startup = new Set([
        'signing key loaded',
        'token store: in-process memory',
        'rate limits',
        'mailer',
        'data key loaded',
      ]);
      for (const entry of unbound) {
        const msg = String(entry.msg);
        assert.ok(
          entry.component === 'audit' ||
            entry.component === 'mail' ||
            [...startup].some((m) => msg.startsWith(m)),
          `log line without a request id: ${JSON.stringify(entry)}`,
        );
      }
      const urls = parsed.flatMap((entry) => {
        const req = entry.req as { url?: string } | undefined;
        return req?.url === undefined ? [] : [req.url];
      });
      assert.ok(urls.includes('/user?[redacted]'), 'the query string is replaced, the path kept');
    });
  }

  it('HS256 (JWT_KEY) at LOG_LEVEL=trace: neither JWT_KEY nor REFRESH_TOKEN_SECRET is logged', async () => {
    const { t, capture } = await loggedApp('trace', {
      JWT_KEY: HMAC_SECRET,
      REFRESH_TOKEN_SECRET: REFRESH_SECRET,
    });
    const { secrets } = await fullCycle(t);
    assertNoSecret(capture.lines, [...secrets, HMAC_SECRET, REFRESH_SECRET]);
    for (const line of capture.lines) JSON.parse(line);
  });
});
