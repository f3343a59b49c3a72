import type { Logger } from 'pino';
import type {
  AuditDetail,
  AuditEvent,
  AuditRepository,
  StoredAuditEvent,
} from '../repositories/audit-repository.js';
import type { ClientInfo } from '../domain/client-info.js';

export interface AuditLogOptions {
  repository: AuditRepository;
  logger: Logger;
  now: () => number;
  /** Added to every event's detail, before its own fields (the `keyward` command's `via: "cli"`). */
  detail?: AuditDetail | undefined;
  /** Observes every event (metrics). */
  onEvent: (event: AuditEvent) => void;
  /** Called when an event could not be stored (it has been logged all the same). */
  onWriteError: (error: unknown) => void;
}

const MAX_USERNAME = 128;
const MAX_RECENT = 10_000;

/**
 * A submitted username (failed login) is attacker-chosen text: kept short, cut between code points, and with
 * control characters and lone surrogates replaced, which PostgreSQL would refuse (NUL) and a terminal would obey.
 */
function cleanUsername(username: string): string {
  return Array.from(username)
    .slice(0, MAX_USERNAME)
    .join('')
    .replace(/[\p{Cc}\p{Cs}]/gu, '\uFFFD');
}

/** Where an event came from: the caller's address and the request's id (its `reqId` in the request's log lines). */
export function origin(client: ClientInfo | undefined): Pick<AuditEvent, 'ip' | 'requestId'> {
  return { ip: client?.ip, requestId: client?.requestId };
}

/**
 * Security-relevant events (SPEC §6), written to the audit_events table and to the log at info level. Recording
 * never fails the request it belongs to: if the database cannot take the event, the log line still carries it
 * and the failure is logged as a warning.
 */
export class AuditLog {
  private readonly repository: AuditRepository;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly detail: AuditDetail | undefined;
  private readonly onEvent: (event: AuditEvent) => void;
  private readonly onWriteError: (error: unknown) => void;

  constructor(options: AuditLogOptions) {
    this.repository = options.repository;
    this.logger = options.logger.child({ component: 'audit' });
    this.now = options.now;
    this.detail = options.detail;
    this.onEvent = options.onEvent;
    this.onWriteError = options.onWriteError;
  }

  /** Records one event; resolves once it is stored (or its storing failed and was logged), never rejects. */
  async record(event: AuditEvent): Promise<void> {
    const entry: AuditEvent = {
      ...event,
      username: event.username && cleanUsername(event.username),
      detail: this.detail ? { ...this.detail, ...event.detail } : event.detail,
    };
    const at = new Date(this.now());
    this.logger.info(
      {
        reqId: entry.requestId,
        audit: {
          event: entry.event,
          user_id: entry.userId,
          username: entry.username,
          ip: entry.ip,
          detail: entry.detail,
        },
      },
      `audit: ${entry.event}`,
    );
    try {
      this.onEvent(entry);
      await this.repository.append(entry, at);
    } catch (error) {
      this.onWriteError(error);
      this.logger.warn(
        { err: error, audit_event: entry.event },
        'audit event could not be stored in the database',
      );
    }
  }

  /** The newest `limit` events first, optionally only one user's or one event name's (`keyward audit`). */
  recent(limit = 50, filter: { userId?: number; event?: string } = {}): Promise<StoredAuditEvent[]> {
    return this.repository.recent({ ...filter, limit: Math.max(1, Math.min(MAX_RECENT, Math.floor(limit))) });
  }
}
