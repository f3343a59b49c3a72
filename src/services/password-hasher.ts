import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { DomainError } from '../errors.js';

const pbkdf2Async = promisify(pbkdf2);
// Algorithm is an ambient const enum, which isolated modules cannot read: 2 is its Argon2id member.
const ARGON2ID = 2 as unknown as Algorithm;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface PasswordHasherOptions {
  argon2: Argon2Params;
  /** Hashes running at once (each on a libuv worker thread). */
  concurrency: number;
  /** Hashes allowed to wait; beyond that callers get `server_busy` at once. */
  queueLimit: number;
  /** Observes each hash/verify duration in seconds (metrics). */
  onDuration?: (seconds: number, operation: 'hash' | 'verify') => void;
}

export interface VerifyResult {
  ok: boolean;
  /** The stored hash is below the current policy (weaker argon2 parameters or a legacy algorithm). */
  needsRehash: boolean;
}

/** The Flask demo's format after import: `pbkdf2_sha256$<iterations>$<salt b64>$<key b64>`. */
export const LEGACY_PREFIX = 'pbkdf2_sha256$';

/** Encodes a Flask-demo password BLOB (32-byte salt + 32-byte PBKDF2-HMAC-SHA256 key) as a legacy hash string. */
export function legacyHashFromSeedBlob(blob: Buffer, iterations = 100_000): string {
  if (blob.length !== 64) throw new Error(`expected a 64-byte salt+key blob, got ${blob.length} bytes`);
  return `${LEGACY_PREFIX}${iterations}$${blob.subarray(0, 32).toString('base64')}$${blob.subarray(32).toString('base64')}`;
}

function parseArgon2Params(phc: string): Argon2Params | undefined {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
  if (!match) return undefined;
  return { memoryCost: Number(match[1]), timeCost: Number(match[2]), parallelism: Number(match[3]) };
}

/**
 * argon2id hashing off the event loop with bounded concurrency and a bounded queue, plus verification of
 * legacy PBKDF2 hashes. Unknown users are verified against a dummy hash so that they cost the same time.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly options: PasswordHasherOptions) {}

  /** A fresh argon2id PHC string for the password. */
  async hash(password: string): Promise<string> {
    return this.limited('hash', () => argon2Hash(password, { algorithm: ARGON2ID, ...this.options.argon2 }));
  }

  /** Verifies in constant time; `needsRehash` tells the caller to store a fresh hash after a success. */
  async verify(storedHash: string, password: string): Promise<VerifyResult> {
    if (storedHash.startsWith(LEGACY_PREFIX)) {
      const ok = await this.limited('verify', () => verifyLegacy(storedHash, password));
      return { ok, needsRehash: true };
    }
    const ok = await this.limited('verify', () => argon2Verify(storedHash, password).catch(() => false));
    return { ok, needsRehash: ok && this.isWeak(storedHash) };
  }

  /** Spends the same work as a real verification and always fails (account-enumeration resistance). */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= argon2Hash(randomBytes(32).toString('base64'), {
      algorithm: ARGON2ID,
      ...this.options.argon2,
    });
    const dummy = await this.dummyHash;
    await this.limited('verify', () => argon2Verify(dummy, password).catch(() => false));
    return false;
  }

  /** Prepares the dummy hash at start so the first unknown-user login is not faster than later ones. */
  async warmUp(): Promise<void> {
    await this.verifyDummy('warm-up');
  }

  isWeak(storedHash: string): boolean {
    const params = parseArgon2Params(storedHash);
    if (!params) return true;
    const policy = this.options.argon2;
    return (
      params.memoryCost < policy.memoryCost ||
      params.timeCost < policy.timeCost ||
      params.parallelism < policy.parallelism
    );
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  private async limited<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queueLimit)
        throw new DomainError('server_busy', { retryAfter: 1 });
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    const started = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      this.options.onDuration?.(Number(process.hrtime.bigint() - started) / 1e9, operation);
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` only drops when nobody waits.
      if (next) next();
      else this.running -= 1;
    }
  }
}

async function verifyLegacy(storedHash: string, password: string): Promise<boolean> {
  const [iterations, salt, key] = storedHash.slice(LEGACY_PREFIX.length).split('$');
  const rounds = Number(iterations);
  if (!salt || !key || !Number.isSafeInteger(rounds) || rounds < 1) return false;
  const expected = Buffer.from(key, 'base64');
  const derived = await pbkdf2Async(password, Buffer.from(salt, 'base64'), rounds, expected.length, 'sha256');
  return derived.length === expected.length && timingSafeEqual(derived, expected);
}
