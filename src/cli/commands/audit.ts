import { usernameKey } from '../../domain/username.js';
import type { StoredAuditEvent } from '../../repositories/audit-repository.js';
import { parseLimit } from '../args.js';
import { CliError, EXIT_OK, usageError } from '../cli-error.js';
import type { Command } from '../command.js';

function line(e: StoredAuditEvent): string {
  const who = e.username !== null ? JSON.stringify(e.username) : e.userId !== null ? `#${e.userId}` : '-';
  const user = e.userId !== null && e.username !== null ? `${who} (#${e.userId})` : who;
  const detail = e.detail === null ? '' : JSON.stringify(e.detail);
  const request = e.requestId === null ? [] : [`req=${e.requestId}`];
  return [e.at, e.event, `user=${user}`, `ip=${e.ip ?? '-'}`, ...request, detail].join('  ').trimEnd();
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Show recent audit events, newest first',
  options: {
    limit: { type: 'string' },
    event: { type: 'string' },
    user: { type: 'string' },
    'user-id': { type: 'string' },
    json: { type: 'boolean' },
  },
  optionHelp: [
    ['--limit N', 'how many events (1-10000, default 50)'],
    ['--event NAME', 'only this event (signup, login_failed, account_deleted, import, ...)'],
    ['--user NAME', "only this existing user's events (matched case-insensitively)"],
    ['--user-id N', "only this user id's events (also for a deleted account)"],
    ['--json', 'one JSON object per line'],
  ],
  details: [
    'Events: signup, login_succeeded, login_failed, logout, logout_all, password_changed, username_changed,',
    'session_revoked, refresh_reuse_detected, account_deleted, import, signing_key_added, signing_keys_pruned,',
    'roles_changed, account_disabled, account_enabled, sessions_revoked_by_admin (admin events name the acting',
    'admin in "actor_id").',
    'Events done with a keyward command carry "via":"cli" in their detail. No event holds a password, token or',
    'key (a key id is public: it names the key in every token and in the JWKS).',
  ].join('\n'),
  async run(ctx, { values }) {
    const limit = parseLimit(values.limit, 50, 10_000);
    if (values.user !== undefined && values['user-id'] !== undefined) {
      throw usageError('give --user or --user-id, not both');
    }
    let userId: number | undefined;
    const idText = values['user-id'];
    if (typeof idText === 'string') {
      if (!/^[1-9]\d{0,14}$/.test(idText)) throw usageError('--user-id must be a positive whole number');
      userId = Number(idText);
    }
    const name = values.user;
    if (typeof name === 'string') {
      const found = await (await ctx.deps()).users.findByUsernameKey(usernameKey(name));
      if (!found) {
        throw new CliError(
          `no user named ${JSON.stringify(name)} (for a deleted account, use --user-id with the id its events show)`,
        );
      }
      userId = found.id;
    }
    const event = typeof values.event === 'string' ? values.event : undefined;
    const events = await (await ctx.deps()).audit.recent(limit, { userId, event });
    if (values.json === true) {
      for (const e of events) ctx.out(JSON.stringify(e));
      return EXIT_OK;
    }
    if (events.length === 0) {
      ctx.out(userId !== undefined || event !== undefined ? 'no matching audit events' : 'no audit events');
      return EXIT_OK;
    }
    for (const e of events) ctx.out(line(e));
    return EXIT_OK;
  },
};
