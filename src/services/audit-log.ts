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
  /** Events older than this many days are deleted (AUDIT_RETENTION_DAYS); none are when unset. */
  retentionDays?: number | undefined;
}

const MAX_USERNAME = 128;
const MAX_RECENT = 10_000;
const DAY_MS = 86_400_000;
/** How often (at most, per process) recording an event also deletes the expired ones. */
export const PRUNE_EVERY_MS = 3_600_000;
/** Rows per delete statement, and statements per pass: short transactions, bounded work per pass. */
const PRUNE_BATCH = 1000;
const PRUNE_MAX_BATCHES = 100;

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
  private readonly retentionMs: number | undefined;
  private lastPruneAt = -Infinity;
  private pruning: Promise<number> | undefined;

  constructor(options: AuditLogOptions) {
    this.repository = options.repository;
    this.logger = options.logger.child({ component: 'audit' });
    this.now = options.now;
    this.detail = options.detail;
    this.onEvent = options.onEvent;
    this.onWriteError = options.onWriteError;
    this.retentionMs = options.retentionDays === undefined ? undefined : options.retentionDays * DAY_MS;
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
    this.maybePrune();
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

  /**
   * Deletes the events older than the retention, a batch at a time (at most PRUNE_MAX_BATCHES × PRUNE_BATCH rows
   * per pass; a backlog beyond that goes in the next passes). Returns how many it deleted.
   */
  async prune(): Promise<number> {
    if (this.retentionMs === undefined) return 0;
    const before = new Date(this.now() - this.retentionMs);
    let deleted = 0;
    for (let batch = 0; batch < PRUNE_MAX_BATCHES; batch += 1) {
      const n = await this.repository.deleteBefore(before, PRUNE_BATCH);
      deleted += n;
      if (n < PRUNE_BATCH) break;
    }
    if (deleted > 0)
      this.logger.info({ deleted, before: before.toISOString() }, 'expired audit events deleted');
    return deleted;
  }

  /** Resolves once a prune that recording started has finished (before the database closes, and for tests). */
  async settled(): Promise<void> {
    await this.pruning;
  }

  /**
   * Retention without a cron job: the first event recorded after start, then at most one an hour, starts a prune
   * in the background. The request that records the event does not wait for it; a failure is logged only.
   */
  private maybePrune(): void {
    if (this.retentionMs === undefined || this.pruning) return;
    const now = this.now();
    if (now - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    this.pruning = this.prune()
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'expired audit events could not be deleted');
        return 0;
      })
      .finally(() => {
        this.pruning = undefined;
      });
  }

  /** The newest `limit` events first, optionally only one user's or one event name's (`keyward audit`). */
  recent(limit = 50, filter: { userId?: number; event?: string } = {}): Promise<StoredAuditEvent[]> {
    return this.repository.recent({ ...filter, limit: Math.max(1, Math.min(MAX_RECENT, Math.floor(limit))) });
  }
}
