// One command, the whole picture: an embedded Keyward server (SQLite and the memory store, in a temporary
// directory), the resource server in front of it, and @keyward/client driving both.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@keyward/client';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { closeDeps, createDeps } from '../../../src/deps.js';
import { createResourceServer } from './resource-server.js';

const CLIENT_ID = 'orders-api';
const CLIENT_SECRET = 'demo-introspection-secret-0123456789';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-demo-'));
const config = loadConfig({
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  INTROSPECTION_CLIENTS: `${CLIENT_ID}:${CLIENT_SECRET}`,
  ARGON2_MEMORY_KIB: '8192',
  ARGON2_ITERATIONS: '1',
});
const deps = await createDeps(config);
const keyward = await buildApp(config, deps);
await keyward.listen({ host: '127.0.0.1', port: 0 });
const keywardUrl = `http://127.0.0.1:${(keyward.server.address() as AddressInfo).port}`;
say(`keyward listening on ${keywardUrl}`);

const api = await createResourceServer({
  keywardUrl,
  introspection: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
});
await api.listen({ host: '127.0.0.1', port: 0 });
const apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
say(`resource server listening on ${apiUrl}`);

try {
  const client = createClient({ baseUrl: keywardUrl });
  await client.signup('demo-user', 'correct horse battery staple');
  await client.login('demo-user', 'correct horse battery staple');
  say('logged in as demo-user');

  const me = (await (await client.request('/user')).json()) as { user: { id: number } };
  say(`GET ${keywardUrl}/user -> user ${me.user.id}`);
  const orders = await client.request(`${apiUrl}/orders`);
  say(`GET ${apiUrl}/orders -> ${orders.status} ${JSON.stringify(await orders.json())}`);
  const report = await client.request(`${apiUrl}/report`);
  say(`GET ${apiUrl}/report -> ${report.status} (demo-user is no admin)`);
  // Keyward's token chain goes on after the resource server saw the token.
  say(`GET ${keywardUrl}/user again -> ${(await client.request('/user')).status}`);

  await client.logout();
  const anonymous = await fetch(`${apiUrl}/orders`);
  say(`GET ${apiUrl}/orders without a token -> ${anonymous.status}`);
  say('done');
} finally {
  await api.close();
  await keyward.close();
  await closeDeps(deps);
  rmSync(dataDir, { recursive: true, force: true });
}
