// Forges JWTs for attack tests with node:crypto only, never through Keyward's TokenService, so that a bug in the
// service cannot make its own attacks look harmless.
import { createHmac, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type JsonObject = Record<string, unknown>;

/** How a forged token is signed: a real algorithm with a key, or a literal signature segment. */
export type Signing =
  | { alg: 'HS256'; secret: string | Buffer }
  | { alg: 'EdDSA'; key: KeyObject | string }
  | { signature: string };

export function b64url(value: JsonObject | string | Buffer): string {
  if (Buffer.isBuffer(value)) return value.toString('base64url');
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The signature segment for `input` (the `header.payload` text). */
export function signature(input: string, signing: Signing): string {
  if ('signature' in signing) return signing.signature;
  if (signing.alg === 'HS256') return createHmac('sha256', signing.secret).update(input).digest('base64url');
  const key = typeof signing.key === 'string' ? createPrivateKey(signing.key) : signing.key;
  return cryptoSign(null, Buffer.from(input), key).toString('base64url');
}

/** A compact JWS over exactly the header and payload given (no defaults added). */
export function forge(header: JsonObject, payload: JsonObject, signing: Signing): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signature(input, signing)}`;
}

/** Header and payload of a compact token, parsed without checking anything. */
export function decodeToken(token: string): { header: JsonObject; payload: JsonObject; signature: string } {
  const [header, payload, sig] = token.split('.');
  if (header === undefined || payload === undefined || sig === undefined)
    throw new Error('not a compact JWS');
  const parse = (segment: string) =>
    JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as JsonObject;
  return { header: parse(header), payload: parse(payload), signature: sig };
}

/** The private key a test app generated on first start (`DATA_DIR/keys/<kid>.pem`), and its kid. */
export function serverKey(dataDir: string): { kid: string; key: KeyObject; pem: string } {
  const dir = path.join(dataDir, 'keys');
  const files = readdirSync(dir).filter((name) => name.endsWith('.pem'));
  if (files.length !== 1) throw new Error(`expected one key in ${dir}, found ${files.length}`);
  const file = files[0] as string;
  const pem = readFileSync(path.join(dir, file), 'utf8');
  return { kid: file.slice(0, -'.pem'.length), key: createPrivateKey(pem), pem };
}
