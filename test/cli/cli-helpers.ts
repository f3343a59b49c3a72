import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_HASH_ENV } from '../helpers/app.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/keyward.js');
// A command that has not exited by then is hanging (an open handle): the test fails instead of the run.
const CLI_DEADLINE_MS = 60_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the command's standard input, which is then closed. */
  stdin?: string;
  /** Working directory; a directory without a `.env` unless a test puts one there. */
  cwd?: string;
}

/**
 * Runs `node bin/keyward.js …args` with exactly `env` (plus PATH and HOME), as an operator would, and resolves
 * with its exit code and output. Nothing of the test process's environment leaks in (NODE_OPTIONS, the
 * test runner's variables, a developer's DATABASE_URL).
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  options: CliOptions = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? tmpdir(),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keyward ${args.join(' ')} did not exit within ${CLI_DEADLINE_MS} ms\n${stderr}`));
    }, CLI_DEADLINE_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs several commands, two at a time (the machine has two cores), resolving in the order given. */
export async function runAll(
  commands: readonly (readonly string[])[],
  env: Record<string, string>,
): Promise<CliResult[]> {
  const results: CliResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < commands.length) {
      const index = next;
      next += 1;
      results[index] = await runCli(commands[index] ?? [], env);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/** The JSON objects of a command's `--json` output, one per line. */
export function jsonLines<T>(stdout: string): T[] {
  return stdout
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Asserts the exit code, showing the output when it differs. */
export function assertExit(result: CliResult, code: number): void {
  assert.equal(
    result.code,
    code,
    `expected exit ${code}, got ${String(result.code)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

/** A failure as the CLI must report it: the exit code, only `keyward: …` lines, no stack trace. */
export function assertCleanFailure(result: CliResult, code: number, message: string | RegExp): void {
  assertExit(result, code);
  const lines = result.stderr.trimEnd().split('\n');
  assert.ok(lines[0]?.startsWith('keyward: '), result.stderr);
  if (typeof message === 'string') assert.equal(lines[0], `keyward: ${message}`);
  else assert.match(lines[0] ?? '', message);
  assert.doesNotMatch(result.stderr, /\n\s+at .+[:(]\d+/, 'no stack trace');
  assert.doesNotMatch(result.stderr, /unexpected error/);
}

/** A temporary directory with a data directory and a SQLite database file of its own. */
export interface CliWorkspace {
  dir: string;
  dataDir: string;
  databaseUrl: string;
  /** The environment a command and an app built on the same data share. */
  env: Record<string, string>;
  remove(): void;
}

export function makeWorkspace(extra: Record<string, string> = {}): CliWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyward-cli-'));
  const dataDir = path.join(dir, 'data');
  const databaseUrl = `sqlite:${path.join(dir, 'users.db')}`;
  return {
    dir,
    dataDir,
    databaseUrl,
    env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...FAST_HASH_ENV, ...extra },
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The seed databases made by the Flask demo's own code (test/fixtures/make-seed-db.py: the demo's db_createor.py
 * and its POST /user hashing), never by Keyward's idea of the format:
 * - `seed-users.db`: alice, Robert, ALICE, al, "with space", ｃａｒｏｌ (demo ids 1–6) with the passwords in
 *   test/fixtures/make-seed-db.py; trunc (7), a 32-byte BLOB; texty (8), the password as text;
 * - `seed-users-second.db`: dave (10) and Robert (11), another Robert with another password;
 * - `seed-users-third.db`: DAVE (1).
 */
export type SeedFixture = 'seed-users.db' | 'seed-users-second.db' | 'seed-users-third.db';

/** Copies a seed fixture to `file` (the import reads it; the copy keeps the committed file untouched). */
export function copySeedFixture(name: SeedFixture, file: string): void {
  copyFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), file);
}
