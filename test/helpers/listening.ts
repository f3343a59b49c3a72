import type { AddressInfo } from 'node:net';
import { makeApp, type TestApp } from './app.js';

export interface ListeningApp extends TestApp {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
}

/** A test app (test/helpers/app.ts) listening on a free loopback port, for clients that speak real HTTP. */
export async function listeningApp(env: Record<string, string> = {}): Promise<ListeningApp> {
  const t = await makeApp(env);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  return { ...t, baseUrl: `http://127.0.0.1:${port}` };
}
