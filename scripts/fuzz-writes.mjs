#!/usr/bin/env node
// Signals at random moments of `mbn separate` (the real binary, over dist/): before, during and after the write.
//
//   node scripts/fuzz-writes.mjs [iterations=40] [seed=1]
//
// Two models are written to a temporary folder: one with 64 MB of inline weights, one keeping them in a 64 MB
// external data file, each with a conv to separate. A clean run of each gives the reference output. Each iteration
// starts `separate` on one of them and sends SIGINT, SIGTERM, SIGHUP or SIGKILL after a random delay within the
// clean run's duration. Every outcome must be one of:
//   - exit 0, and the output is the reference, byte for byte;
//   - exit 130/143/129 with `mbn: interrupted; nothing was written`, no output and no temporary file;
//   - killed by the signal before or after the write (its default action): no temporary file, and no output or the
//     complete one;
//   - killed (SIGKILL, or any signal during the pre-work probe): no output or the complete one; a temporary file
//     may remain, and the next write to the same target must remove it.
// Anything else (a partial output, a stray temporary file, another exit code or message) is a failure: exits 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'mbn.js');
const iterations = Number(process.argv[2] ?? 40);
const seed = Number(process.argv[3] ?? 1);
if (!Number.isSafeInteger(iterations) || iterations < 0 || !Number.isSafeInteger(seed)) {
  console.error('usage: node scripts/fuzz-writes.mjs [iterations] [seed]');
  process.exit(2);
}
let lib;
try {
  lib = { ...(await import(join(root, 'dist/onnx/encode.js'))), ...(await import(join(root, 'dist/util/random.js'))) };
} catch (error) {
  console.error(`fuzz-writes: cannot load dist/ (${error.message}); run \`npm run build\` first`);
  process.exit(2);
}
const { encodeNodeField, encodeTensorField, encodeValueInfoField, mulberry32 } = lib;
const r = mulberry32(seed);

function varint(n) {
  const out = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
const lenField = (no, payload) => Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);

/** Conv 8→16 3×3 on x [1, 8, 16, 16], and an unused 64 MB initializer `big`, inline or in `external`. */
function writeModel(path, external) {
  const big = Buffer.alloc(64 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  const w = new Float32Array(16 * 8 * 9).map((_, i) => Math.sin(i));
  const raw = Buffer.from(w.buffer);
  const tensors = external
    ? [
        encodeTensorField({ name: 'big', dtype: 1, dims: [big.length / 4], external: { location: external, offset: 0, length: big.length } }),
        encodeTensorField({ name: 'w', dtype: 1, dims: [16, 8, 3, 3], external: { location: external, offset: big.length, length: raw.length } }),
      ]
    : [encodeTensorField({ name: 'big', dtype: 1, dims: [big.length / 4], raw: big }), encodeTensorField({ name: 'w', dtype: 1, dims: [16, 8, 3, 3], raw })];
  if (external) writeFileSync(join(dirname(path), external), Buffer.concat([big, raw]));
  const ints = (name, value) => ({ name, type: 'ints', value });
  const graph = Buffer.concat([
    encodeNodeField({ name: 'conv', opType: 'Conv', domain: '', inputs: ['x', 'w'], outputs: ['y'], attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] }),
    lenField(2, Buffer.from('g')),
    ...tensors,
    encodeValueInfoField('x', 1, [1, 8, 16, 16], 11),
    encodeValueInfoField('y', 1, [1, 16, 16, 16], 12),
  ]);
  writeFileSync(path, Buffer.concat([Buffer.from([0x08, 0x07]), lenField(7, graph), lenField(8, Buffer.from([0x10, 13]))]));
}

const work = mkdtempSync(join(tmpdir(), 'mbn-fuzz-writes-'));
const temps = () => readdirSync(work).filter((n) => n.endsWith('.tmp'));
const models = [
  { name: 'inline', input: join(work, 'inline.onnx'), external: null },
  { name: 'external', input: join(work, 'external.onnx'), external: 'external.onnx.data' },
];
const args = (m, out) => [bin, 'separate', m.input, '-o', out, '--format', 'json', '--force'];
for (const m of models) {
  writeModel(m.input, m.external);
  m.out = join(work, `${m.name}.out.onnx`);
  const t0 = Date.now();
  const clean = spawnSync(process.execPath, args(m, m.out), { encoding: 'utf8' });
  m.ms = Date.now() - t0;
  if (clean.status !== 0) {
    console.error(`fuzz-writes: the clean run failed: ${clean.stderr}`);
    process.exit(1);
  }
  m.reference = readFileSync(m.out);
  m.referenceData = m.external ? readFileSync(`${m.out}.data`) : null;
  rmSync(m.out);
  if (m.external) rmSync(`${m.out}.data`);
}

/** '' when the output is absent or complete (both files equal the reference); else what is wrong. */
function outputState(m) {
  const model = existsSync(m.out);
  const data = m.external ? existsSync(`${m.out}.data`) : false;
  if (!model) return data ? 'a data file without its model' : '';
  if (!readFileSync(m.out).equals(m.reference)) return 'a model file that differs from the reference';
  if (m.external && !(data && readFileSync(`${m.out}.data`).equals(m.referenceData))) return 'a data file that differs from the reference';
  return '';
}

function clear(m) {
  rmSync(m.out, { force: true });
  rmSync(`${m.out}.data`, { force: true });
}

const SIGNALS = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129], ['SIGKILL', null]];
const outcomes = new Map();
const failures = [];
const started = Date.now();
for (let i = 0; i < iterations; i++) {
  const m = models[Math.floor(r() * models.length)];
  const [signal, code] = SIGNALS[Math.floor(r() * SIGNALS.length)];
  const delay = Math.floor(r() * m.ms * 1.1);
  const child = spawn(process.execPath, args(m, m.out), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill(signal), delay);
  const end = await new Promise((resolve) => child.on('close', (status, sig) => resolve({ status, sig })));
  clearTimeout(timer);
  const what = `#${i} ${m.name} ${signal} after ${delay} ms`;
  const problem = outputState(m);
  let outcome;
  if (end.status === 0) outcome = problem ? `exit 0 with ${problem}` : 'finished before the signal';
  else if (code !== null && end.status === code) {
    outcome = stderr === 'mbn: interrupted; nothing was written\n' && !existsSync(m.out) && !existsSync(`${m.out}.data`) ? 'interrupted mid-write' : `exit ${code} but ${JSON.stringify(stderr)} / ${problem || 'an output'}`;
  } else if (end.sig === signal) outcome = problem ? `killed, leaving ${problem}` : `killed by ${signal} (default action)`;
  else outcome = `unexpected exit ${end.status} ${end.sig ?? ''} ${JSON.stringify(stderr.slice(0, 200))}`;
  const left = temps();
  // Killed outright (SIGKILL, or a default action during the microseconds of the pre-work probe file), a process
  // may leave a temporary file; one that exits on its own never does.
  const killed = end.sig === signal;
  if (left.length && !killed) outcome = `${outcome}, and temporary files left: ${left.join(', ')}`;
  if (left.length && killed) {
    // The next write to the same target removes what a killed process left behind.
    const again = spawnSync(process.execPath, args(m, m.out), { encoding: 'utf8' });
    if (again.status !== 0 || temps().length || outputState(m)) outcome = `${outcome}; the next write did not clean up (${temps().join(', ')})`;
    else outcome = `${outcome}; temp removed by the next write`;
  }
  const ok = ['finished before the signal', 'interrupted mid-write', `killed by ${signal} (default action)`].some((o) => outcome.startsWith(o)) && !outcome.includes('left:') && !outcome.includes('did not');
  if (!ok) failures.push(`${what}: ${outcome}`);
  const key = ok ? outcome.replace(/SIG[A-Z]+/, 'SIG*') : 'FAILURE';
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  clear(m);
}
rmSync(work, { recursive: true, force: true });
console.log(`fuzz-writes: seed ${seed}, ${iterations} interrupted writes (clean runs ${models.map((m) => `${m.name} ${m.ms} ms`).join(', ')}), ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const [k, n] of outcomes) console.log(`  ${n} × ${k}`);
for (const f of failures) console.log(`FAILURE ${f}`);
process.exitCode = failures.length ? 1 : 0;
