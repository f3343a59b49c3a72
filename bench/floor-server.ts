// The floor under the two throughput targets: a bare node:http server that does, per chained `GET /user`, only the
// work those targets cannot do without, with Keyward's own parts, and nothing else (no framework, no user look-up,
// no logging, no metrics, no input checks):
//
//   FLOOR=off         one store round trip: Keyward's RedisTokenStore.check (its Lua script, its Redis client
//                     with the per-turn batching), then the fixed answer carrying the same token.
//   FLOOR=single-use  that round trip as RedisTokenStore.consume, sent while Keyward's TokenService signs the next
//                     token (Ed25519 on libuv's thread pool, the key parsed once), then the answer carrying it.
//   FLOOR=sign        the signature alone: the next token signed as with single-use, and no store at all (what
//                     the signature costs by itself; `npm run bench -- --limits`).
//
// Tokens are Keyward's own, from its TokenService (a generated Ed25519 key): a presented token is found in its token
// memory by its exact string, as in Keyward. A token it does not know (the first request of each loop) starts a
// session with RedisTokenStore.createSession. Keyward's `GET /user` figure divided by this server's is what
// Keyward's own layers cost (Fastify, the session service, the user look-up, logging, metrics); this server's
// divided by the bare server's is what the platform leaves for the target. Env: PORT, FLOOR, REDIS_URL,
// REDIS_KEY_PREFIX. Prints `{"port":N}` once listening.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadKeySet } from '../src/services/signing-keys.js';
import { TokenService, type AccessClaims } from '../src/services/token-service.js';
import { createRedisClient } from '../src/stores/redis-client.js';
import { RedisTokenStore } from '../src/stores/redis-token-store.js';
import { INITIAL_GENERATION } from '../src/stores/token-store.js';
import { serveReference } from './reference-server.js';

const mode = process.env.FLOOR;
if (mode !== 'off' && mode !== 'single-use' && mode !== 'sign') {
  throw new Error('FLOOR must be off, single-use or sign');
}
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.REDIS_KEY_PREFIX ?? 'kwfloor';

const store = new RedisTokenStore(createRedisClient({ url: redisUrl, commandTimeoutMs: 2000 }), prefix, {
  idleTtlMs: 24 * 3600_000,
  maxTtlMs: 30 * 24 * 3600_000,
  refreshReuseWindowMs: 0,
});
const { privateKey } = generateKeyPairSync('ed25519');
const tokens = new TokenService({
  // The key is given as JWT_PRIVATE_KEY would give it; the keys directory is never created.
  keys: loadKeySet({
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keysDir: path.join(os.tmpdir(), `kw-floor-no-keys-${randomUUID()}`),
  }),
  issuer: 'keyward',
  audience: 'keyward',
  accessTtlSec: 15 * 60,
  maxTokenBytes: 4096,
});

function answer(response: http.ServerResponse, status: number, token: string | undefined): void {
  const body = status === 200 ? JSON.stringify({ user: { id: 1, username: 'bench_0' }, token }) : '{}';
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}

async function startChain(): Promise<string> {
  const sid = randomUUID();
  const issued = tokens.issue(1, sid);
  const grant = { jti: issued.jti, expiresAt: issued.expiresAt };
  await store.createSession(
    { userId: 1, sid, userAgent: '', ip: '127.0.0.1', generation: INITIAL_GENERATION, token: grant },
    Date.now(),
  );
  return issued.token;
}

async function handle(authorization: string | undefined): Promise<[number, string | undefined]> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  let claims: AccessClaims;
  try {
    claims = await tokens.verify(token);
  } catch {
    return [200, mode === 'sign' ? await tokens.issue(1, randomUUID()).token : await startChain()];
  }
  if (mode === 'sign') return [200, await tokens.rotate(token, claims, async () => true)];
  if (mode === 'off') return (await store.check(claims, Date.now())) ? [200, token] : [401, undefined];
  const next = await tokens.rotate(token, claims, (grant) => store.consume(claims, grant, Date.now()));
  return next === undefined ? [401, undefined] : [200, next];
}

const server = http.createServer((request, response) => {
  request.on('end', () => {
    handle(request.headers.authorization).then(
      ([status, token]) => {
        answer(response, status, token);
      },
      () => {
        answer(response, 503, undefined);
      },
    );
  });
  request.resume();
});
serveReference(server);
