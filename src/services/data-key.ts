import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, makePrivate } from '../private-files.js';

/** One AES-256 key that encrypts secrets at rest (TOTP secrets) and keys the recovery-code HMAC. */
export interface DataKey {
  /** Derived from the key itself, so the same key has the same id as a file and in DATA_ENCRYPTION_KEY. */
  id: string;
  key: Buffer;
  /** `DATA_ENCRYPTION_KEY` or the key file's path. */
  source: string;
  createdAt: Date;
}

const FORMAT = 'kwd1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FILE_PATTERN = /^data-([A-Za-z0-9_-]{12})\.key$/;

/** A data key's id: 12 base64url characters of a SHA-256 over the key (it reveals nothing usable about it). */
export function dataKeyId(key: Buffer): string {
  return createHash('sha256').update('keyward data key id\0').update(key).digest('base64url').slice(0, 12);
}

/** Parses a base64 (or base64url) 32-byte key; throws a message fit for a config error otherwise. */
export function parseDataKey(text: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new Error('must be base64');
  const key = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new Error(`must decode to 32 bytes (got ${key.length})`);
  return key;
}

/** Keys in `DATA_ENCRYPTION_KEY`: comma-separated, the first encrypts, all decrypt. */
export function parseDataKeyList(value: string): Buffer[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map(parseDataKey);
}

/** Writes a new random key as `data-<id>.key` (mode 0600) in `dir` and returns it. */
export function generateDataKeyFile(dir: string): DataKey {
  ensurePrivateDir(dir, { narrowExisting: true });
  const key = randomBytes(32);
  const id = dataKeyId(key);
  const file = path.join(dir, `data-${id}.key`);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { id, key, source: file, createdAt: statSync(file).mtime };
}

/** Every data key file in `dir`, oldest first (by modification time, then id). */
export function readDataKeyDir(dir: string): DataKey[] {
  if (!existsSync(dir)) return [];
  const keys = readdirSync(dir)
    .filter((name) => FILE_PATTERN.test(name))
    .map((name): DataKey => {
      const file = path.join(dir, name);
      // A copy or an older install may have left it readable by others (SPEC §8: 0600).
      makePrivate(file);
      let key: Buffer;
      try {
        key = parseDataKey(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new Error(`${file}: not a data key (${(error as Error).message})`, { cause: error });
      }
      const id = dataKeyId(key);
      if (name !== `data-${id}.key`)
        throw new Error(`${file}: the file name does not match the key's id ${id}`);
      return { id, key, source: file, createdAt: statSync(file).mtime };
    });
  return keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
}

export interface DataKeyOptions {
  /** DATA_ENCRYPTION_KEY's keys, the encrypting one first; when given, no key file is read or written. */
  configured?: Buffer[] | undefined;
  keysDir: string;
  /** False: never create a key file (the CLI reading keys); the ring is then possibly empty. */
  generate?: boolean;
}

/** A ciphertext names a key this process has not loaded: a configuration to fix, not tampered data. */
export class DataKeyMissingError extends Error {
  constructor(readonly keyId: string) {
    super(`the data key ${keyId} is not loaded`);
    this.name = 'DataKeyMissingError';
  }
}

/**
 * The data keys (SPEC §10): AES-256-GCM for secrets at rest. Ciphertexts name their key (`kwd1.<id>.<iv>.<data>`),
 * so a new key can encrypt while the older ones still decrypt what they encrypted; `keyward keys data-key rotate`
 * re-encrypts everything under the newest. Each ciphertext is bound to what it belongs to (`context`, the
 * additional authenticated data: a secret copied onto another user's row does not decrypt there).
 */
export class DataKeyRing {
  private keys: DataKey[];

  /** `keys` oldest first: the last one encrypts. `reload` re-reads them when a ciphertext names an unknown key. */
  constructor(
    keys: DataKey[],
    private readonly reload?: () => DataKey[],
  ) {
    this.keys = keys;
  }

  /** The key that encrypts; undefined only for a ring the CLI read from an empty directory. */
  get current(): DataKey | undefined {
    return this.keys.at(-1);
  }

  get all(): readonly DataKey[] {
    return this.keys;
  }

  encrypt(plaintext: string, context: string): string {
    const key = this.current;
    if (!key) throw new Error('no data key to encrypt with');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${key.id}.${iv.toString('base64url')}.${data.toString('base64url')}`;
  }

  /**
   * The plaintext; throws when the ciphertext is malformed, names no known key (a DataKeyMissingError), or fails
   * authentication.
   */
  decrypt(ciphertext: string, context: string): string {
    const [format, id, iv, data, extra] = ciphertext.split('.');
    if (format !== FORMAT || !id || !iv || !data || extra !== undefined)
      throw new Error('not a data-key ciphertext');
    const key = this.find(id);
    if (!key) throw new DataKeyMissingError(id);
    const bytes = Buffer.from(data, 'base64url');
    if (bytes.length < TAG_BYTES) throw new Error('ciphertext too short');
    const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  }

  /** The id of the key a ciphertext names (undefined when it is not one). */
  keyIdOf(ciphertext: string): string | undefined {
    const [format, id] = ciphertext.split('.');
    return format === FORMAT ? id : undefined;
  }

  /** A key derived from data key `key` for one purpose (HKDF-SHA-256), never the data key itself. */
  derive(key: DataKey, purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), `keyward ${purpose}`, 32));
  }

  private find(id: string): DataKey | undefined {
    let key = this.keys.find((k) => k.id === id);
    if (!key && this.reload) {
      // Another instance, or `keyward keys data-key rotate`, may have added a key file since this one started.
      this.keys = this.reload();
      key = this.keys.find((k) => k.id === id);
    }
    return key;
  }
}

/**
 * Loads the data keys: DATA_ENCRYPTION_KEY's when set (the first encrypts); otherwise the key files in the keys
 * directory (the newest encrypts), one generated on first start like the signing key.
 */
export function loadDataKeyRing(options: DataKeyOptions): DataKeyRing {
  if (options.configured && options.configured.length > 0) {
    const keys = options.configured.map((key): DataKey => ({
      id: dataKeyId(key),
      key,
      source: 'DATA_ENCRYPTION_KEY',
      createdAt: new Date(0),
    }));
    // The first listed encrypts: it goes last in the ring.
    return new DataKeyRing([...keys.slice(1).reverse(), ...keys.slice(0, 1)]);
  }
  const read = () => readDataKeyDir(options.keysDir);
  let keys = read();
  if (keys.length === 0 && options.generate !== false) keys = [generateDataKeyFile(options.keysDir)];
  return new DataKeyRing(keys, read);
}
