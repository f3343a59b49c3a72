import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/** Whether `dist/server.js` exists and is no older than anything under `src/` (the bench and the e2e tests). */
export function builtIsCurrent(root: string): boolean {
  const server = path.join(root, 'dist', 'server.js');
  return existsSync(server) && statSync(server).mtimeMs >= newestMtime(path.join(root, 'src'));
}
