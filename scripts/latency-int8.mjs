#!/usr/bin/env node
// node scripts/latency-int8.mjs [--rounds N] [--quick] [--fastest] [--check]   (npm run bench:latency-int8)
//
// Predicted (mbn analyze --device, with a profile from mbn calibrate run first) against measured (mbn bench, 1
// thread) latency of int8 models, beside their float originals: ResNet-18 and MobileNetV2 (torchvision, random
// weights, BatchNorm statistics drawn so that folded biases differ, exported with /usr/bin/python3) and the PP-OCR
// fixtures, each quantized by ONNX Runtime's own quantizer (/opt/mbn-venv/bin/python): quantize_static in QDQ form
// (per-channel int8 weights, uint8 activations), in QOperator form (QLinearConv, uint8 weights), and quantize_dynamic
// (ConvInteger / MatMulInteger). Prints a markdown table (each model's median over rounds, with the spread), the
// int8/float ratio of ResNet-18 predicted against measured, and the load average: on a shared machine the figures
// move with it. The same models quantized by mbn quantize itself, every layer int8 and with --device (the layers the
// latency model predicts slower in int8 kept float). --check: every int8 model within 25% and the ResNet-18 ratios
// within 20% (the bounds), and each --device choice no slower in ORT than every layer int8 (5% noise).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench-out', 'latency-int8');
const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) || 3 : 3;
const quick = args.includes('--quick');
const node = process.execPath;
const mbnBin = join(root, 'bin/mbn.js');
const log = (t) => process.stderr.write(`${t}\n`);
const mbn = (argv) => execFileSync(node, [mbnBin, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
const VENV = process.env.MBN_VENV_PYTHON ?? '/opt/mbn-venv/bin/python';
const TORCH = '/usr/bin/python3';
mkdirSync(out, { recursive: true });

const python = (exe, script, argv = []) => {
  const r = spawnSync(exe, ['-c', script, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${exe} failed: ${r.stderr.split('\n').filter(Boolean).slice(-1)[0]}`);
  return r.stdout;
};
if (!existsSync(VENV) || spawnSync(VENV, ['-c', 'import onnxruntime.quantization'], { encoding: 'utf8' }).status !== 0) {
  log(`skipping: ${VENV} cannot import onnxruntime.quantization (run scripts/setup-venv.sh)`);
  process.exit(0);
}

const EXPORT = `
import sys, torch, torchvision
torch.manual_seed(0)
name, path = sys.argv[1], sys.argv[2]
m = getattr(torchvision.models, name)(weights=None).eval()
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        n = mod.num_features
        mod.weight.data = 0.5 + torch.rand(n); mod.bias.data = 0.1 * torch.randn(n)
        mod.running_mean = 0.1 * torch.randn(n); mod.running_var = 0.5 + torch.rand(n)
torch.onnx.export(m, torch.randn(1, 3, 224, 224), path, opset_version=13, input_names=['input'], output_names=['logits'])
`;
const QUANTIZE = `
import sys, numpy as np, onnx
from onnx import version_converter
from onnxruntime.quantization import quantize_static, quantize_dynamic, QuantFormat, QuantType, CalibrationDataReader
src, stem, form, dims = sys.argv[1], sys.argv[2], sys.argv[3], [int(d) for d in sys.argv[4].split('x')]
m = onnx.load(src)
name = m.graph.input[0].name
# Weights held in Constant nodes (paddle2onnx's PP-OCR) become initializers: ORT's quantizer quantizes only those as
# weights (quantize_dynamic refuses the rest; quantize_static would quantize them as uint8 activations).
keep = []
for n in m.graph.node:
    if n.op_type == 'Constant' and len(n.attribute) == 1 and n.attribute[0].name == 'value':
        t = onnx.TensorProto(); t.CopyFrom(n.attribute[0].t); t.name = n.output[0]; m.graph.initializer.append(t)
    else:
        keep.append(n)
del m.graph.node[:]
m.graph.node.extend(keep)
# Per-channel weights need DequantizeLinear's axis: opset 13 or later (PP-OCR cls is opset 9, det 11).
if next(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')) < 13:
    m = version_converter.convert_version(m, 13)
src = stem + '.source.onnx'
onnx.save(m, src)
class R(CalibrationDataReader):
    def __init__(self): self.d = iter([{name: np.random.default_rng(i).standard_normal(dims).astype(np.float32)} for i in range(4)])
    def get_next(self): return next(self.d, None)
if form == 'qdq':
    quantize_static(src, stem, R(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
elif form == 'qop':
    quantize_static(src, stem, R(), quant_format=QuantFormat.QOperator, per_channel=False, activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
else:
    quantize_dynamic(src, stem, weight_type=QuantType.QUInt8)
`;

// name, float model, input name:dims, quantized forms
const models = [];
const torchOk = existsSync(TORCH) && spawnSync(TORCH, ['-c', 'import torchvision'], { encoding: 'utf8' }).status === 0;
if (!torchOk) log(`skipping the torchvision models: ${TORCH} cannot import torchvision`);
for (const name of torchOk ? (quick ? ['resnet18'] : ['resnet18', 'mobilenet_v2']) : []) {
  const path = join(out, `${name}.onnx`);
  if (!existsSync(path)) {
    log(`exporting ${name}…`);
    python(TORCH, EXPORT, [name, path]);
  }
  models.push({ name, path, input: 'input:1x3x224x224', forms: ['qdq', 'qop', 'dyn'] });
}
// BlazeFace (tf2onnx, NHWC; the held-out set's, scripts/fetch-heldout.mjs) where it has been fetched.
const blazeface = join(process.env.MBN_HELDOUT ?? '/work/heldout', 'models', 'blazeface_front_128.onnx');
if (!quick && existsSync(blazeface)) models.push({ name: 'blazeface_front_128', path: blazeface, input: null, forms: ['qdq'] });
if (!quick) {
  models.push({ name: 'ppocr_mobile_v2_cls', path: join(root, 'fixtures/real/ppocr_mobile_v2_cls.onnx'), input: 'x:1x3x48x192', forms: ['qdq', 'dyn'] });
  models.push({ name: 'ppocr_v4_det', path: join(root, 'fixtures/real/ppocr_v4_det.onnx'), input: 'x:1x3x320x320', forms: ['qdq', 'dyn'] });
}
const cases = [];
for (const m of models) {
  cases.push({ model: m.name, form: 'float', path: m.path, input: m.input });
  for (const form of m.forms) {
    const path = join(out, `${m.name}.${form}.onnx`);
    if (!existsSync(path)) {
      log(`quantizing ${m.name} (${form})…`);
      python(VENV, QUANTIZE, [m.path, path, form, m.input ? m.input.split(':')[1] : '1x128x128x3']);
    }
    cases.push({ model: m.name, form, path, input: m.input });
  }
}

const load0 = loadavg()[0];
log('calibrating…');
const profile = join(out, 'profile.json');
mbn(['calibrate', '-o', profile, '--force']);
const inputArgs = (c) => (c.input ? ['--input', c.input] : []);
// mbn quantize's own QDQ models (random:8 calibration): every layer int8 ('mbn'), and with --device the profile just
// calibrated ('mbn-device': the layers whose int8 form the latency model predicts slower kept float).
const keptFloat = new Map();
for (const m of models) {
  for (const form of ['mbn', 'mbn-device']) {
    const path = join(out, `${m.name}.${form}.onnx`);
    log(`mbn quantize ${m.name} (${form})…`);
    const j = JSON.parse(mbn(['quantize', m.path, '-o', path, '--force', '--format', 'json', '--no-measure', ...inputArgs(m), ...(form === 'mbn-device' ? ['--device', profile] : [])]));
    if (form === 'mbn-device') keptFloat.set(m.name, j.latency.keptFloat);
    cases.push({ model: m.name, form, path, input: m.input });
  }
}
const predict = (c) => JSON.parse(mbn(['analyze', c.path, ...inputArgs(c), '--device', profile, '--format', 'json'])).totals.latencyMs;
const measure = (c) => JSON.parse(mbn(['bench', c.path, ...inputArgs(c), '--format', 'json'])).models[0].latencyMs;
for (const c of cases) {
  c.predicted = predict(c);
  c.measured = [];
  c.fastest = Infinity;
}
const loads = [load0];
for (let round = 1; round <= ROUNDS; round++) {
  log(`measuring, round ${round} of ${ROUNDS}…`);
  for (const c of cases) {
    const l = measure(c);
    c.measured.push(l.median);
    c.fastest = Math.min(c.fastest, l.min);
  }
  loads.push(loadavg()[0]);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const pct = (e) => `${e >= 0 ? '+' : ''}${(100 * e).toFixed(1)}%`;
const FORMS = { mbn: 'QDQ (mbn quantize, every layer int8)', 'mbn-device': 'QDQ (mbn quantize --device: slower layers kept float)', float: 'float32', qdq: 'QDQ (quantize_static, per-channel int8 weights)', qop: 'QOperator (QLinearConv, uint8 weights)', dyn: 'dynamic (ConvInteger / MatMulInteger)' };
// Against the lowest of the rounds' medians (each round's median is what mbn bench reports, and what calibrate
// keeps of each micro-benchmark; the lowest round is the least disturbed), as the zoo and held-out benches; with
// --fastest, against the fastest run (calibrate kept the fastest run until session 10).
const byFastest = args.includes('--fastest');
const lines = ['| model | form | predicted | measured: median of rounds (spread) | fastest run | error |', '|---|---|---:|---:|---:|---:|'];
const int8Errors = [];
for (const c of cases) {
  c.median = median(c.measured);
  c.reference = byFastest ? c.fastest : Math.min(...c.measured);
  const e = c.predicted / c.reference - 1;
  if (c.form !== 'float') int8Errors.push({ c, e });
  lines.push(`| ${c.model} | ${FORMS[c.form]} | ${fmt(c.predicted)} ms | ${fmt(c.median)} ms (${fmt(Math.min(...c.measured))}–${fmt(Math.max(...c.measured))}) | ${fmt(c.fastest)} ms | ${pct(e)} |`);
}
lines.push('');
const ratios = [];
for (const m of models) {
  const float = cases.find((c) => c.model === m.name && c.form === 'float');
  for (const c of cases.filter((x) => x.model === m.name && x.form !== 'float')) {
    const p = c.predicted / float.predicted;
    const r = c.reference / float.reference;
    if (m.name === 'resnet18') ratios.push({ form: c.form, p, r, e: p / r - 1 });
    lines.push(`- ${m.name} ${c.form}/float: predicted ${p.toFixed(2)}×, measured ${r.toFixed(2)}× (${pct(p / r - 1)})`);
  }
}
lines.push('');
// The --device choice against every layer int8, measured: where the latency model kept layers float, the model it
// wrote must not run slower in ONNX Runtime than the all-int8 one (5% for timing noise).
const choices = [];
for (const m of models) {
  const all = cases.find((c) => c.model === m.name && c.form === 'mbn');
  const kept = cases.find((c) => c.model === m.name && c.form === 'mbn-device');
  if (!all || !kept || !keptFloat.get(m.name)) continue;
  choices.push({ model: m.name, kept: keptFloat.get(m.name), all: all.reference, chosen: kept.reference });
  lines.push(`- ${m.name}: mbn quantize --device kept ${keptFloat.get(m.name)} layers float: measured ${fmt(kept.reference)} ms against ${fmt(all.reference)} ms with every layer int8 (predicted ${fmt(kept.predicted)} against ${fmt(all.predicted)})`);
}
lines.push('');
const abs = int8Errors.map((x) => Math.abs(x.e));
lines.push(`${int8Errors.length} int8 models: median |error| ${(100 * median(abs)).toFixed(1)}%, worst ${(100 * Math.max(...abs)).toFixed(1)}% (${int8Errors.filter((x) => Math.abs(x.e) <= 0.25).length} within 25%).`);
lines.push(`Machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length} logical CPUs; 1-minute load average ${loads.map((l) => l.toFixed(1)).join(' → ')} (start, after each round); measured: mbn bench (at least 20 timed runs), ${ROUNDS} rounds; errors against the ${byFastest ? 'fastest run' : 'lowest round median'}.`);
process.stdout.write(lines.join('\n') + '\n');
writeFileSync(join(out, 'results.json'), JSON.stringify({ cases, ratios, choices, loads }, null, 2));

if (args.includes('--check')) {
  const failures = [];
  for (const { c, e } of int8Errors) if (Math.abs(e) > 0.25) failures.push(`${c.model} ${c.form}: ${pct(e)} (bound 25%)`);
  for (const r of ratios) if (Math.abs(r.e) > 0.2) failures.push(`resnet18 ${r.form}/float ratio: ${pct(r.e)} (bound 20%)`);
  for (const x of choices) if (x.chosen > x.all * 1.05) failures.push(`${x.model}: the --device choice (${x.kept} layers float) runs ${fmt(x.chosen)} ms, slower than every layer int8 (${fmt(x.all)} ms)`);
  for (const f of failures) log(`int8 latency accuracy: ${f}`);
  process.exitCode = failures.length ? 1 : 0;
}
