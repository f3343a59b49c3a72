// node:test's describe/it return promises that the runner itself awaits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it as nodeIt } from 'node:test';
import { DomainError, StoreUnavailableError } from '../../src/errors.js';
import type { MailRepository } from '../../src/repositories/mail-repository.js';
import type { User, UserRepository } from '../../src/repositories/user-repository.js';
import { normalizeEmail } from '../../src/services/email-address.js';
import { usernameKey } from '../../src/domain/username.js';
import { normalizeUsername } from '../../src/services/password-policy.js';

export interface RepositoryUnderTest {
  users: UserRepository;
  /** The mail tables of the same database. */
  mail: MailRepository;
  /** A repository over a database that cannot be reached (closed port, destroyed connection). */
  unreachable: () => Promise<{ users: UserRepository; mail: MailRepository; close: () => Promise<void> }>;
  cleanup: () => Promise<void>;
}

/** Makes the repository to test, or returns why it cannot (the suite is then skipped, visibly). */
export type MakeRepository = () => Promise<RepositoryUnderTest | string>;

let counter = 0;

function name(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}x${randomBytes(4).toString('hex')}`;
}

function hash(): string {
  return `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}`;
}

function newUser(display = name()): { username: string; usernameKey: string; passwordHash: string } {
  const username = normalizeUsername(display);
  return { username, usernameKey: usernameKey(username), passwordHash: hash() };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/**
 * Registers the UserRepository contract as a node:test suite named `name`. Tests in one file run one after
 * another, so a test may rely on ids growing between its own inserts.
 */
export async function userRepositoryContract(suite: string, make: MakeRepository): Promise<void> {
  const made = await make();
  const skip = typeof made === 'string' ? made : false;
  const it = (behaviour: string, fn: () => Promise<void>) => nodeIt(behaviour, { skip }, fn);
  const repo = (): UserRepository => {
    if (typeof made === 'string') throw new Error(made);
    return made.users;
  };
  const mail = (): MailRepository => {
    if (typeof made === 'string') throw new Error(made);
    return made.mail;
  };

  describe(suite, () => {
    after(async () => {
      if (typeof made !== 'string') await made.cleanup();
    });

    describe('create and find', () => {
      it('a created user is found by id and by username key, with its hash', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        assert.equal(typeof created.id, 'number');
        assert.ok(Number.isSafeInteger(created.id) && created.id > 0);
        assert.deepEqual(created, {
          id: created.id,
          username: input.username,
          email: null,
          emailVerified: false,
          roles: [],
          disabled: false,
          mfaEnabled: false,
        });
        assert.deepEqual(await users.findById(created.id), created);
        assert.deepEqual(await users.findWithHashById(created.id), {
          ...created,
          passwordHash: input.passwordHash,
        });
        assert.deepEqual(await users.findByUsernameKey(input.usernameKey), {
          ...created,
          passwordHash: input.passwordHash,
        });
      });

      it('unknown ids and keys are not found', async () => {
        const users = repo();
        assert.equal(await users.findById(2 ** 31 - 1), undefined);
        assert.equal(await users.findWithHashById(2 ** 31 - 1), undefined);
        assert.equal(await users.findByUsernameKey(usernameKey(name('nobody'))), undefined);
        // PostgreSQL refuses a NUL in a text parameter: not found, rather than a store error.
        assert.equal(await users.findByUsernameKey(`${name('nul')}\u0000`), undefined);
      });

      it('a username is returned exactly as stored, Unicode included', async () => {
        const users = repo();
        const input = newUser(`Zoë_${name('Ünï')}_名前`);
        const created = await users.create(input);
        assert.equal(created.username, input.username);
        assert.equal((await users.findById(created.id))?.username, input.username);
        assert.equal((await users.findByUsernameKey(input.usernameKey))?.id, created.id);
      });

      it('the username key matches regardless of the case it was registered in', async () => {
        const users = repo();
        const display = name('MixedCase');
        const created = await users.create(newUser(display));
        assert.equal((await users.findByUsernameKey(usernameKey(display.toUpperCase())))?.id, created.id);
      });
    });

    describe('unique usernames', () => {
      it('a case-insensitive clash is username_taken and stores nothing', async () => {
        const users = repo();
        const display = name('Clash');
        const first = await users.create(newUser(display));
        const before = await users.count();
        await rejectsWith(users.create(newUser(display.toUpperCase())), 'username_taken');
        assert.equal(await users.count(), before);
        assert.equal((await users.findByUsernameKey(usernameKey(display)))?.id, first.id);
      });

      it('of 50 concurrent creates of one username exactly one succeeds', async () => {
        const users = repo();
        const display = name('race');
        const variants = Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0 ? display.toUpperCase() : display.toLowerCase(),
        );
        const results = await Promise.allSettled(variants.map((v) => users.create(newUser(v))));
        const ok = results.filter((r) => r.status === 'fulfilled');
        assert.equal(ok.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof DomainError, String(r.reason));
            assert.equal(r.reason.code, 'username_taken');
          }
        }
        assert.equal((await users.findByUsernameKey(usernameKey(display)))?.id, ok[0]?.value.id);
      });

      it('50 concurrent creates of different usernames get 50 different ids', async () => {
        const users = repo();
        const created = await Promise.all(Array.from({ length: 50 }, () => users.create(newUser())));
        assert.equal(new Set(created.map((u) => u.id)).size, 50);
      });
    });

    describe('update', () => {
      it('a rename moves the user to the new username key', async () => {
        const users = repo();
        const created = await users.create(newUser());
        const oldKey = usernameKey(created.username);
        const next = normalizeUsername(name('Renamed'));
        const updated = await users.update(created.id, {
          username: { display: next, key: usernameKey(next) },
        });
        assert.deepEqual(updated, {
          id: created.id,
          username: next,
          email: null,
          emailVerified: false,
          roles: [],
          disabled: false,
          mfaEnabled: false,
        });
        assert.equal(await users.findByUsernameKey(oldKey), undefined);
        assert.equal((await users.findByUsernameKey(usernameKey(next)))?.id, created.id);
      });

      it('a rename to a case variant of its own name is allowed', async () => {
        const users = repo();
        const created = await users.create(newUser(name('case')));
        const upper = created.username.toUpperCase();
        const updated = await users.update(created.id, {
          username: { display: upper, key: usernameKey(upper) },
        });
        assert.equal(updated?.username, upper);
      });

      it("a rename onto another user's name is username_taken and changes nothing", async () => {
        const users = repo();
        const alice = await users.create(newUser(name('alice')));
        const bob = await users.create(newUser(name('bob')));
        const clash = alice.username.toUpperCase();
        await rejectsWith(
          users.update(bob.id, { username: { display: clash, key: usernameKey(clash) } }),
          'username_taken',
        );
        assert.deepEqual(await users.findById(bob.id), bob);
        assert.deepEqual(await users.findById(alice.id), alice);
      });

      it('a password change replaces the hash and keeps the name', async () => {
        const users = repo();
        const created = await users.create(newUser());
        const next = hash();
        assert.deepEqual(await users.update(created.id, { passwordHash: next }), created);
        assert.equal((await users.findWithHashById(created.id))?.passwordHash, next);
      });

      it('updating a user that does not exist returns undefined', async () => {
        const users = repo();
        const created = await users.create(newUser());
        await users.delete(created.id);
        assert.equal(await users.update(created.id, { passwordHash: hash() }), undefined);
      });
    });

    describe('replaceHash', () => {
      it('replaces the hash when it is still the expected one', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        const next = hash();
        assert.equal(await users.replaceHash(created.id, input.passwordHash, next), true);
        assert.equal((await users.findWithHashById(created.id))?.passwordHash, next);
      });

      it('does not undo a concurrent password change', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        const changed = hash();
        await users.update(created.id, { passwordHash: changed });
        assert.equal(await users.replaceHash(created.id, input.passwordHash, hash()), false);
        assert.equal((await users.findWithHashById(created.id))?.passwordHash, changed);
      });

      it('of concurrent rehashes from one hash exactly one wins', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        const candidates = Array.from({ length: 10 }, () => hash());
        const results = await Promise.all(
          candidates.map((c) => users.replaceHash(created.id, input.passwordHash, c)),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const stored = (await users.findWithHashById(created.id))?.passwordHash;
        assert.equal(stored, candidates[results.indexOf(true)]);
      });

      it('is false for a user that does not exist', async () => {
        assert.equal(await repo().replaceHash(2 ** 31 - 2, hash(), hash()), false);
      });
    });

    describe('delete', () => {
      it('a deleted user is gone and deleting again is false', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        assert.equal(await users.delete(created.id), true);
        assert.equal(await users.findById(created.id), undefined);
        assert.equal(await users.findByUsernameKey(input.usernameKey), undefined);
        assert.equal(await users.delete(created.id), false);
      });

      it("a deleted user's name can be registered again, under a new id", async () => {
        const users = repo();
        const input = newUser();
        const first = await users.create(input);
        await users.delete(first.id);
        const second = await users.create({ ...input, passwordHash: hash() });
        assert.notEqual(second.id, first.id);
      });

      it('the id of the newest user is never handed out again after it is deleted', async () => {
        const users = repo();
        const newest = await users.create(newUser());
        await users.delete(newest.id);
        const next = await users.create(newUser());
        assert.ok(next.id > newest.id, `id ${next.id} reused or went back (deleted ${newest.id})`);
      });
    });

    describe('list and count', () => {
      it('pages through users in id order without gaps or repeats', async () => {
        const users = repo();
        const created: User[] = [];
        for (let i = 0; i < 5; i += 1) created.push(await users.create(newUser(name('page'))));
        const start = (created[0]?.id ?? 1) - 1;
        const seen: User[] = [];
        let afterId = start;
        for (;;) {
          const page = await users.list({ limit: 2, afterId });
          assert.ok(page.length <= 2);
          if (page.length === 0) break;
          seen.push(...page);
          afterId = page[page.length - 1]?.id ?? afterId;
        }
        assert.deepEqual(seen, created);
      });

      it('lists from the first user when no cursor is given', async () => {
        const users = repo();
        await users.create(newUser());
        const first = await users.list({ limit: 1 });
        assert.equal(first.length, 1);
        const all = await users.list({ limit: 100_000 });
        assert.deepEqual(first[0], all[0]);
        assert.deepEqual(
          all.map((u) => u.id),
          all.map((u) => u.id).sort((a, b) => a - b),
        );
      });

      it('count is a number that follows creates and deletes', async () => {
        const users = repo();
        const before = await users.count();
        assert.equal(typeof before, 'number');
        const a = await users.create(newUser());
        await users.create(newUser());
        await users.create(newUser());
        assert.equal(await users.count(), before + 3);
        await users.delete(a.id);
        assert.equal(await users.count(), before + 2);
      });
    });

    describe('second factor', () => {
      const codes = (tag: string) =>
        Array.from({ length: 10 }, (_, i) => ({
          keyId: 'k1',
          hash: `${tag}-${i}-${randomBytes(4).toString('hex')}`,
        }));

      it('a pending secret is confirmed once, with its recovery codes; a user without one reads as off', async () => {
        const users = repo();
        const user = await users.create(newUser());
        assert.deepEqual(await users.findMfa(user.id), {
          ...user,
          passwordHash: (await users.findWithHashById(user.id))?.passwordHash,
          totpSecret: null,
          totpPending: null,
        });
        assert.equal(await users.enableTotp(user.id, 'pending-1', codes('a')), false, 'nothing pending yet');
        assert.equal(await users.setPendingTotp(user.id, 'pending-1'), true);
        assert.equal(await users.setPendingTotp(user.id, 'pending-2'), true, 'setup again replaces it');
        assert.equal(
          await users.enableTotp(user.id, 'pending-1', codes('a')),
          false,
          'a stale pending secret',
        );
        const first = codes('b');
        assert.equal(await users.enableTotp(user.id, 'pending-2', first), true);
        const state = await users.findMfa(user.id);
        assert.equal(state?.mfaEnabled, true);
        assert.equal(state.totpSecret, 'pending-2');
        assert.equal(state.totpPending, null);
        assert.equal((await users.findById(user.id))?.mfaEnabled, true);
        assert.equal((await users.findByUsernameKey(usernameKey(user.username)))?.mfaEnabled, true);
        assert.equal(await users.setPendingTotp(user.id, 'pending-3'), false, 'no setup while enabled');
        assert.equal(await users.enableTotp(user.id, 'pending-2', codes('c')), false, 'enabled once');
        assert.equal(await users.countRecoveryCodes(user.id), 10);
      });

      it('a recovery code is used once; new codes replace the old; disabling removes everything', async () => {
        const users = repo();
        const user = await users.create(newUser());
        const other = await users.create(newUser());
        assert.equal(await users.replaceRecoveryCodes(user.id, codes('x')), false, 'not enabled');
        await users.setPendingTotp(user.id, 'p');
        const first = codes('d');
        await users.enableTotp(user.id, 'p', first);
        const one = first[0]?.hash ?? '';
        assert.equal(await users.hasRecoveryCode(other.id, [one]), false, "another user's code");
        assert.equal(await users.useRecoveryCode(other.id, [one]), false);
        assert.equal(await users.hasRecoveryCode(user.id, ['nope', one]), true);
        const uses = await Promise.all([
          users.useRecoveryCode(user.id, [one]),
          users.useRecoveryCode(user.id, [one]),
        ]);
        assert.deepEqual(uses.sort(), [false, true], 'two concurrent uses: exactly one wins');
        assert.equal(await users.hasRecoveryCode(user.id, [one]), false);
        assert.equal(await users.countRecoveryCodes(user.id), 9);
        const second = codes('e');
        assert.equal(await users.replaceRecoveryCodes(user.id, second), true);
        assert.equal(await users.hasRecoveryCode(user.id, [first[1]?.hash ?? '']), false, 'old codes die');
        assert.equal(await users.countRecoveryCodes(user.id), 10);
        assert.equal((await users.recoveryCodeKeys()).get('k1') !== undefined, true);
        assert.equal(await users.disableMfa(user.id), true);
        assert.equal(await users.disableMfa(user.id), false, 'already off');
        const state = await users.findMfa(user.id);
        assert.equal(state?.mfaEnabled, false);
        assert.equal(state.totpSecret, null);
        assert.equal(await users.countRecoveryCodes(user.id), 0);
      });

      it('deleting a user deletes their recovery codes', async () => {
        const users = repo();
        const user = await users.create(newUser());
        await users.setPendingTotp(user.id, 'p');
        await users.enableTotp(user.id, 'p', codes('f'));
        assert.equal(await users.delete(user.id), true);
        assert.equal(await users.countRecoveryCodes(user.id), 0);
      });

      it('encrypted secrets are listed and replaced only while unchanged', async () => {
        const users = repo();
        const user = await users.create(newUser());
        await users.setPendingTotp(user.id, 'old-pending');
        const listed = (await users.listEncryptedSecrets({ limit: 1000 })).find((row) => row.id === user.id);
        assert.deepEqual(listed, { id: user.id, totpSecret: null, totpPending: 'old-pending' });
        const next = { id: user.id, totpSecret: null, totpPending: 'new-pending' };
        assert.equal(await users.replaceEncryptedSecrets(listed, next), true);
        assert.equal(await users.replaceEncryptedSecrets(listed, next), false, 'changed meanwhile');
        assert.equal((await users.findMfa(user.id))?.totpPending, 'new-pending');
      });
    });

    describe('email', () => {
      it('an email is stored as given, found by its key, and starts unverified; accounts without one never clash', async () => {
        const users = repo();
        const address = normalizeEmail(`  Mixed.Case+${name('m')}@Example.ORG `);
        const created = await users.create({ ...newUser(), email: address });
        assert.equal(created.email, address.display);
        assert.match(created.email, /@example\.org$/);
        assert.equal(created.emailVerified, false);
        assert.deepEqual(await users.findByEmailKey(address.key), created);
        assert.equal(await users.findByEmailKey(`nobody-${name()}@example.org`), undefined);
        await users.create(newUser());
        await users.create(newUser());
      });

      it('an email differing only by case is taken: email_taken, on create and on update', async () => {
        const users = repo();
        const address = normalizeEmail(`${name('Taken')}@example.com`);
        await users.create({ ...newUser(), email: address });
        const upper = normalizeEmail(address.display.toUpperCase());
        await rejectsWith(users.create({ ...newUser(), email: upper }), 'email_taken');
        const other = await users.create(newUser());
        await rejectsWith(users.update(other.id, { email: upper }), 'email_taken');
      });

      it('verification holds only for the address it names, and a changed email is unverified again', async () => {
        const users = repo();
        const first = normalizeEmail(`${name('v')}@example.com`);
        const created = await users.create({ ...newUser(), email: first });
        assert.equal(await users.markEmailVerified(created.id, `${name()}@example.com`), false);
        assert.equal(await users.markEmailVerified(created.id, first.key), true);
        assert.equal((await users.findById(created.id))?.emailVerified, true);
        const second = normalizeEmail(`${name('w')}@example.com`);
        const updated = await users.update(created.id, { email: second });
        assert.deepEqual(updated, { ...created, email: second.display, emailVerified: false });
        assert.equal(await users.markEmailVerified(created.id, first.key), false);
      });
    });

    describe('mail tokens and queue', () => {
      const now = 1_900_000_000_000;

      it('a token is found by hash and kind only, until it expires; consuming it works once', async () => {
        const store = mail();
        const hash = name('h');
        await store.insertToken(
          {
            hash,
            kind: 'reset_password',
            userId: 7,
            emailKey: 'a@b.example',
            messageId: null,
            expiresAt: now + 1000,
          },
          now,
        );
        assert.deepEqual(await store.findToken(hash, 'reset_password', now), {
          userId: 7,
          emailKey: 'a@b.example',
        });
        assert.equal(await store.findToken(hash, 'verify_email', now), undefined);
        assert.equal(await store.findToken(hash, 'reset_password', now + 1000), undefined);
        assert.equal(await store.consumeToken(hash, 'verify_email', now), undefined);
        const [a, b] = await Promise.all([
          store.consumeToken(hash, 'reset_password', now),
          store.consumeToken(hash, 'reset_password', now),
        ]);
        assert.deepEqual([a, b].filter(Boolean), [{ userId: 7, emailKey: 'a@b.example' }]);
      });

      it("deleting a user's tokens of one kind leaves the other kind", async () => {
        const store = mail();
        const userId = 1000 + Math.floor(Math.random() * 1e6);
        const reset = name('r');
        const verify = name('v');
        for (const [hash, kind] of [
          [reset, 'reset_password'],
          [verify, 'verify_email'],
        ] as const) {
          await store.insertToken(
            { hash, kind, userId, emailKey: 'x@y.example', messageId: null, expiresAt: now + 1000 },
            now,
          );
        }
        assert.equal(await store.deleteUserTokens(userId, 'reset_password'), 1);
        assert.equal(await store.findToken(reset, 'reset_password', now), undefined);
        assert.ok(await store.findToken(verify, 'verify_email', now));
      });

      it('of two concurrent claimers each due message goes to exactly one; a lapsed lease is claimed again', async () => {
        const store = mail();
        const base = now + 10_000_000 + Math.floor(Math.random() * 1e6);
        const ids = await Promise.all(
          Array.from({ length: 12 }, (_v, i) =>
            store.enqueue({ kind: 'test', recipient: `r${i}@example.com` }, base),
          ),
        );
        const [one, two] = await Promise.all([
          store.claim('one', base, 1000, 100),
          store.claim('two', base, 1000, 100),
        ]);
        const claimed = [...one, ...two].map((m) => m.id).filter((id) => ids.includes(id));
        assert.equal(new Set(claimed).size, claimed.length, 'no message claimed twice');
        assert.deepEqual(
          claimed.sort((x, y) => x - y),
          [...ids].sort((x, y) => x - y),
        );
        // Nothing is due while the leases run.
        assert.deepEqual(
          (await store.claim('three', base + 999, 1000, 100)).filter((m) => ids.includes(m.id)),
          [],
        );
        const first = [...one, ...two].find((m) => m.id === ids[0]);
        assert.ok(first);
        assert.equal(await store.finish(first, 'sent', base), true);
        const again = (await store.claim('four', base + 1000, 1000, 100)).filter((m) => ids.includes(m.id));
        assert.equal(again.length, 11, 'every row whose lease lapsed, but not the one settled');
        assert.ok(again.every((m) => m.attempts === 2));
        const lost = again[0];
        assert.ok(lost);
        assert.equal(
          await store.finish({ ...lost, claim: 'one' }, 'sent', base),
          false,
          'a lost claim settles nothing',
        );
        for (const m of again) await store.retryAt(m, base + 5000, 'refused');
        assert.deepEqual(
          (await store.claim('five', base + 4999, 1000, 100)).filter((m) => ids.includes(m.id)),
          [],
        );
        const retried = (await store.claim('six', base + 5000, 1000, 100)).filter((m) => ids.includes(m.id));
        assert.equal(retried.length, 11);
        for (const m of retried) await store.finish(m, 'failed', base + 5000, 'gave up');
        const stats = await store.stats(base + 5000);
        assert.equal(typeof stats.queued, 'number');
      });
    });

    describe('roles, disabled and search', () => {
      it('a new user has no roles and is enabled; setRoles and setDisabled change that', async () => {
        const users = repo();
        const input = newUser();
        const created = await users.create(input);
        assert.deepEqual(created.roles, []);
        assert.equal(created.disabled, false);
        const withRoles = await users.setRoles(created.id, ['admin', 'editor']);
        assert.deepEqual(withRoles, { ...created, roles: ['admin', 'editor'] });
        assert.deepEqual(await users.findById(created.id), withRoles);
        assert.deepEqual((await users.findByUsernameKey(input.usernameKey))?.roles, ['admin', 'editor']);
        const disabled = await users.setDisabled(created.id, true);
        assert.equal(disabled?.disabled, true);
        assert.equal((await users.findByUsernameKey(input.usernameKey))?.disabled, true);
        assert.equal((await users.findWithHashById(created.id))?.disabled, true);
        assert.equal((await users.setDisabled(created.id, false))?.disabled, false);
        assert.deepEqual((await users.findById(created.id))?.roles, ['admin', 'editor']);
      });

      it('setRoles and setDisabled on a user that does not exist return undefined', async () => {
        const users = repo();
        assert.equal(await users.setRoles(2 ** 31 - 3, ['admin']), undefined);
        assert.equal(await users.setDisabled(2 ** 31 - 3, true), undefined);
      });

      it('list with a query keeps the users whose name contains it, case-insensitively, in id order', async () => {
        const users = repo();
        const tag = randomBytes(4).toString('hex');
        const a = await users.create(newUser(`Zq${tag}Alpha`));
        await users.create(newUser(`other${randomBytes(4).toString('hex')}`));
        const b = await users.create(newUser(`zQ${tag}beta`));
        const found = await users.list({ limit: 10, query: usernameKey(`ZQ${tag}`) });
        assert.deepEqual(
          found.map((u) => u.id),
          [a.id, b.id],
        );
        const paged = await users.list({ limit: 10, query: usernameKey(`zq${tag}`), afterId: a.id });
        assert.deepEqual(
          paged.map((u) => u.id),
          [b.id],
        );
      });

      it('LIKE wildcards in a query are matched literally', async () => {
        const users = repo();
        const tag = randomBytes(4).toString('hex');
        const plain = await users.create(newUser(`w${tag}ab`));
        assert.deepEqual(await users.list({ limit: 10, query: `w${tag}%` }), []);
        assert.deepEqual(await users.list({ limit: 10, query: `w${tag}_b` }), []);
        assert.deepEqual(await users.list({ limit: 10, query: `\\` }), []);
        assert.deepEqual(
          (await users.list({ limit: 10, query: `w${tag}a` })).map((u) => u.id),
          [plain.id],
        );
        assert.deepEqual(await users.list({ limit: 10, query: `w${tag}\u0000` }), []);
      });
    });

    describe('availability', () => {
      it('ping resolves while the database is reachable', async () => {
        await repo().ping();
      });

      it('every method of an unreachable database fails with StoreUnavailableError', async () => {
        if (typeof made === 'string') throw new Error(made);
        const down = await made.unreachable();
        try {
          const input = newUser();
          const calls: (() => Promise<unknown>)[] = [
            () => down.users.ping(),
            () => down.users.create(input),
            () => down.users.findById(1),
            () => down.users.findWithHashById(1),
            () => down.users.findByUsernameKey(input.usernameKey),
            () => down.users.update(1, { passwordHash: hash() }),
            () => down.users.replaceHash(1, hash(), hash()),
            () => down.users.delete(1),
            () => down.users.list({ limit: 1 }),
            () => down.users.count(),
            () => down.users.findMfa(1),
            () => down.users.setPendingTotp(1, 'x'),
            () => down.users.enableTotp(1, 'x', []),
            () => down.users.disableMfa(1),
            () => down.users.useRecoveryCode(1, ['h']),
            () => down.users.setRoles(1, ['admin']),
            () => down.users.setDisabled(1, true),
            () => down.users.list({ limit: 1, query: 'a' }),
          ];
          calls.push(
            () => down.mail.enqueue({ kind: 'test' }, 1),
            () => down.mail.claim('c', 1, 1, 1),
            () => down.mail.findToken('h', 'reset_password', 1),
            () => down.mail.consumeToken('h', 'reset_password', 1),
            () => down.users.findByEmailKey('a@b.example'),
          );
          for (const call of calls) await assert.rejects(call(), StoreUnavailableError);
        } finally {
          await down.close();
        }
      });
    });
  });
}
