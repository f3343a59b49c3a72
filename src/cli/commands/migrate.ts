import { EXIT_OK } from '../cli-error.js';
import type { Command } from '../command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply pending database migrations (the server also applies them on start)',
  details: 'The database is the one DATABASE_URL names (default: sqlite under DATA_DIR).',
  async run(ctx) {
    await ctx.openDatabase();
    if (ctx.appliedMigrations.length === 0) {
      ctx.out(`${ctx.databaseLabel}: already up to date`);
    } else {
      for (const name of ctx.appliedMigrations) ctx.out(`applied ${name}`);
      ctx.out(`${ctx.databaseLabel}: ${ctx.appliedMigrations.length} migration(s) applied`);
    }
    return EXIT_OK;
  },
};
