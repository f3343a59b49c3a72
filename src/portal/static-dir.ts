import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The folder of the portal's static files: beside this module (src/portal/static from the sources, and
 * dist/portal/static from tsc's modules, where the build copies it), or dist/portal/static seen from the bundle
 * dist/server.js.
 */
export function staticDir(): string {
  const candidates = [new URL('./static/', import.meta.url), new URL('./portal/static/', import.meta.url)];
  const found = candidates.find((url) => existsSync(new URL('portal.css', url)));
  if (!found)
    throw new Error('portal: static files not found (is dist/portal/static missing from the build?)');
  return fileURLToPath(found);
}
