// "The hasher alone": argon2id verifications per second with @node-rs/argon2 at Keyward's parameters, with
// N verifications in flight, in a process of its own and with no HTTP around it. Login throughput is
// reported as a share of this (measured at the start of the run, and again in every round of the login and
// signup scenarios). Usage: hasher-alone.ts '<json {memoryCost,timeCost,parallelism,concurrency[],durationMs,stored?}>'
import { performance } from 'node:perf_hooks';
import { hash, verify, type Algorithm } from '@node-rs/argon2';

interface Options {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  concurrency: number[];
  durationMs: number;
  /** A hash this script printed before (of its own password), to verify instead of hashing a new one. */
  stored?: string;
}

// Algorithm is an ambient const enum, which isolated modules cannot read: 2 is its Argon2id member.
const ARGON2ID = 2 as unknown as Algorithm;

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const password = 'bench-Pa55word-hasher';
const stored =
  options.stored ??
  (await hash(password, {
    algorithm: ARGON2ID,
    memoryCost: options.memoryCost,
    timeCost: options.timeCost,
    parallelism: options.parallelism,
  }));

const results: { concurrency: number; perSecond: number; verifications: number }[] = [];
for (const concurrency of options.concurrency) {
  // A short warm-up so that the worker threads and their memory are in place.
  await Promise.all(Array.from({ length: concurrency }, () => verify(stored, password)));
  let done = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        if (!(await verify(stored, password))) throw new Error('verification failed');
        done += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  results.push({ concurrency, perSecond: done / elapsed, verifications: done });
}
process.stdout.write(`${JSON.stringify({ stored, results })}\n`);
