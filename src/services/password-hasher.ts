import { randomBytes } from 'node:crypto';
import { HashPool, type HashPoolOptions } from './hash-pool.js';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface PasswordHasherOptions {
  argon2: Argon2Params;
  /** Hashes running at once, each on a worker thread of its own. */
  concurrency: number;
  /** Nice levels below request handling for the hashing threads (Linux; default 10, 0: the same priority). */
  nice?: number;
  /** Hashes allowed to wait; beyond that callers get `server_busy` at once. */
  queueLimit: number;
  /** Observes each hash/verify duration in seconds (metrics). */
  onDuration?: (seconds: number, operation: 'hash' | 'verify') => void;
  /** Called once if the hashing threads could not lower their priority. */
  onPriorityError?: (reason: string) => void;
  /** Sees each hashing thread as it starts (the testing seam of HashPool). */
  onThreadStart?: HashPoolOptions['onThreadStart'];
}

export interface VerifyResult {
  ok: boolean;
  /** The stored hash is below the current policy (weaker argon2 parameters or a legacy algorithm). */
  needsRehash: boolean;
}

/** The Flask demo's format after import: `pbkdf2_sha256$<iterations>$<salt b64>$<key b64>`. */
const LEGACY_PREFIX = 'pbkdf2_sha256$';

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
 * argon2id hashing off the event loop, on worker threads at a lower OS priority than request handling, with
 * bounded concurrency and a bounded queue, plus verification of legacy PBKDF2 hashes. Unknown users are verified
 * against a dummy hash so that they cost the same time. `close()` ends the threads.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly pool: HashPool;

  constructor(private readonly options: PasswordHasherOptions) {
    this.pool = new HashPool({
      size: options.concurrency,
      argon2: options.argon2,
      nice: options.nice ?? 10,
      queueLimit: options.queueLimit,
      onDuration: options.onDuration,
      onPriorityError: options.onPriorityError,
      onThreadStart: options.onThreadStart,
    });
  }

  /** A fresh argon2id PHC string for the password. */
  async hash(password: string): Promise<string> {
    return this.pool.hash(password);
  }

  /** Verifies in constant time; `needsRehash` tells the caller to store a fresh hash after a success. */
  async verify(storedHash: string, password: string): Promise<VerifyResult> {
    if (storedHash.startsWith(LEGACY_PREFIX)) {
      const ok = await this.verifyLegacy(storedHash, password);
      return { ok, needsRehash: true };
    }
    const ok = await this.pool.verify(storedHash, password);
    return { ok, needsRehash: ok && this.isWeak(storedHash) };
  }

  /** Spends the same work as a real verification and always fails (account-enumeration resistance). */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.pool.hash(randomBytes(32).toString('base64')).catch((error: unknown) => {
      // A thread that died while making it must not fail every later unknown-user login.
      this.dummyHash = undefined;
      throw error;
    });
    const dummy = await this.dummyHash;
    await this.pool.verify(dummy, password);
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
    return this.pool.queueDepth;
  }

  /** Ends the hashing threads; hashes still running or waiting fail. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private async verifyLegacy(storedHash: string, password: string): Promise<boolean> {
    const [iterations, salt, key] = storedHash.slice(LEGACY_PREFIX.length).split('$');
    const rounds = Number(iterations);
    if (!salt || !key || !Number.isSafeInteger(rounds) || rounds < 1) return false;
    return this.pool.verifyPbkdf2(password, salt, rounds, key);
  }
}
