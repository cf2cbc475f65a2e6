#!/usr/bin/env node
// Thin entry into the compiled CLI (npm install builds dist/ through the prepare script): the one-file bundle
// dist/mbn.cjs (scripts/bundle.mjs: one file to read instead of ~40 modules), compiled with the V8 code cache that
// the bundle step writes beside it, else dist/cli/main.js. A bundle older than dist/cli/main.js (tsc ran, the bundle
// step did not) is stale and is not used; so is a code cache older than its bundle.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const bundle = fileURLToPath(new URL('../dist/mbn.cjs', import.meta.url));
const cacheFile = `${bundle}.cache`;
const modules = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;

function loadBundle() {
  const source = readFileSync(bundle, 'utf8');
  const cachedData = mtime(cacheFile) >= mtime(bundle) ? readFileSync(cacheFile) : undefined;
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  // The bundle step runs one analysis with this set, so the cache holds the functions a run compiles.
  if (process.env.MBN_WRITE_CODE_CACHE === '1') process.once('beforeExit', () => writeFileSync(cacheFile, script.createCachedData()));
  return module.exports;
}

const useBundle = mtime(bundle) >= 0 && mtime(bundle) >= mtime(modules);
const cli = useBundle ? new Promise((resolve) => resolve(loadBundle())) : import('../dist/cli/main.js');
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
