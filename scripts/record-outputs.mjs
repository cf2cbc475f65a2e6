#!/usr/bin/env node
// Records what mbn prints (stdout, stderr, exit code) for every fixture model under a fixed set of commands, so a
// refactor can be checked byte for byte: `node scripts/record-outputs.mjs DIR` before and after, then `diff -r`.
// Only commands that are deterministic and write nothing are recorded (separate and rewrite with --dry-run; quantize
// and calibrate run ONNX Runtime and are covered by their own tests).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node scripts/record-outputs.mjs OUT_DIR');
  process.exitCode = 2;
} else {
  record(outDir);
}

function models(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...models(path));
    else if (/\.(onnx|tflite)$/.test(name)) found.push(path);
  }
  return found;
}

function record(out) {
  const bin = join(root, 'bin/mbn.js');
  const fixtures = models(join(root, 'fixtures'));
  const runs = [];
  mkdirSync(out, { recursive: true });
  for (const model of fixtures) {
    const isOnnx = model.endsWith('.onnx');
    const commands = [
      ['analyze', model],
      ['analyze', model, '--format', 'json'],
      ['analyze', model, '--format', 'md', '--all', '--flops'],
      ['analyze', model, '--format', 'csv'],
      ['analyze', model, '--depth', '2', '--format', 'json'],
      ['analyze', model, '--depth', '2'],
      ['analyze', model, '--device', 'rpi5', '--format', 'json'],
      ['analyze', model, '--device', 'rpi5', '--max-latency', '1', '--max-energy', '1'],
      ['analyze', model, '--max-macs', '1M'],
      ['advise', model],
      ['advise', model, '--format', 'json'],
      ['diff', model, model, '--format', 'json'],
      ['diff', model, model],
    ];
    if (isOnnx) {
      commands.push(
        ['separate', model, '--dry-run'],
        ['separate', model, '--dry-run', '--format', 'json'],
        ['separate', model, '--dry-run', '--max-error', '0.3', '--format', 'json'],
        ['separate', model, '--dry-run', '--target-macs', '1M', '--format', 'json'],
        ['rewrite', model, '--hard-swish', '--dry-run', '--format', 'json'],
      );
    }
    for (const args of commands) runs.push(args);
  }
  // check: a config over every fixture, and a baseline of one.
  // Inside the repository, so the config's relative model paths (which the report prints) are the same in any clone.
  const configDir = join(root, '.record-outputs');
  mkdirSync(configDir, { recursive: true });
  const config = join(configDir, 'budgets.json');
  writeFileSync(
    config,
    JSON.stringify(
      fixtures.map((m, i) => ({ model: relative(configDir, m), maxMacs: i % 2 ? '1G' : '100K', maxParams: '1M' })),
    ),
  );
  runs.push(['check', '--config', config], ['check', '--config', config, '--format', 'json']);

  let n = 0;
  for (const args of runs) {
    const r = spawnSync(process.execPath, [bin, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', COLUMNS: '120' },
      maxBuffer: 1 << 28,
    });
    const name = args
      .map((a) => (a === config ? 'budgets.json' : a))
      .map((a) => (a.startsWith(root) ? relative(root, a) : a))
      .join(' ')
      .replace(/[^A-Za-z0-9._-]+/g, '_');
    const text = `$ mbn ${args.map((a) => (a.startsWith(root) ? relative(root, a) : a)).join(' ')}\nexit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
    writeFileSync(join(out, `${name}.txt`), text.split(configDir).join('<inputs>').split(root).join('<root>/'));
    n++;
  }
  rmSync(configDir, { recursive: true, force: true });
  console.log(`${n} runs recorded in ${out}`);
}
