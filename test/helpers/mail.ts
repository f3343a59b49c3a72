import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** A message as a test reads it. */
export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** The bare token of the `Token: …` line, when there is one. */
  token: string | undefined;
  /** The SMTP session's TLS state when it arrived (STARTTLS upgrades set it). */
  secure: boolean;
  user: string | undefined;
}

const TOKEN_LINE = /^Token: (\S+)$/m;

async function parse(raw: Buffer | string, session?: SMTPServerSession): Promise<ReceivedMail> {
  const parsed = await simpleParser(raw);
  const address = (value: unknown): string =>
    (value as { value?: { address?: string }[] } | undefined)?.value?.[0]?.address ?? '';
  const text = parsed.text ?? '';
  return {
    to: address(parsed.to),
    from: address(parsed.from),
    subject: parsed.subject ?? '',
    text,
    html: typeof parsed.html === 'string' ? parsed.html : '',
    token: TOKEN_LINE.exec(text)?.[1],
    secure: session?.secure ?? false,
    user: typeof session?.user === 'string' ? session.user : undefined,
  };
}

/** Polls `check` every 20 ms until it returns a value; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The `.eml` files of an outbox, parsed, oldest first (empty when the directory does not exist yet). */
export async function readOutbox(dir: string): Promise<(ReceivedMail & { file: string })[]> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort();
  } catch {
    return [];
  }
  return Promise.all(
    files.map(async (file) => ({ ...(await parse(readFileSync(path.join(dir, file)))), file })),
  );
}

export interface SmtpSinkOptions {
  port?: number;
  /** Offer STARTTLS (with smtp-server's built-in self-signed certificate). Default false. */
  starttls?: boolean;
  /** Require this user and password (AUTH PLAIN/LOGIN). */
  auth?: { user: string; pass: string };
  /**
   * Called with each message before it is accepted; while the returned promise is pending the client waits for
   * the answer to its DATA (a hook to hold a send in the middle). Rejecting refuses the message.
   */
  beforeAccept?: (mail: ReceivedMail) => Promise<void>;
}

/** A real SMTP server on a loopback port that keeps every message it accepts. */
export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  port = 0;

  constructor(private readonly options: SmtpSinkOptions = {}) {}

  async start(port = this.options.port ?? 0): Promise<this> {
    const auth = this.options.auth;
    const settings: SMTPServerOptions = {
      authOptional: auth === undefined,
      allowInsecureAuth: true,
      disabledCommands: this.options.starttls ? [] : ['STARTTLS'],
      logger: false,
      onAuth: (credentials, _session, callback) => {
        if (auth && credentials.username === auth.user && credentials.password === auth.pass) {
          callback(null, { user: credentials.username });
        } else {
          callback(new Error('Invalid username or password'));
        }
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          void (async () => {
            try {
              const mail = await parse(Buffer.concat(chunks), session);
              await this.options.beforeAccept?.(mail);
              this.messages.push(mail);
              callback();
            } catch (error) {
              callback(error as Error);
            }
          })();
        });
      },
    };
    const server = new SMTPServer(settings);
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.listen(port, '127.0.0.1', () => {
        resolve();
      });
      server.once('error', reject);
    });
    this.server = server;
    this.port = (server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Resolves with the first `count` messages once that many arrived. */
  waitForMessages(count: number, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    return waitFor(
      `${count} message(s) at the SMTP server`,
      () => (this.messages.length >= count ? this.messages.slice(0, count) : undefined),
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
}

/** A port that nothing listens on right now (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) =>
    probe.listen(0, '127.0.0.1', () => {
      resolve();
    }),
  );
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    probe.close(() => {
      resolve();
    }),
  );
  return port;
}
