import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Agent, fetch, type Headers } from 'undici';
import { FAST_HASH_ENV } from './app.js';
import { builtIsCurrent } from '../../scripts/build-state.js';
import { startCommand } from '../../scripts/start-command.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const START = startCommand(ROOT);

/**
 * The server as users run it (`npm start`'s settings and `node <flags> dist/server.js`) when the build is up to date (`npm test`
 * builds first), otherwise the sources through tsx with the same flags, so that a single test file run after an
 * edit still tests the edit.
 */
const SERVER_COMMAND: string[] = builtIsCurrent(ROOT)
  ? [...START.nodeArgs, path.join(ROOT, START.entry)]
  : [...START.nodeArgs, '--import', TSX_LOADER, path.join(ROOT, 'src', 'server.ts')];

/** Deadline for a server process to reach a log line (tsx compiles the sources on a cold start). */
export const START_TIMEOUT_MS = 90_000;

/** One pino line of the server's stdout (non-JSON lines are kept as `{msg}` with level 0). */
export interface LogLine {
  level: number;
  pid: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Waiter {
  predicate: (line: LogLine) => boolean;
  resolve: (line: LogLine) => void;
}

const LISTENING = /^Server listening at (http:\/\/\S+)$/;
const running = new Set<ServerProcess>();

/**
 * A real `node --import tsx src/server.ts` process with an explicit environment (nothing inherited but PATH),
 * a data directory of its own and PORT=0 unless given; its JSON log lines are collected as they arrive.
 */
export class ServerProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private waiters: Waiter[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (text) => {
        this.push(text);
      });
    }
  }

  /** Spawns the server without waiting for anything (for processes expected to fail). */
  static spawn(env: Record<string, string | undefined> = {}): ServerProcess {
    const ownsDataDir = env.DATA_DIR === undefined;
    const dataDir = env.DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'keyward-e2e-'));
    const merged: Record<string, string | undefined> = {
      ...START.env,
      PATH: process.env.PATH,
      // tsx looks for tsconfig.json from the working directory, which is the data directory (so that no
      // stray .env in the checkout leaks into the test).
      TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      RATE_LIMIT: 'off',
      ...FAST_HASH_ENV,
      ...env,
      DATA_DIR: dataDir,
    };
    const childEnv = Object.fromEntries(
      Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const child = spawn(process.execPath, SERVER_COMMAND, {
      cwd: dataDir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child, dataDir, ownsDataDir);
    running.add(server);
    return server;
  }

  /** Spawns the server and waits until `listeners` processes (workers, or the process itself) listen. */
  static async start(env: Record<string, string | undefined> = {}, listeners = 1): Promise<ServerProcess> {
    const server = ServerProcess.spawn(env);
    try {
      await server.waitForLog(
        () => server.listening().length >= listeners,
        `${listeners} "Server listening" line(s)`,
      );
    } catch (error) {
      await server.kill();
      throw error;
    }
    return server;
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('server process has no pid');
    return pid;
  }

  /** `http://127.0.0.1:<port>` from the first `Server listening at …` line. */
  get url(): string {
    const first = this.listening()[0];
    if (!first) throw new Error('server is not listening yet');
    return first.url;
  }

  /** Every `Server listening at …` line so far: the process (or worker) pid and its address. */
  listening(): { pid: number; url: string }[] {
    return this.lines.flatMap((line) => {
      const match = LISTENING.exec(line.msg);
      return match?.[1] ? [{ pid: line.pid, url: match[1] }] : [];
    });
  }

  /**
   * The first log line (already seen or still to come) matching `predicate`; rejects when the process exits
   * first or after `timeoutMs`.
   */
  async waitForLog(
    predicate: (line: LogLine) => boolean,
    what: string,
    timeoutMs = START_TIMEOUT_MS,
  ): Promise<LogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return seen;
    if (this.exit) throw new Error(`server exited (${this.describeExit()}) before logging ${what}`);
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    try {
      return await Promise.race([
        new Promise<LogLine>((resolve) => {
          waiter = { predicate, resolve };
          this.waiters.push(waiter);
        }),
        this.exited.then((): never => {
          throw new Error(`server exited (${this.describeExit()}) before logging ${what}`);
        }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`timed out waiting for log line: ${what}\nstderr: ${this.stderr}`));
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }

  /** SIGKILLs the process and every worker it logged, waits for the exit and removes its own data directory. */
  async kill(): Promise<void> {
    running.delete(this);
    if (!this.exit) this.child.kill('SIGKILL');
    // Workers also exit by themselves once the primary's IPC channel closes; this is for one stuck in a loop.
    const workers = new Set([
      ...this.listening().map((l) => l.pid),
      ...this.lines.flatMap((line) =>
        line.msg === 'worker started' && typeof line.worker === 'number' ? [line.worker] : [],
      ),
    ]);
    for (const pid of workers) {
      if (pid !== this.child.pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
    await this.exited;
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private describeExit(): string {
    return `code ${String(this.exit?.code)}, signal ${String(this.exit?.signal)}; stderr: ${this.stderr}`;
  }

  private push(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 0, pid: this.child.pid ?? 0, msg: text };
    }
    this.lines.push(line);
    for (const waiter of this.waiters.filter((w) => w.predicate(line))) waiter.resolve(line);
  }
}

/** Kills every server process this file started and has not killed yet (for `after`, whatever failed). */
export async function killAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.kill()));
}

/** True while a process with this pid exists (a zombie counts; the parent has not reaped it yet). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The parent pid of `pid` from /proc (Linux), undefined when the process is gone. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface SendOptions {
  json?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

/** One HTTP request over TCP through `agent`; the body is parsed as JSON when there is one. */
export async function send(
  agent: Agent,
  base: string,
  method: string,
  route: string,
  options: SendOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${route}`, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    dispatcher: agent,
  });
  const text = await res.text();
  const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  return { status: res.status, headers: res.headers, body };
}

/** A string field of a reply body (fails loudly when absent, with the whole reply). */
export function field(reply: Reply, name: string): string {
  const value = reply.body[name];
  if (typeof value !== 'string') {
    throw new Error(`reply has no string "${name}": ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  return value;
}
