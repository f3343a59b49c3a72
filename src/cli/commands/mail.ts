import { DomainError } from '../../errors.js';
import { normalizeEmail } from '../../services/email-address.js';
import { CliError, EXIT_OK } from '../cli-error.js';
import type { Command, CommandGroup } from '../command.js';
import { redactUrl } from '../../redact-url.js';

const test: Command = {
  name: 'test',
  summary: 'Send a test message now, through SMTP_URL (or into the outbox without it)',
  positionals: ['address'],
  details: `The message is sent at once, not through the queue, and the command reports the outcome: the SMTP
server's message id, or the outbox file. A failure (connection refused, TLS, authentication) is the exit status 1
with the reason; the SMTP password never appears in it.`,
  async run(ctx, { positionals }) {
    let address: string;
    try {
      address = normalizeEmail(positionals[0] ?? '').display;
    } catch (error) {
      if (error instanceof DomainError) throw new CliError(error.message, 2, { cause: error });
      throw error;
    }
    const config = ctx.config.mail;
    const via = config.smtpUrl === undefined ? `the outbox ${config.outboxDir}` : redactUrl(config.smtpUrl);
    const { accountFacade } = await ctx.deps();
    try {
      const delivery = await accountFacade.sendTestMail(address);
      ctx.out(
        delivery.file === undefined
          ? `sent a test message to ${address} via ${via} (message id ${delivery.messageId})`
          : `wrote a test message to ${address} as ${delivery.file}`,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new CliError(`cannot send mail via ${via}: ${reason}`, 1, { cause: error });
    }
    return EXIT_OK;
  },
};

export const mailCommands: CommandGroup = {
  name: 'mail',
  summary: 'Check mail delivery (SMTP_URL, MAIL_FROM)',
  commands: [test],
};
