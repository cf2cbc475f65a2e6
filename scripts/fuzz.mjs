#!/usr/bin/env node
// Seeded mutation fuzzing of the reader and the analyze pipeline, over every fixture, using the built dist/.
//
//   npm run fuzz -- [iterations=2000] [seed=1]
//
// Each iteration picks a fixture, applies one or more seeded mutations (bit flips, byte overwrites, 0xff runs,
// truncation, duplicated ranges, a large varint spliced in), then reads it, analyzes it, renders the JSON report
// and reads every initializer's bytes. Every outcome must be a success or an MbnError; anything else is a crash.
// Crashing inputs are written to $TMPDIR/mbn-fuzz-crashes/ for replay. Exits 1 on any crash.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const iterations = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? 1);
if (!Number.isSafeInteger(iterations) || iterations < 0 || !Number.isSafeInteger(seed)) {
  console.error('usage: node scripts/fuzz.mjs [iterations] [seed]');
  process.exit(2);
}

let lib;
try {
  lib = {
    ...(await import(join(root, 'dist/errors.js'))),
    ...(await import(join(root, 'dist/util/random.js'))),
    ...(await import(join(root, 'dist/onnx/read.js'))),
    ...(await import(join(root, 'dist/onnx/tensor-data.js'))),
    ...(await import(join(root, 'dist/cost/analyze.js'))),
    ...(await import(join(root, 'dist/report/analyze-report.js'))),
  };
} catch (error) {
  console.error(`fuzz: cannot load dist/ (${error.message}); run \`npx tsc -p .\` first`);
  process.exit(2);
}
const { MbnError, readModelBytes, readTensorBytes, analyzeModel, renderJson } = lib;

const rng = lib.mulberry32;
const r = rng(seed);
const int = (n) => Math.floor(r() * n);

function mutateOnce(bytes) {
  const out = new Uint8Array(bytes);
  if (out.length === 0) return { bytes: out, what: 'empty' };
  switch (int(6)) {
    case 0: {
      const p = int(out.length);
      out[p] ^= 1 << int(8);
      return { bytes: out, what: `flip@${p}` };
    }
    case 1: {
      const p = int(out.length);
      out[p] = int(256);
      return { bytes: out, what: `byte@${p}` };
    }
    case 2: {
      const p = int(out.length);
      const n = 1 + int(10);
      out.fill(0xff, p, Math.min(out.length, p + n));
      return { bytes: out, what: `ff*${n}@${p}` };
    }
    case 3: {
      const cut = int(out.length);
      return { bytes: out.subarray(0, cut), what: `cut@${cut}` };
    }
    case 4: {
      const a = int(out.length);
      const b = Math.min(out.length, a + 1 + int(64));
      const p = int(out.length);
      const s = new Uint8Array(out.length + (b - a));
      s.set(out.subarray(0, p), 0);
      s.set(out.subarray(a, b), p);
      s.set(out.subarray(p), p + (b - a));
      return { bytes: s, what: `dup[${a},${b})@${p}` };
    }
    default: {
      // Overwrite with a large varint (lengths and dims that overflow).
      const p = int(out.length);
      const v = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01].slice(10 - 1 - int(10));
      for (let i = 0; i < v.length && p + i < out.length; i++) out[p + i] = v[i];
      return { bytes: out, what: `varint@${p}` };
    }
  }
}

function fixtures(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) found.push(...fixtures(p));
    else if (name.endsWith('.onnx')) found.push(p);
  }
  return found;
}

const files = fixtures(join(root, 'fixtures')).map((p) => ({ name: relative(root, p), bytes: new Uint8Array(readFileSync(p)) }));
if (files.length === 0) {
  console.error('fuzz: no fixtures found');
  process.exit(2);
}

function run(bytes) {
  const model = readModelBytes(bytes, 'fuzz');
  renderJson(analyzeModel(model));
  for (const t of model.graph.initializers) {
    try {
      readTensorBytes(model, t);
    } catch (error) {
      if (!(error instanceof MbnError)) throw error;
    }
  }
}

const crashDir = join(tmpdir(), 'mbn-fuzz-crashes');
const stats = { tried: 0, ok: 0, mbn: 0, crashes: 0, slow: 0 };
const byMessage = new Map();
const started = Date.now();
for (let i = 0; i < iterations; i++) {
  const f = files[int(files.length)];
  let input = { bytes: f.bytes, what: '' };
  const rounds = 1 + int(3);
  const steps = [];
  for (let k = 0; k < rounds; k++) {
    input = mutateOnce(input.bytes);
    steps.push(input.what);
  }
  stats.tried++;
  const t0 = Date.now();
  try {
    run(input.bytes);
    stats.ok++;
  } catch (error) {
    if (error instanceof MbnError) stats.mbn++;
    else {
      stats.crashes++;
      const key = `${error?.name}: ${error?.message}`.slice(0, 200);
      if (!byMessage.has(key)) {
        mkdirSync(crashDir, { recursive: true });
        const out = join(crashDir, `seed${seed}-iter${i}.onnx`);
        writeFileSync(out, input.bytes);
        byMessage.set(key, { count: 0, example: `${f.name} ${steps.join(' ')} → ${out}`, stack: String(error?.stack ?? error).split('\n').slice(0, 4).join('\n    ') });
      }
      byMessage.get(key).count++;
    }
  }
  const ms = Date.now() - t0;
  if (ms > 2000) {
    stats.slow++;
    console.log(`slow input (${ms} ms): ${f.name} ${steps.join(' ')}`);
  }
}

console.log(
  `fuzz: seed ${seed}, ${files.length} fixtures, ${stats.tried} inputs tried: ${stats.ok} ok, ${stats.mbn} MbnError, ` +
    `${stats.crashes} crashes, ${stats.slow} slow (>2 s), ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
for (const [key, v] of byMessage) console.log(`crash x${v.count}: ${key}\n  e.g. ${v.example}\n    ${v.stack}`);
process.exitCode = stats.crashes > 0 ? 1 : 0;
