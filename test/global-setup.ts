import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds dist/ once, so that tests which run the real binary run the code under test. */
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
}
