import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Transporter } from 'nodemailer';

/** One message, ready to send. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Where a message went: the SMTP server's message id, or the outbox file (never the message's content). */
export interface Delivery {
  messageId: string;
  /** The outbox file, when the message was written rather than sent. */
  file?: string;
}

/** Sends mail: over SMTP, or into the `.eml` outbox when no SMTP server is configured. */
export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<Delivery>;
  close(): void;
}

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  url: string;
  from: string;
  /** Bounds each step: connecting, the greeting, every command's answer. */
  timeoutMs: number;
}

/**
 * SMTP through nodemailer; one connection per message (a queue sends few, and a pool would hold sockets).
 * nodemailer is loaded at the first send: a server that never mails never loads it.
 */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp';
  private transport: Promise<Transporter> | undefined;

  constructor(private readonly options: SmtpMailerOptions) {}

  private open(): Promise<Transporter> {
    this.transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      // nodemailer upgrades a plain smtp:// connection with STARTTLS whenever the server offers it; smtps:// is
      // TLS from the first byte. Certificates are verified (`?tls.rejectUnauthorized=false` in the URL turns it off).
      nodemailer.createTransport({
        url: this.options.url,
        connectionTimeout: this.options.timeoutMs,
        greetingTimeout: this.options.timeoutMs,
        socketTimeout: this.options.timeoutMs,
        disableFileAccess: true,
        disableUrlAccess: true,
      }),
    );
    return this.transport;
  }

  async send(mail: OutgoingMail): Promise<Delivery> {
    const transport = await this.open();
    const info = (await transport.sendMail({ from: this.options.from, ...mail })) as { messageId: string };
    return { messageId: info.messageId };
  }

  close(): void {
    void this.transport?.then((transport) => {
      transport.close();
    });
  }
}

export interface OutboxMailerOptions {
  dir: string;
  from: string;
  now?: () => number;
}

/**
 * The embedded default: each message becomes an RFC 5322 `.eml` file in the outbox directory (0700), readable by
 * the server's user only (0600), so `npm start` needs no mail server. Open the file with any mail client.
 */
export class OutboxMailer implements Mailer {
  readonly kind = 'outbox';
  private readonly now: () => number;

  constructor(private readonly options: OutboxMailerOptions) {
    this.now = options.now ?? Date.now;
  }

  async send(mail: OutgoingMail): Promise<Delivery> {
    const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
    const message = await new MailComposer({
      from: this.options.from,
      ...mail,
      disableFileAccess: true,
      disableUrlAccess: true,
    })
      .compile()
      .build();
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.options.dir, 0o700);
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, '-');
    const file = path.join(this.options.dir, `${stamp}-${randomBytes(6).toString('hex')}.eml`);
    writeFileSync(file, message, { mode: 0o600, flag: 'wx' });
    return { messageId: path.basename(file), file };
  }

  close(): void {
    // Nothing held open.
  }
}

export interface MailerConfig {
  smtpUrl: string | undefined;
  from: string;
  outboxDir: string;
  sendTimeoutSec: number;
}

/** The mailer the config names: SMTP with SMTP_URL, the outbox otherwise. */
export function createMailer(config: MailerConfig): Mailer {
  if (config.smtpUrl !== undefined) {
    return new SmtpMailer({
      url: config.smtpUrl,
      from: config.from,
      timeoutMs: config.sendTimeoutSec * 1000,
    });
  }
  return new OutboxMailer({ dir: config.outboxDir, from: config.from });
}
