#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and everything it imports, commander and chalk
// included) into one CommonJS file, dist/mbn.cjs, which bin/mbn.js prefers: Node then reads and compiles one
// file instead of resolving and loading ~40 ES modules, which is most of mbn's start-up time.
// onnxruntime-node stays outside (a native, optional dependency loaded only by `mbn bench`).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/cli/main.js');
const outfile = join(root, 'dist/mbn.cjs');

let esbuild;
try {
  esbuild = createRequire(import.meta.url)('esbuild');
} catch {
  // Without esbuild (a devDependency) mbn still works, from dist/cli/main.js; remove a stale bundle.
  rmSync(outfile, { force: true });
  process.stderr.write('bundle: esbuild is not installed; bin/mbn.js will load dist/cli/main.js\n');
  process.exit(0);
}
if (!existsSync(entry)) {
  process.stderr.write('bundle: dist/cli/main.js is missing: run tsc -p tsconfig.json first\n');
  process.exit(1);
}

await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['onnxruntime-node'],
  // import.meta does not exist in CommonJS: give the bundle its own file URL (used to find onnxruntime-node).
  banner: { js: 'const __mbn_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__mbn_import_meta_url' },
  logLevel: 'warning',
  legalComments: 'none',
});

// V8 code cache for the bundle: compiling 560 KB of JavaScript is a good part of start-up. One analysis warms the
// functions a run compiles; bin/mbn.js then writes the cache (dist/mbn.cjs.cache) and uses it while it is newer
// than the bundle.
rmSync(`${outfile}.cache`, { force: true });
const warm = spawnSync(process.execPath, [join(root, 'bin/mbn.js'), 'analyze', join(root, 'fixtures/models/tiny_cnn.onnx'), '--format', 'json'], {
  env: { ...process.env, MBN_WRITE_CODE_CACHE: '1' },
  stdio: 'ignore',
});
if (warm.status !== 0) process.stderr.write('bundle: could not write the code cache; mbn starts without it\n');
