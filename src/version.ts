import { readFileSync } from 'node:fs';

/**
 * mbn's version, from its package.json: one folder above this module, whether it runs as dist/version.js or inside
 * a bundle (dist/mbn*.cjs, where import.meta.url is the bundle's own URL).
 */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
