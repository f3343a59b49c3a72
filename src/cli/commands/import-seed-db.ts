import path from 'node:path';
import { EXIT_INCOMPLETE, EXIT_OK } from '../cli-error.js';
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
  options: { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  optionHelp: [
    ['--dry-run', 'report what would be imported, skipped and rejected; change nothing'],
    ['--json', 'print the whole report (imported, skipped, rejected) as one JSON object'],
  ],
  details: [
    'Reads the table "user" (id, username, password = 32-byte salt + 32-byte PBKDF2-HMAC-SHA256 key,',
    '100,000 iterations) and adds each user to the database DATABASE_URL names. Users then log in with',
    'their old password; that login stores an argon2id hash in its place. Keyward assigns new ids (the',
    'report, and --json, map each demo id to the new one).',
    '',
    'Every row is reported: imported; skipped when a user of exactly that name already exists (so running',
    'the import twice duplicates nobody; an existing account is never changed); rejected, with the reason,',
    'when the username breaks the rules (4-64 characters after NFKC, no spaces or control characters),',
    'clashes case-insensitively with an existing user or with another row (the row with the lower demo id',
    'is imported, the other rejected), or the password BLOB is malformed. Fix the rejected rows in the',
    "demo's database (rename a user, say) and run the import again: it picks up only what is missing.",
    '',
    'Exit status: 0 every row was imported or already present; 3 the import ran but rejected rows (listed);',
    "1 it could not run (missing or unreadable file, not the demo's database, database unreachable);",
    '2 usage error.',
  ].join('\n'),
  async run(ctx, { values, positionals }) {
    const file = path.resolve(positionals[0] ?? '');
    const dryRun = values['dry-run'] === true;
    const rows = readSeedRows(file);
    const { users, policy } = await ctx.deps();
    const report = await importSeedRows(rows, users, policy, { dryRun });
    const summary = {
      rows: rows.length,
      imported: report.imported.length,
      skipped: report.skipped.length,
      rejected: report.rejected.length,
    };
    if (!dryRun) await ctx.audit({ event: 'import', detail: { file, ...summary } });
    const exitCode = summary.rejected > 0 ? EXIT_INCOMPLETE : EXIT_OK;

    if (values.json === true) {
      ctx.out(JSON.stringify({ file, database: ctx.databaseLabel, dryRun, ...summary, users: report }));
      return exitCode;
    }
    const imported = dryRun ? 'would import' : 'imported';
    for (const outcome of report.imported) {
      const id = outcome.id === null ? '' : ` as id ${outcome.id}`;
      const seed = outcome.seedId === null ? '' : ` (demo id ${outcome.seedId})`;
      ctx.out(`${imported} ${JSON.stringify(outcome.username)}${seed}${id}`);
    }
    for (const outcome of report.skipped) ctx.out(describe('skipped', outcome));
    for (const outcome of report.rejected) ctx.out(describe('rejected', outcome));
    if (summary.imported > 0 && !dryRun) {
      ctx.out(
        'imported users log in with their old passwords; each hash is upgraded to argon2id at that login',
      );
    }
    ctx.out(
      `${dryRun ? 'dry run: ' : ''}${summary.rows} row(s): ${imported} ${summary.imported}, skipped ${summary.skipped}, rejected ${summary.rejected}`,
    );
    if (summary.rejected > 0) {
      ctx.err(
        `keyward: ${summary.rejected} row(s) rejected (listed above): fix them in ${file} and run the import again`,
      );
    }
    return exitCode;
  },
};
