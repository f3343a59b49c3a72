import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  ClaimedMail,
  MailQueueStats,
  MailRepository,
  NewMail,
} from '../repositories/mail-repository.js';
import type { Mailer, OutgoingMail } from './mailer.js';

/** What the sender does with a claimed message: send this, or drop it (nothing to send, and why). */
export type Composed = { mail: OutgoingMail } | { drop: string };

/** Turns a claimed row into a message (resolves a reset request, creates its token); runs once per attempt. */
export type MailComposer = (mail: ClaimedMail) => Promise<Composed>;

export interface MailQueueEvents {
  sent?: () => void;
  /** A message given up after its retry period. */
  failed?: () => void;
  /** An attempt that failed and will be retried. */
  retried?: () => void;
}

export interface MailQueueOptions {
  repository: MailRepository;
  mailer: Mailer;
  logger: Logger;
  /** First retry delay; doubles on each attempt, at most MAX_RETRY_DELAY_MS. */
  retryDelayMs: number;
  /** A message still failing this long after it was queued is given up. */
  retryForMs: number;
  /** One attempt's deadline; a claim's lease is LEASE_FACTOR times that. */
  sendTimeoutMs: number;
  pollIntervalMs: number;
  now?: () => number;
  events?: MailQueueEvents;
}

const MAX_RETRY_DELAY_MS = 3_600_000;
const BATCH = 5;
/** A claim outlives the attempt's deadline by this factor, so a live sender never loses its claim. */
const LEASE_FACTOR = 3;
const ATTEMPT_FACTOR = 2;
/** Settled rows and expired tokens are deleted after this long. */
const RETENTION_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
/** How long stop() lets sends in flight finish before it closes the connections under them. */
const STOP_GRACE_MS = 3000;
const CLOSE_GRACE_MS = 500;

/** Waits for `work`, at most `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** The delay before attempt `attempts + 1`: the first retry after `base`, then doubling, capped at one hour. */
export function retryDelay(base: number, attempts: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.max(0, attempts - 1));
}

function deadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`the send did not finish within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, expired]).finally(() => {
    clearTimeout(timer);
  });
}

/**
 * The durable mail queue (SPEC §9): a message is a database row before the request that asked for it is answered,
 * and this background sender works the rows off. Each row is claimed with a lease by one sender (across
 * instances), sent, and settled; a failed attempt is retried with exponential backoff for `retryForMs`, then
 * recorded as failed. A row whose sender died is claimed again when its lease runs out. Nothing here runs on a
 * request's path: `enqueue` writes the row and wakes the sender.
 */
export class MailQueue {
  private readonly repository: MailRepository;
  private readonly mailer: Mailer;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly events: MailQueueEvents;
  private composer: MailComposer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopped = false;
  private lastPrune = 0;

  constructor(private readonly options: MailQueueOptions) {
    this.repository = options.repository;
    this.mailer = options.mailer;
    this.logger = options.logger.child({ component: 'mail' });
    this.now = options.now ?? Date.now;
    this.events = options.events ?? {};
  }

  get mailerKind(): Mailer['kind'] {
    return this.mailer.kind;
  }

  /** Sets what turns claimed rows into messages (the account facade, built after the queue). */
  setComposer(composer: MailComposer): void {
    this.composer = composer;
  }

  /**
   * Stores the message; the row is committed when this resolves. `wake` starts this instance's sender at once
   * (after the current turn); otherwise the next poll finds the row.
   */
  async enqueue(mail: NewMail, options: { wake: boolean } = { wake: true }): Promise<number> {
    const id = await this.repository.enqueue(mail, this.now());
    if (options.wake) {
      setImmediate(() => {
        this.wake();
      });
    }
    return id;
  }

  /** Sends one message now, outside the queue (`keyward mail test`); throws the mailer's error. */
  sendNow(mail: OutgoingMail): Promise<{ messageId: string; file?: string }> {
    return deadline(this.options.sendTimeoutMs * ATTEMPT_FACTOR, this.mailer.send(mail));
  }

  stats(): Promise<MailQueueStats> {
    return this.repository.stats(this.now());
  }

  /** Starts the background sender: a poll every `pollIntervalMs`, and at once after an enqueue. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.wake();
  }

  /**
   * Stops the sender: no new claims; sends in flight get a short grace, then the mailer is closed. A send still
   * running after that is abandoned: its row keeps its claim until the lease lapses, and is then sent by this
   * or another instance. Resolves within about STOP_GRACE_MS + CLOSE_GRACE_MS.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const running = this.running;
    if (running) await within(running, STOP_GRACE_MS);
    this.mailer.close();
    if (running) await within(running, CLOSE_GRACE_MS);
  }

  /** Claims and works off the due messages once; resolves with how many were claimed (tests, the CLI). */
  async runOnce(): Promise<number> {
    const composer = this.composer;
    if (!composer) return 0;
    const claim = randomBytes(12).toString('base64url');
    const leaseMs = this.options.sendTimeoutMs * LEASE_FACTOR;
    let total = 0;
    for (;;) {
      const claimed = await this.repository.claim(claim, this.now(), leaseMs, BATCH);
      total += claimed.length;
      await Promise.all(claimed.map((mail) => this.process(mail, composer)));
      if (claimed.length < BATCH || this.stopped) break;
    }
    await this.maybePrune();
    return total;
  }

  private wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.cycle().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
        return;
      }
      this.timer = setTimeout(() => {
        this.wake();
      }, this.options.pollIntervalMs);
      this.timer.unref();
    });
  }

  private async cycle(): Promise<void> {
    try {
      await this.runOnce();
    } catch (error) {
      // The database is unreachable: the rows wait there, and the next poll tries again.
      this.logger.warn({ err: error }, 'mail queue: could not read the queue');
    }
  }

  private async process(mail: ClaimedMail, composer: MailComposer): Promise<void> {
    const context = { mail_id: mail.id, kind: mail.kind, attempt: mail.attempts };
    try {
      // A retry mails a fresh token: the one of the failed attempt may never have arrived, and must not stay valid.
      if (mail.attempts > 1) await this.repository.deleteMessageTokens(mail.id);
      const composed = await composer(mail);
      if ('drop' in composed) {
        await this.repository.finish(mail, 'dropped', this.now(), composed.drop);
        this.logger.debug({ mail: context }, 'mail queue: nothing to send');
        return;
      }
      const delivery = await deadline(
        this.options.sendTimeoutMs * ATTEMPT_FACTOR,
        this.mailer.send(composed.mail),
      );
      await this.repository.finish(mail, 'sent', this.now());
      this.events.sent?.();
      // The file name or the server's message id, never the message (it holds the token).
      if (delivery.file !== undefined) {
        this.logger.info({ mail: { ...context, file: delivery.file } }, 'mail written to the outbox');
      } else {
        this.logger.info({ mail: { ...context, message_id: delivery.messageId } }, 'mail sent');
      }
    } catch (error) {
      await this.failed(mail, error).catch((settleError: unknown) => {
        this.logger.warn(
          { err: settleError, mail: context },
          'mail queue: could not record a failed attempt',
        );
      });
    }
  }

  private async failed(mail: ClaimedMail, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const context = { mail_id: mail.id, kind: mail.kind, attempt: mail.attempts };
    const now = this.now();
    const at = now + retryDelay(this.options.retryDelayMs, mail.attempts);
    if (at - mail.createdAt > this.options.retryForMs) {
      await this.repository.deleteMessageTokens(mail.id);
      await this.repository.finish(mail, 'failed', now, reason);
      this.events.failed?.();
      this.logger.error({ mail: context, reason }, 'mail given up after its retry period');
      return;
    }
    await this.repository.retryAt(mail, at, reason);
    this.events.retried?.();
    this.logger.warn(
      { mail: { ...context, retry_at: new Date(at).toISOString() }, reason },
      'mail not sent, will retry',
    );
  }

  private async maybePrune(): Promise<void> {
    const now = this.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    await this.repository.prune(now, now - RETENTION_MS);
  }
}
