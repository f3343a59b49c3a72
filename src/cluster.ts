import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateReachable } from './db/migrator.js';
import { signingKeyOptions } from './deps.js';
import { loadKeySet } from './services/signing-keys.js';

const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before dying restarts after the base delay again. */
const STABLE_AFTER_MS = 60_000;
/** Beyond the workers' own shutdown deadline, before the primary kills what is left. */
const KILL_GRACE_MS = 3_000;

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** How long each worker may take to close gracefully; the worker enforces it itself. */
  shutdownTimeoutMs: number;
}

interface Slot {
  worker: Worker | undefined;
  startedAt: number;
  /** Some worker of this slot has listened: later deaths are restarted instead of failing the start. */
  listened: boolean;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * Work done once, before any worker exists, that workers would otherwise race on: the migrations and, when no
 * key is configured, generating the signing key (two workers each generating one would sign with keys the
 * other does not know).
 */
async function prepareSharedState(config: Config): Promise<void> {
  const database = openDatabase(config.databaseUrl, config.databaseOptions);
  try {
    await migrateReachable(database, config.databaseUrl);
  } finally {
    await database.close();
  }
  loadKeySet(signingKeyOptions(config));
}

/**
 * The primary of `WEB_CONCURRENCY > 1`: forks the workers (each one runs the ordinary server on the shared
 * port), restarts a worker that dies with a growing delay, and on SIGTERM/SIGINT passes the signal on, waits
 * for every worker to close gracefully and exits 0 (1 when a worker did not stop cleanly).
 */
export async function runPrimary(config: Config, options: PrimaryOptions): Promise<void> {
  const { logger } = options;
  await prepareSharedState(config);

  const slots: Slot[] = [];
  let shuttingDown = false;
  let exitCode = 0;

  const alive = () => slots.filter((slot) => slot.worker !== undefined).length;

  const finish = () => {
    logger.info({ exitCode }, 'stopped');
    process.exit(exitCode);
  };

  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal, workers: alive() }, 'shutting down workers');
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      slot.worker?.process.kill(signal);
    }
    if (alive() === 0) {
      finish();
      return;
    }
    setTimeout(() => {
      logger.error({ workers: alive() }, 'workers did not stop in time; killing them');
      exitCode = 1;
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
    }, options.shutdownTimeoutMs + KILL_GRACE_MS).unref();
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker === worker) slot.worker = undefined;
    const pid = worker.process.pid;
    if (shuttingDown) {
      if (code !== 0) exitCode = 1;
      logger.info({ worker: pid, code, signal }, 'worker stopped');
      if (alive() === 0) finish();
      return;
    }
    if (!slot.listened) {
      // Same outcome as a single process that cannot start (database unreachable, bad key file…): exit 1 and
      // let the supervisor decide, rather than retry quietly forever.
      logger.error({ worker: pid, code, signal }, 'worker failed to start; stopping');
      exitCode = 1;
      shutdown('SIGTERM');
      return;
    }
    if (Date.now() - slot.startedAt >= STABLE_AFTER_MS) slot.failures = 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** slot.failures);
    slot.failures += 1;
    logger.error(
      { worker: pid, code, signal, restartInMs: delay },
      'worker died unexpectedly; restarting it',
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      fork(slot);
    }, delay);
  };

  const fork = (slot: Slot) => {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.startedAt = Date.now();
    logger.info({ worker: worker.process.pid }, 'worker started');
    // Without a listener, an 'error' (a failed IPC send or kill) would be thrown in the primary.
    worker.on('error', (error: Error) => {
      logger.warn({ worker: worker.process.pid, err: { message: error.message } }, 'worker error');
    });
    worker.on('listening', () => {
      slot.listened = true;
    });
    worker.on('exit', (code: number | null, signal: string | null) => {
      onExit(slot, worker, code, signal);
    });
  };

  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });

  logger.info({ workers: options.workers }, 'starting workers');
  for (let i = 0; i < options.workers; i += 1) {
    const slot: Slot = {
      worker: undefined,
      startedAt: 0,
      listened: false,
      failures: 0,
      restartTimer: undefined,
    };
    slots.push(slot);
    fork(slot);
  }
}
