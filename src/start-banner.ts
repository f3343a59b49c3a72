import type { Config } from './config.js';
import { redactUrl } from './redact-url.js';
import { describeRedisTarget } from './stores/redis-target.js';

/** Where mail goes, for the banner: the outbox folder, or the SMTP server with its credentials masked. */
export function describeMail(config: Config): string {
  const { mail } = config;
  return mail.smtpUrl === undefined
    ? `outbox: .eml files in ${mail.outboxDir} (no SMTP_URL)`
    : `SMTP ${redactUrl(mail.smtpUrl)}, from ${mail.from}`;
}

/** A browsable base URL: a wildcard listen address (0.0.0.0, ::) is reached as localhost. */
function browsable(listening: string): string {
  return listening.replace(/^(https?:\/\/)(0\.0\.0\.0|\[::\])(?=:\d+$)/, '$1localhost');
}

/**
 * The start banner's fields, logged once the server listens (src/server.ts): where it listens, which database
 * and token store it uses, where mail goes, and where the API docs and the account page are. Secrets never
 * appear: database and Redis URLs are shown with their passwords masked.
 */
export function startBanner(config: Config, listening: string): Record<string, string> {
  const base = browsable(listening);
  return {
    listening,
    database: redactUrl(config.databaseUrl),
    'token store': config.redis
      ? `redis ${describeRedisTarget(config.redis)} (key prefix ${config.redis.keyPrefix})`
      : 'in-process memory (single instance only; sessions are lost on restart)',
    mail: describeMail(config),
    'API docs': `${base}/docs`,
    account: `${base}/account`,
  };
}
