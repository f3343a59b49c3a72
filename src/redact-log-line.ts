/**
 * The names of the fields whose values never reach the logs, at any depth of a log line: credentials, tokens and
 * the headers that carry them. Matched without regard to case (`Authorization` as well as `authorization`).
 */
export const SECRET_FIELDS = [
  'password',
  'current_password',
  'new_password',
  'token',
  'access_token',
  'refresh_token',
  'next_token',
  'nextToken',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
] as const;

const CENSORED = '"[redacted]"';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * A secret field's key as it appears in a line written by JSON.stringify (pino's output, no whitespace). There every
 * `"` inside a string is escaped, so `"token":` with bare quotes is always a key, never text inside a value.
 */
const SECRET_KEY = new RegExp(
  `"(?:${SECRET_FIELDS.map((name) => name.replace(/[-_]/g, '[-_]')).join('|')})":`,
  'gi',
);

/** The index just past the JSON value that starts at `start` in `line` (a well-formed line, as JSON.stringify writes). */
function valueEnd(line: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) {
        i++; // the escaped character cannot end the string
      } else if (c === QUOTE) {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      // At depth 0 this closes the enclosing object or array: the value (a number, true, false, null) ended.
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (c === COMMA && depth === 0) {
      return i;
    }
  }
  return line.length;
}

/**
 * Replaces the value of every secret field (SECRET_FIELDS) in one serialised log line by `"[redacted]"`, at any
 * depth, whatever its type (a string, a number, an object, an array). A line without one is returned as it is,
 * after one regular-expression scan.
 *
 * This is pino's `hooks.streamWrite`, in place of pino's own `redact` paths: those are applied key by key to the
 * log object, and a path that starts with a wildcard (`*.password`, one level down) redacts every top-level value
 * of every line through a copy of it, many times the cost of this scan (docs/performance-log.md). Scanning the written text instead also covers every depth, the bindings of
 * child loggers and what serializers produce, and not only the paths someone thought of listing.
 */
export function redactLogLine(line: string): string {
  SECRET_KEY.lastIndex = 0;
  let match = SECRET_KEY.exec(line);
  if (match === null) return line;
  let out = '';
  let copied = 0;
  while (match !== null) {
    const valueStart = match.index + match[0].length;
    const end = valueEnd(line, valueStart);
    out += line.slice(copied, valueStart) + CENSORED;
    copied = end;
    SECRET_KEY.lastIndex = end;
    match = SECRET_KEY.exec(line);
  }
  return out + line.slice(copied);
}
