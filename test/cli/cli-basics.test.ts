import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../helpers/postgres.js';
import {
  assertCleanFailure,
  assertExit,
  makeWorkspace,
  runAll,
  runCli,
  type CliResult,
  type CliWorkspace,
} from './cli-helpers.js';

const pgUnavailable = await postgresUnavailable();

const COMMANDS = [
  ['migrate'],
  ['user'],
  ['user', 'create'],
  ['user', 'list'],
  ['user', 'delete'],
  ['user', 'revoke-sessions'],
  ['import-seed-db'],
  ['audit'],
  ['keys'],
  ['keys', 'list'],
  ['keys', 'generate'],
  ['keys', 'rotate'],
  ['keys', 'prune'],
];

let ws: CliWorkspace;

before(() => {
  ws = makeWorkspace();
});

after(() => {
  ws.remove();
});

describe('keyward --help', () => {
  it('the main help lists every command and the exit codes, and exits 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await runCli(args, ws.env);
      assertExit(r, 0);
      assert.match(r.stdout, /^Usage: keyward <command> \[options\]/);
      for (const name of ['migrate', 'user', 'import-seed-db', 'audit', 'keys']) {
        assert.match(r.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
      }
      assert.match(r.stdout, /Exit status: 0 success; 1 failure/);
      assert.equal(r.stderr, '');
    }
  });

  it('every command and subcommand prints its usage on --help and exits 0, touching nothing', async () => {
    const results = await runAll(
      COMMANDS.map((args) => [...args, '--help']),
      { ...ws.env, DATABASE_URL: 'postgres://127.0.0.1:1/x' },
    );
    results.forEach((r: CliResult, i) => {
      const args = COMMANDS[i] ?? [];
      assertExit(r, 0);
      assert.ok(r.stdout.startsWith(`Usage: keyward ${args.join(' ')}`), `${args.join(' ')}: ${r.stdout}`);
      assert.equal(r.stderr, '', args.join(' '));
    });
    assert.match(results[2]?.stdout ?? '', /--password-stdin/);
    assert.match(results[6]?.stdout ?? '', /Exit status: 0 every row was imported or already present; 3/);
  });

  it('`keyward help <command>` is the same as `<command> --help`', async () => {
    const [a, b] = await Promise.all([
      runCli(['help', 'keys', 'prune'], ws.env),
      runCli(['keys', 'prune', '--help'], ws.env),
    ]);
    assertExit(a, 0);
    assert.equal(a.stdout, b.stdout);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version'], ws.env);
    assertExit(r, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

describe('usage errors exit 2', () => {
  const cases: [string[], string][] = [
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['--frobnicate'], 'unknown option "--frobnicate"'],
    [['user', 'frobnicate'], 'unknown command "user frobnicate"'],
    [['migrate', '--force'], 'unknown option "--force"'],
    [['user', 'list', '--limit'], 'option --limit needs a value'],
    [['user', 'list', '--limit', 'lots'], '--limit must be a whole number from 1 to 100000'],
    [['user', 'list', '--json=yes'], 'option --json takes no value'],
    [['user', 'create'], 'missing argument: <username>'],
    [['user', 'delete', 'a', 'b'], 'unexpected argument: "b"'],
    [['import-seed-db'], 'missing argument: <path-to-users.db>'],
    [['audit', '--user', 'x', '--user-id', '1'], 'give --user or --user-id, not both'],
    [['audit', '--user-id', 'one'], '--user-id must be a positive whole number'],
    [
      ['user', 'create', 'alice', '--password', 'hunter2hunter2'],
      '--password is not accepted (it would land in shell history): use --password-stdin or KEYWARD_PASSWORD',
    ],
    [
      ['user', 'create', 'alice'],
      'no password given: pipe it in with --password-stdin, or set KEYWARD_PASSWORD',
    ],
  ];

  it('each names the problem in one line and points to --help', async () => {
    const results = await runAll(
      cases.map(([args]) => args),
      ws.env,
    );
    results.forEach((r, i) => {
      const [args, message] = cases[i] ?? [[], ''];
      assertCleanFailure(r, 2, message);
      assert.match(r.stderr, /\nRun 'keyward[a-z -]*--help' for usage\.\n$/, args.join(' '));
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, /hunter2/);
    });
  });

  it('no command prints the main help on stderr and exits 2; a group without subcommand its own', async () => {
    const [bare, group] = await Promise.all([runCli([], ws.env), runCli(['keys'], ws.env)]);
    assertExit(bare, 2);
    assert.match(bare.stderr, /^Usage: keyward <command>/);
    assertExit(group, 2);
    assert.match(group.stderr, /^Usage: keyward keys <command>/);
  });
});

describe('failures exit 1 with one clear line, no stack trace, no secret', () => {
  it('an unreachable PostgreSQL names the server, masks the password', async () => {
    const r = await runCli(['migrate'], {
      ...ws.env,
      DATABASE_URL: 'postgres://keyward:pg-s3cret-pass@127.0.0.1:1/keyward',
    });
    assertCleanFailure(
      r,
      1,
      'cannot use the database postgres://keyward:***@127.0.0.1:1/keyward: connect ECONNREFUSED 127.0.0.1:1',
    );
    assert.doesNotMatch(r.stderr, /pg-s3cret-pass/);
  });

  it('a password passed as a query parameter is masked too', async () => {
    const r = await runCli(['user', 'list'], {
      ...ws.env,
      DATABASE_URL: 'postgres://127.0.0.1:1/keyward?sslmode=disable&password=q-s3cret-pass',
    });
    assertCleanFailure(
      r,
      1,
      'cannot use the database postgres://127.0.0.1:1/keyward?sslmode=disable&password=***: connect ECONNREFUSED 127.0.0.1:1',
    );
    assert.doesNotMatch(r.stderr, /q-s3cret-pass/);
  });

  it('an unknown host is reported as such', async () => {
    const r = await runCli(['migrate'], {
      ...ws.env,
      DATABASE_URL: 'postgres://keyward:pg-s3cret-pass@no-such-host.invalid/keyward',
    });
    // Without a resolver the lookup may time out instead of failing: pg then reports its connect timeout.
    assertCleanFailure(
      r,
      1,
      /^keyward: cannot use the database postgres:\/\/keyward:\*\*\*@no-such-host\.invalid\/keyward: (getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid|Connection terminated due to connection timeout)$/,
    );
    assert.doesNotMatch(r.stderr, /pg-s3cret-pass/);
  });

  it('a malformed DATABASE_URL is a configuration error', async () => {
    const [scheme, url] = await Promise.all([
      runCli(['migrate'], { ...ws.env, DATABASE_URL: 'mysql://root:my-s3cret-pass@localhost/db' }),
      runCli(['migrate'], { ...ws.env, DATABASE_URL: 'postgres://root:my-s3cret-pass@[::1/db' }),
    ]);
    assertCleanFailure(
      scheme,
      1,
      'invalid configuration: DATABASE_URL: must match pattern "^(sqlite:|postgres://|postgresql://)"',
    );
    assertCleanFailure(url, 1, 'cannot use the database postgres://root:***@[::1/db: Invalid URL');
    for (const r of [scheme, url]) assert.doesNotMatch(r.stderr, /my-s3cret-pass/);
  });

  it('every bad variable is reported, one line each', async () => {
    const r = await runCli(['user', 'list'], { ...ws.env, ACCESS_TOKEN_TTL: 'soon', PORT: '99999' });
    assertExit(r, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    for (const line of lines)
      assert.match(line, /^keyward: invalid configuration: (ACCESS_TOKEN_TTL|PORT): /);
  });

  it('a SQLite file that cannot be created is reported', async () => {
    const blocker = path.join(ws.dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const r = await runCli(['migrate'], { ...ws.env, DATABASE_URL: `sqlite:${blocker}/users.db` });
    assertCleanFailure(r, 1, /^keyward: cannot open the database sqlite:.*not-a-dir\/users\.db: /);
  });

  it('a missing file for import-seed-db', async () => {
    const file = path.join(ws.dir, 'missing', 'users.db');
    const r = await runCli(['import-seed-db', file], ws.env);
    assertCleanFailure(r, 1, `no such file: ${file}`);
  });

  it('a secret from .env is scrubbed as well as one from the environment', async () => {
    const cwd = path.join(ws.dir, 'with-dotenv');
    mkdirSync(cwd);
    writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=postgres://app:dotenv-s3cret@127.0.0.1:1/db\n');
    const env = { ...ws.env };
    delete env.DATABASE_URL;
    const r = await runCli(['migrate'], env, { cwd });
    assertCleanFailure(
      r,
      1,
      /^keyward: cannot use the database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/db: /,
    );
    assert.doesNotMatch(r.stderr, /dotenv-s3cret/);
  });
});

/** `applied <name>` for each migration, from 001_users on, then the count. */
function assertAppliedAll(stdout: string, label: string): void {
  const lines = stdout.trimEnd().split('\n');
  const applied = lines.slice(0, -1);
  assert.ok(applied.length >= 2, stdout);
  assert.equal(applied[0], 'applied 001_users');
  assert.equal(applied[1], 'applied 002_audit_events');
  for (const line of applied) assert.match(line, /^applied \d{3}_[a-z0-9_]+$/);
  assert.equal(lines.at(-1), `${label}: ${applied.length} migration(s) applied`);
}

describe('keyward migrate', () => {
  it('applies the migrations once, then reports the database up to date (SQLite)', async () => {
    const first = await runCli(['migrate'], ws.env);
    assertExit(first, 0);
    assertAppliedAll(first.stdout, ws.databaseUrl);
    for (let i = 0; i < 2; i += 1) {
      const again = await runCli(['migrate'], ws.env);
      assertExit(again, 0);
      assert.equal(again.stdout, `${ws.databaseUrl}: already up to date\n`);
    }
  });

  describe('on PostgreSQL', { skip: pgUnavailable ?? false }, () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase();
    });
    after(async () => {
      await db.drop();
    });

    it('is idempotent', async () => {
      const env = { ...ws.env, DATABASE_URL: db.url };
      const first = await runCli(['migrate'], env);
      assertExit(first, 0);
      assertAppliedAll(first.stdout, db.url);
      const again = await runCli(['migrate'], env);
      assertExit(again, 0);
      assert.equal(again.stdout, `${db.url}: already up to date\n`);
    });
  });
});
