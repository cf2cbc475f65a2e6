import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adviseModel } from '../src/advise/index.js';
import { analyzeModel, buildReport } from '../src/cost/analyze.js';
import { layerLinks } from '../src/latency/graph.js';
import { opClass } from '../src/latency/model.js';
import { readModel } from '../src/onnx/read.js';
import { type SeparateOptions, planSeparation } from '../src/rewrite/plan.js';
import { skipText } from '../src/report/separate-report.js';
import { inferModel } from '../src/shape/infer.js';
import type { ConvTraits, OpTraits } from '../src/ops/define.js';
import { type ModelSpec, buildAndRead, inferSpec } from './helpers/build-model.js';
import { fixture } from './helpers/cli.js';
import { fixText } from '../src/report/messages/advise.js';

const F = 1;
const UINT8 = 2;
const INT8 = 3;
const INT32 = 6;

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const ones = (dims: number[]) => new Array(dims.reduce((a, b) => a * b, 1)).fill(1);

function traitsByName(spec: ModelSpec, options = {}): Record<string, OpTraits | null> {
  return Object.fromEntries(inferSpec(spec, options).layers.map((l) => [l.name, l.traits]));
}

function conv(t: OpTraits | null): ConvTraits {
  if (t?.kind !== 'conv') throw new Error(`not a conv: ${JSON.stringify(t)}`);
  return t;
}

// Float convs of every shape the definitions tell apart, a transposed conv, and matrix products.
const floatModel: ModelSpec = {
  inputs: [{ name: 'x', dtype: F, shape: [1, 8, 10, 10] }],
  outputs: ['std', 'dw', 'pwg', 'dw1', 'up', 'g', 'm'],
  initializers: [
    { name: 'w_std', dtype: F, dims: [16, 8, 3, 3], values: ones([16, 8, 3, 3]) },
    { name: 'w_dw', dtype: F, dims: [16, 1, 3, 3], values: ones([16, 1, 3, 3]) },
    { name: 'b_dw', dtype: F, dims: [16], values: ones([16]) },
    { name: 'w_pwg', dtype: F, dims: [8, 4, 1, 1], values: ones([8, 4, 1, 1]) },
    { name: 'w_dw1', dtype: F, dims: [8, 1, 1, 1], values: ones([8, 1, 1, 1]) },
    { name: 'w_up', dtype: F, dims: [8, 2, 2, 2], values: ones([8, 2, 2, 2]) },
    { name: 'a', dtype: F, dims: [3, 4], values: ones([3, 4]) },
    { name: 'b', dtype: F, dims: [5, 4], values: ones([5, 4]) },
    { name: 'c', dtype: F, dims: [5], values: ones([5]) },
    { name: 'k', dtype: F, dims: [4, 6], values: ones([4, 6]) },
  ],
  nodes: [
    { op: 'Conv', inputs: ['x', 'w_std'], outputs: ['std'], name: 'std', attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
    { op: 'Conv', inputs: ['x', 'w_dw', 'b_dw'], outputs: ['dw'], name: 'dw', attrs: { group: 8, auto_pad: 'SAME_UPPER' } },
    { op: 'Conv', inputs: ['x', 'w_pwg'], outputs: ['pwg'], name: 'pwg', attrs: { group: 2 } },
    { op: 'Conv', inputs: ['x', 'w_dw1'], outputs: ['dw1'], name: 'dw1', attrs: { group: 8, dilations: [1, 1] } },
    { op: 'ConvTranspose', inputs: ['x', 'w_up'], outputs: ['up'], name: 'up', attrs: { group: 2, strides: [2, 2] } },
    { op: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['g'], name: 'gemm', attrs: { transB: 1 } },
    { op: 'MatMul', inputs: ['a', 'k'], outputs: ['m'], name: 'matmul' },
  ],
};

describe('op traits: what a node is, from its rule', () => {
  it('float convs: geometry, the one depthwise and pointwise definition, positions', () => {
    const t = traitsByName(floatModel);
    expect(t.std).toEqual({
      kind: 'conv',
      form: 'float',
      transposed: false,
      geometry: {
        inChannels: 8, outChannels: 16, group: 1, kernel: [3, 3], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1],
        autoPad: 'NOTSET', depthwise: false, pointwise: false,
      },
      input: 0,
      weight: 1,
      bias: null,
      weightDtype: F,
      dequantizedWeight: null,
      batch: 1,
      // (10 + 2 − 3)/2 + 1 = 5
      outSpatial: [5, 5],
    });
    // One input channel per group (8 groups of 1), two filters each: depthwise with a depth multiplier of 2.
    expect(conv(t.dw).geometry).toMatchObject({ inChannels: 8, outChannels: 16, group: 8, depthwise: true, pointwise: false, autoPad: 'SAME_UPPER', pads: [0, 0, 0, 0] });
    expect(conv(t.dw)).toMatchObject({ bias: 2, outSpatial: [10, 10] });
    // A grouped 1×1 (ShuffleNet's) is pointwise; a 1×1 depthwise conv is depthwise, not pointwise.
    expect(conv(t.pwg).geometry).toMatchObject({ inChannels: 8, outChannels: 8, group: 2, depthwise: false, pointwise: true });
    expect(conv(t.dw1).geometry).toMatchObject({ inChannels: 8, outChannels: 8, group: 8, depthwise: true, pointwise: false });
    // ConvTranspose's weight is [C_in, C_out/group, k…]: 8 in, 2·2 = 4 out; (10 − 1)·2 + 2 = 20.
    expect(conv(t.up)).toMatchObject({ transposed: true, form: 'float', outSpatial: [20, 20] });
    expect(conv(t.up).geometry).toMatchObject({ inChannels: 8, outChannels: 4, group: 2, kernel: [2, 2], depthwise: false, pointwise: false });
    expect(t.gemm).toEqual({ kind: 'matmul', form: 'float', operands: [0, 1], bias: 2, gemm: true, general: false });
    expect(t.matmul).toEqual({ kind: 'matmul', form: 'float', operands: [0, 1], bias: null, gemm: false, general: false });
  });

  it('a conv whose input shape is unknown still has its geometry (from the weight alone), but no output size', () => {
    const spec: ModelSpec = {
      ...floatModel,
      inputs: [{ name: 'x', dtype: F, shape: null }],
    };
    const t = conv(traitsByName(spec).std);
    expect(t.geometry).toMatchObject({ inChannels: 8, outChannels: 16, group: 1, kernel: [3, 3] });
    expect(t.batch).toBeNull();
    expect(t.outSpatial).toBeNull();
  });

  it('a conv whose weight and attributes disagree has no traits', () => {
    const spec: ModelSpec = {
      ...floatModel,
      outputs: ['std'],
      nodes: [{ op: 'Conv', inputs: ['x', 'w_std'], outputs: ['std'], name: 'std', attrs: { kernel_shape: [5, 5] } }],
    };
    expect(traitsByName(spec).std).toBeNull();
  });

  it('layers carry their kind into the report (null for other ops)', () => {
    const report = analyzeModel(buildAndRead(floatModel));
    expect(report.layers.map((l) => [l.name, l.kind])).toEqual([
      ['std', 'conv'], ['dw', 'conv'], ['pwg', 'conv'], ['dw1', 'conv'], ['up', 'conv'], ['gemm', 'matmul'], ['matmul', 'matmul'],
    ]);
  });
});

/**
 * Quantized convs in all three ONNX forms, on one input: a QLinearConv (uint8 activations, int8 weights with an int32
 * bias), a ConvInteger (uint8 weights, no bias) and a QDQ conv (a float Conv whose weight is DequantizeLinear(int8)).
 */
export const quantizedConvs: ModelSpec = {
  inputs: [{ name: 'x', dtype: F, shape: [1, 2, 5, 5] }],
  outputs: ['y1', 'y2', 'y3'],
  initializers: [
    { name: 's', dtype: F, dims: [], values: [0.05] },
    { name: 'zp', dtype: UINT8, dims: [], values: [128] },
    { name: 'w1', dtype: INT8, dims: [4, 2, 3, 3], values: seq(72, (i) => (i % 11) - 5) },
    { name: 'w1s', dtype: F, dims: [4], values: [0.01, 0.02, 0.03, 0.04] },
    { name: 'w1zp', dtype: INT8, dims: [4], values: [0, 0, 0, 0] },
    { name: 'ys', dtype: F, dims: [], values: [0.1] },
    { name: 'yzp', dtype: UINT8, dims: [], values: [128] },
    { name: 'b1', dtype: INT32, dims: [4], values: [1, -2, 3, -4] },
    { name: 'w2', dtype: UINT8, dims: [3, 2, 3, 3], values: seq(54, (i) => 120 + (i % 17)) },
    { name: 'w2zp', dtype: UINT8, dims: [], values: [128] },
    { name: 'w3', dtype: INT8, dims: [8, 2, 3, 3], values: seq(144, (i) => (i % 13) - 6) },
    { name: 'w3s', dtype: F, dims: [8], values: seq(8, (i) => 0.01 * (i + 1)) },
    { name: 'w3zp', dtype: INT8, dims: [8], values: seq(8, () => 0) },
    { name: 'b3', dtype: F, dims: [8], values: seq(8, (i) => i / 8) },
  ],
  nodes: [
    { op: 'QuantizeLinear', inputs: ['x', 's', 'zp'], outputs: ['q'], name: 'quant' },
    { op: 'QLinearConv', inputs: ['q', 's', 'zp', 'w1', 'w1s', 'w1zp', 'ys', 'yzp', 'b1'], outputs: ['y1'], name: 'qlinearconv' },
    { op: 'ConvInteger', inputs: ['q', 'w2', 'zp', 'w2zp'], outputs: ['y2'], name: 'convinteger' },
    { op: 'DequantizeLinear', inputs: ['w3', 'w3s', 'w3zp'], outputs: ['wd'], name: 'dequant', attrs: { axis: 0 } },
    { op: 'Conv', inputs: ['x', 'wd', 'b3'], outputs: ['y3'], name: 'qdqconv' },
  ],
};

describe('op traits of quantized convs', () => {
  it('QLinearConv, ConvInteger and a QDQ Conv are convs, each with its form, positions and stored weight type', () => {
    const t = traitsByName(quantizedConvs);
    expect(t.quant).toEqual({ kind: 'quantize', quantized: UINT8 });
    expect(t.dequant).toEqual({ kind: 'dequantize', quantized: INT8 });
    expect(conv(t.qlinearconv)).toMatchObject({ form: 'qlinear', input: 0, weight: 3, bias: 8, weightDtype: INT8, dequantizedWeight: null, outSpatial: [3, 3] });
    expect(conv(t.qlinearconv).geometry).toMatchObject({ inChannels: 2, outChannels: 4, group: 1, kernel: [3, 3], depthwise: false, pointwise: false });
    expect(conv(t.convinteger)).toMatchObject({ form: 'integer', input: 0, weight: 1, bias: null, weightDtype: UINT8, outSpatial: [3, 3] });
    expect(conv(t.convinteger).geometry).toMatchObject({ inChannels: 2, outChannels: 3 });
    expect(conv(t.qdqconv)).toMatchObject({ form: 'qdq', input: 0, weight: 1, bias: 2, weightDtype: INT8, dequantizedWeight: 'wd', outSpatial: [3, 3] });
    expect(conv(t.qdqconv).geometry).toMatchObject({ inChannels: 2, outChannels: 8 });
  });
});

describe('quantized convs get separable figures, advice, latency classes and a clear refusal from the rewrite', () => {
  it('separable figures of a QLinearConv, a ConvInteger and a QDQ conv, worked out by hand', () => {
    const report = analyzeModel(buildAndRead(quantizedConvs));
    const sep = Object.fromEntries(report.layers.filter((l) => l.separable).map((l) => [l.name, l.separable]));
    // Each on a 5×5 input, 3×3 kernel, no pads: a 3×3 map, 9 pixels. MACs = 9·N·M·9; after = 9·M·9 + 9·N·M.
    expect(sep.qlinearconv).toEqual({ M: 2, N: 4, group: 1, kernel: [3, 3], featureMap: [3, 3], multiplier: 1, macs: 648, params: 4 * 2 * 9 + 4, macsAfter: 162 + 72, paramsAfter: 18 + 8 + 4, reduction: 1 / 4 + 1 / 9 });
    expect(sep.convinteger).toEqual({ M: 2, N: 3, group: 1, kernel: [3, 3], featureMap: [3, 3], multiplier: 1, macs: 486, params: 54, macsAfter: 162 + 54, paramsAfter: 18 + 6, reduction: 1 / 3 + 1 / 9 });
    expect(sep.qdqconv).toEqual({ M: 2, N: 8, group: 1, kernel: [3, 3], featureMap: [3, 3], multiplier: 1, macs: 1296, params: 144 + 8, macsAfter: 162 + 144, paramsAfter: 18 + 16 + 8, reduction: 1 / 8 + 1 / 9 });
    expect(report.totals).toMatchObject({ macs: 648 + 486 + 1296, separableLayers: 3, macsIfSeparated: 234 + 216 + 306 });
    // Params: w1 72 + b1 4, w2 54, w3 144 (read through its DequantizeLinear) + b3 8 = 282. Separated: the three
    // integer weights go, 26 + 24 + 34 new weights come, the biases stay: 12 + 84 = 96.
    expect(report.totals.params).toBe(282);
    expect(report.totals.paramsIfSeparated).toBe(96);
  });

  // ONNX Runtime's own quantizer on tiny_cnn (fixtures/make_quantized.py): the three convs are those of the float
  // model, 3→8 on 32×32 (bias), 8→16 stride 2 (bias), 16→16 on 8×8 (no bias), whatever the form.
  const FLOAT = {
    conv1: { M: 3, N: 8, macs: 1024 * 8 * 3 * 9, macsAfter: 1024 * 3 * 9 + 1024 * 8 * 3, params: 8 * 3 * 9 + 8, paramsAfter: 27 + 24 + 8 },
    conv2: { M: 8, N: 16, macs: 256 * 16 * 8 * 9, macsAfter: 256 * 8 * 9 + 256 * 16 * 8, params: 16 * 8 * 9 + 16, paramsAfter: 72 + 128 + 16 },
    conv3: { M: 16, N: 16, macs: 64 * 16 * 16 * 9, macsAfter: 64 * 16 * 9 + 64 * 16 * 16, params: 16 * 16 * 9, paramsAfter: 144 + 256 },
  };
  const noBias = (f: (typeof FLOAT)['conv1'], n: number) => ({ ...f, params: f.params - n, paramsAfter: f.paramsAfter - n });

  it.each([
    ['tiny_cnn_qdq', 'Conv', FLOAT],
    ['tiny_cnn_qoperator', 'QLinearConv', FLOAT],
    // ConvInteger has no bias input: the dynamic quantizer adds each bias after it.
    ['tiny_cnn_dynamic', 'ConvInteger', { conv1: noBias(FLOAT.conv1, 8), conv2: noBias(FLOAT.conv2, 16), conv3: FLOAT.conv3 }],
  ] as const)('%s: each %s has the float conv separable figures', (name, op, expected) => {
    const report = analyzeModel(readModel(fixture(`quantized/${name}.onnx`)));
    const convs = report.layers.filter((l) => l.kind === 'conv');
    expect(convs.map((l) => l.op)).toEqual([op, op, op]);
    const got = Object.fromEntries(convs.map((l) => [l.name.split('/')[1], l.separable && { M: l.separable.M, N: l.separable.N, macs: l.separable.macs, macsAfter: l.separable.macsAfter, params: l.separable.params, paramsAfter: l.separable.paramsAfter }]));
    expect(got).toEqual(expected);
    expect(report.totals.separableLayers).toBe(3);
    expect(report.totals.macsIfSeparated).toBe(report.totals.macs - (663552 - (52224 + 51200 + 25600)));
  });

  it('advice on a quantized conv says to separate the float model; latency runs it at a conv rate; the rewrite says why not', () => {
    const model = readModel(fixture('quantized/tiny_cnn_qoperator.onnx'));
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const links = layerLinks(inferred);
    const classes = report.layers.map((l, i) => [l.op, opClass(l, links[i])]).filter(([op]) => op === 'QLinearConv');
    expect(classes).toEqual([['QLinearConv', 'conv'], ['QLinearConv', 'conv'], ['QLinearConv', 'conv']]);
    const findings = adviseModel(model).findings.filter((f) => f.rule === 'separable-conv');
    expect(findings.map((f) => f.layers[0])).toEqual(['/conv2/Conv_quant', '/conv3/Conv_quant']);
    expect(findings[0].fix.text).toMatchObject({ code: 'separate-conv', how: 'quantized', layer: '/conv2/Conv_quant', macsSaved: 243712 });
    expect(fixText(findings[0].fix.text)).toMatch(/^separate it in the float model before quantizing \(mbn separate rewrites float convs only\) and fine-tune: saves 243712 MACs/);
    expect(findings[0].fix.macsSaved).toBe(294912 - 51200);
    for (const [name, reason, text] of [
      ['tiny_cnn_qoperator', { code: 'quantized-conv', opType: 'QLinearConv' }, 'quantized QLinearConv (dequantize, separate, then quantize again)'],
      ['tiny_cnn_dynamic', { code: 'quantized-conv', opType: 'ConvInteger' }, 'quantized ConvInteger (dequantize, separate, then quantize again)'],
      ['tiny_cnn_qdq', { code: 'qdq-conv' }, 'QDQ conv: its weight is dequantized at run time (separate the float model, then quantize it)'],
    ] as const) {
      const plan = planSeparation(readModel(fixture(`quantized/${name}.onnx`)), { ...SEPARATE_DEFAULTS });
      expect(plan.chosen).toEqual([]);
      expect(plan.layers.map((c) => c.skipped)).toEqual([reason, reason, reason]);
      expect(plan.layers.map((c) => skipText(c.skipped!))).toEqual([text, text, text]);
    }
  });
});

const SEPARATE_DEFAULTS: SeparateOptions = {
  include: [], exclude: [], minReduction: null, maxError: null, targetMacs: null, multiplier: 1, allowCostlier: false, init: 'svd', seed: 0,
  matches: (name, pattern) => name === pattern,
};

/** Conv op names: outside src/ops, nothing compares an op type with them (ask the layer's traits instead). */
const CONV_NAMES = ['Conv', 'ConvTranspose', 'QLinearConv', 'ConvInteger', 'FusedConv', 'NhwcConv', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'TRANSPOSE_CONV', 'CONV_3D'];
/**
 * Files that may: they read ONNX Runtime's own optimized graph and profiler trace, where 'Conv' names one of ORT's
 * kernels (com.microsoft.nchwc::Conv), not a node of a model mbn analyzes.
 */
const EXEMPT = new Set(['src/latency/measure.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Lines comparing something with a conv name: `=== 'Conv'`, `'Conv' !==`, `case 'Conv':`, a Set or list of names. */
export function convNameComparisons(text: string): string[] {
  const names = CONV_NAMES.join('|');
  const quoted = `['"\`](?:${names})['"\`]`;
  const patterns = [
    new RegExp(`[!=]==?\\s*${quoted}`),
    new RegExp(`${quoted}\\s*[!=]==?`),
    new RegExp(`case\\s+${quoted}\\s*:`),
    new RegExp(`new Set\\(\\[[^\\]]*${quoted}`),
    new RegExp(`\\[[^\\]]*${quoted}[^\\]]*\\]\\.(?:includes|indexOf|some)\\(`),
    new RegExp(`(?:includes|has)\\(\\s*${quoted}\\s*\\)`),
  ];
  return text.split('\n').filter((line) => patterns.some((p) => p.test(line)));
}

describe('convs are asked, not named', () => {
  it('the check catches each way of naming a conv', () => {
    for (const line of [
      "if (node.opType === 'Conv') {",
      "if ('QLinearConv' !== op) {",
      "  case 'ConvInteger':",
      "const CONV_OPS = new Set(['Conv', 'ConvTranspose']);",
      "if (['Conv', 'Gemm'].includes(l.op)) {",
      "if (ops.has('CONV_2D')) {",
      'l.op == "DEPTHWISE_CONV_2D"',
    ]) {
      expect(convNameComparisons(line), line).toEqual([line]);
    }
    // Building a node is no comparison.
    expect(convNameComparisons("nodes.push(node('Conv', [x, w], [y], name));\n  opType: 'Conv',")).toEqual([]);
  });

  it('no file outside src/ops compares an op type with a conv name', () => {
    const root = join(__dirname, '..');
    const offenders: string[] = [];
    for (const path of sourceFiles(join(root, 'src'))) {
      const file = relative(root, path).split('\\').join('/');
      if (file.startsWith('src/ops/') || EXEMPT.has(file)) continue;
      for (const line of convNameComparisons(readFileSync(path, 'utf8'))) offenders.push(`${file}: ${line.trim()}`);
    }
    expect(offenders).toEqual([]);
  });
});
