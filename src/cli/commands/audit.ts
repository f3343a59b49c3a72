import { parseLimit } from '../args.js';
import { recentAuditEvents } from '../audit-events.js';
import { EXIT_OK } from '../cli-error.js';
import type { Command } from '../command.js';

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Show recent audit events, newest first',
  options: { limit: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--limit N', 'how many events (1-10000, default 50)'],
    ['--json', 'one JSON object per line'],
  ],
  async run(ctx, { values }) {
    const limit = parseLimit(values.limit, 50, 10_000);
    const database = await ctx.openDatabase();
    const events = await recentAuditEvents(database.db, limit);
    if (values.json === true) {
      for (const event of events) ctx.out(JSON.stringify(event));
      return EXIT_OK;
    }
    if (events.length === 0) {
      ctx.out('no audit events');
      return EXIT_OK;
    }
    for (const e of events) {
      const who = e.username !== null ? JSON.stringify(e.username) : e.userId !== null ? `#${e.userId}` : '-';
      const user = e.userId !== null && e.username !== null ? `${who} (#${e.userId})` : who;
      ctx.out([e.at, e.event, `user=${user}`, `ip=${e.ip ?? '-'}`, e.detail ?? ''].join('  ').trimEnd());
    }
    return EXIT_OK;
  },
};
