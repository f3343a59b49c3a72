import { text } from 'node:stream/consumers';

/** Where a command reads its input and writes its output; injected so that the CLI can run in-process. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** The whole of standard input (for `--password-stdin`). */
  readStdin(): Promise<string>;
  now(): number;
}

/** The real process: its environment, streams and clock. */
export function processIo(): CliIo {
  // `keyward audit | head` closes the pipe early: stop quietly, as other command-line tools do, instead of
  // dying of an unhandled stream error with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`keyward: cannot write the output: ${error.message}\n`);
    process.exit(error.code === 'EPIPE' ? (process.exitCode ?? 0) : 1);
  });
  return {
    env: process.env,
    stdout: (chunk) => process.stdout.write(chunk),
    stderr: (chunk) => process.stderr.write(chunk),
    readStdin: () => text(process.stdin),
    now: Date.now,
  };
}
