#!/usr/bin/env node
// Seeded mutation fuzzing of the reader and the analyze pipeline, over every fixture, using the built dist/.
//
//   npm run fuzz -- [iterations=2000] [seed=1]
//
// Each iteration picks a fixture, applies one or more seeded mutations (bit flips, byte overwrites, 0xff runs,
// truncation, duplicated ranges, a large varint spliced in), then reads it, analyzes it, renders the JSON report
// and reads every initializer's bytes. Every outcome must be a success or an MbnError; anything else is a crash.
// Crashing inputs are written to $TMPDIR/mbn-fuzz-crashes/ for replay. Exits 1 on any crash.
//
// Two more phases follow, each a tenth of the iterations: models whose node names and op types are hostile text
// (ESC sequences, CR, BS, DEL, bidi overrides, newlines followed by workflow commands, markdown), rendered in every
// format, where a control character reaching the table or markdown raw, a line that GitHub's runner would read as
// a workflow command, or a CSV that does not give the names back is a failure; and budget configs that never end
// (nested 100,000 deep, huge arrays and keys, UTF-16, NUL bytes), where anything but a short, clean MbnError line
// or a valid config is a failure.
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
    ...(await import(join(root, 'dist/budget/config.js'))),
  };
} catch (error) {
  console.error(`fuzz: cannot load dist/ (${error.message}); run \`npx tsc -p .\` first`);
  process.exit(2);
}
const { MbnError, readModelBytes, readTensorBytes, analyzeModel, renderJson, renderTable, renderMarkdown, renderCsv, parseConfigText, decodeText } = lib;
const { Chalk } = await import(join(root, 'node_modules/chalk/source/index.js'));
const plain = new Chalk({ level: 0 });

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


// ---------------------------------------------------------------- hostile names
/** Control characters a terminal acts on or that reorder text (newline aside): none may reach a table raw. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const PIECES = ['a', 'conv', '/', '.', '0', '\x1b[2J', '\x1b]0;title\x07', '\x1b[31m', '\r', '\b', '\x7f', '\x9b', '\u202e', '\u2066', '\u2069',
  '\n', '\n::warning title=X::pwned', '::error::x', '  ::', '|', '@octocat', '<img>', '`', '#', '## H', ',', '"', '\\', '%', '名', '😀', '\u0301', 'x'.repeat(300)];

function varint(n) {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const utf8 = new TextEncoder();
const field = (no, bytes) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
const str = (no, text) => field(no, [...utf8.encode(text)]);
const num = (no, n) => [...varint(no << 3), ...varint(n)];
const valueInfo = (name) => [...str(1, name), ...field(2, field(1, [...num(1, 1), ...field(2, field(1, num(1, 4)))]))];

function hostileName() {
  let text = '';
  for (let k = 1 + int(5); k > 0; k--) text += PIECES[int(PIECES.length)];
  return text;
}

/** A chain of n layers with hostile node names (and now and then a hostile op type, which is not counted). */
function hostileModel(n) {
  const names = [];
  const graph = [];
  for (let i = 0; i < n; i++) {
    const name = hostileName();
    const op = int(5) === 0 ? hostileName() : 'Relu';
    names.push(name);
    graph.push(...field(1, [...str(1, i === 0 ? 'x' : `v${i - 1}`), ...str(2, `v${i}`), ...str(3, name), ...str(4, op)]));
  }
  graph.push(...str(2, 'g'), ...field(11, valueInfo('x')), ...field(12, valueInfo(`v${n - 1}`)));
  return { names, bytes: new Uint8Array([...num(1, 8), ...field(8, [...str(1, ''), ...num(2, 13)]), ...field(7, graph)]) };
}

/** The first field of every CSV record, by an RFC 4180 parser (quoted fields may hold commas, quotes, newlines). */
function csvFirstFields(csv) {
  const firsts = [];
  let fieldNo = 0;
  let text = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const ch = csv[i];
    if (quoted) {
      if (ch === '"' && csv[i + 1] === '"') (text += '"'), i++;
      else if (ch === '"') quoted = false;
      else text += ch;
    } else if (ch === '"' && text === '') quoted = true;
    else if (ch === ',' || ch === '\n') {
      if (fieldNo === 0) firsts.push(text);
      fieldNo = ch === ',' ? fieldNo + 1 : 0;
      text = '';
    } else text += ch;
  }
  return firsts;
}

function renderProblems(report, names) {
  const problems = [];
  const view = { flops: false, top: null, all: true, style: plain };
  for (const [format, text] of [['table', renderTable(report, view)], ['md', renderMarkdown(report, view)]]) {
    if (RAW_CONTROL.test(text)) problems.push(`${format}: a raw control character`);
    if (text.split('\n').some((l) => /^\s*::/.test(l))) problems.push(`${format}: a line starting with ::`);
  }
  const md = renderMarkdown(report, view).split('\n');
  if (md.some((l, i) => i > 0 && l.startsWith('#'))) problems.push('md: a heading from a name');
  const firsts = csvFirstFields(renderCsv(report)).slice(1);
  if (JSON.stringify(firsts) !== JSON.stringify(names)) problems.push('csv: names not given back');
  return problems;
}

const nameStats = { tried: 0, failures: 0 };
for (let i = 0; i < Math.ceil(iterations / 10); i++) {
  const { names, bytes } = hostileModel(1 + int(8));
  nameStats.tried++;
  try {
    const problems = renderProblems(analyzeModel(readModelBytes(bytes, hostileName())), names);
    if (problems.length) throw new Error(problems.join('; '));
  } catch (error) {
    nameStats.failures++;
    stats.crashes++;
    const key = `hostile names: ${error?.message}`.slice(0, 200);
    if (!byMessage.has(key)) {
      mkdirSync(crashDir, { recursive: true });
      const out = join(crashDir, `seed${seed}-names${i}.onnx`);
      writeFileSync(out, bytes);
      byMessage.set(key, { count: 0, example: out, stack: String(error?.stack ?? error).split('\n').slice(0, 4).join('\n    ') });
    }
    byMessage.get(key).count++;
  }
}

// ---------------------------------------------------------------- configs that never end
function hostileConfig() {
  const entry = '{"model": "m.onnx", "maxMacs": "600M"}';
  switch (int(8)) {
    case 0: return utf8.encode(`${'['.repeat(1 + int(200_000))}${int(2) ? ']'.repeat(int(200_000)) : ''}`);
    case 1: return utf8.encode(`${'{"a":'.repeat(1 + int(100_000))}1${'}'.repeat(int(100_000))}`);
    case 2: return utf8.encode(`[${new Array(1 + int(200_000)).fill(entry).join(',')}]`);
    case 3: return utf8.encode(JSON.stringify([{ model: 'm.onnx', [hostileName().repeat(1 + int(50_000))]: 1 }]));
    case 4: return new Uint8Array(Buffer.from(`\ufeff[${entry}]`, 'utf16le'));
    case 5: return utf8.encode(JSON.stringify([{ name: hostileName(), model: hostileName(), maxMacs: hostileName(), input: { [hostileName()]: new Array(int(100_000)).fill(int(3) - 1) } }]));
    case 6: {
      const b = utf8.encode(`[${entry}]`);
      b[int(b.length)] = int(256);
      return b;
    }
    default: return utf8.encode(`[${entry}`.repeat(1 + int(1000)));
  }
}

const configStats = { tried: 0, ok: 0, mbn: 0, failures: 0 };
for (let i = 0; i < Math.ceil(iterations / 10); i++) {
  const bytes = hostileConfig();
  configStats.tried++;
  const t0 = Date.now();
  try {
    parseConfigText(decodeText(bytes, 'fuzz.json'), 'fuzz.json');
    configStats.ok++;
  } catch (error) {
    const clean = error instanceof MbnError && error.message.length <= 1000 && !RAW_CONTROL.test(error.message) && !error.message.includes('\n');
    if (clean) configStats.mbn++;
    else {
      configStats.failures++;
      stats.crashes++;
      const key = `config: ${error instanceof MbnError ? `message of ${error.message.length} chars: ${JSON.stringify(error.message.slice(0, 80))}` : `${error?.name}: ${error?.message}`}`.slice(0, 200);
      if (!byMessage.has(key)) byMessage.set(key, { count: 0, example: `config kind of ${bytes.length} bytes`, stack: String(error?.stack ?? error).split('\n').slice(0, 4).join('\n    ') });
      byMessage.get(key).count++;
    }
  }
  if (Date.now() - t0 > 2000) {
    stats.slow++;
    console.log(`slow config (${Date.now() - t0} ms), ${bytes.length} bytes`);
  }
}

console.log(
  `fuzz: seed ${seed}, ${files.length} fixtures, ${stats.tried} inputs tried: ${stats.ok} ok, ${stats.mbn} MbnError, ` +
    `${stats.crashes} crashes, ${stats.slow} slow (>2 s), ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
console.log(`fuzz: ${nameStats.tried} models with hostile names rendered as table, md and csv: ${nameStats.failures} failures`);
console.log(`fuzz: ${configStats.tried} hostile configs: ${configStats.ok} valid, ${configStats.mbn} clean errors, ${configStats.failures} failures`);
for (const [key, v] of byMessage) console.log(`crash x${v.count}: ${key}\n  e.g. ${v.example}\n    ${v.stack}`);
process.exitCode = stats.crashes > 0 ? 1 : 0;
