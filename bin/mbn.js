#!/usr/bin/env node
// Thin entry into the compiled CLI (npm install builds dist/ through the prepare script): the one-file bundle
// dist/mbn.cjs (scripts/bundle.mjs; it starts faster: one file instead of ~40 modules), else dist/cli/main.js.
// A bundle older than dist/cli/main.js (tsc ran, the bundle step did not) is stale and is not used.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/mbn.cjs', import.meta.url));
const modules = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;
const useBundle = mtime(bundle) >= 0 && mtime(bundle) >= mtime(modules);
const cli = useBundle ? new Promise((resolve) => resolve(createRequire(import.meta.url)(bundle))) : import('../dist/cli/main.js');
cli.then(
  (cli) => cli.main(process.argv),
  (error) => {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write('mbn: not built yet: run `npm install` (or `npm run build`) in the mbn folder\n');
    } else {
      process.stderr.write(`mbn: cannot start: ${error && error.message}\n`);
    }
    process.exitCode = 2;
  },
);
