import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './cli-error.js';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** node:util's messages, made short: its unknown-option text runs on about `--` and positional arguments. */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown)
    return `unknown option ${JSON.stringify(unknown[1])}`;
  const missing = /^Option '(-\S+)(?:, -\S+)? <value>' argument missing/.exec(message);
  if (missing) return `option ${missing[1] ?? ''} needs a value`;
  const flag = /^Option '(-\S+)(?:, -\S+)?' does not take an argument/.exec(message);
  if (flag) return `option ${flag[1] ?? ''} takes no value`;
  return message.split('\n')[0] ?? 'invalid arguments';
}

/**
 * Parses a command's arguments strictly: an unknown option, a missing value or a wrong number of positional
 * arguments is a usage error (exit code 2).
 */
export function parseCommandArgs(
  args: string[],
  options: ParseArgsOptionsConfig,
  positionals: readonly string[],
): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(parseErrorMessage(error));
  }
  const missing = positionals.slice(parsed.positionals.length);
  if (missing.length > 0) throw usageError(`missing argument: <${missing.join('> <')}>`);
  const extra = parsed.positionals.slice(positionals.length);
  if (extra.length > 0) throw usageError(`unexpected argument: ${JSON.stringify(extra[0])}`);
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}

/** `--limit N`: a whole number from 1 to `max`, or `fallback` when absent. */
export function parseLimit(value: string | boolean | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw usageError(`--limit must be a whole number from 1 to ${max}`);
  }
  return n;
}
