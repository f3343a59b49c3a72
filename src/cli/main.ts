import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCommandArgs } from './args.js';
import type { CliContext } from './cli-context.js';
import { EXIT_OK, EXIT_USAGE, usageError } from './cli-error.js';
import { processIo, type CliIo } from './cli-io.js';
import { commandHelp, groupHelp, type Command, type CommandGroup } from './command.js';
import { auditCommand } from './commands/audit.js';
import { importSeedDbCommand } from './commands/import-seed-db.js';
import { keysCommands } from './commands/keys.js';
import { mailCommands } from './commands/mail.js';
import { migrateCommand } from './commands/migrate.js';
import { userCommands } from './commands/user.js';
import { describeFailure, scrub, secretValues } from './failure.js';

const COMMANDS: readonly (Command | CommandGroup)[] = [
  migrateCommand,
  userCommands,
  importSeedDbCommand,
  auditCommand,
  keysCommands,
  mailCommands,
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
    'Exit status: 0 success; 1 failure (one line on stderr says why); 2 usage error (unknown command or',
    'option, missing argument); 3 import-seed-db ran but rejected rows, which it lists.',
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
  io: CliIo;
  /** `keyward user create`: for help texts and error hints. */
  path: string;
  /** Made only when a command runs: help and usage errors never load the configuration or a driver. */
  ctx?: CliContext;
}

async function runCommand(invocation: Invocation, command: Command, args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    invocation.io.stdout(commandHelp(invocation.path, command));
    return EXIT_OK;
  }
  if (args.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw usageError(
      '--password is not accepted (it would land in shell history): use --password-stdin or KEYWARD_PASSWORD',
    );
  }
  const parsed = parseCommandArgs(args, command.options ?? {}, command.positionals ?? []);
  const { CliContext } = await import('./cli-context.js');
  invocation.ctx = new CliContext(invocation.io);
  return command.run(invocation.ctx, parsed);
}

async function dispatch(invocation: Invocation, argv: readonly string[]): Promise<number> {
  const { io } = invocation;
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(mainHelp());
    return EXIT_USAGE;
  }
  if (HELP_FLAGS.has(name) || name === 'help') {
    if (name === 'help' && rest.length > 0) return dispatch(invocation, [...rest, '--help']);
    io.stdout(mainHelp());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`${version()}\n`);
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
  if (!isGroup(entry)) return runCommand(invocation, entry, rest);

  const [sub, ...args] = rest;
  if (sub === undefined || HELP_FLAGS.has(sub)) {
    if (sub === undefined) {
      io.stderr(groupHelp(invocation.path, entry));
      return EXIT_USAGE;
    }
    io.stdout(groupHelp(invocation.path, entry));
    return EXIT_OK;
  }
  const command = entry.commands.find((c) => c.name === sub);
  if (!command) throw usageError(`unknown command ${JSON.stringify(`${entry.name} ${sub}`)}`);
  invocation.path = `keyward ${entry.name} ${command.name}`;
  return runCommand(invocation, command, args);
}

/**
 * Runs the `keyward` command line and resolves to its exit status: 0 success, 1 failure, 2 usage error, 3 an
 * import that rejected rows (listed).
 * Expected failures are printed as one line each on stderr; everything opened is closed before returning.
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const invocation: Invocation = { io, path: 'keyward' };
  try {
    return await dispatch(invocation, argv);
  } catch (error) {
    const debug = io.env.KEYWARD_DEBUG !== undefined && io.env.KEYWARD_DEBUG !== '';
    const failure = await describeFailure(error, debug);
    const secrets = invocation.ctx?.secrets() ?? secretValues([io.env]);
    for (const line of failure.lines) io.stderr(`keyward: ${scrub(line, secrets)}\n`);
    if (failure.exitCode === EXIT_USAGE) io.stderr(`Run '${invocation.path} --help' for usage.\n`);
    return failure.exitCode;
  } finally {
    await invocation.ctx?.close();
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
