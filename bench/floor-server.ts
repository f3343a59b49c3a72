// The floor under the two throughput targets: a bare node:http server that does, per chained `GET /user`, only the
// work those targets cannot do without, with Keyward's own parts, and nothing else (no framework, no user look-up,
// no logging, no metrics, no validation beyond a map look-up):
//
//   FLOOR=off         one store round trip: Keyward's RedisTokenStore.check (its Lua script, its Redis client
//                     with the per-turn batching), then the fixed answer carrying the same token.
//   FLOOR=single-use  that round trip as RedisTokenStore.consume, sent while the next token's Ed25519 signature
//                     runs on libuv's thread pool (node:crypto's callback API, the key parsed once), then the
//                     answer carrying the new token.
//
// Tokens are JWS strings of Keyward's shape and length; the server knows the ones it signed by their exact string
// (as Keyward's token memory does), so a presented token is never parsed. A token it does not know (the first
// request of each loop) starts a session with RedisTokenStore.createSession. Keyward's `GET /user` figure divided
// by this server's is what Keyward's own layers cost; this server's divided by the bare server's is what the
// platform leaves for the target. Env: PORT, FLOOR, REDIS_URL, REDIS_KEY_PREFIX. Prints `{"port":N}` once
// listening.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import http from 'node:http';
import { ChurnMap } from '../src/churn-map.js';
import { createRedisClient } from '../src/stores/redis-client.js';
import { RedisTokenStore } from '../src/stores/redis-token-store.js';
import type { TokenRef } from '../src/stores/token-store.js';
import { serveReference } from './reference-server.js';

const mode = process.env.FLOOR;
if (mode !== 'off' && mode !== 'single-use') throw new Error('FLOOR must be off or single-use');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.REDIS_KEY_PREFIX ?? 'kwfloor';

const TTL_MS = 15 * 60_000;
const store = new RedisTokenStore(createRedisClient({ url: redisUrl, commandTimeoutMs: 2000 }), prefix, {
  idleTtlMs: 24 * 3600_000,
  maxTtlMs: 30 * 24 * 3600_000,
  refreshReuseWindowMs: 0,
});
const { privateKey } = generateKeyPairSync('ed25519');
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const header = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: randomUUID() })}.`;
const known = new ChurnMap<string, TokenRef>();

function signToken(ref: TokenRef, expiresAt: number): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const input =
    header +
    b64({
      iss: 'keyward',
      aud: 'keyward',
      sub: String(ref.userId),
      user_id: ref.userId,
      sid: ref.sid,
      jti: ref.jti,
      iat,
      exp: Math.floor(expiresAt / 1000),
    });
  return new Promise((resolve, reject) => {
    sign(null, Buffer.from(input, 'latin1'), privateKey, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

function answer(response: http.ServerResponse, status: number, token: string | undefined): void {
  const body = status === 200 ? JSON.stringify({ user: { id: 1, username: 'bench_0' }, token }) : '{}';
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}

async function startChain(): Promise<string> {
  const now = Date.now();
  const ref: TokenRef = { userId: 1, sid: randomUUID(), jti: randomUUID() };
  const grant = { jti: ref.jti, expiresAt: now + TTL_MS };
  const session = { userId: ref.userId, sid: ref.sid, userAgent: '', ip: '127.0.0.1', token: grant };
  await store.createSession(session, now);
  const token = await signToken(ref, grant.expiresAt);
  known.set(token, ref);
  return token;
}

async function handle(authorization: string | undefined): Promise<[number, string | undefined]> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  const ref = known.get(token);
  if (ref === undefined) return [200, await startChain()];
  const now = Date.now();
  if (mode === 'off') return (await store.check(ref, now)) ? [200, token] : [401, undefined];
  const next: TokenRef = { userId: ref.userId, sid: ref.sid, jti: randomUUID() };
  const grant = { jti: next.jti, expiresAt: now + TTL_MS };
  const signed = signToken(next, grant.expiresAt);
  known.delete(token);
  const [consumed, nextToken] = await Promise.all([store.consume(ref, grant, now), signed]);
  if (!consumed) return [401, undefined];
  known.set(nextToken, next);
  return [200, nextToken];
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
