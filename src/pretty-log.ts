import { createRequire } from 'node:module';
import type { DestinationStream } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

/**
 * The log for a person at a terminal: pino-pretty, fed the very JSON lines the JSON format writes, after
 * redactLogLine (the logger's streamWrite hook runs before any destination), so that redaction holds for both.
 * One line per request, `POST /authenticate_user 200 12.3 ms`; the start banner (src/start-banner.ts) as a few
 * aligned lines; other lines as their message with their fields on the same line.
 */

interface LoggedReq {
  method?: unknown;
  url?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The message pino-pretty prints for one log object. */
export function prettyMessage(log: Record<string, unknown>, messageKey = 'msg'): string {
  const message = typeof log[messageKey] === 'string' ? log[messageKey] : '';
  const req = log.req as LoggedReq | undefined;
  const res = log.res;
  if (isRecord(req) && isRecord(res) && typeof log.responseTime === 'number') {
    const line = `${String(req.method)} ${String(req.url)} ${String(res.statusCode)} ${log.responseTime.toFixed(1)} ms`;
    return message === 'request completed' ? line : `${line} (${message})`;
  }
  const banner = log.banner;
  if (isRecord(banner)) {
    const rows = Object.entries(banner).map(([label, value]) => `  ${label.padEnd(12)} ${String(value)}`);
    return [message, ...rows].join('\n');
  }
  return message;
}

/** The fields shown as a request's line or the banner's rows rather than as fields. */
const FOLDED = ['pid', 'hostname', 'req', 'res', 'responseTime', 'banner'];

/**
 * A pino destination that pretty-prints to `destination` (stdout by default). pino-pretty is loaded only here,
 * when a pretty log is wanted: a server writing JSON lines never loads it.
 */
export function prettyDestination(destination?: DestinationStream): DestinationStream {
  const require = createRequire(import.meta.url);
  const build = require('pino-pretty') as (options: PrettyOptions) => DestinationStream;
  return build({
    messageFormat: (log, messageKey) => prettyMessage(log, messageKey),
    ignore: FOLDED.join(','),
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    sync: true,
    ...(destination ? { destination } : {}),
  });
}
