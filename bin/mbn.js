#!/usr/bin/env node
'use strict';
// Thin entry into the compiled CLI (npm install builds dist/ through the prepare script). A CommonJS script
// (bin/package.json), so that Node starts it without setting up its ES module loader.
//
// It runs the smallest bundle that serves the command (scripts/bundle.mjs): dist/mbn-<command>.cjs holds the CLI
// with only that command's code, dist/mbn.cjs holds every command (help, version, anything else). Each is compiled
// with the V8 code cache the bundle step writes beside it. Without a bundle, or with one older than dist/cli/main.js
// (tsc ran, the bundle step did not), it loads the ES modules of dist/cli/. A code cache older than its bundle is not
// used.
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');

const dist = join(__dirname, '../dist');
const modules = join(dist, 'cli/main.js');
const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;

function loadBundle(bundle) {
  const cacheFile = `${bundle}.cache`;
  const source = readFileSync(bundle, 'utf8');
  const cachedData = mtime(cacheFile) >= mtime(bundle) ? readFileSync(cacheFile) : undefined;
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, Module.createRequire(bundle), module, bundle, dirname(bundle));
  // The bundle step runs each command once with this set, so the cache holds the functions a run compiles.
  if (process.env.MBN_WRITE_CODE_CACHE === '1') process.once('beforeExit', () => writeFileSync(cacheFile, script.createCachedData()));
  return module.exports;
}

/** The bundle for this command line, or null when there is none that is current. */
function bundleFor(command) {
  const built = mtime(modules);
  const own = /^[a-z]+$/.test(command ?? '') ? join(dist, `mbn-${command}.cjs`) : null;
  for (const bundle of own ? [own, join(dist, 'mbn.cjs')] : [join(dist, 'mbn.cjs')]) {
    const time = mtime(bundle);
    if (time >= 0 && time >= built) return bundle;
  }
  return null;
}

const bundle = bundleFor(process.argv[2]);
const cli = bundle ? new Promise((resolve) => resolve(loadBundle(bundle))) : import(pathToFileURL(modules).href);
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
