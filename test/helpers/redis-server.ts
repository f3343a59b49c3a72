import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { inCi } from './ci.js';

const run = promisify(execFile);

/** Undefined when `redis-server` and `redis-cli` are installed; else a skip reason (throws when CI is set). */
export async function redisBinariesMissing(): Promise<string | undefined> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return undefined;
  } catch (error) {
    const reason = `redis-server/redis-cli not installed: ${(error as Error).message}`;
    if (inCi) throw new Error(`${reason} (CI is set: a missing service fails the run)`);
    console.warn(`WARNING: skipping, ${reason}`);
    return reason;
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * A free loopback port between 20000 and 55000 whose `port + offset` is free too (a cluster node also listens
 * on its port + 10000 for the cluster bus).
 */
export async function freePort(offsets: number[] = [0]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20000 + Math.floor(Math.random() * 35000);
    const checks = await Promise.all(offsets.map((offset) => portFree(port + offset)));
    if (checks.every(Boolean)) return port;
  }
  throw new Error('no free port found');
}

/** Runs `redis-cli -p <port> <args…>` and returns its output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A Redis process a test owns. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  /** Stops the process and removes its directory. */
  destroy(): Promise<void>;
}

/** One redis-server process this test owns, on its own port and directory. */
export class RedisServer implements RedisProcess {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on `port` (a free one by default) with persistence off. */
  static async start(options: { port?: number; args?: string[]; dir?: string } = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'keyward-redis-'));
    const server = new RedisServer(port, dir, options.args ?? []);
    await server.restart();
    return server;
  }

  /** (Re)starts the process on the same port, with no data (persistence is off). */
  async restart(): Promise<void> {
    if (this.process) throw new Error(`redis on port ${this.port} is already running`);
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    child.once('exit', () => {
      if (this.process === child) this.process = undefined;
    });
    await waitFor(
      `redis on port ${this.port}`,
      async () => (await redisCli(this.port, 'ping')).trim() === 'PONG',
    );
  }

  /** Shuts the server down without saving, and waits for the process to end. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else
        child.once('exit', () => {
          resolve();
        });
    });
    await redisCli(this.port, 'shutdown', 'nosave').catch(() => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.process = undefined;
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Sentinel (redis-server --sentinel) monitoring one master under `name`, with quorum 1. */
export async function startSentinel(masterPort: number, name: string): Promise<RedisProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyward-sentinel-'));
  const port = await freePort();
  const config = path.join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it must be a file of its own.
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = new SentinelProcess(port, dir, config);
  await sentinel.start();
  return sentinel;
}

class SentinelProcess implements RedisProcess {
  private process: ChildProcess | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly config: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', [this.config, '--sentinel'], { stdio: 'ignore' });
    this.process = child;
    await waitFor(
      `sentinel on port ${this.port}`,
      async () => (await redisCli(this.port, 'ping')).trim() === 'PONG',
    );
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else
        child.once('exit', () => {
          resolve();
        });
    });
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
