import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsOptions {
  /** Also export the process and Node.js runtime metrics (CPU, memory, event-loop lag, GC). */
  processMetrics?: boolean;
  /** Read at scrape time: hashes waiting for a hashing slot. */
  hashQueueDepth?: () => number;
  /** Read at scrape time: the mail queue's depth and oldest message (a database query). */
  mailQueue?: () => Promise<{ queued: number; oldestAgeMs: number }>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The Prometheus metrics of one instance, in a registry of its own (never prom-client's global one, so that
 * any number of apps can live in one process). Failed logins are deliberately not split by reason: /metrics
 * is often reachable, and an "unknown user" counter that moves would tell whether an account exists.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'keyward_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'keyward_logins_total',
    help: 'Logins by result (succeeded, failed); refused by a rate limit: keyward_rate_limit_rejections_total.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly hashDuration = new Histogram({
    name: 'keyward_password_hash_duration_seconds',
    help: 'Time spent hashing or verifying one password (argon2id or legacy PBKDF2), queueing excluded.',
    labelNames: ['operation'] as const,
    buckets: HASH_BUCKETS,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'keyward_tokens_issued_total',
    help: 'Access tokens issued (login, renewal, refresh).',
    registers: [this.registry],
  });

  readonly tokensConsumed = new Counter({
    name: 'keyward_tokens_consumed_total',
    help: 'Single-use access tokens consumed.',
    registers: [this.registry],
  });

  readonly sessionsRevoked = new Counter({
    name: 'keyward_sessions_revoked_total',
    help: 'Sessions revoked (logout, logout_all, session deletion, password change, refresh reuse); each revocation kills all of its access and refresh tokens.',
    registers: [this.registry],
  });

  readonly refreshReuse = new Counter({
    name: 'keyward_refresh_reuse_detected_total',
    help: 'Rotated refresh tokens presented again outside the grace window (the session is revoked).',
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'keyward_rate_limit_rejections_total',
    help: 'Requests refused with 429, by limit (login_failures, login_ip, signup_ip, recovery_ip), and recovery mails dropped by recovery_account.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: 'keyward_store_errors_total',
    help: 'Requests answered 503 because the database or the token / rate-limit store could not be reached.',
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'keyward_audit_events_total',
    help: 'Audit events by name.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly auditWriteFailures = new Counter({
    name: 'keyward_audit_write_failures_total',
    help: 'Audit events that could not be stored in the database (they are still logged).',
    registers: [this.registry],
  });

  readonly mailSent = new Counter({
    name: 'keyward_mail_sent_total',
    help: 'Mails sent (or written to the outbox).',
    registers: [this.registry],
  });

  readonly mailFailed = new Counter({
    name: 'keyward_mail_failed_total',
    help: 'Mails given up after MAIL_RETRY_FOR seconds of failed attempts.',
    registers: [this.registry],
  });

  readonly mailRetries = new Counter({
    name: 'keyward_mail_retries_total',
    help: 'Failed send attempts that will be retried.',
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    const mailQueue = options.mailQueue;
    if (mailQueue) {
      let last: Promise<{ queued: number; oldestAgeMs: number }> | undefined;
      // One query serves both gauges of a scrape.
      const read = () => {
        last ??= mailQueue().finally(() => {
          last = undefined;
        });
        return last;
      };
      new Gauge({
        name: 'keyward_mail_queued',
        help: 'Mails waiting to be sent (queued, being sent, or waiting for a retry), in the shared database.',
        registers: [this.registry],
        async collect() {
          const stats = await read().catch(() => undefined);
          if (stats) this.set(stats.queued);
        },
      });
      new Gauge({
        name: 'keyward_mail_oldest_queued_age_seconds',
        help: 'Age of the oldest mail still waiting to be sent (0 when none is).',
        registers: [this.registry],
        async collect() {
          const stats = await read().catch(() => undefined);
          if (stats) this.set(stats.oldestAgeMs / 1000);
        },
      });
    }
    const queueDepth = options.hashQueueDepth;
    if (queueDepth) {
      new Gauge({
        name: 'keyward_password_hash_queue_depth',
        help: 'Password hashes waiting for a hashing slot.',
        registers: [this.registry],
        collect() {
          this.set(queueDepth());
        },
      });
    }
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
