import { DomainError, StoreUnavailableError } from '../errors.js';
import { SECRET_PARAM } from '../redact-url.js';
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

// Variables whose whole value is secret, and those that are URLs with credentials inside.
const SECRET_VARIABLES = [
  'JWT_KEY',
  'JWT_PRIVATE_KEY',
  'REFRESH_TOKEN_SECRET',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'KEYWARD_PASSWORD',
];
const URL_VARIABLES = ['DATABASE_URL', 'REDIS_URL'];

function urlSecrets(url: string): string[] {
  const found: string[] = [];
  const password = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]*)@/i.exec(url)?.[1];
  if (password) found.push(password, safeDecode(password));
  const query = url.indexOf('?');
  if (query !== -1) {
    for (const pair of url.slice(query + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && SECRET_PARAM.test(pair.slice(0, eq))) {
        const value = pair.slice(eq + 1);
        found.push(value, safeDecode(value));
      }
    }
  }
  return found;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The secret values among these settings (environment and `.env`): passwords, keys, credentials inside
 * connection URLs. Failure output is scrubbed of them as a last line of defence, whatever a driver put in its
 * error message.
 */
export function secretValues(settings: readonly Record<string, string | undefined>[]): string[] {
  const found = new Set<string>();
  for (const env of settings) {
    for (const name of SECRET_VARIABLES) {
      const value = env[name];
      if (value) found.add(value);
    }
    for (const name of URL_VARIABLES) {
      const value = env[name];
      if (value) for (const secret of urlSecrets(value)) found.add(secret);
    }
  }
  // Longest first, so that a secret containing a shorter one is replaced whole. Values under 4 characters are
  // left alone: masking them would garble ordinary words, and redactUrl already masks a URL's password.
  return [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

export interface Failure {
  lines: string[];
  exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE;
}

/** How a failed command is reported: expected failures in one line each, never with a stack trace. */
export async function describeFailure(error: unknown, debug: boolean): Promise<Failure> {
  if (error instanceof CliError) return { lines: [error.message], exitCode: error.exitCode };
  // Loaded here, not up front: the config schema library is slow to load, and help and usage errors skip it.
  const { ConfigError } = await import('../config.js');
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
