import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './database.js';

type Db = Kysely<unknown>;

/**
 * The versioned migrations, written once with the schema builder. The dialect is passed in only for the
 * auto-increment id: SQLite needs AUTOINCREMENT so that a deleted user's id is never handed out again.
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001_users': {
      async up(db: Db) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'integer', (col) =>
            dialect === 'sqlite'
              ? col.primaryKey().autoIncrement()
              : col.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('username', 'text', (col) => col.notNull())
          .addColumn('username_key', 'text', (col) => col.notNull().unique())
          .addColumn('password_hash', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('updated_at', 'text', (col) => col.notNull())
          .execute();
      },
      async down(db: Db) {
        await db.schema.dropTable('users').execute();
      },
    },
    '002_audit_events': {
      async up(db: Db) {
        await db.schema
          .createTable('audit_events')
          .addColumn('id', 'integer', (col) =>
            dialect === 'sqlite'
              ? col.primaryKey().autoIncrement()
              : col.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('at', 'text', (col) => col.notNull())
          .addColumn('event', 'text', (col) => col.notNull())
          .addColumn('user_id', 'integer')
          .addColumn('username', 'text')
          .addColumn('ip', 'text')
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
        await db.schema.createIndex('audit_events_user').on('audit_events').column('user_id').execute();
      },
      async down(db: Db) {
        await db.schema.dropTable('audit_events').execute();
      },
    },
    '003_audit_request_id': {
      async up(db: Db) {
        await db.schema.alterTable('audit_events').addColumn('request_id', 'text').execute();
      },
      async down(db: Db) {
        await db.schema.alterTable('audit_events').dropColumn('request_id').execute();
      },
    },
    '005_email_accounts': {
      async up(db: Db) {
        await db.schema.alterTable('users').addColumn('email', 'text').execute();
        // The whole address lower-cased: the unique, case-insensitive key (NULLs never clash, on both dialects).
        await db.schema.alterTable('users').addColumn('email_key', 'text').execute();
        await db.schema
          .alterTable('users')
          .addColumn('email_verified', 'integer', (col) => col.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createIndex('users_email_key_unique')
          .on('users')
          .column('email_key')
          .unique()
          .execute();
        await db.schema
          .createTable('mail_tokens')
          .addColumn('id', 'integer', (col) =>
            dialect === 'sqlite'
              ? col.primaryKey().autoIncrement()
              : col.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('token_hash', 'text', (col) => col.notNull().unique())
          .addColumn('kind', 'text', (col) => col.notNull())
          .addColumn('user_id', 'integer', (col) => col.notNull())
          .addColumn('email_key', 'text', (col) => col.notNull())
          .addColumn('message_id', 'integer')
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute();
        await db.schema
          .createIndex('mail_tokens_user')
          .on('mail_tokens')
          .columns(['user_id', 'kind'])
          .execute();
        await db.schema.createIndex('mail_tokens_message').on('mail_tokens').column('message_id').execute();
        await db.schema
          .createTable('mail_queue')
          .addColumn('id', 'integer', (col) =>
            dialect === 'sqlite'
              ? col.primaryKey().autoIncrement()
              : col.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('kind', 'text', (col) => col.notNull())
          .addColumn('user_id', 'integer')
          .addColumn('login', 'text')
          .addColumn('recipient', 'text')
          .addColumn('ip', 'text')
          .addColumn('request_id', 'text')
          .addColumn('status', 'text', (col) => col.notNull())
          .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
          .addColumn('locked_until', 'bigint')
          .addColumn('claim', 'text')
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('last_error', 'text')
          .execute();
        await db.schema
          .createIndex('mail_queue_due')
          .on('mail_queue')
          .columns(['status', 'next_attempt_at'])
          .execute();
      },
      async down(db: Db) {
        await db.schema.dropTable('mail_queue').execute();
        await db.schema.dropTable('mail_tokens').execute();
        await db.schema.dropIndex('users_email_key_unique').execute();
        await db.schema.alterTable('users').dropColumn('email_verified').execute();
        await db.schema.alterTable('users').dropColumn('email_key').execute();
        await db.schema.alterTable('users').dropColumn('email').execute();
      },
    },
    '006_mfa_totp': {
      async up(db: Db) {
        // The TOTP secret is stored encrypted (src/services/data-key.ts): `totp_pending` between setup and
        // confirm, `totp_secret` once confirmed. SQLite adds one column per ALTER TABLE.
        await db.schema.alterTable('users').addColumn('totp_secret', 'text').execute();
        await db.schema.alterTable('users').addColumn('totp_pending', 'text').execute();
        await db.schema
          .alterTable('users')
          .addColumn('mfa_enabled', 'integer', (col) => col.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createTable('recovery_codes')
          .addColumn('id', 'integer', (col) =>
            dialect === 'sqlite'
              ? col.primaryKey().autoIncrement()
              : col.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
          .addColumn('key_id', 'text', (col) => col.notNull())
          .addColumn('code_hash', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .execute();
        await db.schema
          .createIndex('recovery_codes_user_hash')
          .on('recovery_codes')
          .columns(['user_id', 'code_hash'])
          .execute();
      },
      async down(db: Db) {
        await db.schema.dropTable('recovery_codes').execute();
        await db.schema.alterTable('users').dropColumn('mfa_enabled').execute();
        await db.schema.alterTable('users').dropColumn('totp_pending').execute();
        await db.schema.alterTable('users').dropColumn('totp_secret').execute();
      },
    },
    '007_roles_users': {
      async up(db: Db) {
        // Roles as one JSON array per user: they are read with the user's row (login, refresh, admin API) and
        // never queried by role, so a join table would cost a second read for nothing.
        await db.schema
          .alterTable('users')
          .addColumn('roles', 'text', (col) => col.notNull().defaultTo('[]'))
          .execute();
        await db.schema
          .alterTable('users')
          .addColumn('disabled', 'integer', (col) => col.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Db) {
        await db.schema.alterTable('users').dropColumn('disabled').execute();
        await db.schema.alterTable('users').dropColumn('roles').execute();
      },
    },
  };
}
