// The second half of `npm run build` (after `tsc`): the server as one bundled ES module, dist/server.js, and its
// hashing thread as dist/hash-worker.cjs. Node loads a bundle with far less bookkeeping than the same code as
// hundreds of CommonJS and ES module files (a module record, a wrapper function, a resolution cache and the
// package.json reads of each): the server's resident memory at rest is about 15 MB lower (docs/performance-log.md).
// The packages in EXTERNAL stay outside the bundle and load from node_modules. The CLI keeps tsc's modules.
// Usage: tsx scripts/bundle.ts (`npm run build` runs it).
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';

/**
 * Loaded from node_modules at run time: the packages with a native addon (found beside the package), an optional
 * one, the Swagger UI plugin, which serves files from its own folder and measured about 5 MB more resident
 * memory bundled than loaded as it is, and the common-password list, which is read once and then dropped from
 * the module cache (src/services/common-passwords.ts): bundled, its data would stay in the bundle's scope. And
 * the packages only some servers ever use, imported at their first use: nodemailer (the first mail) and qrcode
 * (the first two-factor setup page). Bundled, their 420 kB of source would be held by every server from its start
 * (1 MB of heap and 1.5 MB of resident memory at rest, measured).
 */
export const EXTERNAL = [
  'better-sqlite3',
  '@node-rs/argon2',
  'pg-native',
  '@fastify/swagger-ui',
  '@zxcvbn-ts/language-common',
  'nodemailer',
  'qrcode',
];

/**
 * What a bundled CommonJS module needs from an ES module bundle: `require` (for Node's built-in modules, which
 * esbuild leaves as `require` calls) and the checkout's root, for the `__dirname` of each bundled file (below).
 * The bundle sits in dist/, one level below the root.
 */
export const BANNER = [
  "import { createRequire as __kwCreateRequire } from 'node:module';",
  "import { fileURLToPath as __kwFileURLToPath } from 'node:url';",
  'const require = __kwCreateRequire(import.meta.url);',
  "const __kwRoot = __kwFileURLToPath(new URL('..', import.meta.url));",
].join('\n');

/**
 * CommonJS code in node_modules that reads `__dirname` or `__filename` (ioredis and @fastify/swagger read their
 * own package.json through it) gets them as they were before bundling: the file's own
 * folder, resolved at run time from where the bundle is, so the checkout can move. esbuild would leave them as
 * free variables, which do not exist in an ES module.
 */
export function dirnamePlugin(root: string): Plugin {
  return {
    name: 'keyward-dirname',
    setup(context) {
      context.onLoad({ filter: /[\\/]node_modules[\\/].*\.(c?js)$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
        const relative = path.relative(root, args.path).split(path.sep).join('/');
        const prelude =
          `var __filename = require('node:path').join(__kwRoot, ${JSON.stringify(relative)}), ` +
          `__dirname = require('node:path').dirname(__filename);`;
        // On the first line, so that the file's own line numbers (in stack traces and the source map) hold.
        return { contents: `${prelude}${source}`, loader: 'js' };
      });
    },
  };
}

const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  logLevel: 'warning',
  // Whitespace only is minified: V8 keeps a module's whole source text in the heap (Function.prototype.toString
  // needs it), so its size is resident memory, and one character beyond Latin-1 would make V8 store all of it as
  // UTF-16, twice the bytes. Without comments or indentation, and with the licence comments in a file of their own
  // (server.js.LEGAL.txt), the 4 MB of source that were held as 7.9 MB of UTF-16 are 2.8 MB of one-byte text.
  // Identifiers are not minified, so stack traces and log lines keep their names. No keepNames: it wraps every
  // function expression in a call that redefines its `name`, at each creation, closures made per request
  // included; it cost 8-16 µs of CPU per GET /user (rotation off, in alternating profile runs). Without it, only
  // a class or function whose name clashes with another's in the bundle is renamed, with a number (pg's
  // DatabaseError is DatabaseError2 in a log's `err.type`).
  keepNames: false,
  minifyWhitespace: true,
  charset: 'ascii',
  legalComments: 'linked',
} as const satisfies BuildOptions;

/** The server's bundle: src/server.ts and everything it imports but EXTERNAL, as `dist/server.js`. */
export function serverBuild(root: string): BuildOptions {
  return {
    ...COMMON,
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src', 'server.ts')],
    outfile: path.join(root, 'dist', 'server.js'),
    format: 'esm',
    banner: { js: BANNER },
    plugins: [dirnamePlugin(root)],
    // A linked map, without the sources' text: `node --enable-source-maps` and the bench's profile summary read
    // it to name the original files.
    sourcemap: 'linked',
    sourcesContent: false,
  };
}

/**
 * The hashing thread's module. It has no dependency but the argon2 addon; bundled so that it sits beside
 * server.js, where hash-pool.ts looks for it (dist/services/hash-worker.cjs, from tsc, serves the unbundled
 * modules that the CLI runs).
 */
export function workerBuild(root: string): BuildOptions {
  return {
    ...COMMON,
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src', 'services', 'hash-worker.cts')],
    outfile: path.join(root, 'dist', 'hash-worker.cjs'),
    format: 'cjs',
  };
}

/** Writes `<root>/dist/server.js` (and its source map) and `<root>/dist/hash-worker.cjs`. */
export async function bundle(root: string): Promise<void> {
  await Promise.all([build(serverBuild(root)), build(workerBuild(root))]);
  // The portal's stylesheet, where src/portal/static-dir.ts looks for it from the bundle and from tsc's modules.
  cpSync(path.join(root, 'src', 'portal', 'static'), path.join(root, 'dist', 'portal', 'static'), {
    recursive: true,
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundle(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
