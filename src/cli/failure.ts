import { ConfigError } from '../config.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import { CliError, EXIT_FAILURE, type EXIT_USAGE } from './cli-error.js';

/** The innermost `cause` of an error: the driver's own error behind our wrappers. */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth += 1) {
    current = current.cause;
  }
  return current;
}

/** A one-line reason for an error (pg reports a refused connection as an AggregateError with no message). */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0 && error.message === '') {
    return reasonOf(error.errors[0]);
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.split('\n')[0] ?? '';
    if (message !== '') return message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}

/** A URL fit for an error message: the password, if any, is masked. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

export interface Failure {
  lines: string[];
  exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE;
}

/** How a failed command is reported: expected failures in one line each, never with a stack trace. */
export function describeFailure(error: unknown, debug: boolean): Failure {
  if (error instanceof CliError) return { lines: [error.message], exitCode: error.exitCode };
  if (error instanceof ConfigError) {
    return { lines: error.problems.map((p) => `invalid configuration: ${p}`), exitCode: EXIT_FAILURE };
  }
  if (error instanceof StoreUnavailableError) {
    return {
      lines: [`the database or token store is unavailable: ${reasonOf(rootCause(error))}`],
      exitCode: EXIT_FAILURE,
    };
  }
  if (error instanceof DomainError) return { lines: [error.message], exitCode: EXIT_FAILURE };
  const lines = [`unexpected error: ${reasonOf(error)}`];
  if (debug && error instanceof Error && error.stack) lines.push(error.stack);
  else lines.push('(set KEYWARD_DEBUG=1 for a stack trace)');
  return { lines, exitCode: EXIT_FAILURE };
}
