import { parseLimit } from '../args.js';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_OK, usageError } from '../cli-error.js';
import type { Command, CommandGroup } from '../command.js';
import { usernameKey } from '../../domain/username.js';
import { DomainError } from '../../errors.js';
import { userView } from '../../facades/user-view.js';
import { withoutHash, type User } from '../../repositories/user-repository.js';
import { removesAny } from '../../services/roles.js';
import { usernameProblem } from '../../services/username-profile.js';

const MEMORY_STORE_NOTE =
  'sessions live in the memory of each running server (no REDIS_URL): the CLI cannot reach them; restarting the servers ends every session';

async function readPassword(ctx: CliContext, fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await ctx.io.readStdin()).replace(/\r?\n$/, '');
  const fromEnv = ctx.io.env.KEYWARD_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw usageError('no password given: pipe it in with --password-stdin, or set KEYWARD_PASSWORD');
}

/** How many sessions a change revoked, or a warning when they were out of reach (null). */
function reportRevoked(ctx: CliContext, revoked: number | null): void {
  if (revoked === null) ctx.err(`warning: ${MEMORY_STORE_NOTE}`);
  else ctx.out(`revoked ${revoked} session(s)`);
}

async function findUser(ctx: CliContext, username: string): Promise<User> {
  const { users } = await ctx.deps();
  const user = await users.findByUsernameKey(usernameKey(username));
  if (!user) throw new CliError(`no user named ${JSON.stringify(username)}`);
  return withoutHash(user);
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
    const { userFacade } = await ctx.deps();
    await ctx.sessionsInReach();
    const user = await userFacade.createUser(username, password);
    ctx.out(`created user ${JSON.stringify(user.username)} (id ${user.id})`);
    return EXIT_OK;
  },
};

const setPassword: Command = {
  name: 'set-password',
  summary: "Set a user's password (same password rules as PUT /user) and revoke all of its sessions",
  positionals: ['username'],
  options: { 'password-stdin': { type: 'boolean' } },
  optionHelp: [
    ['--password-stdin', 'read the password from standard input (one trailing newline is dropped)'],
  ],
  details: `For an account whose owner lost the password: the current one is not asked for. Every session of the
user is revoked, as a password change over HTTP revokes every session but the caller's. The password is read
as by 'keyward user create' (--password-stdin or KEYWARD_PASSWORD, never an argument). The username is matched
case-insensitively. Without REDIS_URL ${MEMORY_STORE_NOTE}.`,
  async run(ctx, { values, positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    const password = await readPassword(ctx, values['password-stdin'] === true);
    await ctx.sessionsInReach();
    const { sessionsRevoked } = await (await ctx.deps()).userFacade.setPassword(user.id, password);
    ctx.out(`set the password of ${JSON.stringify(user.username)} (id ${user.id})`);
    reportRevoked(ctx, sessionsRevoked);
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
    const { users } = await ctx.deps();
    const [rows, total] = await Promise.all([users.list({ limit }), users.count()]);
    if (values.json === true) {
      for (const user of rows) ctx.out(JSON.stringify({ ...userView(user), disabled: user.disabled }));
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
    await ctx.sessionsInReach();
    const { sessionsRevoked: revoked } = await (await ctx.deps()).userFacade.deleteUser(user.id);
    ctx.out(`deleted user ${JSON.stringify(user.username)} (id ${user.id})`);
    reportRevoked(ctx, revoked);
    return EXIT_OK;
  },
};

const mfaReset: Command = {
  name: 'mfa-reset',
  summary: "Remove a user's second factor (TOTP secret and recovery codes), for support",
  positionals: ['username'],
  details: `The username is matched case-insensitively. The user logs in with the password alone until they enrol
again (POST /mfa/totp/setup). Their sessions are kept; run 'keyward user revoke-sessions' as well if the account
may be in someone else's hands. Audited as mfa_disabled (by: cli).`,
  async run(ctx, { positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    const removed = await (await ctx.deps()).mfaFacade.reset(user.id, 'cli');
    if (!removed) {
      ctx.out(`${JSON.stringify(user.username)} has no second factor: nothing to reset`);
      return EXIT_OK;
    }
    ctx.out(`removed the second factor of ${JSON.stringify(user.username)} (id ${user.id})`);
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
    if (!(await ctx.sessionsInReach())) throw new CliError(`cannot revoke sessions: ${MEMORY_STORE_NOTE}`);
    const revoked = await (await ctx.deps()).authFacade.revokeUserSessions(user.id);
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
    const updated = await (await ctx.deps()).accountFacade.setEmail(user.id, positionals[1] ?? '');
    ctx.out(`set the email of ${JSON.stringify(user.username)} to ${updated.email ?? ''} (unverified)`);
    return EXIT_OK;
  },
};

/** `--add a,b`: a comma-separated list of role names (empty when absent). */
function roleList(value: string | boolean | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role !== '');
}

const roles: Command = {
  name: 'roles',
  summary: "Show or change a user's roles (as PUT /admin/users/{id}/roles does)",
  positionals: ['username'],
  options: { add: { type: 'string' }, remove: { type: 'string' } },
  optionHelp: [
    ['--add R[,R…]', 'roles to add (letters, digits, _ . : -; 1-64 characters)'],
    ['--remove R[,R…]', 'roles to remove'],
  ],
  details: `Without --add or --remove, prints the user's roles. A change that removes a role revokes the user's
sessions, so that no access token still carries it (docs/tokens.md); added roles appear in the user's tokens from
the next login or refresh. Revoking needs the shared token store (REDIS_URL): without it ${MEMORY_STORE_NOTE}.`,
  async run(ctx, { values, positionals }) {
    const user = await findUser(ctx, positionals[0] ?? '');
    const add = roleList(values.add);
    const remove = roleList(values.remove);
    if (add.length === 0 && remove.length === 0) {
      ctx.out(user.roles.join(' '));
      return EXIT_OK;
    }
    const inReach = await ctx.sessionsInReach();
    let result;
    try {
      result = await (await ctx.deps()).adminFacade.changeRoles(user.id, add, remove);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'validation_failed') throw usageError(error.message);
      throw error;
    }
    const { user: updated, revoked } = result;
    const shown = updated.roles.length > 0 ? updated.roles.join(' ') : '(none)';
    ctx.out(`roles of ${JSON.stringify(updated.username)}: ${shown}`);
    if (removesAny(user.roles, updated.roles)) {
      if (inReach) ctx.out(`revoked ${revoked} session(s)`);
      else ctx.err(`warning: ${MEMORY_STORE_NOTE}`);
    }
    return EXIT_OK;
  },
};

const checkNames: Command = {
  name: 'check-names',
  summary: 'List stored usernames that the username rules (RFC 8265, one script) would now refuse',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'one JSON object per line: {"id","username","reason"}']],
  details: `Accounts created before the rules applied keep working: they log in and are found by their stored
key. This lists them, so that you can ask their owners to rename (docs/security.md, Usernames). Nothing is
changed. Exit status 0 either way.`,
  async run(ctx, { values }) {
    const { users } = await ctx.deps();
    let found = 0;
    let afterId: number | undefined;
    for (;;) {
      const page = await users.list({ limit: 1000, ...(afterId === undefined ? {} : { afterId }) });
      for (const user of page) {
        const reason = usernameProblem(user.username);
        if (reason === undefined) continue;
        found += 1;
        if (values.json === true) ctx.out(JSON.stringify({ id: user.id, username: user.username, reason }));
        else ctx.out(`${user.id}  ${JSON.stringify(user.username)}: ${reason}`);
      }
      if (page.length < 1000) break;
      afterId = page.at(-1)?.id;
    }
    if (values.json !== true) ctx.out(`${found} username(s) the rules would refuse`);
    return EXIT_OK;
  },
};

export const userCommands: CommandGroup = {
  name: 'user',
  summary: 'Manage user accounts',
  commands: [create, list, setPassword, remove, revokeSessions, setEmail, roles, checkNames, mfaReset],
};
