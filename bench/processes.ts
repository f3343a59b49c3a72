import { fork, spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ClientMessage, RunResult, RunSpec } from './protocol.js';
import { startCommand } from '../scripts/start-command.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX = ['--import', 'tsx'];
/** `npm start`'s command: the bench runs the server with the flags users get. */
export const START = startCommand(ROOT);
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** A free TCP port on the loopback interface (released before it is handed out; fine on a quiet machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
}

export interface CpuTimes {
  all: number;
  loop: number;
}

function cpuOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A server child process (Keyward or the bare server) and the figures the kernel keeps about it. */
export class ServerProcess {
  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly origin: string,
    readonly logFile: string | undefined,
  ) {}

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }

  /**
   * Starts the server as `npm start` does (its environment settings, `node <its flags> dist/server.js`; `nodeArgs`
   * come after its flags and `env` after its settings, so they win), with exactly `env` (plus PATH and HOME).
   * `root` is the checkout whose `dist/server.js` runs, with that checkout's `npm start` command (this one by
   * default; `--ab` runs another one beside it).
   */
  static async keyward(
    name: string,
    env: Record<string, string>,
    options: { cwd: string; logFile: string; nodeArgs?: string[]; root?: string },
  ): Promise<ServerProcess> {
    const port = await freePort();
    const root = options.root ?? ROOT;
    const start = root === ROOT ? START : startCommand(root);
    const log = openSync(options.logFile, 'a');
    const child = spawn(
      process.execPath,
      [...start.nodeArgs, ...(options.nodeArgs ?? []), path.join(root, start.entry)],
      {
        cwd: options.cwd,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          ...start.env,
          ...env,
          PORT: String(port),
        },
        stdio: ['ignore', log, log],
      },
    );
    closeSync(log);
    const server = new ServerProcess(name, child, `http://127.0.0.1:${port}`, options.logFile);
    await server.waitReady();
    return server;
  }

  /** Starts the bare node:http server. */
  static bare(): Promise<ServerProcess> {
    return ServerProcess.reference('bare node:http', 'bare-server.ts', {});
  }

  /** Starts the floor server (bench/floor-server.ts) for `FLOOR=mode`, on the given Redis. */
  static floor(
    mode: 'off' | 'single-use' | 'sign',
    redisUrl: string,
    prefix: string,
  ): Promise<ServerProcess> {
    return ServerProcess.reference(`floor ${mode}`, 'floor-server.ts', {
      FLOOR: mode,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    });
  }

  /** A reference server of the bench (a script in bench/ that prints `{"port":N}` once listening). */
  private static async reference(
    name: string,
    script: string,
    env: Record<string, string>,
  ): Promise<ServerProcess> {
    const child = spawn(process.execPath, [...TSX, path.join(ROOT, 'bench', script)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const line = text.split('\n')[0];
        if (text.includes('\n') && line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => {
        reject(new Error(`${name} exited with ${String(code)}`));
      });
    });
    return new ServerProcess(name, child, `http://127.0.0.1:${port}`, undefined);
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        const response = await fetch(`${this.origin}/readyz`);
        await response.arrayBuffer();
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    const log = this.logFile ? readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
    await this.stop();
    throw new Error(`${this.name} did not become ready:\n${log}`);
  }

  /** Peak resident set size (VmHWM) in MB since the process started. */
  peakRssMb(): number {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return Number.NaN; // already gone
    }
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  }

  /**
   * User + system CPU time in seconds: of the whole process (every thread: the event loop, libuv's pool, V8's
   * helpers) and of its main thread alone, the event loop, whose time per request bounds what one process serves.
   */
  cpuSeconds(): CpuTimes {
    return {
      all: cpuOf(`/proc/${this.pid}/stat`),
      loop: cpuOf(`/proc/${this.pid}/task/${this.pid}/stat`),
    };
  }

  /** SIGTERM, as an operator would; SIGKILL if it has not stopped after 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited(this.child);
    clearTimeout(timer);
  }
}

/** A load-client process (bench/load-client.ts), driven over IPC. */
export class ClientProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (result: RunResult) => void; reject: (error: Error) => void }
  >();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: RunResult | { ready: true }) => {
      if (!('id' in message)) return;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      waiter?.resolve(message);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`load client exited (${String(signal ?? code)}) during a run`));
      }
      this.pending.clear();
    });
  }

  static async start(): Promise<ClientProcess> {
    const child = fork(path.join(ROOT, 'bench', 'load-client.ts'), [], {
      cwd: ROOT,
      execArgv: TSX,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => {
        resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`load client exited with ${String(code)}`));
      });
    });
    return new ClientProcess(child);
  }

  run(spec: Omit<RunSpec, 'id'>): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        reject(new Error('load client is not running'));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.child.send({ type: 'run', spec: { ...spec, id } } satisfies ClientMessage);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.send({ type: 'exit' } satisfies ClientMessage);
    await exited(this.child);
  }
}
