import type { Socket } from 'node:net';

type WriteMethods = Record<'_write' | '_writev', unknown>;

/**
 * Counts the writes a socket hands to the operating system from now on (Node calls `_write` for one chunk and
 * `_writev` for several buffered ones: one system write each). Returns the count so far.
 */
export function countWrites(socket: Socket): () => number {
  let writes = 0;
  const methods = socket as unknown as WriteMethods;
  for (const method of ['_write', '_writev'] as const) {
    const original = methods[method];
    if (typeof original !== 'function') continue;
    methods[method] = function (this: unknown, ...args: unknown[]) {
      writes += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return () => writes;
}
