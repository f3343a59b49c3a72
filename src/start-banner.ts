import type { Config } from './config.js';
import { redactUrl } from './redact-url.js';
import { describeRedisTarget } from './stores/redis-target.js';

/**
 * Where mail goes, for the banner. No mail settings exist in this config yet: when they do (SMTP URL, sender),
 * describe them here, credentials masked with redactUrl, e.g. `smtp://mail.example:587 as "Keyward <no-reply@…>"`.
 */
export function describeMail(config: Config): string {
  const mail = (config as { mail?: unknown }).mail;
  if (mail === undefined) return 'not configured (Keyward sends no mail)';
  if (typeof mail === 'object' && mail !== null && 'url' in mail && typeof mail.url === 'string') {
    return redactUrl(mail.url);
  }
  return 'configured';
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
