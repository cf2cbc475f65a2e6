import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds dist/ once, so that tests which run the real binary run the code under test. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
  // bin/mbn.js runs dist/mbn.cjs when it exists: rebuild the bundle too, so that tests never run a stale one.
  execFileSync(process.execPath, [resolve(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });
}
