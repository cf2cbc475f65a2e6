#!/usr/bin/env node
// npm run bench [-- --runs N] [-- --fresh] [-- --only tflite]
//
// Builds mbn (tsc + bundle), generates the benchmark models in bench-out/ (kept between runs; --fresh regenerates
// them), then measures whole processes, each the median of N ≥ 5 runs, beside references measured in the same run:
// node start-up, onnx-proto decoding, Python onnx, cp. Prints a markdown table with the targets and writes it to
// bench-out/results.md together with the machine. Speed is only asserted here, never in the tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench-out');
const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const runsAt = args.indexOf('--runs');
const RUNS = Math.max(5, runsAt >= 0 ? Number(args[runsAt + 1]) || 5 : 5);
// `--only tflite`: the start-up reference and the TFLite analysis alone (the rest takes many minutes).
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : null;
const VENV_PY = process.env.MBN_VENV_PYTHON ?? '/opt/mbn-venv/bin/python';
const PY = '/usr/bin/python3';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const node = process.execPath;
const mbnBin = join(root, 'bin/mbn.js');
const rel = (p) => relative(root, p);

function log(text) {
  process.stderr.write(`${text}\n`);
}

// ---------------------------------------------------------------- build
log('building (tsc + bundle)…');
execFileSync(node, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
execFileSync(node, [join(root, 'scripts/bundle.mjs')], { stdio: 'inherit' });
const models = await import(pathToFileURL(join(root, 'dist/bench/models.js')).href);
mkdirSync(out, { recursive: true });

const python = (code) => spawnSync(PY, ['-c', code], { encoding: 'utf8' });
const hasPy = (mods) => existsSync(PY) && python(`import ${mods}`).status === 0;

// ---------------------------------------------------------------- measuring
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One whole process: wall seconds (hrtime around it) and peak RSS in bytes (/usr/bin/time %M, else /proc polling). */
function once(cmd, argv) {
  if (TIME) {
    const stats = join(tmpdir(), `mbn-bench-${process.pid}.time`);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TIME, ['-f', '%e %M', '-o', stats, cmd, ...argv], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
    const [, rssKb] = readFileSync(stats, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    rmSync(stats, { force: true });
    return Promise.resolve({ wall, rss: rssKb * 1024 });
  }
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let peak = 0;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // The process has ended.
      }
    }, 2);
    child.on('close', (code) => {
      clearInterval(poll);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}):\n${stderr}`));
      else resolve({ wall, rss: peak });
    });
  });
}

/**
 * Median wall time and median peak RSS of each spec over `runs` runs. The specs run round-robin (after one untimed
 * run each, which also warms the page cache), so that a change of machine load hits them all alike.
 */
async function measureGroup(specs, runs = RUNS) {
  for (const sp of specs) {
    log(`measuring ${sp.label}…`);
    sp.before?.();
    await once(sp.cmd, sp.argv);
  }
  const acc = specs.map(() => ({ walls: [], rsss: [] }));
  for (let i = 0; i < runs; i++) {
    for (const [k, sp] of specs.entries()) {
      sp.before?.();
      const r = await once(sp.cmd, sp.argv);
      acc[k].walls.push(r.wall);
      acc[k].rsss.push(r.rss);
    }
  }
  return specs.map((sp, k) => ({ label: sp.label, wall: median(acc[k].walls), rss: median(acc[k].rsss), walls: acc[k].walls }));
}

// ---------------------------------------------------------------- report helpers
const s = (x) => `${x.toFixed(x < 1 ? 3 : 2)} s`;
const mb = (b) => `${(b / 1e6).toFixed(b < 1e7 ? 1 : 0)} MB`;
const x = (r) => `${r.toFixed(2)}×`;
const ok = (pass) => (pass ? '✅' : '❌');
const rows = [];
const row = (what, value, reference, ratio, target, pass) => rows.push(`| ${what} | ${value} | ${reference} | ${ratio} | ${target} | ${pass === undefined ? '' : ok(pass)} |`);
const tableOf = (lines) => ['| measure | value | reference | ratio | target | ok |', '|---|---|---|---|---|---|', ...lines];

// ---------------------------------------------------------------- TFLite
// Keras ResNet-50 (weights=None) through TensorFlow's converter: a 102 MB float .tflite, made once by
// fixtures/make_tflite.py with the reference venv's TensorFlow (skipped without it). Its analysis must stay within
// 2× node's start-up and under 100 MB of memory: the reader locates the weights and never reads them.
const tfliteDir = join(out, 'tflite');
const resnetTflite = join(tfliteDir, 'resnet50_float.tflite');
const hasTf = existsSync(VENV_PY) && spawnSync(VENV_PY, ['-c', 'import tensorflow'], { encoding: 'utf8' }).status === 0;
if (hasTf && (fresh || !existsSync(resnetTflite))) {
  log('converting Keras ResNet-50 (weights=None) to TFLite with TensorFlow…');
  const r = spawnSync(VENV_PY, [join(root, 'fixtures/make_tflite.py'), '--full', tfliteDir, 'resnet50'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`TFLite conversion failed:\n${r.stderr.slice(-2000)}`);
}

/** Rows of the TFLite measurement (start-up measured in the same group), or a note when there is no model. */
async function tfliteRows(row) {
  if (!existsSync(resnetTflite)) {
    row('TFLite', `skipped: ${VENV_PY} cannot import tensorflow (scripts/setup-venv.sh)`, '', '', '', undefined);
    return;
  }
  const size = statSync(resnetTflite).size;
  const [start, analysis] = await measureGroup(
    [
      { label: 'node -e ""', cmd: node, argv: ['-e', ''] },
      { label: 'mbn analyze resnet50_float.tflite', cmd: node, argv: [mbnBin, 'analyze', resnetTflite, '--format', 'json'] },
    ],
    Math.max(RUNS, 15),
  );
  const macs = JSON.parse(execFileSync(node, [mbnBin, 'analyze', resnetTflite, '--format', 'json'], { encoding: 'utf8', maxBuffer: 1 << 26 })).totals.macs;
  row(`\`mbn analyze resnet50_float.tflite --format json\` (${mb(size)}, ${macs.toLocaleString('en-US')} MACs): time`, s(analysis.wall), `node start ${s(start.wall)}`, x(analysis.wall / start.wall), '≤ 2× node start', analysis.wall <= 2 * start.wall);
  row('`mbn analyze resnet50_float.tflite`: peak RSS', mb(analysis.rss), `file ${mb(size)}`, x(analysis.rss / size), '< 100 MB', analysis.rss < 100e6);
}

if (only === 'tflite') {
  await tfliteRows(row);
  const md = [`# mbn benchmarks, TFLite only (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`, '', ...tableOf(rows), ''].join('\n');
  writeFileSync(join(out, 'results-tflite.md'), md);
  process.stdout.write(`${md}\nwritten to ${rel(join(out, 'results-tflite.md'))}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- models
const vgg = join(out, 'vgg16.onnx');
const vggSourceFile = join(out, 'vgg16.source.txt');
if (fresh || !existsSync(vgg) || !existsSync(vggSourceFile)) {
  rmSync(vgg, { force: true });
  if (hasPy('torch, torchvision')) {
    log('exporting torchvision vgg16 (weights=None) with torch.onnx.export…');
    const code = [
      'import sys, torch, torchvision',
      'torch.manual_seed(0)',
      'm = torchvision.models.vgg16(weights=None).eval()',
      'x = torch.randn(1, 3, 224, 224)',
      'torch.onnx.export(m, x, sys.argv[1], opset_version=13, do_constant_folding=True, input_names=["input"], output_names=["output"])',
    ].join('\n');
    const r = spawnSync(PY, ['-c', code, vgg], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch export failed:\n${r.stderr}`);
    writeFileSync(vggSourceFile, `torch.onnx.export(torchvision.models.vgg16(weights=None)), opset 13 (${python('import torch, torchvision; print(torch.__version__, torchvision.__version__)').stdout.trim()})\n`);
  } else {
    log('no torch in /usr/bin/python3: writing VGG-16 with mbn encoders and random weights…');
    models.writeVgg16Model(vgg);
    writeFileSync(vggSourceFile, 'generated in JS (src/bench/models.ts writeVgg16Model), random weights, opset 13\n');
  }
}
// ViT-B/16 for the HTML report's graph view (issue: opens in headless Chromium within 60 s, aim 5 s, under 15 MB).
const vit = join(out, 'vit_b_16.onnx');
const CHROMIUM = '/usr/bin/chromium';
const haveVit = existsSync(CHROMIUM) && ((existsSync(vit) && !fresh) || hasPy('torch, torchvision'));
if (haveVit && (fresh || !existsSync(vit))) {
  log('exporting torchvision vit_b_16 (weights=None) with torch.onnx.export…');
  const code = 'import sys, torch, torchvision\nm = torchvision.models.vit_b_16(weights=None).eval()\ntorch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1], opset_version=14)';
  const r = spawnSync(PY, ['-c', code, vit], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch export failed:\n${r.stderr}`);
}
const chainSizes = [25_000, 50_000, 100_000];
const chains = chainSizes.map((n) => {
  const path = join(out, `chain_${n}.onnx`);
  if (fresh || !existsSync(path)) models.writeChainModel(path, n);
  return { n, path };
});
// A million nodes (39 MB): memory per node of analyze, its JSON report, separate --dry-run and diff.
const MILLION = 1_000_000;
const million = join(out, `chain_${MILLION}.onnx`);
if (fresh || !existsSync(million)) models.writeChainModel(million, MILLION);
const cmbDir = join(out, 'conv_mobilenet_v1');
const cmb = join(cmbDir, 'conv_mobilenet_v1.onnx');
const cmbSep = join(cmbDir, 'conv_mobilenet_v1.separated.onnx');
if (fresh || !existsSync(cmb) || !existsSync(cmbSep)) {
  log('synthesizing weights for fixtures/graph-only/conv_mobilenet_v1.onnx and separating it…');
  rmSync(cmbDir, { recursive: true, force: true });
  mkdirSync(cmbDir);
  models.withSyntheticWeights(join(root, 'fixtures/graph-only/conv_mobilenet_v1.onnx'), cmbDir);
  execFileSync(node, [mbnBin, 'separate', cmb, '-o', cmbSep, '--format', 'json'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
// The same CLI without the bundle: the ES modules under dist/cli/.
const esmEntry = join(out, 'esm-entry.mjs');
writeFileSync(esmEntry, `import(${JSON.stringify(pathToFileURL(join(root, 'dist/cli/main.js')).href)}).then((cli) => cli.main(process.argv));\n`);
const tiny = join(root, 'fixtures/models/tiny_cnn.onnx');
const vggSize = statSync(vgg).size;

const loadStart = loadavg();
const results = {};
[results.nodeStart, results.smallBundle, results.smallEsm, results.analyze, results.analyzeTable] = await measureGroup(
  [
    { label: 'node -e ""', cmd: node, argv: ['-e', ''] },
    { label: 'mbn analyze tiny_cnn (bundle)', cmd: node, argv: [mbnBin, 'analyze', tiny, '--format', 'json'] },
    { label: 'mbn analyze tiny_cnn (ES modules)', cmd: node, argv: [esmEntry, 'analyze', tiny, '--format', 'json'] },
    { label: 'mbn analyze vgg16', cmd: node, argv: [mbnBin, 'analyze', vgg, '--format', 'json'] },
    { label: 'mbn analyze vgg16 (table)', cmd: node, argv: [mbnBin, 'analyze', vgg] },
  ],
  Math.max(RUNS, 15),
);
[results.onnxProto] = await measureGroup([{ label: 'onnx-proto decode', cmd: node, argv: ['-e', "require('onnx-proto').onnx.ModelProto.decode(require('fs').readFileSync(process.argv[1]))", vgg] }]);
const pyOnnx = hasPy('onnx');
if (pyOnnx) {
  [results.pyImport, results.pyLoad, results.pyInfer] = await measureGroup([
    { label: 'python import onnx', cmd: PY, argv: ['-c', 'import onnx'] },
    { label: 'python onnx.load', cmd: PY, argv: ['-c', 'import sys, onnx; onnx.load(sys.argv[1])', vgg] },
    { label: 'python onnx.load + infer_shapes', cmd: PY, argv: ['-c', 'import sys, onnx; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))', vgg] },
  ]);
}
const chainResults = await measureGroup(chains.map((c) => ({ label: `mbn analyze chain ${c.n}`, cmd: node, argv: [mbnBin, 'analyze', c.path, '--format', 'json'] })));
results.chains = chains.map((c, i) => ({ ...c, ...chainResults[i] }));
// The table of every layer (`--all`): rendering must stay linear (cli-table3 was quadratic: 160 s at 40k layers).
const tableResults = await measureGroup(chains.map((c) => ({ label: `mbn analyze --all chain ${c.n} (table)`, cmd: node, argv: [mbnBin, 'analyze', c.path, '--all', '--no-color'] })));
results.tables = chains.map((c, i) => ({ ...c, ...tableResults[i] }));
// Each of these takes seconds and up to a GB or more: 3 runs each (after the warm-up run) rather than RUNS.
const MILLION_RUNS = 3;
[results.millionTable, results.millionJson, results.millionSeparate, results.millionDiff] = await measureGroup(
  [
    { label: 'mbn analyze chain 1M', cmd: node, argv: [mbnBin, 'analyze', million] },
    { label: 'mbn analyze chain 1M --format json', cmd: node, argv: [mbnBin, 'analyze', million, '--format', 'json'] },
    { label: 'mbn separate chain 1M --dry-run', cmd: node, argv: [mbnBin, 'separate', million, '--dry-run'] },
    { label: 'mbn diff chain 1M chain 1M', cmd: node, argv: [mbnBin, 'diff', million, million] },
  ],
  MILLION_RUNS,
);
const sepOut = join(out, 'vgg16.separated.onnx');
const copyOut = join(out, 'vgg16.copy.onnx');
const clean = (p) => () => rmSync(p, { force: true });
[results.separate, results.separateHe, results.cp, results.cpSync] = await measureGroup([
  { label: 'mbn separate vgg16', cmd: node, argv: [mbnBin, 'separate', vgg, '-o', sepOut, '--format', 'json'], before: clean(sepOut) },
  { label: 'mbn separate vgg16 --init he', cmd: node, argv: [mbnBin, 'separate', vgg, '-o', sepOut, '--init', 'he', '--format', 'json'], before: clean(sepOut) },
  { label: 'cp vgg16', cmd: 'cp', argv: [vgg, copyOut], before: clean(copyOut) },
  { label: 'cp + sync (fsync the copy)', cmd: 'sh', argv: ['-c', 'cp "$1" "$2" && sync "$2"', 'sh', vgg, copyOut], before: clean(copyOut) },
]);
const sepSize = statSync(sepOut).size;

// The SVD part of `mbn separate vgg16` (every conv, rank 1): src/rewrite/decompose.ts's separateConvWeight and the
// composition separate.ts measures the error with, over VGG-16's own weights, timed inside a fresh process (cold, as
// in a run) around those calls only; the median over RUNS processes.
const svdScript = join(out, 'svd-part.mjs');
writeFileSync(
  svdScript,
  `const dist = ${JSON.stringify(pathToFileURL(join(root, 'dist')).href)};
const { readModel } = await import(dist + '/onnx/read.js');
const { readTensorBytes } = await import(dist + '/onnx/tensor-data.js');
const { decodeFloats } = await import(dist + '/tensor/float.js');
const { separateConvWeight, composeSeparated } = await import(dist + '/rewrite/decompose.js');
const model = readModel(process.argv[2]);
const byName = new Map(model.graph.initializers.map((t) => [t.name, t]));
const convs = model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => {
  const t = byName.get(n.inputs[1]);
  const group = n.attributes.find((a) => a.name === 'group');
  return { dims: t.dims, data: decodeFloats(readTensorBytes(model, t), 'float32'), group: group ? group.data.value : 1 };
});
const t0 = performance.now();
for (const c of convs) composeSeparated(separateConvWeight({ dims: c.dims, data: c.data }, c.group, 1), c.group, c.dims[1] * c.group);
process.stdout.write(JSON.stringify({ convs: convs.length, ms: performance.now() - t0 }));
`,
);
const svdRuns = [];
for (let i = 0; i < RUNS; i++) svdRuns.push(JSON.parse(execFileSync(node, [svdScript, vgg], { cwd: root, encoding: 'utf8' })));
results.svd = { convs: svdRuns[0].convs, wall: median(svdRuns.map((r) => r.ms)) / 1000, walls: svdRuns.map((r) => r.ms / 1000) };
rmSync(copyOut, { force: true });
log('measuring mbn bench Conv MobileNet vs separated…');
const benchRuns = 10;
const benchJson = JSON.parse(
  execFileSync(node, [mbnBin, 'bench', cmb, cmbSep, '--runs', String(benchRuns), '--warmup', '2', '--format', 'json'], { cwd: root, encoding: 'utf8' }),
);

// `separate --calibrate` at 640×640 (PaddleOCR det, 8 batches of striped images) beside one plain ORT pass over the
// same batches in one process (load, 8 runs): the target is ≤ 10× that pass and < 2 GB.
const calDir = join(out, 'calibration640');
if (fresh || !existsSync(join(calDir, '7.npy'))) {
  mkdirSync(calDir, { recursive: true });
  const { encodeNpy } = await import(pathToFileURL(join(root, 'dist/calibrate/npy.js')).href);
  const { mulberry32 } = await import(pathToFileURL(join(root, 'dist/util/random.js')).href);
  const next = mulberry32(7);
  for (let b = 0; b < 8; b++) {
    const d = new Float32Array(3 * 640 * 640);
    const period = 16 + 8 * b;
    for (let i = 0; i < d.length; i++) d[i] = ((Math.floor(i / 640) % period < period / 2) !== ((i % 640) % period < period / 2) ? 1.5 : -1.5) + 0.3 * next();
    writeFileSync(join(calDir, `${b}.npy`), encodeNpy([1, 3, 640, 640], d));
  }
}
const plainOrt = join(out, 'plain-ort.mjs');
writeFileSync(
  plainOrt,
  `import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const ort = createRequire(${JSON.stringify(join(root, 'package.json'))})('onnxruntime-node');
const { parseNpy } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/calibrate/npy.js')).href)});
const [model, dir] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
for (const f of readdirSync(dir).sort()) {
  const a = parseNpy(readFileSync(dir + '/' + f), f);
  await session.run({ x: new ort.Tensor('float32', Float32Array.from(a.data), a.shape) });
}
`,
);
const detModel = join(root, 'fixtures/real/ppocr_v4_det.onnx');
const CAL_RUNS = 3;
[results.calibrate, results.plainOrt] = await measureGroup(
  [
    { label: 'mbn separate --calibrate (det 640×640, 8 batches)', cmd: node, argv: [mbnBin, 'separate', detModel, '--dry-run', '--input', 'x:1x3x640x640', '--calibrate', calDir, '--format', 'json'] },
    { label: 'plain ORT pass over the 8 batches', cmd: node, argv: [plainOrt, detModel, calDir] },
  ],
  CAL_RUNS,
);
// The graph view: the page of ViT-B/16, written by mbn, then loaded by headless Chromium until its script has laid
// the graph out (--dump-dom returns after the load event, and the layout runs before it).
const vitPage = join(out, 'vit_b_16.html');
if (haveVit) {
  const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${join(out, 'chromium-profile')}`, '--dump-dom', pathToFileURL(vitPage).href];
  [results.vitHtml, results.vitChromium] = await measureGroup([
    { label: 'mbn analyze vit_b_16 --format html', cmd: node, argv: [mbnBin, 'analyze', vit, '--format', 'html', '-o', vitPage, '--force'] },
    { label: 'headless Chromium loads the ViT-B/16 page', cmd: CHROMIUM, argv: chromiumArgs },
  ]);
  const dom = execFileSync(CHROMIUM, chromiumArgs, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  results.vitLaidOut = /data-graph="ready"/.test(dom);
  results.vitPageSize = statSync(vitPage).size;
  [results.chromiumBlank] = await measureGroup([{ label: 'headless Chromium, empty page (start-up reference)', cmd: CHROMIUM, argv: [...chromiumArgs.slice(0, -1), 'about:blank'] }]);
}
// `quantize` on the same model and batches beside ONNX Runtime's own quantize_static (Python, QDQ, per-channel,
// MinMax), each a whole process: the target is at most ORT's time and < 2 GB.
const hasOrtQuantizer = existsSync(VENV_PY) && spawnSync(VENV_PY, ['-c', 'import onnxruntime.quantization'], { encoding: 'utf8' }).status === 0;
const quantOut = join(out, 'ppocr_det.int8.onnx');
const ortQuantOut = join(out, 'ppocr_det.ort-int8.onnx');
if (hasOrtQuantizer) {
  log('measuring mbn quantize vs ORT quantize_static (det 640×640, 8 batches)…');
  [results.quantize, results.ortQuantize] = await measureGroup(
    [
      { label: 'mbn quantize (det 640×640, 8 batches)', cmd: node, argv: [mbnBin, 'quantize', detModel, '-o', quantOut, '--force', '--input', 'x:1x3x640x640', '--calibrate', calDir, '--format', 'json'] },
      { label: 'ORT quantize_static (det 640×640, 8 batches)', cmd: VENV_PY, argv: [join(root, 'scripts/ort-quantize-static.py'), detModel, calDir, ortQuantOut, 'MinMax'] },
    ],
    CAL_RUNS,
  );
}
await tfliteRows(row);
const loadEnd = loadavg();
// bin/mbn.js ignores a bundle older than dist/cli/main.js: note it when another process ran tsc during the run.
const staleBundle = ['dist/mbn.cjs', 'dist/mbn-analyze.cjs', 'dist/mbn-separate.cjs'].some((b) => statSync(join(root, b)).mtimeMs < statSync(join(root, 'dist/cli/main.js')).mtimeMs);

// ---------------------------------------------------------------- report

const ns = results.nodeStart.wall;
const an = results.analyze;
row('`node -e ""` (start-up reference)', s(ns), '', '', '', undefined);
row('`mbn analyze vgg16.onnx --format json`: time', s(an.wall), `node start ${s(ns)}`, x(an.wall / ns), '≤ 1.5× node start', an.wall <= 1.5 * ns);
row('`mbn analyze vgg16.onnx` (table): time', s(results.analyzeTable.wall), `node start ${s(ns)}`, x(results.analyzeTable.wall / ns), '≤ 1.5× node start', results.analyzeTable.wall <= 1.5 * ns);
row('`mbn analyze vgg16.onnx`: peak RSS', mb(an.rss), `file ${mb(vggSize)}`, x(an.rss / vggSize), '< 100 MB', an.rss < 100e6);
row('`mbn analyze` tiny_cnn, bundle (dist/mbn-analyze.cjs)', s(results.smallBundle.wall), `node start ${s(ns)}`, x(results.smallBundle.wall / ns), '≤ 2× node start', results.smallBundle.wall <= 2 * ns);
row('`mbn analyze` tiny_cnn, ES modules (dist/cli/*.js)', s(results.smallEsm.wall), `bundle ${s(results.smallBundle.wall)}`, x(results.smallEsm.wall / results.smallBundle.wall), 'info (bundle gain)', undefined);
row('onnx-proto `ModelProto.decode(readFileSync)`: time', s(results.onnxProto.wall), `mbn analyze ${s(an.wall)}`, x(results.onnxProto.wall / an.wall), 'info', undefined);
row('onnx-proto decode: peak RSS', mb(results.onnxProto.rss), `mbn analyze ${mb(an.rss)}`, x(results.onnxProto.rss / an.rss), 'info', undefined);
if (pyOnnx) {
  row('Python `import onnx` (start-up reference)', s(results.pyImport.wall), '', '', 'info', undefined);
  row('Python `onnx.load`: time', s(results.pyLoad.wall), `mbn analyze ${s(an.wall)}`, x(results.pyLoad.wall / an.wall), 'info', undefined);
  row('Python `onnx.load`: peak RSS', mb(results.pyLoad.rss), `mbn analyze ${mb(an.rss)}`, x(results.pyLoad.rss / an.rss), 'info', undefined);
  row('Python `onnx.load` + `infer_shapes`: time', s(results.pyInfer.wall), `mbn analyze ${s(an.wall)}`, x(results.pyInfer.wall / an.wall), 'info', undefined);
  row('Python `onnx.load` + `infer_shapes`: peak RSS', mb(results.pyInfer.rss), `mbn analyze ${mb(an.rss)}`, x(results.pyInfer.rss / an.rss), 'info', undefined);
} else {
  row('Python onnx', 'skipped: /usr/bin/python3 has no onnx (apt install python3-onnx)', '', '', '', undefined);
}
const c0 = results.chains[0];
for (const c of results.chains) {
  const perNode = ((c.wall - ns) / c.n) * 1e6;
  const target = c.n === 100_000 ? '< 2 s' : 'info';
  row(`\`mbn analyze\` chain of ${c.n.toLocaleString('en-US')} nodes`, `${s(c.wall)} (${perNode.toFixed(1)} µs/node above node start), ${mb(c.rss)}`, c === c0 ? '' : `${c0.n / 1000}k: ${s(c0.wall)}`, c === c0 ? '' : `${x((c.wall - ns) / (c0.wall - ns))} for ${x(c.n / c0.n)} nodes`, target, c.n === 100_000 ? c.wall < 2 : undefined);
}
const t0 = results.tables[0];
for (const c of results.tables) {
  const json = results.chains.find((j) => j.n === c.n);
  const target = c.n === 100_000 ? '< 3 s' : 'info';
  row(`\`mbn analyze --all\` (table) chain of ${c.n.toLocaleString('en-US')} nodes`, `${s(c.wall)}, ${mb(c.rss)}`, `--format json ${s(json.wall)}`, c === t0 ? '' : `${x((c.wall - ns) / (t0.wall - ns))} for ${x(c.n / t0.n)} nodes`, target, c.n === 100_000 ? c.wall < 3 : undefined);
}
const millionSize = statSync(million).size;
const perNodeKb = (r) => r.rss / MILLION / 1024;
for (const [what, r, target] of [
  ['`mbn analyze`', results.millionTable, '< 1 KiB per node'],
  ['`mbn analyze --format json`', results.millionJson, 'info'],
  ['`mbn separate --dry-run`', results.millionSeparate, 'info'],
  ['`mbn diff` (the chain against itself)', results.millionDiff, 'info'],
]) {
  row(`${what}, chain of 1,000,000 nodes (${mb(millionSize)}): peak RSS, time`, `${mb(r.rss)}, ${s(r.wall)}`, '', `${perNodeKb(r).toFixed(2)} KiB per node`, target, target === 'info' ? undefined : perNodeKb(r) < 1);
}
const sep = results.separate;
row('`mbn separate vgg16.onnx -o …` (svd init): time', s(sep.wall), `cp ${s(results.cp.wall)}`, x(sep.wall / results.cp.wall), '≤ 2× cp', sep.wall <= 2 * results.cp.wall);
row(`\`mbn separate vgg16\`: SVD part (${results.svd.convs} convs, rank 1: separateConvWeight + composeSeparated, in a fresh process)`, s(results.svd.wall), `mbn separate ${s(sep.wall)}`, x(results.svd.wall / sep.wall), '< 0.3 s', results.svd.wall < 0.3);
row('`mbn separate … --init he`: time', s(results.separateHe.wall), `cp + sync ${s(results.cpSync.wall)}`, x(results.separateHe.wall / results.cpSync.wall), 'info (mbn fsyncs its output)', undefined);
row('`mbn separate`: peak RSS', mb(sep.rss), `file ${mb(vggSize)}`, x(sep.rss / vggSize), '< 1.5× file size', sep.rss < 1.5 * vggSize);
const [bm0, bm1] = benchJson.models;
const latencyRatio = bm1.latencyMs.median / bm0.latencyMs.median;
row(`\`mbn bench\` Conv MobileNet (${(bm0.macs / 1e9).toFixed(2)} GMACs)`, `${bm0.latencyMs.median.toFixed(1)} ms (p10 ${bm0.latencyMs.p10.toFixed(1)}, p90 ${bm0.latencyMs.p90.toFixed(1)})`, '', '', 'info', undefined);
row(`\`mbn bench\` separated (${(bm1.macs / 1e9).toFixed(2)} GMACs)`, `${bm1.latencyMs.median.toFixed(1)} ms (p10 ${bm1.latencyMs.p10.toFixed(1)}, p90 ${bm1.latencyMs.p90.toFixed(1)})`, `MAC ratio ${bm1.macRatio.toFixed(3)}`, `latency ratio ${latencyRatio.toFixed(3)} (${(bm0.latencyMs.median / bm1.latencyMs.median).toFixed(2)}× faster)`, 'info', undefined);
const cal = results.calibrate;
row('`mbn separate --calibrate` PaddleOCR det 640×640, 8 batches: time', s(cal.wall), `plain ORT pass ${s(results.plainOrt.wall)}`, x(cal.wall / results.plainOrt.wall), '≤ 10× the plain pass', cal.wall <= 10 * results.plainOrt.wall);
row('`mbn separate --calibrate`: peak RSS', mb(cal.rss), `plain ORT pass ${mb(results.plainOrt.rss)}`, x(cal.rss / results.plainOrt.rss), '< 2 GB', cal.rss < 2e9);
if (results.quantize) {
  const q = results.quantize;
  const o = results.ortQuantize;
  row('`mbn quantize` PaddleOCR det 640×640, 8 batches: time', s(q.wall), `ORT quantize_static ${s(o.wall)}`, x(q.wall / o.wall), '≤ ORT quantize_static', q.wall <= o.wall);
  row('`mbn quantize`: peak RSS', mb(q.rss), `ORT quantize_static ${mb(o.rss)}`, x(q.rss / o.rss), '< 2 GB', q.rss < 2e9);
} else {
  row('`mbn quantize` vs ORT quantize_static', `skipped: ${VENV_PY} has no onnxruntime.quantization (scripts/setup-venv.sh)`, '', '', '', undefined);
}

if (results.vitChromium) {
  const page = results.vitPageSize;
  row('`mbn analyze vit_b_16.onnx --format html`: page size, time', `${mb(page)}, ${s(results.vitHtml.wall)}`, '', '', '< 15 MB', page < 15e6);
  row('headless Chromium opens the ViT-B/16 page, graph laid out', `${s(results.vitChromium.wall)}${results.vitLaidOut ? '' : ' (**graph not laid out**)'}`, `empty page ${s(results.chromiumBlank.wall)}`, x(results.vitChromium.wall / results.chromiumBlank.wall), '≤ 60 s (aim 5 s)', results.vitLaidOut && results.vitChromium.wall <= 60);
} else {
  row('ViT-B/16 graph view', 'skipped: needs torch + torchvision in /usr/bin/python3 and /usr/bin/chromium', '', '', '', undefined);
}
const cpu = /model name\s*:\s*(.*)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? cpus()[0]?.model ?? '?';
const machine = [
  `- machine: ${cpu}, ${cpus().length} cores, ${(Number(execFileSync('sh', ['-c', "awk '/MemTotal/ {print $2}' /proc/meminfo"], { encoding: 'utf8' })) / 1e6).toFixed(1)} GB RAM; node ${process.version}; onnxruntime-node ${benchJson.runtime.version}`,
  `- load average (1/5/15 min): ${loadStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadEnd.map((l) => l.toFixed(2)).join(' ')} at end`,
  `- vgg16.onnx: ${mb(vggSize)}, ${readFileSync(vggSourceFile, 'utf8').trim()}; separated: ${mb(sepSize)}`,
  `- whole processes, median of ${RUNS} runs (15 for the start-up group, ${MILLION_RUNS} for the 1M-node chain) after one warm-up run each (page cache warm), comparable commands interleaved; RSS: ${TIME ? '/usr/bin/time %M' : '/proc VmHWM polling'}; outputs deleted before each separate/cp run`,
  `- separate --calibrate: median of ${CAL_RUNS} runs (each about 20 s), --dry-run (refit of 6 convs, output checks of the SVD and the calibrated rewrite on the 2 held-back batches), 1 ORT thread; the plain pass loads the model once and runs the 8 batches`,
  `- mbn bench: ${benchRuns} timed runs after 2 warm-up runs, 1 intra-op thread, fixtures/graph-only/conv_mobilenet_v1.onnx with synthetic weights (src/bench/models.ts) and its \`mbn separate\` output, 1x3x224x224`,
];
if (staleBundle) machine.push('- **warning**: dist/cli/main.js was rebuilt by another process during the run, so some `mbn` runs used the ES modules instead of the bundle; run again');
const table = [
  '| measure | value | reference | ratio | target | ok |',
  '|---|---|---|---|---|---|',
  ...rows,
];
const md = [`# mbn benchmarks (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`, '', ...machine, '', ...table, ''].join('\n');
writeFileSync(join(out, 'results.md'), md);
writeFileSync(join(out, 'results.json'), JSON.stringify({ runs: RUNS, loadStart, loadEnd, results, bench: benchJson }, null, 2));
process.stdout.write(`${md}\nwritten to ${rel(join(out, 'results.md'))}\n`);
