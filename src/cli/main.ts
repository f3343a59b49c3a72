import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCommandArgs } from './args.js';
import { CliContext } from './cli-context.js';
import { EXIT_OK, EXIT_USAGE, usageError } from './cli-error.js';
import { processIo, type CliIo } from './cli-io.js';
import { commandHelp, groupHelp, type Command, type CommandGroup } from './command.js';
import { auditCommand } from './commands/audit.js';
import { importSeedDbCommand } from './commands/import-seed-db.js';
import { keysCommands } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { userCommands } from './commands/user.js';
import { describeFailure } from './failure.js';

const COMMANDS: readonly (Command | CommandGroup)[] = [
  migrateCommand,
  userCommands,
  importSeedDbCommand,
  auditCommand,
  keysCommands,
];

const HELP_FLAGS = new Set(['--help', '-h']);

function isGroup(entry: Command | CommandGroup): entry is CommandGroup {
  return 'commands' in entry;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: keyward <command> [options]',
    '',
    'Operate a Keyward server: its database, users and signing keys. Configured like the server, by',
    'environment variables and an optional .env file in the current directory (DATABASE_URL, DATA_DIR,',
    'REDIS_URL, ...).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'keyward <command> --help' for the options of a command.",
    'Exit status: 0 success, 1 failure, 2 usage error.',
    '',
  ].join('\n');
}

function version(): string {
  // Two levels up from src/cli/ and from dist/cli/ alike.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Arguments before a `--` terminator ask for help. */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => HELP_FLAGS.has(a));
}

interface Invocation {
  /** `keyward user create`: for help texts and error hints. */
  path: string;
}

async function runCommand(ctx: CliContext, command: Command, path: string, args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    ctx.io.stdout(commandHelp(path, command));
    return EXIT_OK;
  }
  if (args.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw usageError(
      '--password is not accepted (it would land in shell history): use --password-stdin or KEYWARD_PASSWORD',
    );
  }
  const parsed = parseCommandArgs(args, command.options ?? {}, command.positionals ?? []);
  return command.run(ctx, parsed);
}

async function dispatch(ctx: CliContext, argv: readonly string[], invocation: Invocation): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    ctx.io.stderr(mainHelp());
    return EXIT_USAGE;
  }
  if (HELP_FLAGS.has(name) || name === 'help') {
    if (name === 'help' && rest.length > 0) return dispatch(ctx, [...rest, '--help'], invocation);
    ctx.io.stdout(mainHelp());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    ctx.out(version());
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    throw usageError(
      name.startsWith('-')
        ? `unknown option ${JSON.stringify(name)}`
        : `unknown command ${JSON.stringify(name)}`,
    );
  }
  invocation.path = `keyward ${entry.name}`;
  if (!isGroup(entry)) return runCommand(ctx, entry, invocation.path, rest);

  const [sub, ...args] = rest;
  if (sub === undefined || HELP_FLAGS.has(sub)) {
    if (sub === undefined) {
      ctx.io.stderr(groupHelp(invocation.path, entry));
      return EXIT_USAGE;
    }
    ctx.io.stdout(groupHelp(invocation.path, entry));
    return EXIT_OK;
  }
  const command = entry.commands.find((c) => c.name === sub);
  if (!command) throw usageError(`unknown command ${JSON.stringify(`${entry.name} ${sub}`)}`);
  invocation.path = `keyward ${entry.name} ${command.name}`;
  return runCommand(ctx, command, invocation.path, args);
}

/**
 * Runs the `keyward` command line and resolves to its exit status: 0 success, 1 failure, 2 usage error.
 * Expected failures are printed as one line each on stderr; everything opened is closed before returning.
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const ctx = new CliContext(io);
  const invocation: Invocation = { path: 'keyward' };
  try {
    return await dispatch(ctx, argv, invocation);
  } catch (error) {
    const failure = describeFailure(error, io.env.KEYWARD_DEBUG !== undefined && io.env.KEYWARD_DEBUG !== '');
    for (const line of failure.lines) io.stderr(`keyward: ${line}\n`);
    if (failure.exitCode === EXIT_USAGE) io.stderr(`Run '${invocation.path} --help' for usage.\n`);
    return failure.exitCode;
  } finally {
    await ctx.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

// `tsx src/cli/main.ts …` (npm run keyward); bin/keyward.js imports this module and calls run() itself.
if (isEntryPoint()) process.exitCode = await run(process.argv.slice(2));
