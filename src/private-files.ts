import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';

/**
 * What Keyward keeps on disk (the SQLite database and its -wal and -shm files, signing keys, the refresh secret)
 * is readable by the server's user only: files 0600, directories 0700 (SPEC §8).
 */
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/**
 * Creates `dir` (and missing parents) with mode 0700. An existing directory is narrowed to 0700 only with
 * `narrowExisting` (the keys directory, which is Keyward's alone): the directory of a database file may be one the
 * operator shares, such as /tmp.
 */
export function ensurePrivateDir(dir: string, options: { narrowExisting?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  if (options.narrowExisting === true) narrow(dir, PRIVATE_DIR);
}

/** Narrows an existing file to 0600 when group or others have any access to it; nothing when it is absent. */
export function makePrivate(file: string): void {
  if (existsSync(file)) narrow(file, PRIVATE_FILE);
}

function narrow(target: string, mode: number): void {
  if ((statSync(target).mode & 0o077) === 0) return;
  try {
    chmodSync(target, mode);
  } catch (error) {
    // Another user's directory (e.g. a shared parent named in DATABASE_URL) is left as it is.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}
