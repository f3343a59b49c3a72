import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../db/database.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import type { NewUser, User, UserChanges, UserRepository, UserWithHash } from './user-repository.js';

const UNIQUE_VIOLATIONS = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);

/** SQLite errors that are about the input, not the store (none are expected: every query is parameterised). */
function rethrow(error: unknown): never {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNIQUE_VIOLATIONS.has(code))
    throw new DomainError('username_taken', { cause: error });
  throw new StoreUnavailableError(error);
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) throw error;
    rethrow(error);
  }
}

/** One repository for SQLite and PostgreSQL: the same Kysely queries run on both. */
export class KyselyUserRepository implements UserRepository {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  create(user: NewUser): Promise<User> {
    return guarded(async () => {
      const at = this.now().toISOString();
      return this.db
        .insertInto('users')
        .values({
          username: user.username,
          username_key: user.usernameKey,
          password_hash: user.passwordHash,
          created_at: at,
          updated_at: at,
        })
        .returning(['id', 'username'])
        .executeTakeFirstOrThrow();
    });
  }

  findById(id: number): Promise<User | undefined> {
    return guarded(() =>
      this.db.selectFrom('users').select(['id', 'username']).where('id', '=', id).executeTakeFirst(),
    );
  }

  findWithHashById(id: number): Promise<UserWithHash | undefined> {
    return guarded(() =>
      this.db
        .selectFrom('users')
        .select(['id', 'username', 'password_hash as passwordHash'])
        .where('id', '=', id)
        .executeTakeFirst(),
    );
  }

  findByUsernameKey(key: string): Promise<UserWithHash | undefined> {
    return guarded(() =>
      this.db
        .selectFrom('users')
        .select(['id', 'username', 'password_hash as passwordHash'])
        .where('username_key', '=', key)
        .executeTakeFirst(),
    );
  }

  update(id: number, changes: UserChanges): Promise<User | undefined> {
    return guarded(async () => {
      const values: Partial<Record<'username' | 'username_key' | 'password_hash' | 'updated_at', string>> = {
        updated_at: this.now().toISOString(),
      };
      if (changes.username) {
        values.username = changes.username.display;
        values.username_key = changes.username.key;
      }
      if (changes.passwordHash !== undefined) values.password_hash = changes.passwordHash;
      return this.db
        .updateTable('users')
        .set(values)
        .where('id', '=', id)
        .returning(['id', 'username'])
        .executeTakeFirst();
    });
  }

  replaceHash(id: number, expected: string, next: string): Promise<boolean> {
    return guarded(async () => {
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
    return guarded(async () => {
      const result = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  list(options: { limit: number; afterId?: number }): Promise<User[]> {
    return guarded(() =>
      this.db
        .selectFrom('users')
        .select(['id', 'username'])
        .where('id', '>', options.afterId ?? 0)
        .orderBy('id')
        .limit(options.limit)
        .execute(),
    );
  }

  count(): Promise<number> {
    return guarded(async () => {
      const row = await this.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return row.n;
    });
  }

  ping(): Promise<void> {
    return guarded(async () => {
      await this.db.selectFrom('users').select('id').limit(1).execute();
    });
  }
}
