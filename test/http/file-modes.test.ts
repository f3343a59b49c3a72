import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { makeApp, PASSWORD, uniqueName, type TestApp } from '../helpers/app.js';

const roots: string[] = [];
const apps: TestApp[] = [];
after(async () => {
  await Promise.all(apps.map((t) => t.close()));
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8).padStart(4, '0');
}

/** A server on DATA_DIR that has signed someone up (so SQLite has written its -wal and -shm files). */
async function serve(dataDir: string): Promise<void> {
  const t = await makeApp({ DATA_DIR: dataDir });
  apps.push(t);
  const res = await t.app.inject({
    method: 'POST',
    url: '/user',
    payload: { username: uniqueName(), password: PASSWORD },
  });
  assert.equal(res.statusCode, 201, res.body);
}

function modes(dataDir: string): Record<string, string> {
  const keys = path.join(dataDir, 'keys');
  const entries: [string, string][] = [
    ['DATA_DIR', mode(dataDir)],
    ['users.db', mode(path.join(dataDir, 'users.db'))],
    ['users.db-wal', mode(path.join(dataDir, 'users.db-wal'))],
    ['users.db-shm', mode(path.join(dataDir, 'users.db-shm'))],
    ['keys', mode(keys)],
    ...readdirSync(keys).map((name): [string, string] => [
      `keys/${name.endsWith('.pem') ? '<kid>.pem' : /^data-.+\.key$/.test(name) ? 'data-<id>.key' : name}`,
      mode(path.join(keys, name)),
    ]),
  ];
  return Object.fromEntries(entries);
}

const PRIVATE = {
  DATA_DIR: '0700',
  'users.db': '0600',
  'users.db-wal': '0600',
  'users.db-shm': '0600',
  keys: '0700',
  'keys/<kid>.pem': '0600',
  'keys/data-<id>.key': '0600',
  'keys/refresh-token.secret': '0600',
};

describe('files on disk are readable by the server user only', () => {
  it('a new DATA_DIR, the database with its -wal and -shm, the keys and the refresh secret', async () => {
    const previous = process.umask(0o022);
    try {
      const root = mkdtempSync(path.join(tmpdir(), 'keyward-modes-'));
      roots.push(root);
      const dataDir = path.join(root, 'not', 'there', 'yet');
      await serve(dataDir);
      assert.deepEqual(modes(dataDir), PRIVATE);
    } finally {
      process.umask(previous);
    }
  });

  it('files left readable by others (an older install, a copy) are narrowed at start', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'keyward-modes-'));
    roots.push(root);
    const dataDir = path.join(root, 'data');
    await serve(dataDir);
    const t = apps.pop();
    await t?.app.close();
    await t?.deps.database.close();
    const keys = path.join(dataDir, 'keys');
    chmodSync(keys, 0o755);
    for (const name of readdirSync(keys)) chmodSync(path.join(keys, name), 0o644);
    for (const name of ['users.db', 'users.db-wal', 'users.db-shm']) {
      const file = path.join(dataDir, name);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '', { flag: 'a' });
      chmodSync(file, 0o644);
    }
    chmodSync(dataDir, 0o700);
    await serve(dataDir);
    assert.deepEqual(modes(dataDir), PRIVATE);
  });
});
