import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashJob, HashRequest, HashWorkerData, HashWorkerMessage } from './hash-worker.cjs';
import { DomainError } from '../errors.js';
import type { Argon2Params } from './password-hasher.js';

export interface HashPoolOptions {
  /** Threads at most; each runs one job at a time. They start on demand and stay. */
  size: number;
  argon2: Argon2Params;
  /** Nice levels below the event loop for the threads (Linux only; 0: the same priority). */
  nice: number;
  /** Jobs allowed to wait for a thread; beyond that `run` refuses with `server_busy` at once (default: no limit). */
  queueLimit?: number;
  /** Each job's time on its thread in seconds, queueing excluded (metrics). */
  onDuration?: (seconds: number, operation: 'hash' | 'verify') => void;
  /** Called once if a thread could not lower its priority (it then hashes at the requests' priority). */
  onPriorityError?: (reason: string) => void;
  /** Sees each thread as it starts (the testing seam: a test ends threads through it as a crash would). */
  onThreadStart?: (worker: Worker) => void;
}

interface Task {
  request: HashRequest;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  task?: Task;
  error?: Error;
}

/**
 * The thread's module: hash-worker.cjs beside this file in dist/. From the TypeScript sources (tests,
 * `npm run dev`) it is hash-worker.cts, and Node 20 does not pass tsx's loader hooks on to worker threads: the
 * thread registers tsx itself before loading it.
 */
function workerEntry(): { filename: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { filename: new URL('./hash-worker.cjs', import.meta.url), eval: false };
  const tsx = JSON.stringify(fileURLToPath(import.meta.resolve('tsx/cjs/api')));
  const worker = JSON.stringify(fileURLToPath(new URL('./hash-worker.cts', import.meta.url)));
  // import() works whether the thread evaluates this as a script or, under --input-type=module, as a module.
  const load = `const require = createRequire(${worker}); require(${tsx}).register(); require(${worker});`;
  return { filename: `import('node:module').then(({ createRequire }) => { ${load} });`, eval: true };
}

/**
 * Worker threads that compute argon2id and PBKDF2 at a lower OS priority than the event loop, so that a login
 * storm takes CPU time from nothing but itself. Jobs beyond `size` wait in order. A thread that dies fails its
 * job and is replaced by the next job. Idle threads do not keep the process alive.
 */
export class HashPool {
  private readonly threads = new Set<Thread>();
  private readonly idle: Thread[] = [];
  private readonly waiting: Task[] = [];
  private nextId = 1;
  private closed = false;
  private priorityErrorReported = false;

  constructor(private readonly options: HashPoolOptions) {}

  /** A fresh argon2id PHC string, with the pool's parameters. */
  async hash(password: string): Promise<string> {
    return (await this.run({ op: 'hash', password })) as string;
  }

  /** Whether the password matches the argon2 PHC string (false for a string that is not one). */
  async verify(hash: string, password: string): Promise<boolean> {
    return (await this.run({ op: 'verify', hash, password })) as boolean;
  }

  /** Whether PBKDF2-HMAC-SHA256 of the password gives `key` (both base64), compared in constant time. */
  async verifyPbkdf2(password: string, salt: string, iterations: number, key: string): Promise<boolean> {
    return (await this.run({ op: 'verify-pbkdf2', password, salt, iterations, key })) as boolean;
  }

  /** Ends the threads; jobs not finished yet fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.waiting.splice(0)) task.reject(new Error('the password hasher is closed'));
    await Promise.all([...this.threads].map((thread) => thread.worker.terminate()));
  }

  /** Jobs waiting for a thread. */
  get queueDepth(): number {
    return this.waiting.length;
  }

  private async run(job: HashJob): Promise<string | boolean> {
    if (this.closed) throw new Error('the password hasher is closed');
    const threadFree = this.idle.length > 0 || this.threads.size < this.options.size;
    if (!threadFree && this.waiting.length >= (this.options.queueLimit ?? Infinity)) {
      throw new DomainError('server_busy', { retryAfter: 1 });
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ request: { id: this.nextId++, job }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const thread = this.idle.pop() ?? (this.threads.size < this.options.size ? this.start() : undefined);
      if (!thread) return;
      const task = this.waiting.shift() as Task;
      thread.task = task;
      // Referenced while it works: a command that awaits a hash and nothing else must not exit meanwhile.
      thread.worker.ref();
      thread.worker.postMessage(task.request);
    }
  }

  private start(): Thread {
    const entry = workerEntry();
    const workerData: HashWorkerData = { argon2: this.options.argon2, nice: this.options.nice };
    const worker = new Worker(entry.filename, { eval: entry.eval, workerData });
    worker.unref();
    const thread: Thread = { worker };
    worker.on('message', (message: HashWorkerMessage) => {
      this.onMessage(thread, message);
    });
    worker.on('error', (error) => {
      thread.error = error;
    });
    worker.on('exit', (code) => {
      this.onExit(thread, code);
    });
    this.threads.add(thread);
    this.options.onThreadStart?.(worker);
    return thread;
  }

  private onMessage(thread: Thread, message: HashWorkerMessage): void {
    if ('priorityError' in message) {
      if (!this.priorityErrorReported) this.options.onPriorityError?.(message.priorityError);
      this.priorityErrorReported = true;
      return;
    }
    const task = thread.task;
    if (task?.request.id !== message.id) return;
    thread.task = undefined;
    thread.worker.unref();
    this.idle.push(thread);
    this.options.onDuration?.(message.seconds, task.request.job.op === 'hash' ? 'hash' : 'verify');
    if ('error' in message) task.reject(new Error(`password hashing failed: ${message.error}`));
    else task.resolve(message.value);
    this.dispatch();
  }

  private onExit(thread: Thread, code: number): void {
    this.threads.delete(thread);
    const idle = this.idle.indexOf(thread);
    if (idle !== -1) this.idle.splice(idle, 1);
    if (thread.task) {
      const reason = this.closed
        ? 'the password hasher is closed'
        : `a password hashing thread stopped (exit code ${code})`;
      thread.task.reject(new Error(reason, { cause: thread.error }));
    }
    if (!this.closed) this.dispatch();
  }
}
