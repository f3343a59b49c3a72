import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export type SigningAlgorithm = 'EdDSA' | 'HS256';

/** One key Keyward signs or verifies access tokens with. */
export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** PEM (EdDSA) or raw secret bytes (HS256); TokenService turns them into KeyObjects once, at start. */
  signingMaterial: string | Buffer;
  verifyingMaterial: string | Buffer;
  /** Public JWK for /.well-known/jwks.json; absent for HMAC secrets. */
  publicJwk: Record<string, string> | undefined;
  createdAt: Date;
  source: string;
}

export interface KeyOptions {
  hmacSecret?: string | undefined;
  privateKeyPem?: string | undefined;
  privateKeyFile?: string | undefined;
  keysDir: string;
  refreshSecret?: string | undefined;
}

/** The loaded key set: the newest key signs, every key verifies. */
export interface KeySet {
  signer: SigningKey;
  byKid: Map<string, SigningKey>;
  /** Secret for deriving refresh tokens (HMAC); shared by every instance that shares the keys. */
  refreshSecret: Buffer;
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members: Record<string, readonly string[]> = {
    OKP: ['crv', 'kty', 'x'],
    oct: ['k', 'kty'],
    EC: ['crv', 'kty', 'x', 'y'],
    RSA: ['e', 'kty', 'n'],
  };
  const required = members[String(jwk.kty)];
  if (!required) throw new Error(`unsupported key type ${String(jwk.kty)}`);
  const canonical = `{${required.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return b64url(createHash('sha256').update(canonical).digest());
}

function ed25519Key(pem: string, source: string, createdAt: Date): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (cause) {
    throw new Error(`${source}: not a PKCS#8 PEM private key`, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${source}: key type ${String(privateKey.asymmetricKeyType)} is not supported (use Ed25519)`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(jwk);
  return {
    kid,
    alg: 'EdDSA',
    signingMaterial: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    verifyingMaterial: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x), kid, alg: 'EdDSA', use: 'sig' },
    createdAt,
    source,
  };
}

function hmacKey(secret: string): SigningKey {
  const bytes = Buffer.from(secret, 'utf8');
  const jwk = createSecretKey(bytes).export({ format: 'jwk' }) as Record<string, string>;
  return {
    kid: jwkThumbprint(jwk),
    alg: 'HS256',
    signingMaterial: bytes,
    verifyingMaterial: bytes,
    publicJwk: undefined,
    createdAt: new Date(0),
    source: 'JWT_KEY',
  };
}

/** Writes a new Ed25519 key as `<kid>.pem` (mode 0600) in `dir` and returns it. */
export function generateKeyFile(dir: string): SigningKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = ed25519Key(pem, 'generated', new Date());
  const file = path.join(dir, `${key.kid}.pem`);
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { ...key, source: file };
}

/** Every `*.pem` key in `dir`, oldest first (by file modification time, then kid). */
export function readKeyDir(dir: string): SigningKey[] {
  if (!existsSync(dir)) return [];
  const keys = readdirSync(dir)
    .filter((name) => name.endsWith('.pem'))
    .map((name) => {
      const file = path.join(dir, name);
      return ed25519Key(readFileSync(file, 'utf8'), file, statSync(file).mtime);
    });
  return keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid));
}

function deriveSecret(material: string | Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), info, 32));
}

function refreshSecretFile(dir: string): Buffer {
  const file = path.join(dir, 'refresh-token.secret');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, b64url(randomBytes(48)), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return deriveSecret(readFileSync(file, 'utf8').trim(), 'keyward refresh token');
}

/**
 * Loads the signing keys: HS256 with JWT_KEY; otherwise JWT_PRIVATE_KEY(_FILE) signs and keys in the keys
 * directory verify; otherwise the newest key in the directory signs, and one is generated on first start.
 */
export function loadKeySet(options: KeyOptions): KeySet {
  let signer: SigningKey;
  let verifiers: SigningKey[];
  if (options.hmacSecret !== undefined) {
    signer = hmacKey(options.hmacSecret);
    verifiers = [signer];
  } else {
    const dirKeys = readKeyDir(options.keysDir);
    const supplied =
      options.privateKeyPem !== undefined
        ? ed25519Key(options.privateKeyPem.replace(/\\n/g, '\n'), 'JWT_PRIVATE_KEY', new Date())
        : options.privateKeyFile !== undefined
          ? ed25519Key(readFileSync(options.privateKeyFile, 'utf8'), options.privateKeyFile, new Date())
          : undefined;
    if (supplied) {
      signer = supplied;
      verifiers = [...dirKeys.filter((k) => k.kid !== supplied.kid), supplied];
    } else {
      verifiers = dirKeys.length > 0 ? dirKeys : [generateKeyFile(options.keysDir)];
      signer = verifiers[verifiers.length - 1] as SigningKey;
    }
  }
  const refreshSecret =
    options.refreshSecret !== undefined
      ? deriveSecret(options.refreshSecret, 'keyward refresh token')
      : options.hmacSecret !== undefined
        ? deriveSecret(options.hmacSecret, 'keyward refresh token')
        : signer.source !== 'generated' && !signer.source.startsWith(options.keysDir)
          ? deriveSecret(signer.signingMaterial, 'keyward refresh token')
          : refreshSecretFile(options.keysDir);
  return { signer, byKid: new Map(verifiers.map((k) => [k.kid, k])), refreshSecret };
}

/**
 * A key set for a process that never signs or checks a token (the `keyward` command, which builds the same
 * services as the server): one random HS256 key held in memory, so that no key file is read or written.
 */
export function throwawayKeySet(): KeySet {
  const signer = hmacKey(randomBytes(32).toString('base64url'));
  return { signer, byKid: new Map([[signer.kid, signer]]), refreshSecret: randomBytes(32) };
}

/**
 * The key configured outside the keys directory (JWT_KEY, JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE), which then
 * signs instead of the directory's newest key; undefined when none is configured. Reads no directory.
 */
export function configuredKey(options: KeyOptions): SigningKey | undefined {
  if (options.hmacSecret !== undefined) return hmacKey(options.hmacSecret);
  if (options.privateKeyPem !== undefined) {
    return ed25519Key(options.privateKeyPem.replace(/\\n/g, '\n'), 'JWT_PRIVATE_KEY', new Date());
  }
  if (options.privateKeyFile !== undefined) {
    return ed25519Key(readFileSync(options.privateKeyFile, 'utf8'), options.privateKeyFile, new Date());
  }
  return undefined;
}

/**
 * The keys of `keys` (oldest first, as readKeyDir returns them) whose tokens can no longer be valid: a newer key
 * has existed for longer than the access-token lifetime. This assumes every instance was restarted when that
 * newer key was added (a running instance keeps signing with the key it started with). The newest key is never
 * returned.
 */
export function prunableKeys(keys: readonly SigningKey[], accessTtlSec: number, now: number): SigningKey[] {
  const prunable: SigningKey[] = [];
  for (let i = 0; i < keys.length - 1; i += 1) {
    // Sorted oldest first, so the next key is the newer key that has existed the longest.
    const successor = keys[i + 1] as SigningKey;
    if (now - successor.createdAt.getTime() > accessTtlSec * 1000) prunable.push(keys[i] as SigningKey);
  }
  return prunable;
}
