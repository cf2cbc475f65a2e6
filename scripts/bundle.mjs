#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js and everything it imports, commander and chalk included) into CommonJS
// files that bin/mbn.js prefers: Node then reads and compiles one file instead of resolving and loading ~40 ES
// modules, which is most of mbn's start-up time.
// - dist/mbn.cjs: every command (help, version, and the fallback);
// - dist/mbn-<command>.cjs, one per command that cli/main.ts imports lazily: the CLI with only that command's code
//   (analyze loads about half of what the whole CLI is), which bin/mbn.js runs for `mbn <command> …`.
// onnxruntime-node stays outside (a native, optional dependency loaded only by the commands that run models).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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

/**
 * commander loads node:child_process at start (with net, dgram and streams: about a fifth of Node's own start-up) for
 * executable subcommands, which mbn does not have: the bundle loads it on first use instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager)) return { contents: source, loader: 'js', warnings: [{ text: 'commander no longer loads node:child_process as expected: it stays eager' }] };
      return { contents: source.replace(eager, "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };"), loader: 'js' };
    });
  },
};

/**
 * mbn gives chalk its colour level itself (report/style.ts: --no-color, NO_COLOR, a terminal or not), so chalk's own
 * terminal detection, which loads node:tty and node:os (and with them node:net) at start, is left out of the bundle.
 */
const noColorDetection = {
  name: 'no-color-detection',
  setup(build) {
    build.onResolve({ filter: /^#supports-color$/ }, () => ({ path: 'supports-color', namespace: 'mbn-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'mbn-stub' }, () => ({ contents: 'export default { stdout: false, stderr: false };', loader: 'js' }));
  },
};

// The commands: the modules cli/main.ts imports lazily (`await import('./analyze.js')`).
const commands = [...readFileSync(entry, 'utf8').matchAll(/\bimport\(['"]\.\/([a-z]+)\.js['"]\)/g)].map((m) => m[1]);

/** In the bundle of one command, the other commands stay ES modules of dist/cli/ (never reached: bin/mbn.js runs this bundle only for its command). */
const onlyCommand = (command) => ({
  name: 'only-command',
  setup(build) {
    build.onResolve({ filter: /^\.\/[a-z]+\.js$/ }, (args) => {
      const name = args.path.slice(2, -3);
      if (args.kind !== 'dynamic-import' || args.importer !== entry || name === command || !commands.includes(name)) return undefined;
      return { path: `./cli/${name}.js`, external: true };
    });
  },
});

for (const stale of readdirSync(join(root, 'dist')).filter((f) => /^mbn-[a-z]+\.cjs(\.cache)?$/.test(f))) rmSync(join(root, 'dist', stale));
const bundles = [{ command: null, file: outfile }, ...commands.map((command) => ({ command, file: join(root, `dist/mbn-${command}.cjs`) }))];
for (const { command, file } of bundles) {
  await esbuild.build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['onnxruntime-node'],
    // import.meta does not exist in CommonJS: give the bundle its own file URL (used to find onnxruntime-node and
    // package.json).
    banner: { js: 'const __mbn_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__mbn_import_meta_url' },
    logLevel: 'warning',
    legalComments: 'none',
    plugins: [lazyChildProcess, noColorDetection, ...(command ? [onlyCommand(command)] : [])],
  });
}

// V8 code cache for each bundle: compiling hundreds of KB of JavaScript is a good part of start-up. One run of the
// command on a small model warms the functions a run compiles (commands that need onnxruntime-node or write files:
// their help); bin/mbn.js then writes the cache (<bundle>.cache) and uses it while it is newer than the bundle.
const tiny = join(root, 'fixtures/models/tiny_cnn.onnx');
const scratch = mkdtempSync(join(tmpdir(), 'mbn-bundle-'));
const config = join(scratch, 'mbn.config.json');
writeFileSync(config, JSON.stringify([{ model: tiny, maxMacs: 1e9 }]));
const WARM = {
  analyze: ['analyze', tiny],
  separate: ['separate', tiny, '--dry-run'],
  advise: ['advise', tiny],
  diff: ['diff', tiny, tiny],
  check: ['check', '--config', config],
};
let cold = 0;
for (const { command, file } of bundles) {
  rmSync(`${file}.cache`, { force: true });
  const argv = command === null ? ['--help'] : (WARM[command] ?? [command, '--help']);
  const warm = spawnSync(process.execPath, [join(root, 'bin/mbn.js'), ...argv], { cwd: scratch, env: { ...process.env, MBN_WRITE_CODE_CACHE: '1' }, stdio: 'ignore' });
  if (warm.status !== 0 || !existsSync(`${file}.cache`)) cold++;
}
rmSync(scratch, { recursive: true, force: true });
if (cold > 0) process.stderr.write(`bundle: could not write ${cold} code cache(s); those commands start without one\n`);
