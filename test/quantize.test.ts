import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/calibrate/npy.js';
import type { Model } from '../src/ir/types.js';
import { readModel, readModelBytes } from '../src/onnx/read.js';
import { readTensorBytes } from '../src/onnx/tensor-data.js';
import { emitQuantization } from '../src/quantize/emit.js';
import { equalize } from '../src/quantize/equalize.js';
import { foldBatchNorms } from '../src/quantize/fold-bn.js';
import { StreamingHistogram, chooseRange, expectedError, roundHalfEven, uint8Params } from '../src/quantize/histogram.js';
import { biasCorrection, channelMaxAbs, int8Bias, planQuantization, quantizeWeight } from '../src/quantize/plan.js';
import { PieceSource, piecesLength } from '../src/onnx/splice.js';
import { inferModel } from '../src/shape/infer.js';
import { mulberry32 } from '../src/util/random.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt, relativeError } from './helpers/ort.js';
import { checkModel, pythonOnnx } from './helpers/python.js';

const ort = loadOrt();
const needsOrt = ort ? it : it.skip;

function bytesOf(model: Model, pieces: ReturnType<typeof emitQuantization>['pieces']): Uint8Array {
  return new PieceSource(pieces, model.source).view(0, piecesLength(pieces)).slice();
}

async function runModel(model: string | Uint8Array, feeds: Record<string, { dims: number[]; data: Float32Array }>): Promise<Float64Array> {
  const session = await ort!.InferenceSession.create(model as string, { intraOpNumThreads: 1, logSeverityLevel: 4 });
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort!.Tensor('float32', v.data, v.dims)]));
    const out = await session.run(inputs);
    return Float64Array.from(out[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/** Weights with channels of very different ranges (as depthwise layers have), seeded. */
function weights(n: number, perChannel: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => (2 * next() - 1) * 2 ** ((Math.floor(i / perChannel) % 5) - 2));
}

/** x[1,4,8,8] → conv A 3×3 (8) → Relu → depthwise B 3×3 → pointwise C (6) → Clip(0,6) → conv D 1×1 (3) → y. */
function chainModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 4, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 3, 8, 8] }],
    initializers: [
      { name: 'wa', dtype: 1, dims: [8, 4, 3, 3], values: weights(288, 36, 1) },
      { name: 'ba', dtype: 1, dims: [8], values: weights(8, 1, 2) },
      { name: 'wb', dtype: 1, dims: [8, 1, 3, 3], values: weights(72, 9, 3) },
      { name: 'bb', dtype: 1, dims: [8], values: weights(8, 1, 4) },
      { name: 'wc', dtype: 1, dims: [6, 8, 1, 1], values: weights(48, 8, 5) },
      { name: 'wd', dtype: 1, dims: [3, 6, 1, 1], values: weights(18, 6, 6) },
      { name: 'bd', dtype: 1, dims: [3], values: [0.5, -0.25, 0.125] },
    ],
    nodes: [
      { op: 'Conv', name: 'A', inputs: ['x', 'wa', 'ba'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Relu', name: 'relu', inputs: ['a'], outputs: ['ar'] },
      { op: 'Conv', name: 'B', inputs: ['ar', 'wb', 'bb'], outputs: ['b'], attrs: { pads: [1, 1, 1, 1], group: 8 } },
      { op: 'Conv', name: 'C', inputs: ['b', 'wc'], outputs: ['c'] },
      { op: 'Clip', name: 'clip', inputs: ['c'], outputs: ['cc'], attrs: { min: { float: 0 }, max: { float: 6 } } },
      { op: 'Conv', name: 'D', inputs: ['cc', 'wd', 'bd'], outputs: ['y'] },
    ],
    opset: 9,
    irVersion: 4,
  });
}

/** x[1,4,8,8] → conv A 3×3 (4) → Relu → ar; ar → conv B 3×3 → b; Add(b, ar) → Relu → sr → conv C 1×1 (3) → y. */
function residualModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 4, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 3, 8, 8] }],
    initializers: [
      { name: 'wa', dtype: 1, dims: [4, 4, 3, 3], values: weights(144, 36, 7) },
      { name: 'ba', dtype: 1, dims: [4], values: weights(4, 1, 8) },
      { name: 'wb', dtype: 1, dims: [4, 4, 3, 3], values: weights(144, 36, 9) },
      { name: 'wc', dtype: 1, dims: [3, 4, 1, 1], values: weights(12, 4, 10) },
    ],
    nodes: [
      { op: 'Conv', name: 'A', inputs: ['x', 'wa', 'ba'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Relu', name: 'relu_a', inputs: ['a'], outputs: ['ar'] },
      { op: 'Conv', name: 'B', inputs: ['ar', 'wb'], outputs: ['b'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Add', name: 'add', inputs: ['b', 'ar'], outputs: ['s'] },
      { op: 'Relu', name: 'relu_s', inputs: ['s'], outputs: ['sr'] },
      { op: 'Conv', name: 'C', inputs: ['sr', 'wc'], outputs: ['y'] },
    ],
    opset: 13,
    irVersion: 7,
  });
}

function calibrationFolder(dir: string, shape: number[], count: number, seed: number): Float32Array[] {
  mkdirSync(dir, { recursive: true });
  const next = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out: Float32Array[] = [];
  for (let b = 0; b < count; b++) {
    const data = Float32Array.from({ length: n }, () => 2 * next() - 1);
    writeFileSync(join(dir, `${String(b).padStart(2, '0')}.npy`), encodeNpy(shape, data));
    out.push(data);
  }
  return out;
}

function quantizeJson(args: string[]) {
  const r = mbn(['quantize', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('int8 weights, per output channel', () => {
  it('computes scales and values by hand: s = max|w| / 127, round half to even, zero point 0', () => {
    // Channel 0: max 1 → s = 1/127; −0.5·127 = −63.5 → −64 (even). Channel 1: max 2.54 → s = 0.02; 0.254/0.02 = 12.7 → 13.
    const q = quantizeWeight({ dims: [2, 1, 1, 2], data: Float64Array.from([1, -0.5, 0.254, -2.54]) }, 0);
    expect(Array.from(q.scales)).toEqual([1 / 127, 2.54 / 127]);
    expect(Array.from(q.values)).toEqual([127, -64, 13, -127]);
    // Axis 1 (MatMul [K, N]): channel j is column j.
    const m = quantizeWeight({ dims: [2, 2], data: Float64Array.from([0.5, 4, -1, 2]) }, 1);
    expect(Array.from(m.scales)).toEqual([1 / 127, 4 / 127]);
    expect(Array.from(m.values)).toEqual([64, 127, -127, 64]);
    expect([roundHalfEven(2.5), roundHalfEven(-2.5), roundHalfEven(3.5), roundHalfEven(1.2)]).toEqual([2, -2, 4, 1]);
  });

  it('activations: uint8 asymmetric over the range widened to hold 0', () => {
    // [−1, 3]: s = 4/255, z = round(1 / s) = round(63.75) = 64. [2, 5] is widened to [0, 5]: z = 0.
    expect(uint8Params({ lo: -1, hi: 3 })).toEqual({ scale: 4 / 255, zeroPoint: 64 });
    expect(uint8Params({ lo: 2, hi: 5 })).toEqual({ scale: 5 / 255, zeroPoint: 0 });
    expect(uint8Params({ lo: 0, hi: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });
});

describe('streamed histograms and range methods', () => {
  it('gives the same bins fed in pieces as at once, with exact min and max, and widens by merging bins', () => {
    const next = mulberry32(9);
    const values = Float64Array.from({ length: 20000 }, () => (next() - 0.3) * 10);
    const whole = new StreamingHistogram();
    whole.add(values);
    const pieces = new StreamingHistogram();
    // A small first piece fixes a fine grid; the later pieces widen it (merging pairs of bins).
    pieces.add(values.subarray(0, 10).map((v) => v / 100));
    const rest = new StreamingHistogram();
    rest.add(values.subarray(0, 10).map((v) => v / 100));
    for (let i = 0; i < values.length; i += 5000) pieces.add(values.subarray(i, i + 5000)), rest.add(values.subarray(i, i + 5000));
    expect(pieces.count).toBe(20010);
    expect(pieces.min).toBe(Math.min(...values.subarray(0, 10).map((v) => v / 100), ...values));
    expect(pieces.max).toBe(Math.max(...values));
    expect(pieces.bins.length).toBeLessThanOrEqual(4096);
    expect(Array.from(pieces.bins)).toEqual(Array.from(rest.bins));
    // Every value is in the bin its grid says.
    const total = pieces.bins.reduce((a, b) => a + b, 0);
    expect(total).toBe(20010);
    expect(whole.quantile(0.5)).toBeCloseTo(2, 0);
  });

  it('MinMax keeps the extremes, Percentile clips the tails, MSE picks a clip with less expected error than both', () => {
    const next = mulberry32(3);
    const h = new StreamingHistogram();
    // ReLU-like: mostly in [0, 1], a few outliers up to 50.
    const values = Float64Array.from({ length: 100000 }, (_, i) => (i % 10000 === 0 ? 50 * next() + 10 : next()));
    h.add(values);
    const minmax = chooseRange(h, 'minmax');
    expect(minmax).toEqual({ lo: Math.min(...values), hi: Math.max(...values) });
    const pct = chooseRange(h, 'percentile', 99.9);
    expect(pct.lo).toBe(0);
    expect(pct.hi).toBeGreaterThan(0.99);
    expect(pct.hi).toBeLessThan(1.01);
    const mse = chooseRange(h, 'mse');
    expect(mse.hi).toBeLessThan(minmax.hi);
    expect(expectedError(h, mse)).toBeLessThan(expectedError(h, minmax));
    expect(expectedError(h, mse)).toBeLessThan(expectedError(h, pct));
  });
});

describe('cross-layer equalization (DFQ)', () => {
  it('scales a pair through ReLU by s_i = √(r1_i·r2_i) / r2_i, and the float model computes the same', async () => {
    // A: 2 output channels with max |w| 4 and 0.25; B reads them with max |w| 0.5 and 2.
    const bytes = buildModel({
      inputs: [{ name: 'x', shape: [1, 1, 2, 2] }],
      outputs: ['y'],
      initializers: [
        { name: 'wa', dtype: 1, dims: [2, 1, 1, 1], values: [4, -0.25] },
        { name: 'ba', dtype: 1, dims: [2], values: [1, 0.5] },
        { name: 'wb', dtype: 1, dims: [1, 2, 1, 1], values: [-0.5, 2] },
      ],
      nodes: [
        { op: 'Conv', name: 'A', inputs: ['x', 'wa', 'ba'], outputs: ['a'] },
        { op: 'Relu', inputs: ['a'], outputs: ['r'] },
        { op: 'Conv', name: 'B', inputs: ['r', 'wb'], outputs: ['y'] },
      ],
    });
    const model = readModelBytes(bytes);
    const planned = planQuantization(model, inferModel(model), () => null);
    const plan = equalize(planned);
    // The plan given is left as it was (a step returns a new plan).
    expect(planned.layers.map((l) => Array.from(l.weight!.data))).toEqual([[4, -0.25], [-0.5, 2]]);
    expect([Array.from(planned.layers[0].bias!), planned.equalizedPairs, planned.layers[0].equalizedWith]).toEqual([[1, 0.5], [], []]);
    const s = [Math.sqrt(4 * 0.5) / 0.5, Math.sqrt(0.25 * 2) / 2];
    const [a, b] = plan.layers;
    expect(Array.from(a.weight!.data)).toEqual([4 / s[0], -0.25 / s[1]]);
    expect(Array.from(a.bias!)).toEqual([1 / s[0], 0.5 / s[1]]);
    expect(Array.from(b.weight!.data)).toEqual([-0.5 * s[0], 2 * s[1]]);
    // Both ranges are now √(r1·r2): √2 and √0.5.
    expect(Array.from(channelMaxAbs(a.weight!, 0)).map((v) => v.toFixed(12))).toEqual([Math.SQRT2, Math.SQRT1_2].map((v) => v.toFixed(12)));
    expect(plan.equalizedPairs).toEqual([{ first: 'A', second: 'B', through: 'Relu_1', maxLog2Scale: Math.abs(Math.log2(s[1])) }]);
    if (!ort) return;
    const x = { x: { dims: [1, 1, 2, 2], data: Float32Array.from([1, -2, 0.5, 3]) } };
    const equalized = bytesOf(model, emitQuantization(plan, null, { mode: 'float' }).pieces);
    const want = await runModel(bytes, x);
    const got = await runModel(equalized, x);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });

  it('takes depthwise → pointwise directly, skips a pair with Clip (ReLU6) between, and keeps the chain equivalent', async () => {
    const bytes = chainModel();
    const model = readModelBytes(bytes);
    const plan = equalize(planQuantization(model, inferModel(model), () => null));
    expect(plan.equalizedPairs.map((p) => [p.first, p.second, p.through])).toEqual([
      ['A', 'B', 'relu'],
      ['B', 'C', null],
    ]);
    expect(plan.notEqualized).toEqual([{ first: 'C', second: 'D', why: { code: 'not-homogeneous', op: 'Clip' } }]);
    if (!ort) return;
    const next = mulberry32(4);
    const x = { x: { dims: [1, 4, 8, 8], data: Float32Array.from({ length: 256 }, () => 2 * next() - 1) } };
    const equalized = bytesOf(model, emitQuantization(plan, null, { mode: 'float' }).pieces);
    expect(relativeError(await runModel(equalized, x), await runModel(bytes, x))).toBeLessThan(1e-6);
  });
});

describe('BatchNormalization folding', () => {
  it('folds W·s and (b − μ)·s + β with s = γ / √(σ² + ε) into the conv, and leaves a conv whose output another node reads', async () => {
    // A: 2 output channels, 1×1. BN: γ [1, 3], β [0.25, −1], μ [0.5, 2], σ² [3, 8], ε 1 → s = [1/2, 3/3] = [0.5, 1].
    // B: its output also read by the Add, so its BatchNormalization stays.
    const bytes = buildModel({
      inputs: [{ name: 'x', shape: [1, 1, 2, 2] }],
      outputs: ['y', 'z'],
      initializers: [
        { name: 'wa', dtype: 1, dims: [2, 1, 1, 1], values: [2, -1] },
        { name: 'ba', dtype: 1, dims: [2], values: [0.5, 1] },
        { name: 'g', dtype: 1, dims: [2], values: [1, 3] },
        { name: 'be', dtype: 1, dims: [2], values: [0.25, -1] },
        { name: 'mu', dtype: 1, dims: [2], values: [0.5, 2] },
        { name: 'var', dtype: 1, dims: [2], values: [3, 8] },
        { name: 'wb', dtype: 1, dims: [2, 2, 1, 1], values: [1, 2, 3, 4] },
        { name: 'g2', dtype: 1, dims: [2], values: [1, 1] },
        { name: 'be2', dtype: 1, dims: [2], values: [0, 0] },
        { name: 'mu2', dtype: 1, dims: [2], values: [0, 0] },
        { name: 'var2', dtype: 1, dims: [2], values: [1, 1] },
      ],
      nodes: [
        { op: 'Conv', name: 'A', inputs: ['x', 'wa', 'ba'], outputs: ['a'] },
        { op: 'BatchNormalization', name: 'bn', inputs: ['a', 'g', 'be', 'mu', 'var'], outputs: ['an'], attrs: { epsilon: { float: 1 } } },
        { op: 'Conv', name: 'B', inputs: ['an', 'wb'], outputs: ['b'] },
        { op: 'BatchNormalization', name: 'bn2', inputs: ['b', 'g2', 'be2', 'mu2', 'var2'], outputs: ['y'] },
        { op: 'Add', inputs: ['b', 'b'], outputs: ['z'] },
      ],
    });
    const model = readModelBytes(bytes);
    const folded = foldBatchNorms(model, inferModel(model))!;
    expect(folded.convs).toEqual(['A']);
    const nodes = folded.model.graph.nodes;
    expect(nodes.map((n) => `${n.opType}:${n.outputs.join(',')}`)).toEqual(['Conv:an', 'Conv:b', 'BatchNormalization:y', 'Add:z']);
    const plan = planQuantization(folded.model, inferModel(folded.model), () => null);
    expect(Array.from(plan.layers[0].weight!.data)).toEqual([1, -1]);
    expect(Array.from(plan.layers[0].bias!)).toEqual([0.25, -2]);
    // The old constants are gone; the input model is left as it was.
    expect(folded.model.graph.initializers.map((t) => t.name).filter((n) => ['wa', 'ba', 'g', 'be', 'mu', 'var'].includes(n))).toEqual([]);
    expect(model.graph.nodes.length).toBe(5);
    if (!ort) return;
    const x = { x: { dims: [1, 1, 2, 2], data: Float32Array.from([1, -2, 0.5, 3]) } };
    const want = await runModel(bytes, x);
    const got = await runModel(folded.model.source.view(0, folded.model.size).slice(), x);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
  });
});

describe('bias correction', () => {
  it('subtracts Σ (Ŵ − W)·E[x] per output channel', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', shape: [1, 2, 1, 1] }],
      outputs: ['y'],
      initializers: [
        { name: 'w', dtype: 1, dims: [1, 2, 1, 1], values: [1, 0.3] },
        { name: 'b', dtype: 1, dims: [1], values: [0.25] },
      ],
      nodes: [{ op: 'Conv', name: 'A', inputs: ['x', 'w', 'b'], outputs: ['y'] }],
    });
    const model = readModelBytes(bytes);
    const plan = planQuantization(model, inferModel(model), () => null);
    // s = 1/127: 0.3 → round(38.1) = 38 → 38/127; the error 38/127 − 0.3 times the mean 2 of channel 1.
    const layer = plan.layers[0];
    layer.correction = biasCorrection(layer, Float64Array.from([5, 2]));
    // The weight is stored as float32: 0.3 is Math.fround(0.3).
    const w = Math.fround(0.3);
    expect(layer.correction[0]).toBeCloseTo(-(38 / 127 - w) * 2, 12);
    expect(int8Bias(layer)![0]).toBeCloseTo(0.25 - (38 / 127 - w) * 2, 12);
    // The float bias is left as it was (a layer kept float uses it).
    expect(Array.from(layer.bias!)).toEqual([Math.fround(0.25)]);
  });
});

describe('mbn quantize on a built chain (opset 9, raised to 13)', () => {
  needsOrt('writes a QDQ model whose outputs in ONNX Runtime match the errors the report claims', async () => {
    const dir = tempDir('mbn-quantize-');
    const input = join(dir, 'chain.onnx');
    writeFileSync(input, chainModel());
    const batches = calibrationFolder(join(dir, 'calib'), [1, 4, 8, 8], 8, 11);
    const output = join(dir, 'chain.int8.onnx');
    const j = quantizeJson([input, '-o', output, '--calibrate', join(dir, 'calib')]);
    expect(j.schema).toBe('mbn.quantize/1');
    expect(j.opset).toEqual({ from: 9, to: 13, nodesChanged: 1 });
    expect(j.layers.map((l: { name: string; precision: string }) => [l.name, l.precision])).toEqual([['A', 'int8'], ['B', 'int8'], ['C', 'int8'], ['D', 'int8']]);
    expect(j.calibration).toMatchObject({ batches: 8, fitBatches: 6, verifyBatches: 2, heldBack: true });
    // The written model, run here on the two held-back batches, against the input model.
    let dd = 0;
    let xx = 0;
    for (const data of batches.slice(6)) {
      const feeds = { x: { dims: [1, 4, 8, 8], data } };
      const want = await runModel(input, feeds);
      const got = await runModel(output, feeds);
      for (let i = 0; i < want.length; i++) (dd += (got[i] - want[i]) ** 2), (xx += want[i] ** 2);
    }
    expect(j.outputs[0].relativeError).toBeCloseTo(Math.sqrt(dd / xx), 6);
    expect(j.outputs[0].relativeError).toBeLessThan(0.05);
    expect(j.verdict).toMatch(/^output error 0\.0\d\d on 2 held-back calibration batches: small; check the task metric before use$/);
    // Layer D is in no equalized pair: its int8 weight and scales are the original's, by hand.
    const written = readModel(output);
    try {
      const wq = written.graph.initializers.find((t) => t.name === 'D_weight_quantized')!;
      const ws = written.graph.initializers.find((t) => t.name === 'D_weight_scale')!;
      const wd = weights(18, 6, 6);
      const scales = [0, 1, 2].map((o) => Math.max(...wd.slice(o * 6, o * 6 + 6).map(Math.abs)) / 127);
      expect(Array.from(new Float32Array(Uint8Array.from(readTensorBytes(written, ws)).buffer))).toEqual(scales.map((v) => Math.fround(v)));
      expect(Array.from(new Int8Array(Uint8Array.from(readTensorBytes(written, wq)).buffer))).toEqual(wd.map((w, i) => Math.max(-127, Math.min(127, roundHalfEven(w / scales[Math.floor(i / 6)])))));
      expect(written.opsetImports.get('')).toBe(13);
      expect(written.irVersion).toBe(7);
      expect(written.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length).toBe(4);
    } finally {
      written.source.close();
    }
    // onnx.checker (full check) accepts the written model, as it accepts the input.
    if (pythonOnnx()) expect([checkModel(input), checkModel(output)]).toEqual([null, null]);
    // Every layer's own error is measured; equalization and bias correction are reported.
    for (const l of j.layers) expect(l.ownError).toBeGreaterThan(0);
    expect(j.equalization.pairs.length).toBe(2);
  });

  needsOrt('--max-error keeps the most sensitive layers float until the output error is within it', () => {
    const dir = tempDir('mbn-quantize-');
    const input = join(dir, 'chain.onnx');
    writeFileSync(input, chainModel());
    calibrationFolder(join(dir, 'calib'), [1, 4, 8, 8], 8, 11);
    const all = quantizeJson([input, '-o', join(dir, 'a.onnx'), '--calibrate', join(dir, 'calib')]);
    const limit = all.outputs[0].relativeError / 2;
    const j = quantizeJson([input, '-o', join(dir, 'b.onnx'), '--calibrate', join(dir, 'calib'), '--max-error', String(limit)]);
    expect(j.maxError.met).toBe(true);
    expect(j.outputs[0].relativeError).toBeLessThanOrEqual(limit);
    const kept = j.layers.filter((l: { whyCode: { code: string } | null }) => l.whyCode?.code === 'kept-by-max-error');
    expect(kept.length).toBeGreaterThan(0);
    for (const l of kept) expect([l.why, l.whyCode]).toEqual([`kept float by --max-error ${limit} (among the most sensitive layers)`, { code: 'kept-by-max-error', maxError: limit }]);
    // The layers kept float are the ones with the largest own error.
    const ranked = [...all.layers].sort((a, b) => b.ownError - a.ownError).map((l) => l.name);
    expect(kept.map((l: { name: string }) => l.name).sort()).toEqual(ranked.slice(0, kept.length).sort());
    // --exclude keeps a layer float with its reason.
    const ex = quantizeJson([input, '-o', join(dir, 'c.onnx'), '--calibrate', join(dir, 'calib'), '--exclude', 'B']);
    expect(ex.layers.find((l: { name: string }) => l.name === 'B')).toMatchObject({ precision: 'float32', why: 'matched by --exclude', whyCode: { code: 'excluded' } });
    expect([ex.notes, ex.noteCodes]).toEqual([[], []]);
  });
});

describe('mbn quantize composes and refuses bad input in one line', () => {
  needsOrt('separate then quantize: the depthwise → pointwise pairs are equalized and the model runs', async () => {
    const dir = tempDir('mbn-quantize-');
    const sep = join(dir, 'sep.onnx');
    const r = mbn(['separate', fixture('models/tiny_cnn.onnx'), '-o', sep, '--format', 'json']);
    expect(r.status).toBe(0);
    const separated = JSON.parse(r.stdout).layers.length;
    expect(separated).toBeGreaterThan(0);
    const j = quantizeJson([sep, '-o', join(dir, 'sep.int8.onnx'), '--calibrate', 'random:8']);
    const pairs = j.equalization.pairs.filter((p: { first: string; second: string }) => p.first.endsWith('_depthwise') && p.second.endsWith('_pointwise'));
    expect(pairs.length).toBe(separated);
    expect(j.outputs.length).toBeGreaterThan(0);
    expect(j.layers.every((l: { precision: string }) => l.precision === 'int8')).toBe(true);
  });

  needsOrt('refuses an already quantized model, no float convs, float64 weights, external data, a wrong calibration shape', () => {
    const dir = tempDir('mbn-quantize-');
    const input = join(dir, 'chain.onnx');
    writeFileSync(input, chainModel());
    calibrationFolder(join(dir, 'calib'), [1, 4, 8, 8], 4, 1);
    const once = join(dir, 'once.onnx');
    expect(mbn(['quantize', input, '-o', once, '--calibrate', join(dir, 'calib'), '--format', 'json']).status).toBe(0);
    const relu = join(dir, 'relu.onnx');
    writeFileSync(relu, buildModel({ inputs: [{ name: 'x', shape: [1, 2] }], outputs: ['y'], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] }));
    calibrationFolder(join(dir, 'wrong'), [1, 4, 9, 9], 2, 1);
    const upsample = join(dir, 'upsample.onnx');
    writeFileSync(upsample, buildModel({
      inputs: [{ name: 'x', shape: [1, 1, 2, 2] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 1, dims: [1, 1, 1, 1], values: [2] }, { name: 's', dtype: 1, dims: [4], values: [1, 1, 2, 2] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['c'] }, { op: 'Upsample', name: 'up', inputs: ['c', 's'], outputs: ['y'] }],
      opset: 9,
      irVersion: 4,
    }));
    // A 1-D conv (kernel 5, no padding) over a symbolic length: random calibration data takes the length as 1, which
    // the model itself cannot run (as OpenWakeWord's mel spectrogram, whose input length is symbolic).
    const frames = join(dir, 'frames.onnx');
    writeFileSync(frames, buildModel({
      inputs: [{ name: 'x', shape: [1, 1, 'n'] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 1, dims: [2, 1, 5], values: [1, 2, 3, 4, 5, 5, 4, 3, 2, 1] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'] }],
      opset: 13,
    }));
    const cases: [string[], RegExp][] = [
      [[frames, '--calibrate', 'random:4'], /^mbn: onnxruntime cannot run the input model: .* \(calibration data x:1x1x1: give the model's input shapes with --input NAME:DIMS, or a --calibrate folder of them\)$/],
      [[once], /^mbn: the model is quantized already \(it has QuantizeLinear node .*\); quantize its float original$/],
      [[relu], /^mbn: nothing to quantize: the model has no Conv, ConvTranspose, Gemm or MatMul with constant weights$/],
      [[fixture('edge/float64.onnx')], /^mbn: nothing to quantize: no float32 conv or matmul weights \(the weights are float64\)$/],
      // Silero VAD v5 (real, third-party): its 12 Conv/MatMul nodes are all inside the If branches (counted with onnx).
      [[fixture('real/silero_vad_v5.onnx'), '--calibrate', 'random:2'], /^mbn: nothing to quantize: the model's 12 convs and matrix products are inside If\/Loop\/Scan bodies or functions, which mbn quantize does not enter yet$/],
      [[fixture('edge/external_data.onnx')], /^mbn: the model keeps its weights in external data files/],
      [[upsample], /^mbn: per-channel int8 needs opset 13 and the model is opset 9: Upsample \(node 'up'\) means something else at opset 13$/],
      [[input, '--calibrate', join(dir, 'wrong')], /^mbn: .*00\.npy' has shape \(1, 4, 9, 9\) but input 'x' is \[1, 4, 8, 8\]$/],
    ];
    for (const [args, message] of cases) {
      const out = join(dir, 'out.onnx');
      const r = mbn(['quantize', ...args, '-o', out]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
  });
});

describe('mbn quantize on a real model (PaddleOCR text-direction classifier, rendered text)', () => {
  needsOrt('keeps the classification, writes 0.33× the weight bytes, and its claimed errors are what ONNX Runtime gives', async () => {
    const dir = tempDir('mbn-quantize-');
    const output = join(dir, 'cls.int8.onnx');
    const calib = fixture('calibration/ppocr_cls');
    const input = fixture('real/ppocr_mobile_v2_cls.onnx');
    const j = quantizeJson([input, '-o', output, '--calibrate', calib]);
    expect(j.opset).toMatchObject({ from: 9, to: 13 });
    // 0.33×, not 0.25×: in this 0.5 MB model the per-channel scales (25 KB) and the int32 biases (25 KB) weigh beside
    // 127 KB of int8 weights (PP-OCRv4 rec and det: 0.27×, 0.28×). 178,248 = 212,424 with the 35 BatchNormalizations
    // kept (--no-fold-batch-norm: 212,334 before output points + 18 pairs' scale and zero point, 5 B each) less their
    // γ, β, μ, σ² Constants: 4 × 2,136 channels × 4 B = 34,176 (onnx's count of the two written models).
    expect(j.weightBytes).toEqual({ before: 534660, after: 178248 });
    expect(j.settings.foldBatchNorm).toBe(true);
    expect(j.batchNormFolded.length).toBe(35);
    const files = readdirSync(calib).filter((f) => f.endsWith('.npy')).sort();
    const held = files.slice(files.length - j.calibration.verifyBatches);
    let agree = 0;
    let rows = 0;
    let dd = 0;
    let xx = 0;
    for (const f of held) {
      const a = parseNpy(readFileSync(join(calib, f)), f);
      const feeds = { x: { dims: a.shape, data: Float32Array.from(a.data) } };
      const want = await runModel(input, feeds);
      const got = await runModel(output, feeds);
      for (let i = 0; i < want.length; i++) (dd += (got[i] - want[i]) ** 2), (xx += want[i] ** 2);
      for (let r = 0; r < want.length / 2; r++) {
        rows++;
        if ((want[2 * r] > want[2 * r + 1]) === (got[2 * r] > got[2 * r + 1])) agree++;
      }
    }
    expect(j.outputs[0].relativeError).toBeCloseTo(Math.sqrt(dd / xx), 6);
    expect(j.outputs[0].top1Agreement).toBeCloseTo(agree / rows, 12);
    expect(agree / rows).toBe(1);
  });
});

/**
 * ONNX Runtime's own optimized graph of the written model (level 'all', as a session runs it): how many of its convs
 * became QLinearConv, and how many stayed float convs (Conv, or FusedConv/NchwcConv after ORT's own fusions).
 * A layer fuses when a QuantizeLinear reads its output (after a Relu/Clip ORT folds into that QuantizeLinear).
 */
async function ortFusedConvs(path: string): Promise<{ qlinear: number; float: number; others: Record<string, number> }> {
  const optimized = path.replace(/\.onnx$/, '.optimized.onnx');
  const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
  await session.release();
  const ops = readModel(optimized).graph.nodes.map((n) => n.opType);
  const count = (...names: string[]) => ops.filter((o) => names.includes(o)).length;
  const others: Record<string, number> = {};
  for (const o of ops) if (o.startsWith('QLinear') && o !== 'QLinearConv') others[o] = (others[o] ?? 0) + 1;
  return { qlinear: count('QLinearConv'), float: count('Conv', 'FusedConv', 'NchwcConv'), others };
}

describe('ONNX Runtime runs the written int8 layers as integer kernels', () => {
  needsOrt('a built residual block: A and B fuse into QLinearConv (one pair per tensor, shared by the Add); C, writing the graph output, stays float', async () => {
    const dir = tempDir('mbn-quantize-');
    const input = join(dir, 'residual.onnx');
    writeFileSync(input, residualModel());
    calibrationFolder(join(dir, 'calib'), [1, 4, 8, 8], 8, 12);
    const output = join(dir, 'residual.int8.onnx');
    const j = quantizeJson([input, '-o', output, '--calibrate', join(dir, 'calib')]);
    expect(j.layers.map((l: { precision: string }) => l.precision)).toEqual(['int8', 'int8', 'int8']);
    const written = readModel(output);
    try {
      // x (A's input), A's output after its Relu (B's input and the Add's), B's output (the Add's), the Add's output
      // after its Relu (C's input): one QuantizeLinear each, and the only reader of ar and b.
      expect(written.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0])).toEqual(['x', 'ar', 'b', 'sr']);
      expect(written.graph.nodes.filter((n) => n.inputs.includes('ar') || n.inputs.includes('b')).map((n) => n.opType)).toEqual(['QuantizeLinear', 'QuantizeLinear']);
    } finally {
      written.source.close();
    }
    // With a pair on each layer's input only (mbn before output points), ORT fused none of the three: A's Relu also fed
    // the Add, B's output only the Add, C's the graph output. ORT's own optimized graph now (the Add, between two
    // dequantized inputs and a QuantizeLinear after its Relu, becomes QLinearAdd as well):
    expect(await ortFusedConvs(output)).toEqual({ qlinear: 2, float: 1, others: { QLinearAdd: 1 } });
    // --exclude B: A's output feeds a float conv, so it is not quantized and A no longer fuses; nor does the Add, whose
    // input B writes (a pair there would make ORT quantize B's float weight itself: B stays float).
    const ex = join(dir, 'residual.exc.onnx');
    quantizeJson([input, '-o', ex, '--calibrate', join(dir, 'calib'), '--exclude', 'B']);
    expect(await ortFusedConvs(ex)).toEqual({ qlinear: 0, float: 3, others: {} });
  });

  needsOrt('PP-OCR cls (real): its BatchNormalizations folded, 26 convs fuse; those read by hard-swish stay unfused; its squeeze-excite pools and residual Adds run 8-bit', async () => {
    const dir = tempDir('mbn-quantize-');
    const output = join(dir, 'cls.int8.onnx');
    quantizeJson([fixture('real/ppocr_mobile_v2_cls.onnx'), '-o', output, '--calibrate', fixture('calibration/ppocr_cls')]);
    // 53 Conv + 1 MatMul quantized; ORT 1.30 (python, the same counts): 26 QLinearConv, 27 float convs (18 Conv, 9
    // FusedConv): a conv whose output a hard-swish (a float op) reads gets no QuantizeLinear after it.
    expect(await ortFusedConvs(output)).toEqual({ qlinear: 26, float: 27, others: { QLinearGlobalAveragePool: 10, QLinearAdd: 7 } });
    // Without folding, the exported model's 35 BatchNormalizations after its convs (float ops) leave 9 to fuse. Before
    // output points: the same 9 QLinearConv, and no other QLinear op.
    const kept = join(dir, 'cls.bn.int8.onnx');
    quantizeJson([fixture('real/ppocr_mobile_v2_cls.onnx'), '-o', kept, '--calibrate', fixture('calibration/ppocr_cls'), '--no-fold-batch-norm']);
    expect(await ortFusedConvs(kept)).toEqual({ qlinear: 9, float: 44, others: { QLinearGlobalAveragePool: 10, QLinearAdd: 7 } });
  });

  const blazeface = join(process.env.MBN_HELDOUT ?? '/work/heldout', 'models', 'blazeface_front_128.onnx');
  if (!existsSync(blazeface)) console.warn(`skipping the BlazeFace fusion check: ${blazeface} is absent (node scripts/fetch-heldout.mjs fetches it)`);
  (ort && existsSync(blazeface) ? it : it.skip)('BlazeFace front (real, held-out set): 33 of its 37 convs fuse (16 before output points) and its residual Adds and channel-padding Concats run 8-bit', async () => {
    const dir = tempDir('mbn-quantize-');
    const output = join(dir, 'blazeface.int8.onnx');
    quantizeJson([blazeface, '-o', output, '--calibrate', 'random:8']);
    // The 4 float convs are the heads, whose outputs go (through Transpose/Reshape) to the graph outputs. ORT's own
    // quantize_static: 37 QLinearConv, 16 QLinearAdd, 11 QLinearConcat.
    expect(await ortFusedConvs(output)).toEqual({ qlinear: 33, float: 4, others: { QLinearAdd: 16, QLinearConcat: 11 } });
  });
});
