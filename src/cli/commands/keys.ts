import { existsSync, unlinkSync } from 'node:fs';
import { sqliteFile } from '../../db/database.js';
import { signingKeyOptions } from '../../deps.js';
import {
  configuredKey,
  generateKeyFile,
  prunableKeys,
  readKeyDir,
  type SigningKey,
} from '../../services/signing-keys.js';
import type { CliAuditEvent, CliContext } from '../cli-context.js';
import { CliError, EXIT_OK } from '../cli-error.js';
import type { Command, CommandGroup } from '../command.js';
import { reasonOf } from '../failure.js';

/** A failure to read a key is an expected, reportable problem (a stray or damaged file), not a crash. */
function guarded<T>(what: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw new CliError(`${what}: ${reasonOf(error)}`, 1, { cause: error });
  }
}

function directoryKeys(ctx: CliContext): SigningKey[] {
  return guarded('cannot read the keys directory', () => readKeyDir(ctx.config.jwt.keysDir));
}

function overridingKey(ctx: CliContext): SigningKey | undefined {
  return guarded('cannot load the configured key', () => configuredKey(signingKeyOptions(ctx.config)));
}

/** Why keys written to the directory do not sign, if something configured overrides them. */
function overrideNote(key: SigningKey | undefined): string | undefined {
  if (!key) return undefined;
  return key.alg === 'HS256'
    ? 'JWT_KEY is set: tokens are signed with HS256 and the key files are not used until it is removed'
    : `${key.source} is configured: it signs, and the key files only verify`;
}

/**
 * Records a key change in the deployment's audit log (SPEC §6). A key made where no database exists yet (a SQLite
 * file not created: a first key made before the first start, or one made to be kept in a secret manager) has
 * nowhere to be recorded, and creating a database for it would leave a stray file: it is noted instead. Failing to
 * record never undoes the change, which is already on disk; it is reported as a warning.
 */
async function auditKeyChange(ctx: CliContext, entry: CliAuditEvent): Promise<void> {
  const file = sqliteFile(ctx.config.databaseUrl);
  if (file !== undefined && (file === ':memory:' || !existsSync(file))) {
    ctx.err(`note: not audited: there is no database at ${ctx.databaseLabel} yet`);
    return;
  }
  try {
    await ctx.audit(entry);
  } catch (error) {
    ctx.err(`warning: done, but the audit event could not be recorded: ${reasonOf(error)}`);
  }
}

const DETAILS_SHARED = `Keys live in DATA_DIR/keys (<kid>.pem, PKCS#8, mode 0600). Every instance must see the same keys.`;

const list: Command = {
  name: 'list',
  summary: 'List the signing keys: kid, algorithm, creation time, which one signs, file',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'one JSON object per line']],
  details: `${DETAILS_SHARED}\nThe newest key file signs (unless JWT_KEY or JWT_PRIVATE_KEY(_FILE) is set); all of them verify.`,
  async run(ctx, { values }) {
    const override = overridingKey(ctx);
    const keys = directoryKeys(ctx);
    const prunable = new Set(
      prunableKeys(keys, ctx.config.tokens.accessTtlSec, ctx.io.now()).map((k) => k.kid),
    );
    const newest = keys[keys.length - 1];
    const rows = [
      ...(override ? [{ key: override, status: 'signs', created: '-', file: override.source }] : []),
      ...keys.map((key) => ({
        key,
        status:
          override?.alg === 'HS256'
            ? 'unused'
            : !override && key === newest
              ? 'signs'
              : prunable.has(key.kid)
                ? 'verifies (prunable)'
                : 'verifies',
        created: key.createdAt.toISOString(),
        file: key.source,
      })),
    ];
    if (values.json === true) {
      for (const r of rows) {
        ctx.out(
          JSON.stringify({
            kid: r.key.kid,
            alg: r.key.alg,
            created: r.created,
            status: r.status,
            file: r.file,
          }),
        );
      }
      return EXIT_OK;
    }
    if (rows.length === 0) {
      ctx.out(
        `no keys in ${ctx.config.jwt.keysDir}: the server generates one on first start (or run 'keyward keys generate')`,
      );
      return EXIT_OK;
    }
    const table = [
      ['KID', 'ALG', 'CREATED', 'STATUS', 'FILE'],
      ...rows.map((r) => [r.key.kid, r.key.alg, r.created, r.status, r.file]),
    ];
    const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
    for (const row of table)
      ctx.out(row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  '));
    const note = overrideNote(override);
    if (note) ctx.err(`note: ${note}`);
    return EXIT_OK;
  },
};

function writeKey(ctx: CliContext): SigningKey {
  return guarded('cannot write a key', () => generateKeyFile(ctx.config.jwt.keysDir));
}

const generate: Command = {
  name: 'generate',
  summary: 'Write a new Ed25519 key file and print its kid',
  details: `${DETAILS_SHARED}\nThe new key is the newest, so it signs from the next start of each instance ('keys rotate' explains).`,
  async run(ctx) {
    const override = overridingKey(ctx);
    const key = writeKey(ctx);
    ctx.out(key.kid);
    ctx.err(`wrote ${key.source} (mode 0600)`);
    await auditKeyChange(ctx, { event: 'signing_key_added', detail: { kid: key.kid, command: 'generate' } });
    const note = overrideNote(override);
    if (note) ctx.err(`note: ${note}`);
    return EXIT_OK;
  },
};

const rotate: Command = {
  name: 'rotate',
  summary:
    'Generate a new signing key that signs from the next start; old tokens stay valid until they expire',
  details: `${DETAILS_SHARED}\nRun 'keyward keys prune' once ACCESS_TOKEN_TTL has passed after every instance restarted.`,
  async run(ctx) {
    const override = overridingKey(ctx);
    const previous = directoryKeys(ctx).at(-1);
    const key = writeKey(ctx);
    const ttl = ctx.config.tokens.accessTtlSec;
    ctx.out(`new signing key ${key.kid}`);
    ctx.out(`  file: ${key.source} (mode 0600)`);
    ctx.out(
      'It signs from the next start of each instance: restart every instance (they must all share these keys).',
    );
    ctx.out(
      previous
        ? `Tokens signed by the previous key ${previous.kid} stay valid until they expire, at most ACCESS_TOKEN_TTL (${ttl} s) after that restart: every key in the directory verifies.`
        : 'There was no previous key in the directory.',
    );
    ctx.out(`After that, 'keyward keys prune' removes the old key file.`);
    await auditKeyChange(ctx, {
      event: 'signing_key_added',
      detail: { kid: key.kid, command: 'rotate', previous_kid: previous?.kid ?? null },
    });
    const note = overrideNote(override);
    if (note) ctx.err(`note: ${note}`);
    return EXIT_OK;
  },
};

const prune: Command = {
  name: 'prune',
  summary: 'Remove key files whose tokens can no longer be valid (never the newest key)',
  options: { 'dry-run': { type: 'boolean' } },
  optionHelp: [['--dry-run', 'show what would be removed, remove nothing']],
  details: [
    'A key file is removed when it is not the newest and a newer key has existed for longer than',
    'ACCESS_TOKEN_TTL: every token it signed has expired by then. This assumes every instance was restarted',
    'when the newer key was added (a running instance keeps signing with the key it started with); restart',
    "them before pruning if unsure. Key creation times are the files' modification times.",
  ].join('\n'),
  async run(ctx, { values }) {
    const dryRun = values['dry-run'] === true;
    const keys = directoryKeys(ctx);
    const doomed = prunableKeys(keys, ctx.config.tokens.accessTtlSec, ctx.io.now());
    for (const key of doomed) {
      if (!dryRun)
        guarded(`cannot remove ${key.source}`, () => {
          unlinkSync(key.source);
        });
      ctx.out(`${dryRun ? 'would remove' : 'removed'} ${key.kid}  ${key.source}`);
    }
    const kept = keys.length - doomed.length;
    ctx.out(
      doomed.length === 0
        ? `nothing to prune (${keys.length} key(s) kept)`
        : `${dryRun ? 'would remove' : 'removed'} ${doomed.length} key(s), ${kept} kept`,
    );
    if (!dryRun && doomed.length > 0) {
      await auditKeyChange(ctx, {
        event: 'signing_keys_pruned',
        detail: { removed: doomed.length, kids: doomed.map((key) => key.kid).join(','), kept },
      });
    }
    return EXIT_OK;
  },
};

export const keysCommands: CommandGroup = {
  name: 'keys',
  summary: 'Manage the Ed25519 keys that sign access tokens',
  commands: [list, generate, rotate, prune],
};
