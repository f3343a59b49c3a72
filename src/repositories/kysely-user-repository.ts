import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Database, DatabaseSchema, RowReader } from '../db/database.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import type {
  EncryptedSecrets,
  MfaState,
  NewUser,
  RecoveryCodeHash,
  User,
  UserChanges,
  UserRepository,
  UserWithHash,
} from './user-repository.js';

const UNIQUE_VIOLATIONS = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);

/** The error a driver's error becomes: a unique violation is the input's fault, anything else the store's. */
function translate(error: unknown): Error {
  const { code, constraint, message } = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (typeof code === 'string' && UNIQUE_VIOLATIONS.has(code)) {
    // PostgreSQL names the index in `constraint`, SQLite names the column in the message.
    const onEmail = `${String(constraint)} ${String(message)}`.includes('email_key');
    return new DomainError(onEmail ? 'email_taken' : 'username_taken', { cause: error });
  }
  return new StoreUnavailableError(error);
}

/** A users row as selected (roles as JSON text, email_verified, disabled and mfa_enabled as 0/1 on both dialects). */
interface UserRow {
  id: number;
  username: string;
  email: string | null;
  email_verified: number | boolean;
  roles: string;
  disabled: number | boolean;
  mfa_enabled: number | boolean;
}

interface UserRowWithHash extends UserRow {
  passwordHash: string;
}

const USER_COLUMNS = [
  'id',
  'username',
  'email',
  'email_verified',
  'roles',
  'disabled',
  'mfa_enabled',
] as const;

function parseRoles(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string');
  } catch {
    // A row edited by hand into something that is not JSON has no roles rather than failing every request.
  }
  return [];
}

function toUser(row: UserRow): User;
function toUser(row: UserRow | undefined): User | undefined;
function toUser(row: UserRow | undefined): User | undefined {
  if (!row) return undefined;
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified === 1 || row.email_verified === true,
    roles: parseRoles(row.roles),
    disabled: Boolean(row.disabled),
    mfaEnabled: Boolean(row.mfa_enabled),
  };
}

function toUserWithHash(row: UserRowWithHash | undefined): UserWithHash | undefined {
  if (!row) return undefined;
  return { ...toUser(row), passwordHash: row.passwordHash };
}

/** A LIKE pattern that matches `text` anywhere, its own `%`, `_` and `\` taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function withinDeadline<T>(deadlineMs: number | undefined, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (deadlineMs === undefined) return await work();
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the database did not answer within ${deadlineMs} ms`));
      }, deadlineMs);
    });
    // The abandoned query still ends on the driver's own timeouts; race() keeps its late rejection handled.
    return await Promise.race([work(), deadline]);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw translate(error);
  } finally {
    clearTimeout(timer);
  }
}

/** One repository for SQLite and PostgreSQL: the same Kysely queries run on both. */
export class KyselyUserRepository implements UserRepository {
  /**
   * The look-up of every authenticated `GET /user`, built and compiled once: Kysely would otherwise build the
   * query tree and compile it to SQL on each call. Only the parameter changes between calls.
   */
  private readonly byId: CompiledQuery<UserRow>;
  /** The look-up of every login, compiled once in the same way. */
  private readonly byUsernameKey: CompiledQuery<UserRowWithHash>;

  private readonly db: Kysely<DatabaseSchema>;
  private readonly deadlineMs: number | undefined;
  /** The database's synchronous reader (SQLite): the two look-ups run on it when it has one. */
  private readonly readRow: RowReader | undefined;

  constructor(
    database: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    const { db } = database;
    this.db = db;
    this.deadlineMs = database.deadlineMs;
    this.readRow = database.readRow;
    this.byId = db.selectFrom('users').select(USER_COLUMNS).where('id', '=', 0).compile();
    this.byUsernameKey = db
      .selectFrom('users')
      .select([...USER_COLUMNS, 'password_hash as passwordHash'])
      .where('username_key', '=', '')
      .compile();
  }

  private guarded<T>(work: () => Promise<T>): Promise<T> {
    return withinDeadline(this.deadlineMs, work);
  }

  /** The first row of a query compiled once, with this call's parameters. */
  private readOne<T>(query: CompiledQuery<T>, parameters: readonly unknown[]): Promise<T | undefined> {
    if (this.readRow) {
      // Without Kysely's connection lock and promises: these run on every authenticated request and every
      // login. SQLite answers synchronously anyway, so no deadline is lost.
      try {
        return Promise.resolve(this.readRow(query, parameters));
      } catch (error) {
        return Promise.reject(translate(error));
      }
    }
    return this.guarded(async () => {
      const { rows } = await this.db.executeQuery<T>({ ...query, parameters });
      return rows[0];
    });
  }

  create(user: NewUser): Promise<User> {
    return this.guarded(async () => {
      const at = this.now().toISOString();
      const row = await this.db
        .insertInto('users')
        .values({
          username: user.username,
          username_key: user.usernameKey,
          password_hash: user.passwordHash,
          email: user.email?.display ?? null,
          email_key: user.email?.key ?? null,
          created_at: at,
          updated_at: at,
        })
        .returning(USER_COLUMNS)
        .executeTakeFirstOrThrow();
      return toUser(row);
    });
  }

  async findById(id: number): Promise<User | undefined> {
    return toUser(await this.readOne(this.byId, [id]));
  }

  findWithHashById(id: number): Promise<UserWithHash | undefined> {
    return this.guarded(async () =>
      toUserWithHash(
        await this.db
          .selectFrom('users')
          .select([...USER_COLUMNS, 'password_hash as passwordHash'])
          .where('id', '=', id)
          .executeTakeFirst(),
      ),
    );
  }

  async findByUsernameKey(key: string): Promise<UserWithHash | undefined> {
    // No stored username can hold a NUL (the policy refuses control characters), and PostgreSQL would fail the
    // query on one: a login, or a CLI look-up, with such a name is simply not found.
    if (key.includes('\u0000')) return undefined;
    return toUserWithHash(await this.readOne(this.byUsernameKey, [key]));
  }

  findByEmailKey(key: string): Promise<User | undefined> {
    if (key.includes('\u0000')) return Promise.resolve(undefined);
    return this.guarded(async () =>
      toUser(
        await this.db
          .selectFrom('users')
          .select(USER_COLUMNS)
          .where('email_key', '=', key)
          .executeTakeFirst(),
      ),
    );
  }

  markEmailVerified(id: number, emailKey: string): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('users')
        .set({ email_verified: 1, updated_at: this.now().toISOString() })
        .where('id', '=', id)
        .where('email_key', '=', emailKey)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  update(id: number, changes: UserChanges): Promise<User | undefined> {
    return this.guarded(async () => {
      const values: Partial<
        Record<'username' | 'username_key' | 'password_hash' | 'updated_at' | 'email' | 'email_key', string>
      > & { email_verified?: number } = {
        updated_at: this.now().toISOString(),
      };
      if (changes.username) {
        values.username = changes.username.display;
        values.username_key = changes.username.key;
      }
      if (changes.passwordHash !== undefined) values.password_hash = changes.passwordHash;
      if (changes.email) {
        values.email = changes.email.display;
        values.email_key = changes.email.key;
        values.email_verified = 0;
      }
      return toUser(
        await this.db
          .updateTable('users')
          .set(values)
          .where('id', '=', id)
          .returning(USER_COLUMNS)
          .executeTakeFirst(),
      );
    });
  }

  setRoles(id: number, roles: readonly string[]): Promise<User | undefined> {
    return this.guarded(async () =>
      toUser(
        await this.db
          .updateTable('users')
          .set({ roles: JSON.stringify(roles), updated_at: this.now().toISOString() })
          .where('id', '=', id)
          .returning(USER_COLUMNS)
          .executeTakeFirst(),
      ),
    );
  }

  setDisabled(id: number, disabled: boolean): Promise<User | undefined> {
    return this.guarded(async () =>
      toUser(
        await this.db
          .updateTable('users')
          .set({ disabled: disabled ? 1 : 0, updated_at: this.now().toISOString() })
          .where('id', '=', id)
          .returning(USER_COLUMNS)
          .executeTakeFirst(),
      ),
    );
  }

  replaceHash(id: number, expected: string, next: string): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('users')
        .set({ password_hash: next, updated_at: this.now().toISOString() })
        .where('id', '=', id)
        .where('password_hash', '=', expected)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  delete(id: number): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  list(options: { limit: number; afterId?: number; query?: string }): Promise<User[]> {
    const { query } = options;
    // PostgreSQL refuses a NUL in a text parameter, and no username key holds one.
    if (query?.includes('\u0000')) return Promise.resolve([]);
    return this.guarded(async () => {
      let select = this.db
        .selectFrom('users')
        .select(USER_COLUMNS)
        .where('id', '>', options.afterId ?? 0);
      if (query !== undefined && query !== '') {
        select = select.where(sql<boolean>`username_key like ${containsPattern(query)} escape '\\'`);
      }
      const rows = await select.orderBy('id').limit(options.limit).execute();
      return rows.map((row) => toUser(row));
    });
  }

  count(): Promise<number> {
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return row.n;
    });
  }

  ping(): Promise<void> {
    return this.guarded(async () => {
      await this.db.selectFrom('users').select('id').limit(1).execute();
    });
  }
  findMfa(id: number): Promise<MfaState | undefined> {
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('users')
        .select([
          ...USER_COLUMNS,
          'password_hash as passwordHash',
          'totp_secret as totpSecret',
          'totp_pending as totpPending',
        ])
        .where('id', '=', id)
        .executeTakeFirst();
      const user = toUserWithHash(row);
      return user && { ...user, totpSecret: row?.totpSecret ?? null, totpPending: row?.totpPending ?? null };
    });
  }

  setPendingTotp(id: number, encrypted: string): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('users')
        .set({ totp_pending: encrypted, updated_at: this.now().toISOString() })
        .where('id', '=', id)
        .where('mfa_enabled', '=', 0)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  enableTotp(id: number, expectedPending: string, codes: RecoveryCodeHash[]): Promise<boolean> {
    return this.guarded(() =>
      this.db.transaction().execute(async (trx) => {
        const at = this.now().toISOString();
        const result = await trx
          .updateTable('users')
          .set((eb) => ({
            totp_secret: eb.ref('totp_pending'),
            totp_pending: null,
            mfa_enabled: 1,
            updated_at: at,
          }))
          .where('id', '=', id)
          .where('mfa_enabled', '=', 0)
          .where('totp_pending', '=', expectedPending)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
        await this.insertCodes(trx, id, codes, at);
        return true;
      }),
    );
  }

  disableMfa(id: number): Promise<boolean> {
    return this.guarded(() =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('users')
          .set({
            totp_secret: null,
            totp_pending: null,
            mfa_enabled: 0,
            updated_at: this.now().toISOString(),
          })
          .where('id', '=', id)
          .where('mfa_enabled', '=', 1)
          .executeTakeFirst();
        await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
        return result.numUpdatedRows > 0n;
      }),
    );
  }

  replaceRecoveryCodes(id: number, codes: RecoveryCodeHash[]): Promise<boolean> {
    return this.guarded(() =>
      this.db.transaction().execute(async (trx) => {
        // Taking the user's row first serialises two regenerations on PostgreSQL (the second waits, then replaces).
        const at = this.now().toISOString();
        const result = await trx
          .updateTable('users')
          .set({ updated_at: at })
          .where('id', '=', id)
          .where('mfa_enabled', '=', 1)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
        await this.insertCodes(trx, id, codes, at);
        return true;
      }),
    );
  }

  hasRecoveryCode(id: number, hashes: readonly string[]): Promise<boolean> {
    if (hashes.length === 0) return Promise.resolve(false);
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('recovery_codes')
        .select('id')
        .where('user_id', '=', id)
        .where('code_hash', 'in', [...hashes])
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  useRecoveryCode(id: number, hashes: readonly string[]): Promise<boolean> {
    if (hashes.length === 0) return Promise.resolve(false);
    return this.guarded(async () => {
      const result = await this.db
        .deleteFrom('recovery_codes')
        .where('user_id', '=', id)
        .where('code_hash', 'in', [...hashes])
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  countRecoveryCodes(id: number): Promise<number> {
    return this.guarded(async () => {
      const row = await this.db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', id)
        .executeTakeFirstOrThrow();
      return row.n;
    });
  }

  recoveryCodeKeys(): Promise<Map<string, number>> {
    return this.guarded(async () => {
      const rows = await this.db
        .selectFrom('recovery_codes')
        .select(['key_id', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('key_id')
        .execute();
      return new Map(rows.map((row) => [row.key_id, row.n]));
    });
  }

  listEncryptedSecrets(options: { limit: number; afterId?: number }): Promise<EncryptedSecrets[]> {
    return this.guarded(() =>
      this.db
        .selectFrom('users')
        .select(['id', 'totp_secret as totpSecret', 'totp_pending as totpPending'])
        .where('id', '>', options.afterId ?? 0)
        .where((eb) => eb.or([eb('totp_secret', 'is not', null), eb('totp_pending', 'is not', null)]))
        .orderBy('id')
        .limit(options.limit)
        .execute(),
    );
  }

  replaceEncryptedSecrets(expected: EncryptedSecrets, next: EncryptedSecrets): Promise<boolean> {
    return this.guarded(async () => {
      const result = await this.db
        .updateTable('users')
        .set({ totp_secret: next.totpSecret, totp_pending: next.totpPending })
        .where('id', '=', expected.id)
        .where((eb) =>
          eb.and([
            expected.totpSecret === null
              ? eb('totp_secret', 'is', null)
              : eb('totp_secret', '=', expected.totpSecret),
            expected.totpPending === null
              ? eb('totp_pending', 'is', null)
              : eb('totp_pending', '=', expected.totpPending),
          ]),
        )
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  private async insertCodes(
    trx: Kysely<DatabaseSchema>,
    id: number,
    codes: RecoveryCodeHash[],
    at: string,
  ): Promise<void> {
    if (codes.length === 0) return;
    await trx
      .insertInto('recovery_codes')
      .values(
        codes.map((code) => ({ user_id: id, key_id: code.keyId, code_hash: code.hash, created_at: at })),
      )
      .execute();
  }
}
