import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { type Ort } from '../src/bench/run.js';
import { layerLinks } from '../src/latency/graph.js';
import { planLayout } from '../src/latency/layout.js';
import { callMs, foldedLayers, predictLatency } from '../src/latency/model.js';
import { validateProfile } from '../src/latency/profile.js';
import { solveIfValue } from '../src/latency/measure-op-overheads.js';
import { channelsLastResizes, resizeKernel, resizeScales } from '../src/latency/resize.js';
import { planInt8 } from '../src/latency/int8.js';
import { readModel } from '../src/onnx/read.js';
import { smallTensorValues } from '../src/onnx/tensor-data.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { ROUND_PROFILE } from './helpers/profiles.js';
import type { DeviceProfile } from '../src/contract/device.js';

/**
 * The kernels the class rates do not cover, found on PP-OCRv4 det (issue 20): ConvTranspose (a GEMM into a column
 * buffer, then col2im; no fusion of what follows it), a float Div (half an Add's rate), and ONNX Runtime's Resize
 * kernels (its ×2 nearest fast path, the index-table path, bilinear, and the 8-bit one in a QDQ model's NHWC region).
 */
const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 5) - 2) / 10);
const bn = (name: string, c: number) => [
  { name: `${name}_s`, dtype: 1, dims: [c], values: Array(c).fill(1.5) },
  { name: `${name}_b`, dtype: 1, dims: [c], values: Array(c).fill(0.1) },
  { name: `${name}_m`, dtype: 1, dims: [c], values: Array(c).fill(0.2) },
  { name: `${name}_v`, dtype: 1, dims: [c], values: Array(c).fill(0.9) },
];

/** Conv → BatchNormalization → Relu, then ConvTranspose 2×2 stride 2 → bias Add → BatchNormalization → Relu (PP-OCRv4 det's head). */
function upsamplingHead(): ModelSpec {
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 8, 16, 16] }],
    initializers: [
      { name: 'wc', dtype: 1, dims: [8, 8, 3, 3], values: w(8 * 8 * 9) },
      { name: 'wt', dtype: 1, dims: [8, 8, 2, 2], values: w(8 * 8 * 4) },
      { name: 'bias', dtype: 1, dims: [1, 8, 1, 1], values: w(8) },
      ...bn('bn1', 8),
      ...bn('bn2', 8),
    ],
    nodes: [
      { op: 'Conv', name: 'conv', inputs: ['x', 'wc'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'BatchNormalization', name: 'bn1', inputs: ['c', 'bn1_s', 'bn1_b', 'bn1_m', 'bn1_v'], outputs: ['n1'] },
      { op: 'Relu', name: 'relu1', inputs: ['n1'], outputs: ['r1'] },
      { op: 'ConvTranspose', name: 'up', inputs: ['r1', 'wt'], outputs: ['t'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Add', name: 'add', inputs: ['t', 'bias'], outputs: ['a'] },
      { op: 'BatchNormalization', name: 'bn2', inputs: ['a', 'bn2_s', 'bn2_b', 'bn2_m', 'bn2_v'], outputs: ['n2'] },
      { op: 'Relu', name: 'relu2', inputs: ['n2'], outputs: ['y'] },
    ],
  };
}

const ort = loadOrt() as unknown as Ort | null;

describe('ConvTranspose', () => {
  it('folds nothing after it: its bias Add, BatchNormalization and Relu run as kernels of their own (a Conv\'s are fused)', () => {
    const links = layerLinks(inferModel(buildAndRead(upsamplingHead())));
    const folded = foldedLayers(links);
    expect(links.filter((_, i) => folded.has(i)).map((l) => `${l.name}→${links[folded.get(links.indexOf(l))!].name}`)).toEqual(['bn1→conv', 'relu1→conv']);
  });

  it.skipIf(!ort)('as ONNX Runtime optimizes it: the layers mbn folds are gone from its graph, the others are there', async () => {
    const dir = tempDir();
    const path = join(dir, 'head.onnx');
    const optimized = join(dir, 'head.optimized.onnx');
    writeFileSync(path, buildModel(upsamplingHead()));
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
    await session.release();
    const kept = new Set(readModel(optimized).graph.nodes.map((n) => n.name));
    const links = layerLinks(inferModel(readModel(path)));
    const folded = foldedLayers(links);
    // The conv that takes its BatchNormalization and Relu is renamed by ORT's fusion: the others keep their names.
    const heads = new Set(folded.values());
    const others = links.filter((_, i) => !heads.has(i));
    expect(others.map((l) => `${l.name}: ${folded.has(links.indexOf(l)) ? 'folded' : 'runs'}`)).toEqual(others.map((l) => `${l.name}: ${kept.has(l.name) ? 'runs' : 'folded'}`));
    expect(others.map((l) => l.name)).toEqual(['bn1', 'relu1', 'up', 'add', 'bn2', 'relu2']);
  });

  it('is a GEMM at the GEMM rate on its input and column buffer, plus convTransposeNsPerColumn per column (hand arithmetic)', () => {
    // ConvTranspose 8→4, 2×2 stride 2 on [1, 8, 10, 10]: columns 4·2·2 × 10·10 = 1600; 2 · 1600 · 8 = 25,600 FLOPs.
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 10, 10] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 4, 20, 20] }],
      initializers: [{ name: 'wt', dtype: 1, dims: [8, 4, 2, 2], values: w(128) }],
      nodes: [{ op: 'ConvTranspose', name: 'up', inputs: ['x', 'wt'], outputs: ['y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } }],
    };
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const links = layerLinks(inferred);
    const at = (p: DeviceProfile) => predictLatency(report, links, p).layers[0].latencyMs;
    // GEMM 25,600 FLOPs at 20 GFLOP/s: 1.28 µs, beside its bytes (x 3,200, y 6,400, columns 6,400, weights 512) at
    // 100 GB/s: 0.165 µs; 1 µs of overhead; the scatter 1600 × 0.5 ns = 0.8 µs.
    expect(at({ ...ROUND_PROFILE, convTransposeNsPerColumn: 0.5 })).toBeCloseTo((1.28 + 1 + 0.8) / 1000, 12);
    // An older profile: the FLOPs at the conv rate (100 GFLOP/s: 0.256 µs) beside its bytes (0.101 µs), plus 1 µs.
    expect(at(ROUND_PROFILE)).toBeCloseTo((0.256 + 1) / 1000, 12);
  });
});

describe('an activation fused into a conv or Gemm', () => {
  const convThen = (act: string | null, op: 'Conv' | 'Gemm' = 'Conv'): ModelSpec => ({
    inputs: [{ name: 'x', dtype: 1, shape: op === 'Conv' ? [1, 8, 16, 16] : [4, 64] }],
    outputs: [{ name: 'y', dtype: 1, shape: op === 'Conv' ? [1, 8, 16, 16] : [4, 32] }],
    initializers: [
      { name: 'w', dtype: 1, dims: op === 'Conv' ? [8, 8, 1, 1] : [64, 32], values: w(op === 'Conv' ? 64 : 2048) },
      { name: 'lo', dtype: 1, dims: [], values: [0] },
      { name: 'hi', dtype: 1, dims: [], values: [6] },
    ],
    nodes: [
      op === 'Conv'
        ? { op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: [act ? 'v' : 'y'], attrs: { kernel_shape: [1, 1] } }
        : { op: 'Gemm', name: 'conv', inputs: ['x', 'w'], outputs: [act ? 'v' : 'y'] },
      ...(act ? [{ op: act, name: 'act', inputs: act === 'Clip' ? ['v', 'lo', 'hi'] : ['v'], outputs: ['y'] }] : []),
    ],
  });
  const predict = (spec: ModelSpec, p: DeviceProfile) => {
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    return predictLatency(buildReport(model, inferred), layerLinks(inferred), p).layers;
  };
  const RATES = { ...ROUND_PROFILE, fusedActivationNsPerElement: { LeakyRelu: 0.5, Clip: 0.25, Sigmoid: 1 } };

  it('costs its calibrated pass over the output, in the conv\'s time (hand arithmetic); Relu nothing', () => {
    for (const [act, ns] of [['LeakyRelu', 0.5], ['Clip', 0.25], ['Sigmoid', 1], ['Relu', 0], ['Tanh', 0]] as const) {
      const [conv, fused] = predict(convThen(act), RATES);
      expect(fused.fusedInto).toBe('conv');
      // 8 × 16 × 16 = 2,048 output elements at `ns` each, beyond the same conv timed without the rates.
      expect(conv.latencyMs - predict(convThen(act), ROUND_PROFILE)[0].latencyMs).toBeCloseTo((2048 * ns) / 1e6, 12);
    }
    // A FusedGemm's too: 4 × 32 outputs.
    const [gemm] = predict(convThen('Sigmoid', 'Gemm'), RATES);
    expect(gemm.latencyMs - predict(convThen('Sigmoid', 'Gemm'), ROUND_PROFILE)[0].latencyMs).toBeCloseTo(128 / 1e6, 12);
    // An older profile (no rates): the same time with and without the activation.
    expect(predict(convThen('LeakyRelu'), ROUND_PROFILE)[0].latencyMs).toBeCloseTo(predict(convThen(null), ROUND_PROFILE)[0].latencyMs, 12);
  });
});

describe('a float Div', () => {
  it('runs at divNsPerElement where calibrated, at the elementwise rate before (hand arithmetic)', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 64, 64] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 64, 64] }],
      initializers: [{ name: 'six', dtype: 1, dims: [], values: [6] }],
      nodes: [{ op: 'Div', name: 'div', inputs: ['x', 'six'], outputs: ['y'] }],
    };
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const links = layerLinks(inferred);
    const at = (p: DeviceProfile) => predictLatency(report, links, p).layers[0].latencyMs;
    // 65,536 elements at 2 ns: 131.072 µs (its 524,292 bytes at 100 GB/s take 5.2), plus 0.5 µs.
    expect(at({ ...ROUND_PROFILE, divNsPerElement: 2 })).toBeCloseTo(131.572 / 1000, 12);
    // Before: one FLOP per element at 1 GFLOP/s.
    expect(at(ROUND_PROFILE)).toBeCloseTo(66.036 / 1000, 12);
  });
});

describe('a float Max or Min', () => {
  it('runs at minMaxNsPerElement where calibrated, at the elementwise rate before (hand arithmetic)', () => {
    for (const op of ['Max', 'Min']) {
      const spec: ModelSpec = {
        inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 64, 64] }],
        outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 64, 64] }],
        initializers: [{ name: 'zero', dtype: 1, dims: [], values: [0] }],
        nodes: [{ op, name: 'm', inputs: ['x', 'zero'], outputs: ['y'] }],
      };
      const model = buildAndRead(spec);
      const inferred = inferModel(model);
      const at = (p: DeviceProfile) => predictLatency(buildReport(model, inferred), layerLinks(inferred), p).layers[0].latencyMs;
      // 65,536 elements (one comparison each) at 2 ns: 131.072 µs, plus 0.5 µs; a Div rate does not apply.
      expect(at({ ...ROUND_PROFILE, minMaxNsPerElement: 2, divNsPerElement: 7 })).toBeCloseTo(131.572 / 1000, 12);
      expect(at(ROUND_PROFILE)).toBeCloseTo(66.036 / 1000, 12);
    }
  });
});

describe('Resize', () => {
  const detLinks = () => layerLinks(inferModel(readModel(fixture('real/ppocr_v4_det.onnx')), { inputShapes: new Map([['x', [1, 3, 320, 320]]]) }));

  it('PP-OCRv4 det: four ×2 nearest resizes take ORT\'s fast path, its ×4 and ×8 ones the index tables', () => {
    const links = detLinks().filter((l) => l.op === 'Resize');
    expect(links.map((l) => `${l.name} ${resizeScales(l)!.join(',')} ${resizeKernel(l, false)}`)).toEqual([
      'p2o.Resize.0 1,1,2,2 nearest2x',
      'p2o.Resize.1 1,1,2,2 nearest2x',
      'p2o.Resize.2 1,1,2,2 nearest2x',
      'p2o.Resize.3 1,1,8,8 nearest',
      'p2o.Resize.4 1,1,4,4 nearest',
      'p2o.Resize.5 1,1,2,2 nearest2x',
    ]);
    // In a QDQ model the same resizes run on uint8 in ORT's NHWC region.
    expect(resizeKernel(links[0], true)).toBe('nearest8bit');
  });

  it('the modes: linear, cubic (no rate), nearest ×2 with half_pixel coordinates (no fast path)', () => {
    const resize = (attrs: Record<string, string>): ReturnType<typeof resizeKernel> => {
      const spec: ModelSpec = {
        inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 10, 10] }],
        outputs: [{ name: 'y', dtype: 1, shape: [1, 8, 20, 20] }],
        initializers: [{ name: 'scales', dtype: 1, dims: [4], values: [1, 1, 2, 2] }],
        nodes: [{ op: 'Resize', name: 'r', inputs: ['x', '', 'scales'], outputs: ['y'], attrs }],
      };
      return resizeKernel(layerLinks(inferModel(buildAndRead(spec)))[0], false);
    };
    expect(resize({ mode: 'linear' })).toBe('linear');
    expect(resize({ mode: 'cubic' })).toBe(null);
    expect(resize({ mode: 'nearest' })).toBe('nearest');
    expect(resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })).toBe('nearest2x');
  });

  it.skipIf(!ort)('PP-OCRv4 det: ORT runs its six resizes in plain layout (no NCHWc Upsample), as the layout plan says', async () => {
    const dir = tempDir();
    const path = fixture('real/ppocr_v4_det.onnx');
    const model = readModel(path);
    const optimized = join(dir, 'det.optimized.onnx');
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
    await session.release();
    const nodes = readModel(optimized).graph.nodes;
    const links = detLinks();
    const plan = planLayout(links, foldedLayers(links), 16, model.graph.outputs.map((o) => o.name));
    expect(nodes.filter((n) => n.opType === 'Upsample').length).toBe(0);
    expect(nodes.filter((n) => n.opType === 'Resize' && n.domain === '').length).toBe(6);
    expect(plan.filter((p) => p.upsample).length).toBe(0);
  }, 60_000);

  it.skipIf(!ort)('PP-OCRv4 det quantized by mbn: the Resizes ORT runs channels last are the ones the rule names', async () => {
    const dir = tempDir();
    const path = join(dir, 'det.int8.onnx');
    expect(mbn(['quantize', fixture('real/ppocr_v4_det.onnx'), '--input', 'x:1x3x320x320', '-o', path, '--no-measure']).status).toBe(0);
    const optimized = join(dir, 'det.int8.optimized.onnx');
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
    await session.release();
    // ORT's layout is in the scales it gives each Resize: [1, 2, 2, 1] channels last, [1, 1, 2, 2] NCHW.
    const opt = readModel(optimized);
    const graph = opt.graph;
    const scalesOf = (name: string) => smallTensorValues(opt, graph.initializers.find((t) => t.name === name)!)!;
    const ortLast = graph.nodes.filter((n) => n.opType === 'Resize' && scalesOf(n.inputs[2])[3] === 1 && scalesOf(n.inputs[2])[1] > 1).map((n) => n.name).sort();
    const model = readModel(path);
    const links = layerLinks(inferModel(model, { inputShapes: new Map([['x', [1, 3, 320, 320]]]) }));
    const predicted = [...channelsLastResizes(links, planInt8(links, model.graph.outputs.map((o) => o.name)), model.graph.outputs.map((o) => o.name))].map((i) => links[i].name).sort();
    expect(predicted).toEqual(ortLast);
    expect(predicted).toEqual(['p2o.Resize.0', 'p2o.Resize.1', 'p2o.Resize.2', 'p2o.Resize.3', 'p2o.Resize.4', 'p2o.Resize.5']);
    // Channels last, a ×2 nearest resize has no fast path.
    expect(resizeKernel(links.find((l) => l.name === 'p2o.Resize.0')!, false, true)).toBe('nearest');
  }, 60_000);

  it('is timed per output element at its kernel\'s rate, plus the elementwise overhead (hand arithmetic)', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 10, 10] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 8, 40, 40] }],
      initializers: [{ name: 'scales', dtype: 1, dims: [4], values: [1, 1, 4, 4] }],
      nodes: [{ op: 'Resize', name: 'r', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' } }],
    };
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const links = layerLinks(inferred);
    const rates = { nearest2x: 0.1, nearest: 0.5, linear: 1, nearest8bit: 2 };
    // 8 · 40 · 40 = 12,800 outputs at 0.5 ns: 6.4 µs, plus 0.5.
    expect(predictLatency(report, links, { ...ROUND_PROFILE, resizeNsPerOutput: rates }).layers[0].latencyMs).toBeCloseTo(6.9 / 1000, 12);
    // Before: its bytes (3,200 read, 51,200 written, the 16 of scales) at 100 GB/s, plus 0.5 µs.
    expect(predictLatency(report, links, ROUND_PROFILE).layers[0].latencyMs).toBeCloseTo((54416 / 100e3 + 0.5) / 1000, 12);
  });
});

describe('device profile: the kernel fields', () => {
  it('accepts them, and names a bad one', () => {
    const base = JSON.parse(JSON.stringify(ROUND_PROFILE));
    const ok = validateProfile({ ...base, convTransposeNsPerColumn: 0.3, divNsPerElement: 0.18, resizeNsPerOutput: { nearest2x: 0.06, nearest: 0.7, linear: 1.1, nearest8bit: 0.9 } }, 'p.json');
    expect([ok.convTransposeNsPerColumn, ok.divNsPerElement, ok.resizeNsPerOutput]).toEqual([0.3, 0.18, { nearest2x: 0.06, nearest: 0.7, linear: 1.1, nearest8bit: 0.9 }]);
    const bad = (patch: Record<string, unknown>) => {
      try {
        validateProfile({ ...base, ...patch }, 'p.json');
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(bad({ divNsPerElement: 0 })).toBe('device profile p.json: "divNsPerElement" must be a positive number (nanoseconds)');
    expect(bad({ minMaxNsPerElement: -0.1 })).toBe('device profile p.json: "minMaxNsPerElement" must be a positive number (nanoseconds)');
    expect(validateProfile({ ...base, minMaxNsPerElement: 0.12 }, 'p.json').minMaxNsPerElement).toBe(0.12);
    expect(bad({ convTransposeNsPerColumn: 'x' })).toBe('device profile p.json: "convTransposeNsPerColumn" must be a positive number (nanoseconds)');
    expect(bad({ resizeNsPerOutput: [] })).toBe('device profile p.json: "resizeNsPerOutput" must be an object with nearest2x, nearest, linear, nearest8bit');
    expect(bad({ resizeNsPerOutput: { nearest2x: 1, nearest: 1, linear: 1 } })).toBe('device profile p.json: "resizeNsPerOutput.nearest8bit" must be a positive number (nanoseconds)');
    expect(validateProfile({ ...base, fusedActivationNsPerElement: { LeakyRelu: 0.18, Clip: 0 } }, 'p.json').fusedActivationNsPerElement).toEqual({ LeakyRelu: 0.18, Clip: 0 });
    expect(bad({ fusedActivationNsPerElement: { Relu: 0.1 } })).toBe('device profile p.json: "fusedActivationNsPerElement.Relu" is not one of LeakyRelu, Clip, HardSigmoid, Sigmoid, Tanh');
    expect(bad({ fusedActivationNsPerElement: { Tanh: -1 } })).toBe('device profile p.json: "fusedActivationNsPerElement.Tanh" must be a number ≥ 0 (nanoseconds)');
    expect(bad({ fusedActivationNsPerElement: 3 })).toBe('device profile p.json: "fusedActivationNsPerElement" must be an object of op types (LeakyRelu, Clip, HardSigmoid, Sigmoid, Tanh) and nanoseconds');
    // An older profile has none of them.
    const old = validateProfile(base, 'p.json');
    expect([old.convTransposeNsPerColumn, old.divNsPerElement, old.resizeNsPerOutput]).toEqual([undefined, undefined, undefined]);
  });
});

describe('the call: graph inputs and outputs', () => {
  it('each input and output beyond the first costs inputUs and outputUs; none before (hand arithmetic)', () => {
    const spec: ModelSpec = {
      inputs: ['a', 'b', 'c'].map((name) => ({ name, dtype: 1, shape: [1, 8] })),
      outputs: [{ name: 'y1', dtype: 1, shape: [1, 8] }, { name: 'y2', dtype: 1, shape: [1, 8] }],
      nodes: [
        { op: 'Sum', name: 'sum', inputs: ['a', 'b', 'c'], outputs: ['s'] },
        { op: 'Relu', name: 'relu', inputs: ['s'], outputs: ['y1'] },
        { op: 'Neg', name: 'neg', inputs: ['s'], outputs: ['y2'] },
      ],
    };
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const total = (p: DeviceProfile) => predictLatency(report, layerLinks(inferred), p).totals.latencyMs;
    expect(callMs(report, ROUND_PROFILE)).toBe(0.005);
    // 5 µs, two more inputs at 2 µs, one more output at 3 µs.
    expect(callMs(report, { ...ROUND_PROFILE, inputUs: 2, outputUs: 3 })).toBeCloseTo(0.012, 15);
    expect(total({ ...ROUND_PROFILE, inputUs: 2, outputUs: 3 }) - total(ROUND_PROFILE)).toBeCloseTo(0.007, 15);
  });

  it('each byte of the inputs and outputs costs inputNsPerByte and outputNsPerByte (hand arithmetic)', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 25, 96] }, { name: 'h', dtype: 10, shape: [2, 64] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 2400] }, { name: 'z', dtype: 10, shape: [2, 64] }],
      nodes: [
        { op: 'Flatten', name: 'flatten', inputs: ['x'], outputs: ['y'] },
        { op: 'Neg', name: 'neg', inputs: ['h'], outputs: ['z'] },
      ],
    };
    const report = buildReport(buildAndRead(spec), inferModel(buildAndRead(spec)));
    // In: 2,400 float32 (9,600 bytes) and 128 float16 (256 bytes); out the same. 5 µs + 9,856 × 0.15 ns + 9,856 × 0.2 ns.
    expect(callMs(report, { ...ROUND_PROFILE, inputNsPerByte: 0.15, outputNsPerByte: 0.2 })).toBeCloseTo((5 + 9856 * 0.00015 + 9856 * 0.0002) / 1e3, 15);
    expect(callMs(report, { ...ROUND_PROFILE, inputNsPerByte: 0.15 })).toBeCloseTo((5 + 9856 * 0.00015) / 1e3, 15);
    expect(callMs(report, ROUND_PROFILE)).toBe(0.005);
    expect(() => validateProfile({ ...ROUND_PROFILE, outputNsPerByte: -0.1 }, 'p.json')).toThrow('"outputNsPerByte" must be a number ≥ 0 (nanoseconds per byte)');
  });

  it('a profile with a negative inputUs or a string outputUs is refused', () => {
    expect(() => validateProfile({ ...ROUND_PROFILE, inputUs: -1 }, 'p.json')).toThrow('"inputUs" must be a number ≥ 0 (microseconds)');
    expect(() => validateProfile({ ...ROUND_PROFILE, outputUs: '1' }, 'p.json')).toThrow('"outputUs" must be a number ≥ 0 (microseconds)');
  });
});

describe('a recurrent layer (LSTM)', () => {
  /** One forward LSTM: `steps` steps of batch 1, `input` features, `hidden` units; weights filled with 0.01. */
  const lstm = (steps: number, input: number, hidden: number): ModelSpec => ({
    inputs: [{ name: 'x', dtype: 1, shape: [steps, 1, input] }],
    outputs: [{ name: 'y', dtype: 1, shape: [steps, 1, 1, hidden] }],
    initializers: [
      { name: 'W', dtype: 1, dims: [1, 4 * hidden, input], values: Array(4 * hidden * input).fill(0.01) },
      { name: 'R', dtype: 1, dims: [1, 4 * hidden, hidden], values: Array(4 * hidden * hidden).fill(0.01) },
      { name: 'B', dtype: 1, dims: [1, 8 * hidden], values: Array(8 * hidden).fill(0.01) },
    ],
    nodes: [{ op: 'LSTM', name: 'lstm', inputs: ['x', 'W', 'R', 'B'], outputs: ['y'], attrs: { hidden_size: hidden } }],
  });
  const layerUs = (spec: ModelSpec, profile: DeviceProfile = ROUND_PROFILE) => {
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    return predictLatency(buildReport(model, inferred), layerLinks(inferred), profile).layers[0].latencyMs * 1000;
  };

  it('as ORT runs it: the input projection, a GEMM per step, the gates (hand arithmetic, weights in the cache)', () => {
    // Projection: 3 rows × 64 gate units × 8 inputs, 3,072 FLOPs at 20 GFLOP/s (0.1536 µs) over 2,912 bytes at
    // 100 GB/s, + 1 µs; each step: 2,048 FLOPs (0.1024 µs) over 4,416 bytes, + 1 µs; gates 3 × 9 × 16 FLOPs at
    // 1 GFLOP/s, 0.432 µs.
    expect(layerUs(lstm(3, 8, 16))).toBeCloseTo(1.1536 + 3 * 1.1024 + 0.432, 9);
    // With the LSTM's own fixed cost calibrated (3 µs), the projection pays it in place of the GEMM overhead.
    expect(layerUs(lstm(3, 8, 16), { ...ROUND_PROFILE, overheadUsByOp: { LSTM: 3 } })).toBeCloseTo(3.1536 + 3 * 1.1024 + 0.432, 9);
  });

  it('W once and R on the first step from DRAM when the weights are cold, later steps from the cache', () => {
    // 1.25 MiB of weights (past half the 1 MiB cache, no last-level cache: DRAM at 10 GB/s). Projection: W's 1 MiB,
    // 104.8576 µs, + 8,192 activation bytes at 100 GB/s, + 1 µs; first step: R's 256 KiB, 26.2144 µs, + 2,560 bytes,
    // + 1 µs; second: 131,072 FLOPs at 20 GFLOP/s (6.5536 µs) over R in the cache, + 1 µs; gates 2 × 9 × 128 FLOPs.
    expect(layerUs(lstm(2, 512, 128))).toBeCloseTo(105.93952 + 27.24 + 7.5536 + 2.304, 9);
  });

  it('its traits carry the dimensions it is timed by (a symbolic sequence length taken as 1, as the shapes are)', () => {
    const spec = lstm(2, 8, 16);
    spec.inputs![0].shape = ['seq', 1, 8] as unknown as number[];
    const link = layerLinks(inferModel(buildAndRead(spec)))[0];
    expect(link.traits).toEqual({ kind: 'recurrent', dims: { gates: 4, dirs: 1, seq: 1, batch: 1, input: 8, hidden: 16, layout: 0 } });
  });
});

describe('an If: the values its branch\'s frame holds', () => {
  /**
   * x → If(c): then: Add(x, w_outer) → Mul(·, k) → Add(·, Slice(k2, …)) with k, k2 Constant nodes in the branch
   * (the Slice of a constant folds at load: the value read at run time is its output); else: Neg(x).
   */
  const spec = (): ModelSpec => {
    const c = (name: string, dims: number[], values: number[]) => ({ op: 'Constant', name, inputs: [], outputs: [name], attrs: { value: { tensor: { dtype: 1, dims, values } } } });
    const i64 = (name: string, v: number) => ({ op: 'Constant', name, inputs: [], outputs: [name], attrs: { value: { tensor: { dtype: 7, dims: [1], values: [v] } } } });
    return {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8] }, { name: 'c', dtype: 9, shape: [] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 8] }],
      initializers: [{ name: 'w', dtype: 1, dims: [1, 8], values: Array(8).fill(0.5) }],
      nodes: [
        {
          op: 'If',
          name: 'if',
          inputs: ['c'],
          outputs: ['y'],
          attrs: {
            then_branch: {
              graph: {
                nodes: [
                  c('k', [1, 8], Array(8).fill(2)),
                  c('k2', [1, 16], Array(16).fill(1)),
                  i64('s0', 0),
                  i64('s1', 8),
                  i64('ax', 1),
                  { op: 'Slice', name: 'sl', inputs: ['k2', 's0', 's1', 'ax'], outputs: ['k3'] },
                  { op: 'Add', name: 'a1', inputs: ['x', 'w'], outputs: ['t1'] },
                  { op: 'Mul', name: 'm', inputs: ['t1', 'k'], outputs: ['t2'] },
                  { op: 'Add', name: 'a2', inputs: ['t2', 'k3'], outputs: ['t'] },
                ],
                outputs: [{ name: 't', dtype: 1, shape: [1, 8] }],
              },
            },
            else_branch: { graph: { nodes: [{ op: 'Neg', name: 'n', inputs: ['x'], outputs: ['e'] }], outputs: [{ name: 'e', dtype: 1, shape: [1, 8] }] } },
          },
        },
      ],
    };
  };

  it('counts what the branch reads from outside and the constants it reads at run time, and times ifValueUs for each beyond one', () => {
    const model = buildAndRead(spec());
    const inferred = inferModel(model, { ifBranches: new Map([['if', 'then']]) });
    const links = layerLinks(inferred);
    const ifLink = links.find((l) => l.op === 'If')!;
    // x and w from outside; k and the Slice's output k3 read at run time (k2, s0, s1, ax only feed the folded Slice).
    expect(ifLink.branchValues).toBe(4);
    const report = buildReport(model, inferred);
    const ifUs = (p: DeviceProfile) => predictLatency(report, links, p).layers[report.layers.findIndex((l) => l.op === 'If')].latencyMs * 1000;
    // ROUND_PROFILE times an If at the elementwise overhead, 0.5 µs; 3 values beyond one at 0.25 µs.
    expect(ifUs({ ...ROUND_PROFILE, ifValueUs: 0.25 }) - ifUs(ROUND_PROFILE)).toBeCloseTo(0.75, 12);
    // The else branch reads x alone: nothing beyond the one the calibrated If reads.
    const other = inferModel(model, { ifBranches: new Map([['if', 'else']]) });
    expect(layerLinks(other).find((l) => l.op === 'If')!.branchValues).toBe(1);
  });

  it('calibrate solves ifValueUs from the if-values chain, its Adds alone and the If (made-up times)', () => {
    // 50 Ifs reading 8 values at 0.5 + 7 × 0.1 µs each, plus 2 condition ops at 0.15 µs, beside 400 Adds.
    const addsMs = 0.08;
    const ms = (name: string) => (name === 'if-values' ? addsMs + (50 * 1.2 + 2 * 0.15) / 1000 : addsMs);
    expect(solveIfValue(ms, 0.5, 0.15 / 1000)).toBeCloseTo(0.1, 12);
    expect(solveIfValue(() => addsMs, 0.5, 0)).toBe(0);
  });
});

describe('a GEMM whose weights stay in the core\'s cache', () => {
  it('reads them at cacheWeightGBps where calibrated, with its activations at the cache rate (hand arithmetic)', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 256] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 128] }],
      initializers: [{ name: 'w', dtype: 1, dims: [256, 128], values: Array(256 * 128).fill(0.01) }],
      nodes: [{ op: 'MatMul', name: 'mm', inputs: ['x', 'w'], outputs: ['y'] }],
    };
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const us = (p: DeviceProfile) => predictLatency(report, layerLinks(inferred), p).layers[0].latencyMs * 1000;
    // 131,072 weight bytes at 10 GB/s (13.1072 µs) and 1,536 activation bytes at 100 GB/s (0.01536 µs), + 1 µs;
    // the 65,536 FLOPs at 20 GFLOP/s take 3.2768 µs.
    expect(us({ ...ROUND_PROFILE, cacheWeightGBps: 10 })).toBeCloseTo(13.1072 + 0.01536 + 1, 9);
    // Before: weights and activations together at the cache's 100 GB/s (1.33 µs), under the FLOPs.
    expect(us(ROUND_PROFILE)).toBeCloseTo(3.2768 + 1, 9);
  });
});
