import type { ParseArgsConfig } from 'node:util';
import type { ParsedArgs } from './args.js';
import type { CliContext } from './cli-context.js';

/** One runnable command (`keyward migrate`, `keyward user create`). */
export interface Command {
  name: string;
  summary: string;
  /** Positional arguments, all required, in order. */
  positionals?: readonly string[];
  options?: ParseArgsConfig['options'];
  /** Option help: [`--flag VALUE`, description]. */
  optionHelp?: readonly (readonly [string, string])[];
  /** Paragraphs printed after the options. */
  details?: string;
  run(ctx: CliContext, args: ParsedArgs): Promise<number>;
}

/** A command with subcommands (`keyward user …`, `keyward keys …`). */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: readonly Command[];
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** `--help` text of a command; `path` is how it is invoked (`keyward user create`). */
export function commandHelp(path: string, command: Command): string {
  const args = (command.positionals ?? []).map((p) => ` <${p}>`).join('');
  const lines = [
    `Usage: ${path}${args}${command.optionHelp?.length ? ' [options]' : ''}`,
    '',
    command.summary,
  ];
  lines.push('', 'Options:', ...table([...(command.optionHelp ?? []), ['-h, --help', 'show this help']]));
  if (command.details) lines.push('', command.details);
  return `${lines.join('\n')}\n`;
}

/** `--help` text of a command group. */
export function groupHelp(path: string, group: CommandGroup): string {
  const lines = [`Usage: ${path} <command> [options]`, '', group.summary, '', 'Commands:'];
  lines.push(...table(group.commands.map((c) => [c.name, c.summary])));
  lines.push('', `Run '${path} <command> --help' for the options of a command.`);
  return `${lines.join('\n')}\n`;
}
