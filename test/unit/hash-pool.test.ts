import { spawnSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { HashPool, type HashPoolOptions } from '../../src/services/hash-pool.js';
import { PasswordHasher, type Argon2Params } from '../../src/services/password-hasher.js';
import { watchThreads } from '../helpers/hash-threads.js';

const CHEAP: Argon2Params = { memoryCost: 8192, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery staple';

const opened: { close(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(opened.map((pool) => pool.close()));
});

function pool(options: Partial<HashPoolOptions> = {}): HashPool {
  const created = new HashPool({ size: 2, argon2: CHEAP, nice: 10, ...options });
  opened.push(created);
  return created;
}

/** The nice value of each thread of this process, by thread id (Linux: /proc/self/task/<tid>/stat field 19). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields 3… follow the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    nices.set(Number(tid), Number(fields[19 - 3]));
  }
  return nices;
}

function isPoolClosed(error: unknown): boolean {
  return error instanceof Error && /closed/.test(error.message);
}

describe('HashPool', () => {
  it('hashes on its threads, and verifies the right password only', async () => {
    const threads = watchThreads();
    const hashes = pool({ onThreadStart: threads.onThreadStart });
    const phc = await hashes.hash(PASSWORD);
    assert.match(phc, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    assert.equal(await hashes.verify(phc, PASSWORD), true);
    assert.equal(await hashes.verify(phc, `${PASSWORD}!`), false);
    assert.equal(await hashes.verify(phc, ''), false);
    assert.equal(await hashes.verify('$argon2id$v=19$m=8192,t=1,p=1$broken', PASSWORD), false);
    assert.ok(threads.ids().length >= 1);
  });

  it('verifies PBKDF2-HMAC-SHA256 in constant time, and refuses an empty key', async () => {
    const hashes = pool();
    const salt = randomBytes(32);
    const key = pbkdf2Sync(PASSWORD, salt, 1000, 32, 'sha256').toString('base64');
    const salt64 = salt.toString('base64');
    assert.equal(await hashes.verifyPbkdf2(PASSWORD, salt64, 1000, key), true);
    assert.equal(await hashes.verifyPbkdf2('wrong password', salt64, 1000, key), false);
    assert.equal(await hashes.verifyPbkdf2(PASSWORD, salt64, 999, key), false);
    assert.equal(await hashes.verifyPbkdf2(PASSWORD, salt64, 1000, '!!'), false);
  });

  it('never runs more threads than its size; further jobs wait their turn', async () => {
    const threads = watchThreads();
    const hashes = pool({ size: 1, onThreadStart: threads.onThreadStart });
    const all = await Promise.all(Array.from({ length: 4 }, (_, i) => hashes.hash(`password ${i}`)));
    assert.equal(new Set(all).size, 4);
    assert.equal(threads.ids().length, 1);
  });

  it('fails the job of a thread that dies, replaces the thread and keeps serving', async () => {
    const threads = watchThreads();
    const hashes = pool({ size: 1, onThreadStart: threads.onThreadStart });
    await hashes.hash(PASSWORD);
    const [before] = threads.ids();
    const running = hashes.hash('in flight when the thread dies');
    const waiting = hashes.hash('waiting when the thread dies');
    await threads.crash();
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /thread stopped/);
      assert.ok(!error.message.includes('in flight'), 'the password is not in the message');
      return true;
    });
    assert.match(await waiting, /^\$argon2id\$/);
    const phc = await hashes.hash(PASSWORD);
    assert.equal(await hashes.verify(phc, PASSWORD), true);
    assert.equal(threads.ids().length, 1);
    assert.notEqual(threads.ids()[0], before);
  });

  it('fails what is running or waiting when closed, and everything after', async () => {
    const threads = watchThreads();
    const hashes = pool({ size: 1, onThreadStart: threads.onThreadStart });
    const jobs = Promise.allSettled([hashes.hash('running'), hashes.hash('waiting')]);
    await hashes.close();
    for (const job of await jobs) {
      assert.equal(job.status, 'rejected');
      assert.ok(isPoolClosed(job.reason), String(job.reason));
    }
    await assert.rejects(hashes.hash(PASSWORD), isPoolClosed);
    assert.deepEqual(threads.ids(), []);
  });

  it('runs its threads at HASH_NICE below the event loop (Linux)', async (t) => {
    if (process.platform !== 'linux') {
      t.skip('the nice value is per thread on Linux only');
      return;
    }
    const { passwords } = loadConfig({ HASH_NICE: '7' });
    assert.equal(passwords.hashNice, 7);
    const mainNice = threadNices().get(process.pid);
    assert.notEqual(mainNice, undefined);
    const expected = Math.min(19, (mainNice ?? 0) + passwords.hashNice);
    const hasher = new PasswordHasher({
      argon2: CHEAP,
      concurrency: 2,
      queueLimit: 4,
      nice: passwords.hashNice,
      onPriorityError: (reason) => {
        assert.fail(`the priority was not lowered: ${reason}`);
      },
    });
    opened.push(hasher);
    const lowered = () => [...threadNices().values()].filter((nice) => nice === expected).length;
    const before = lowered();
    await Promise.all([hasher.hash('one'), hasher.hash('two')]);
    assert.ok(lowered() > before, 'a thread at nice = main + HASH_NICE while the hasher is open');
    assert.equal(threadNices().get(process.pid), mainNice, 'the event loop keeps its priority');
  });

  it('leaves its threads at the event loop priority with HASH_NICE=0 (Linux)', async (t) => {
    if (process.platform !== 'linux') {
      t.skip('the nice value is per thread on Linux only');
      return;
    }
    const mainNice = threadNices().get(process.pid);
    const lowered = () => [...threadNices().values()].filter((nice) => nice !== mainNice).length;
    const threadsBefore = threadNices().size;
    const loweredBefore = lowered();
    const hashes = pool({ nice: 0 });
    await Promise.all([hashes.hash('one'), hashes.hash('two')]);
    assert.ok(threadNices().size > threadsBefore, 'the pool started threads');
    assert.equal(lowered(), loweredBefore);
  });

  it('does not keep the process alive once idle', () => {
    const script = [
      `import { HashPool } from ${JSON.stringify(new URL('../../src/services/hash-pool.ts', import.meta.url).href)};`,
      `const pool = new HashPool({ size: 2, argon2: { memoryCost: 8192, timeCost: 1, parallelism: 1 }, nice: 10 });`,
      `const phc = await pool.hash('a password');`,
      `console.log(await pool.verify(phc, 'a password'));`,
    ].join('\n');
    // The timeout only stops a run that would hang; the assertions are about the exit itself.
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(child.signal, null, 'the process ended by itself');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'true');
  });
});
