// One password-hashing thread of HashPool (hash-pool.ts). It runs its jobs one at a time with the synchronous
// functions on purpose: the asynchronous ones would hand the work to libuv's process-wide thread pool, whose
// threads run at the requests' priority. It imports nothing of Keyward's at run time (types only), and it is a
// CommonJS module: every thread loads its own copy of what it imports, and a thread without the ES module
// loader costs about 2.5 MB less.
/* eslint-disable @typescript-eslint/no-require-imports -- `import = require` is how a .cts module imports */
import type { Algorithm } from '@node-rs/argon2';
import type { Argon2Params } from './password-hasher.js';
import argon2Binding = require('@node-rs/argon2');
import crypto = require('node:crypto');
import os = require('node:os');
import workerThreads = require('node:worker_threads');

/** What the pool gives the thread when it starts it. */
export interface HashWorkerData {
  argon2: Argon2Params;
  /** Nice levels below the thread that started it (0: the same priority). */
  nice: number;
}

export type HashJob =
  | { op: 'hash'; password: string }
  | { op: 'verify'; hash: string; password: string }
  | { op: 'verify-pbkdf2'; password: string; salt: string; iterations: number; key: string };

export interface HashRequest {
  id: number;
  job: HashJob;
}

/** A job's answer, or the one message the thread sends on its own: why its priority could not be lowered. */
export type HashWorkerMessage =
  | { id: number; value: string | boolean; seconds: number }
  | { id: number; error: string; seconds: number }
  | { priorityError: string };

// Algorithm is an ambient const enum, which isolated modules cannot read: 2 is its Argon2id member.
const ARGON2ID = 2 as unknown as Algorithm;

const port = workerThreads.parentPort;
if (!port) throw new Error('hash-worker runs as a worker thread of HashPool');
const { argon2, nice } = workerThreads.workerData as HashWorkerData;

// Linux keeps a nice value per thread, so this lowers this thread alone. Elsewhere it would lower the whole
// process, the event loop included: there the hashes keep the requests' priority.
if (nice > 0 && process.platform === 'linux') {
  try {
    os.setPriority(0, Math.min(19, os.getPriority(0) + nice));
  } catch (error) {
    port.postMessage({ priorityError: error instanceof Error ? error.message : String(error) });
  }
}

function run(job: HashJob): string | boolean {
  switch (job.op) {
    case 'hash':
      return argon2Binding.hashSync(job.password, { algorithm: ARGON2ID, ...argon2 });
    case 'verify':
      try {
        return argon2Binding.verifySync(job.hash, job.password);
      } catch {
        // A stored hash that is not a valid PHC string matches no password.
        return false;
      }
    case 'verify-pbkdf2': {
      const expected = Buffer.from(job.key, 'base64');
      // An empty stored key matches nothing; the derivation still runs (at the format's 32 bytes), because
      // Node 24's PBKDF2 refuses a zero-length output ("Deriving bits failed") where 20 and 22 return nothing.
      const derived = crypto.pbkdf2Sync(
        job.password,
        Buffer.from(job.salt, 'base64'),
        job.iterations,
        expected.length || 32,
        'sha256',
      );
      return (
        expected.length > 0 && derived.length === expected.length && crypto.timingSafeEqual(derived, expected)
      );
    }
  }
}

port.on('message', ({ id, job }: HashRequest) => {
  // The job's own time on this thread, for the duration metric (the wait in the pool's queue excluded).
  const started = performance.now();
  let reply: HashWorkerMessage;
  try {
    const value = run(job);
    reply = { id, value, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    // argon2's and node:crypto's messages name a parameter, never the password.
    const message = error instanceof Error ? error.message : String(error);
    reply = { id, error: message, seconds: (performance.now() - started) / 1000 };
  }
  port.postMessage(reply);
});
