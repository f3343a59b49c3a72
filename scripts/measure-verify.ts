// How much a resource server pays per request to check a Keyward token: offline against the JWKS, or through
// /introspect (no cache), measured against a real Keyward server on loopback (docs/integration.md). Not a
// benchmark of Keyward's own routes: that is `npm run bench`.
//   tsx scripts/measure-verify.ts [requests=2000] [concurrency=16]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createVerifier, type Verifier } from '@keyward/verify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { closeDeps, createDeps } from '../src/deps.js';

const total = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);
const secret = 'measure-introspection-secret-0123456789';

const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-measure-'));
const config = loadConfig({
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  RATE_LIMIT: 'off',
  INTROSPECTION_CLIENTS: `measure:${secret}`,
});
const deps = await createDeps(config);
const app = await buildApp(config, deps);
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

await app.inject({
  method: 'POST',
  url: '/user',
  payload: { username: 'measure', password: 'correct horse battery staple' },
});
const login = await app.inject({
  method: 'POST',
  url: '/authenticate_user',
  payload: { username: 'measure', password: 'correct horse battery staple' },
});
const token = login.json<{ token: string }>().token;

async function run(name: string, verifier: Verifier): Promise<void> {
  for (let i = 0; i < 200; i += 1) await verifier.verify(token); // warm-up (keys fetched, JIT)
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        await verifier.verify(token);
      }
    }),
  );
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const perSecond = Math.round((total / ms) * 1000);
  const cpuUs = ((cpu.user + cpu.system) / total).toFixed(0);
  console.log(`${name}: ${perSecond} verifications/s, ${cpuUs} µs CPU each (this process, Keyward included)`);
}

const common = { jwksUrl: `${base}/.well-known/jwks.json`, issuer: 'keyward', audience: 'keyward' };
try {
  await run('JWKS (offline)', createVerifier(common));
  await run(
    'introspection, no cache',
    createVerifier({
      ...common,
      introspection: {
        url: `${base}/introspect`,
        clientId: 'measure',
        clientSecret: secret,
        cacheSeconds: 0,
      },
    }),
  );
  await run(
    'introspection, 5 s cache (one token)',
    createVerifier({
      ...common,
      introspection: {
        url: `${base}/introspect`,
        clientId: 'measure',
        clientSecret: secret,
        cacheSeconds: 5,
      },
    }),
  );
} finally {
  await app.close();
  await closeDeps(deps);
  rmSync(dataDir, { recursive: true, force: true });
}
