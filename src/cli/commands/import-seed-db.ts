import path from 'node:path';
import { PasswordPolicy } from '../../services/password-policy.js';
import { recordAuditEvent } from '../audit-events.js';
import { EXIT_OK } from '../cli-error.js';
import type { Command } from '../command.js';
import { importSeedRows, readSeedRows, type SeedOutcome } from '../seed-import.js';

function describe(kind: string, outcome: SeedOutcome): string {
  const id = outcome.seedId === null ? '' : ` (demo id ${outcome.seedId})`;
  return `${kind} ${JSON.stringify(outcome.username)}${id}: ${outcome.reason}`;
}

export const importSeedDbCommand: Command = {
  name: 'import-seed-db',
  summary:
    "Import the users of the Flask demo's users.db (PBKDF2 hashes, upgraded to argon2id at next login)",
  positionals: ['path-to-users.db'],
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print the whole report (imported, skipped, rejected) as one JSON object']],
  details: [
    'Reads the table "user" (id, username, password = 32-byte salt + 32-byte PBKDF2-HMAC-SHA256 key,',
    '100,000 iterations) and adds each user to the database DATABASE_URL names. Users then log in with',
    'their old password; that login stores an argon2id hash in its place. The demo ids are not kept.',
    '',
    'Every row is reported: imported; skipped when a user of exactly that name already exists (so running',
    'the import twice duplicates nobody); rejected, with the reason, when the username breaks the rules',
    '(4-64 characters after NFKC, no spaces or control characters), clashes case-insensitively with another',
    'row or an existing user, or the password BLOB is malformed.',
    '',
    'Exit status: 0 when the import ran, even if rows were rejected (read the summary); 1 when it could not',
    'run (missing or unreadable file, not the demo database, database unreachable); 2 on a usage error.',
  ].join('\n'),
  async run(ctx, { values, positionals }) {
    const file = path.resolve(positionals[0] ?? '');
    const { passwords } = ctx.config;
    const policy = new PasswordPolicy({ minLength: passwords.minLength, maxLength: passwords.maxLength });
    const rows = readSeedRows(file);
    const users = await ctx.users();
    const report = await importSeedRows(rows, users, policy);
    const summary = {
      imported: report.imported.length,
      skipped: report.skipped.length,
      rejected: report.rejected.length,
    };
    const database = await ctx.openDatabase();
    await recordAuditEvent(
      database.db,
      { event: 'import', detail: { file, ...summary } },
      new Date(ctx.io.now()),
    );

    if (values.json === true) {
      ctx.out(JSON.stringify({ file, database: ctx.databaseLabel, ...summary, users: report }));
      return EXIT_OK;
    }
    for (const outcome of report.skipped) ctx.out(describe('skipped', outcome));
    for (const outcome of report.rejected) ctx.out(describe('rejected', outcome));
    if (summary.imported > 0) {
      ctx.out(
        `imported users log in with their old passwords; each hash is upgraded to argon2id at that login`,
      );
    }
    ctx.out(`imported ${summary.imported}, skipped ${summary.skipped}, rejected ${summary.rejected}`);
    return EXIT_OK;
  },
};
