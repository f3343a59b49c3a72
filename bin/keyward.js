#!/usr/bin/env node
// The `keyward` command. Runs the compiled CLI (dist/cli/main.js) when it exists and is newer than every file
// under src/; otherwise, in a checkout, runs the TypeScript sources through tsx (a devDependency), so that
// `npx keyward …` works with or without `npm run build`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
const sources = path.join(root, 'src');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(file) : statSync(file).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

function useBuilt() {
  if (!existsSync(built)) return false;
  if (!existsSync(sources)) return true;
  return statSync(built).mtimeMs >= newestMtime(sources);
}

let entry = built;
if (!useBuilt()) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'keyward: dist/ is missing or older than src/, and tsx is not installed: run `npm run build` first\n',
    );
    process.exit(1);
  }
  register();
  entry = path.join(sources, 'cli', 'main.ts');
}

const { run } = await import(pathToFileURL(entry).href);
process.exitCode = await run(process.argv.slice(2));
