import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { closeDeps, createDeps, createLogger, type Deps, type DepsOverrides } from '../../src/deps.js';

/** Cheap argon2 parameters for tests that are not about hashing cost. */
export const FAST_HASH_ENV = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1' };

export interface MakeAppOptions {
  /** Where the app's logger (the real one, its line redaction included, at the env's LOG_LEVEL) writes its lines. */
  logDestination?: DestinationStream;
  /** False to hash with the config's own argon2 defaults instead of FAST_HASH_ENV (default true). */
  fastHash?: boolean;
}

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  config: Config;
  dataDir: string;
  close(): Promise<void>;
}

/** Builds an isolated app (own data directory and SQLite file) from env-style settings. */
export async function makeApp(
  env: Record<string, string> = {},
  overrides: DepsOverrides = {},
  options: MakeAppOptions = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keyward-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT: 'off',
    ...(options.fastHash === false ? {} : FAST_HASH_ENV),
    ...env,
  });
  const logger =
    overrides.logger ?? (options.logDestination ? createLogger(config, options.logDestination) : undefined);
  const deps = await createDeps(config, logger ? { ...overrides, logger } : overrides);
  const app = await buildApp(config, deps);
  await app.ready();
  return {
    app,
    deps,
    config,
    dataDir,
    async close() {
      await app.close();
      await closeDeps(deps);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;

/** A username no other test uses. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${process.pid}x${counter}x${Math.floor(Math.random() * 1e6)}`;
}

export const PASSWORD = 'correct horse battery staple';

/** Signs up and logs in; returns the login response body. */
export async function signUpAndLogin(
  app: FastifyInstance,
  username = uniqueName(),
  password = PASSWORD,
): Promise<{ username: string; userId: number; token: string; refreshToken: string }> {
  const created = await app.inject({ method: 'POST', url: '/user', payload: { username, password } });
  if (created.statusCode !== 201) throw new Error(`signup failed: ${created.statusCode} ${created.body}`);
  const login = await app.inject({
    method: 'POST',
    url: '/authenticate_user',
    payload: { username, password },
  });
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
  const body = login.json<{ token: string; refresh_token: string }>();
  const user = created.json<{ user: { id: number } }>().user;
  return { username, userId: user.id, token: body.token, refreshToken: body.refresh_token };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
