import type { Worker } from 'node:worker_threads';

/**
 * Watches the threads of a HashPool or PasswordHasher through its `onThreadStart` option: which are alive, and a
 * crash of all of them (each is terminated as if it had died).
 */
export function watchThreads() {
  const alive = new Set<Worker>();
  return {
    onThreadStart: (worker: Worker) => {
      alive.add(worker);
      worker.once('exit', () => alive.delete(worker));
    },
    /** The live threads' ids. */
    ids: (): number[] => [...alive].map((worker) => worker.threadId),
    async crash(): Promise<void> {
      await Promise.all([...alive].map((worker) => worker.terminate()));
    },
  };
}
