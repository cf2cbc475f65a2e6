import { readFileSync } from 'node:fs';

/**
 * mbn's version, from its package.json: one folder above this module, whether it runs as dist/version.js or inside
 * a bundle (dist/mbn*.cjs, where import.meta.url is the bundle's own URL). `unknown` when that file is missing or
 * names no version (a copy of the bundle outside the package).
 */
export const VERSION: string = readVersion();

function readVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    if (typeof version === 'string' && version !== '') return version;
  } catch {
    // No readable package.json above: the version is unknown, which is no reason not to run.
  }
  return 'unknown';
}
