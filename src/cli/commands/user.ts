import { parseLimit } from '../args.js';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_OK, usageError } from '../cli-error.js';
import type { Command, CommandGroup } from '../command.js';
import { PasswordHasher } from '../../services/password-hasher.js';
import { PasswordPolicy, usernameKey } from '../../services/password-policy.js';
import { UserService } from '../../services/user-service.js';
import type { User } from '../../repositories/user-repository.js';
import { DomainError } from '../../errors.js';
import { userView } from '../../facades/user-view.js';
import { KyselyMailRepository } from '../../repositories/kysely-mail-repository.js';
import { deadlineFor } from '../../repositories/kysely-user-repository.js';
import { normalizeEmail } from '../../services/email-address.js';
import { RecoveryService } from '../../services/recovery-service.js';

const MEMORY_STORE_NOTE =
  'sessions live in the memory of each running server (no REDIS_URL): the CLI cannot reach them; restarting the servers ends every session';

async function readPassword(ctx: CliContext, fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await ctx.io.readStdin()).replace(/\r?\n$/, '');
  const fromEnv = ctx.io.env.KEYWARD_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw usageError('no password given: pipe it in with --password-stdin, or set KEYWARD_PASSWORD');
}

async function findUser(ctx: CliContext, username: string): Promise<User> {
  const users = await ctx.users();
  const user = await users.findByUsernameKey(usernameKey(username));
  if (!user) throw new CliError(`no user named ${JSON.stringify(username)}`);
  return { id: user.id, username: user.username, email: user.email, emailVerified: user.emailVerified };
}

const create: Command = {
  name: 'create',
  summary: 'Create a user (same username and password rules as POST /user)',
  positionals: ['username'],
  options: { 'password-stdin': { type: 'boolean' } },
  optionHelp: [
    ['--password-stdin', 'read the password from standard input (one trailing newline is dropped)'],
  ],
  details: [
    'The password is never accepted as an argument: arguments land in shell history and in the process list.',
    'Without --password-stdin it is read from the environment variable KEYWARD_PASSWORD.',
    '',
    'Examples:',
    '  printf \'%s\' "$PASSWORD" | keyward user create alice --password-stdin',
    '  KEYWARD_PASSWORD="$PASSWORD" keyward user create alice',
  ].join('\n'),
  async run(ctx, { values, positionals }) {
    const [username = ''] = positionals;
    const password = await readPassword(ctx, values['password-stdin'] === true);
    const users = await ctx.users();
    const { passwords } = ctx.config;
    const hasher = new PasswordHasher({
      argon2: passwords.argon2,
      concurrency: 1,
      queueLimit: 0,
      nice: passwords.hashNice,
    });
    const service = new UserService({
      users,
      hasher,
      policy: new PasswordPolicy({ minLength: passwords.minLength, maxLength: passwords.maxLength }),
    });
    const store = await ctx.sharedTokenStore();
    const user = await service.register(username, password).finally(() => hasher.close());
    // As POST /user does: a token store that outlived a database reset could hold sessions for this id.
    await store?.revokeUserSessions(user.id, ctx.io.now());
    await ctx.audit({ event: 'signup', userId: user.id, username: user.username });
    ctx.out(`created user ${JSON.stringify(user.username)} (id ${user.id})`);
    return EXIT_OK;
  },
};

const list: Command = {
  name: 'list',
  summary: 'List users, oldest first',
  options: { limit: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--limit N', 'how many users (1-100000, default 100)'],
    ['--json', 'one JSON object per line'],
  ],
  async run(ctx, { values }) {
    const limit = parseLimit(values.limit, 100, 100_000);
    const users = await ctx.users();
    const [rows, total] = await Promise.all([users.list({ limit }), users.count()]);
    if (values.json === true) {
      for (const user of rows) ctx.out(JSON.stringify(userView(user)));
      return EXIT_OK;
    }
    const width = Math.max(2, ...rows.map((u) => String(u.id).length));
    ctx.out(`${'ID'.padStart(width)}  USERNAME`);
    for (const user of rows) ctx.out(`${String(user.id).padStart(width)}  ${user.username}`);
    ctx.out(`${rows.length} of ${total} user(s)`);
    return EXIT_OK;
  },
};

const remove: Command = {
  name: 'delete',
  summary: 'Delete a user and revoke all of its sessions',
  positionals: ['username'],
  details: `The username is matched case-insensitively. Its sessions are revoked in the shared token store
(Redis). Without REDIS_URL ${MEMORY_STORE_NOTE}.`,
  async run(ctx, { positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    // Reach the token store first, so that an unreachable store fails before anything is deleted.
    const store = await ctx.sharedTokenStore();
    const users = await ctx.users();
    await users.delete(user.id);
    const revoked = (await store?.revokeUserSessions(user.id, ctx.io.now())) ?? 0;
    await ctx.audit({
      event: 'account_deleted',
      userId: user.id,
      username: user.username,
      // null: sessions live in the servers' memory, out of reach (see the warning printed below).
      detail: { sessions_revoked: store ? revoked : null },
    });
    ctx.out(`deleted user ${JSON.stringify(user.username)} (id ${user.id})`);
    if (store) ctx.out(`revoked ${revoked} session(s)`);
    else ctx.err(`warning: ${MEMORY_STORE_NOTE}`);
    return EXIT_OK;
  },
};

const revokeSessions: Command = {
  name: 'revoke-sessions',
  summary: 'Revoke every session of a user (all its access and refresh tokens)',
  positionals: ['username'],
  details: `Needs the shared token store (REDIS_URL): without it ${MEMORY_STORE_NOTE}.`,
  async run(ctx, { positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    const store = await ctx.sharedTokenStore();
    if (!store) throw new CliError(`cannot revoke sessions: ${MEMORY_STORE_NOTE}`);
    const revoked = await store.revokeUserSessions(user.id, ctx.io.now());
    await ctx.audit({ event: 'logout_all', userId: user.id, username: user.username, detail: { revoked } });
    ctx.out(`revoked ${revoked} session(s) of ${JSON.stringify(user.username)}`);
    return EXIT_OK;
  },
};

const setEmail: Command = {
  name: 'set-email',
  summary: "Set a user's email (unverified until confirmed; same rules as PUT /user)",
  positionals: ['username', 'email'],
  details: `The address is stored trimmed with the domain lower-cased and must not belong to another account
(case-insensitively). Outstanding password reset tokens of the account are invalidated. The user confirms the
address with POST /email/verification and the mailed token.`,
  async run(ctx, { positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    const database = await ctx.openDatabase();
    const recovery = new RecoveryService({
      mail: new KyselyMailRepository(database.db, database.dialect, deadlineFor(database.dialect)),
      resetTtlSec: ctx.config.mail.resetTtlSec,
      verificationTtlSec: ctx.config.mail.verificationTtlSec,
      now: () => ctx.io.now(),
    });
    let updated;
    try {
      // The unique index refuses an address another account has (email_taken), as it does for PUT /user.
      updated = await (await ctx.users()).update(user.id, { email: normalizeEmail(positionals[1] ?? '') });
    } catch (error) {
      if (error instanceof DomainError) throw new CliError(error.message, 1, { cause: error });
      throw error;
    }
    if (!updated) throw new CliError(`no user named ${JSON.stringify(positionals[0] ?? '')}`);
    await recovery.invalidate(user.id, 'reset_password');
    await ctx.audit({ event: 'email_added', userId: user.id, username: user.username });
    ctx.out(`set the email of ${JSON.stringify(user.username)} to ${updated.email ?? ''} (unverified)`);
    return EXIT_OK;
  },
};

export const userCommands: CommandGroup = {
  name: 'user',
  summary: 'Manage user accounts',
  commands: [create, list, remove, revokeSessions, setEmail],
};
