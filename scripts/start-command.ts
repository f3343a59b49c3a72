import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm start`'s command line (package.json `scripts.start`), split into the environment it sets, node's flags and
 * the entry file.
 */
export interface StartCommand {
  /** `NAME=value` words before `node`: settings read when the process starts (glibc's malloc). */
  env: Record<string, string>;
  /** The flags given to `node` before the entry (V8 heap settings). */
  nodeArgs: string[];
  /** The entry, relative to the checkout (`dist/server.js`). */
  entry: string;
}

/**
 * Reads `npm start`'s command, so that the bench and the end-to-end tests start the server with exactly the flags
 * users get: the start script is the one place they are written.
 */
export function startCommand(root: string): StartCommand {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const start = pkg.scripts?.start ?? '';
  const words = start.split(/\s+/).filter((word) => word.length > 0);
  const env: Record<string, string> = {};
  let assignment: RegExpExecArray | null;
  while ((assignment = /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(words[0] ?? '')) !== null) {
    env[assignment[1] as string] = assignment[2] as string;
    words.shift();
  }
  const entry = words.at(-1);
  if (words[0] !== 'node' || entry === undefined || !entry.endsWith('.js')) {
    throw new Error(
      `package.json's start script is not "[NAME=value ...] node [flags] <entry>.js": ${JSON.stringify(start)}`,
    );
  }
  return { env, nodeArgs: words.slice(1, -1), entry };
}
