import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { layerLinks } from '../src/latency/graph.js';
import { type Int8Layer, planInt8 } from '../src/latency/int8.js';
import { predictLatency } from '../src/latency/model.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';
import type { DeviceProfile } from '../src/contract/device.js';

/**
 * int8 in the latency model: which QDQ groups ONNX Runtime fuses into integer kernels (src/latency/int8.ts), checked
 * against the graph ORT itself writes out after optimizing; the time of integer kernels and conversions by hand;
 * the profile's optional `int8` block (older profiles stay valid).
 */
const ort = loadOrt();
const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const INT32 = 6;

const DROP_QDQ = new Set(['MaxPool', 'Resize', 'Gather', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Split']);
const scalar = (name: string, dtype: number, value: number) => ({ name, dtype, dims: [], values: [value] });
const weights = (name: string, dtype: number, dims: number[]) => ({ name, dtype, dims, values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i % 13) - 6) });

/**
 * A QDQ model of the shapes quantize_static writes, with the cases ORT's selectors tell apart: a conv with an int32
 * bias through DequantizeLinear, a conv with a constant float bias through Identity (ORT quantizes it: fused too), an
 * Add of two dequantized tensors before a QuantizeLinear (QLinearAdd), a Tanh between DQ and Q (no integer kernel), and a
 * MatMul on dequantized operands whose output stays float (MatMulIntegerToFloat).
 */
function qdqSpec(): ModelSpec {
  const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
  const dq = (x: string, y: string, name: string, s = 's', z = 'z') => ({ op: 'DequantizeLinear', inputs: [x, s, z], outputs: [y], name });
  const conv = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
  return {
    inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8, 8, 8] }],
    outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 8, 8, 8] }, { name: 'm', dtype: FLOAT, shape: [1, 8, 8, 4] }],
    initializers: [
      scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), scalar('bs', FLOAT, 0.0005), scalar('bz', INT32, 0),
      weights('w1', INT8, [8, 8, 3, 3]), weights('w2', INT8, [8, 8, 3, 3]), weights('b1', INT32, [8]), { name: 'b2', dtype: FLOAT, dims: [8], values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] },
      weights('wm', INT8, [8, 4]),
    ],
    nodes: [
      q('x', 'xq', 'q_x'), dq('xq', 'xd', 'dq_x'),
      dq('w1', 'w1d', 'dq_w1', 'ws', 'wz'), dq('b1', 'b1d', 'dq_b1', 'bs', 'bz'),
      { op: 'Conv', inputs: ['xd', 'w1d', 'b1d'], outputs: ['c1'], attrs: conv, name: 'conv_fused' },
      q('c1', 'c1q', 'q_c1'), dq('c1q', 'c1d', 'dq_c1'), dq('c1q', 'c1d2', 'dq_c1_again'),
      dq('w2', 'w2d', 'dq_w2', 'ws', 'wz'), { op: 'Identity', inputs: ['b2'], outputs: ['b2i'], name: 'bias_identity' },
      { op: 'Conv', inputs: ['c1d', 'w2d', 'b2i'], outputs: ['c2'], attrs: conv, name: 'conv_float_bias' },
      q('c2', 'c2q', 'q_c2'), dq('c2q', 'c2d', 'dq_c2'),
      { op: 'Add', inputs: ['c2d', 'c1d2'], outputs: ['a'], name: 'add' }, q('a', 'aq', 'q_a'), dq('aq', 'ad', 'dq_a'),
      { op: 'Tanh', inputs: ['ad'], outputs: ['h'], name: 'tanh' }, q('h', 'hq', 'q_h'), dq('hq', 'y', 'dq_y'),
      dq('wm', 'wmd', 'dq_wm', 'ws', 'wz'), { op: 'MatMul', inputs: ['ad', 'wmd'], outputs: ['m'], name: 'matmul' },
    ],
    opset: 14,
  };
}

function plan(path: string, shape?: readonly number[]): { names: string[]; ops: string[]; folded: boolean[]; plan: (Int8Layer | null)[] } {
  const model = readModel(path);
  const inferred = inferModel(model, shape ? { inputShapes: new Map([[model.graph.inputs[0].name, shape.slice()]]) } : {});
  const links = layerLinks(inferred);
  return { names: links.map((l) => l.name), ops: links.map((l) => l.op), folded: links.map((l) => l.folded), plan: planInt8(links, model.graph.outputs.map((o) => o.name)) };
}

describe('ONNX Runtime 1.30 QDQ fusion rules', () => {
  it('fuses convs with a dequantized int32 bias or a constant float one, an Add, a MatMul; leaves a Tanh in float', () => {
    const dir = tempDir();
    const path = join(dir, 'qdq.onnx');
    writeFileSync(path, buildModel(qdqSpec()));
    const p = plan(path);
    const kind = (name: string) => {
      const q = p.plan[p.names.indexOf(name)];
      return q === null ? 'float' : q.kind === 'folded' ? `in ${p.names[q.head]}` : q.kind === 'kernel' ? `${q.kernel}${q.uint8Weights ? ' u8' : ''}` : q.kind;
    };
    expect(Object.fromEntries(p.names.map((n) => [n, kind(n)]))).toEqual({
      q_x: 'quantize', dq_x: 'in conv_fused', dq_w1: 'in conv_fused', dq_b1: 'in conv_fused', conv_fused: 'qlinear', q_c1: 'in conv_fused',
      // ORT quantizes a constant float bias (BiasQuantization): the conv still fuses.
      dq_c1: 'in conv_float_bias', dq_c1_again: 'in add',
      dq_w2: 'in conv_float_bias', bias_identity: 'float', conv_float_bias: 'qlinear', q_c2: 'in conv_float_bias', dq_c2: 'in add',
      add: 'qlinear', q_a: 'in add',
      // Read by the Tanh (no integer kernel: float) and the MatMul (fused): runs once, for the Tanh.
      dq_a: 'dequantize', tanh: 'float', q_h: 'quantize', dq_y: 'dequantize',
      dq_wm: 'in matmul', matmul: 'qlinear',
    });
  });

  /** The nodes of ORT's optimized graph (level 'extended': the QDQ fusions, no layout changes), by name. */
  async function ortNodes(path: string): Promise<Map<string, string>> {
    const optimized = path.replace(/\.onnx$/, '.optimized.onnx');
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'extended', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
    await session.release();
    return new Map(readModel(optimized).graph.nodes.map((n) => [n.name, `${n.domain ? `${n.domain}::` : ''}${n.opType}`]));
  }

  /** Every layer's fate in ORT's graph: a fused op or a folded conversion is gone, the rest are still there. */
  async function agreesWithOrt(path: string, shape?: readonly number[]): Promise<{ fused: number; kept: number }> {
    const p = plan(path, shape);
    const nodes = await ortNodes(path);
    let fused = 0;
    let kept = 0;
    p.names.forEach((name, i) => {
      const q = p.plan[i];
      // The ops ORT runs on the 8-bit tensor once it drops the DequantizeLinear and QuantizeLinear around them keep
      // their name and op type; the other fused ops become QLinear* nodes.
      const gone = q !== null && (q.kind === 'folded' || q.kind === 'constant' || (q.kind === 'kernel' && q.qdq && !DROP_QDQ.has(p.ops[i])));
      // Constants and shape arithmetic ORT folds when it loads the model (the float latency model's own rule).
      if (p.ops[i] === 'Constant' || p.ops[i] === 'Identity' || p.folded[i]) return;
      // A float op ORT merges with its neighbour (a Conv and its activation into FusedConv) keeps its name.
      expect(`${name}: ${nodes.has(name) && nodes.get(name) === p.ops[i] ? 'kept' : 'gone'}`).toBe(`${name}: ${gone ? 'gone' : nodes.get(name)?.endsWith(p.ops[i]) === false ? 'gone' : 'kept'}`);
      if (gone) fused++;
      else kept++;
    });
    return { fused, kept };
  }

  it.skipIf(!ort)('agree with the graph ORT optimizes, on the built QDQ model', async () => {
    const dir = tempDir();
    const path = join(dir, 'qdq.onnx');
    writeFileSync(path, buildModel(qdqSpec()));
    expect(await agreesWithOrt(path)).toEqual({ fused: 15, kept: 5 });
  });

  it.skipIf(!ort || !venvHas('onnxruntime.quantization'))('agree with the graph ORT optimizes, on real models quantized by ORT (quantize_static, QDQ, per channel)', async () => {
    const dir = tempDir();
    for (const [name, shape] of [['ppocr_mobile_v2_cls', [1, 3, 48, 192]], ['ppocr_v4_det', [1, 3, 64, 64]]] as const) {
      const out = join(dir, `${name}.qdq.onnx`);
      const script = [
        'import sys, numpy as np',
        'from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader',
        'import onnxruntime as ort',
        `name = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider']).get_inputs()[0].name`,
        'class R(CalibrationDataReader):',
        `    def __init__(self): self.d = iter([{name: np.random.default_rng(i).standard_normal(${JSON.stringify(shape)}).astype(np.float32)} for i in range(2)])`,
        '    def get_next(self): return next(self.d, None)',
        'quantize_static(sys.argv[1], sys.argv[2], R(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)',
      ].join('\n');
      const r = spawnSync(VENV_PYTHON, ['-c', script, fixture(`real/${name}.onnx`), out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const { fused, kept } = await agreesWithOrt(out, shape);
      expect(fused).toBeGreaterThan(0);
      expect(kept).toBeGreaterThan(0);
    }
  }, 120_000);
});

const PROFILE: DeviceProfile = {
  schema: 'mbn.device/1',
  name: 'int8',
  description: 'round numbers for hand arithmetic',
  calibrated: true,
  threads: 1,
  gflops: { conv: 100, pointwise: 50, depthwise: 10, gemm: 20, elementwise: 1 },
  memoryGBps: 10,
  cacheGBps: 1000,
  cacheBytes: 1 << 20,
  overheadUs: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1, elementwise: 0.5 },
  runOverheadUs: 5,
  sources: ['hand-made'],
  int8: { gops: { conv: 400, pointwise: 200, depthwise: 20, gemm: 80 }, thinConvNsPerOutput: 2, uint8WeightsSlowdown: 2, convIntegerGops: 50, convIntegerDepthwiseGops: 5, matMulIntegerGops: 40, quantizeNsPerElement: 0.5, dequantizeNsPerElement: 1 },
};

describe('integer kernels in the latency model', () => {
  it('times a fused QDQ conv at the int8 rate, conversions per element, and folds the group', () => {
    const dir = tempDir();
    const path = join(dir, 'qdq.onnx');
    writeFileSync(path, buildModel(qdqSpec()));
    const model = readModel(path);
    const inferred = inferModel(model);
    const links = layerLinks(inferred);
    const report = buildReport(model, inferred);
    const { layers, notes } = predictLatency(report, links, PROFILE);
    const at = (name: string) => layers[report.layers.findIndex((l) => l.name === name)];
    // conv_fused: 8·8·9·64 = 36,864 MACs = 73,728 ops at 400 GOP/s = 0.18432 µs, + 1 µs overhead (bytes are in cache).
    expect(at('conv_fused').latencyMs).toBeCloseTo((73_728 / 400e3 + 1) / 1e3, 9);
    expect(at('q_c1').fusedInto).toBe('conv_fused');
    expect(at('dq_w1').fusedInto).toBe('conv_fused');
    // q_x: 512 elements × 0.5 ns = 0.256 µs, + 0.5 µs overhead; dq_a: 512 × 1 ns + 0.5 µs.
    expect(at('q_x').latencyMs).toBeCloseTo((0.256 + 0.5) / 1e3, 9);
    expect(at('dq_a').latencyMs).toBeCloseTo((0.512 + 0.5) / 1e3, 9);
    // The Tanh stays float: 512 FLOPs at 1 GFLOP/s (its 4 KB at 1000 GB/s take less) + 0.5 µs.
    expect(at('tanh').latencyMs).toBeCloseTo((0.512 + 0.5) / 1e3, 9);
    // The conv with the constant float bias fuses as well: the int8 rate.
    expect(at('conv_float_bias').latencyMs).toBeCloseTo((73_728 / 400e3 + 1) / 1e3, 9);
    expect(notes).toEqual([]);
  });

  it('without int8 figures, predicts integer layers at the float rates and says so', () => {
    const dir = tempDir();
    const path = join(dir, 'qdq.onnx');
    writeFileSync(path, buildModel(qdqSpec()));
    const model = readModel(path);
    const inferred = inferModel(model);
    const { int8: _, ...floatOnly } = PROFILE;
    const { notes } = predictLatency(buildReport(model, inferred), layerLinks(inferred), floatOnly);
    // 4 integer kernels (the two convs, the Add, the MatMul), 2 quantize (q_x, q_h), 2 dequantize (dq_a, dq_y).
    expect(notes).toEqual(['device profile int8 has no integer-kernel figures: 8 integer and quantize layers predicted at its float rates (mbn calibrate measures them)']);
  });

  it('times ConvInteger at its own rate, depthwise at the grouped rate', () => {
    const dir = tempDir();
    const path = join(dir, 'dyn.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8, 8, 8] }],
        outputs: [{ name: 'y', dtype: INT32, shape: [1, 8, 8, 8] }, { name: 'd', dtype: INT32, shape: [1, 8, 8, 8] }],
        initializers: [weights('w', UINT8, [8, 8, 3, 3]), weights('dw', UINT8, [8, 1, 3, 3]), scalar('wz', UINT8, 128)],
        nodes: [
          { op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xz'], name: 'dql' },
          { op: 'ConvInteger', inputs: ['xq', 'w', 'xz', 'wz'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, name: 'ci' },
          { op: 'ConvInteger', inputs: ['xq', 'dw', 'xz', 'wz'], outputs: ['d'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 }, name: 'ci_dw' },
        ],
        opset: 13,
      }),
    );
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const { layers } = predictLatency(report, layerLinks(inferred), PROFILE);
    // 36,864 MACs at 50 GOP/s + 1 µs; the depthwise one 4,608 MACs at 5 GOP/s + 1 µs (depthwise overhead).
    expect(layers[1].latencyMs).toBeCloseTo((73_728 / 50e3 + 1) / 1e3, 9);
    expect(layers[2].latencyMs).toBeCloseTo((9_216 / 5e3 + 1) / 1e3, 9);
  });

  it('charges a fused conv on an RGB input (fewer than 8 channels) per output element beyond its arithmetic', () => {
    const dir = tempDir();
    const path = join(dir, 'stem.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 3, 8, 8] }],
        outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 4, 8, 8] }],
        initializers: [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), weights('w', INT8, [4, 3, 3, 3]), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0)],
        nodes: [
          { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'], name: 'q_x' },
          { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'], name: 'dq_x' },
          { op: 'DequantizeLinear', inputs: ['w', 'ws', 'wz'], outputs: ['wd'], name: 'dq_w' },
          { op: 'Conv', inputs: ['xd', 'wd'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, name: 'stem' },
          { op: 'QuantizeLinear', inputs: ['c', 's', 'z'], outputs: ['cq'], name: 'q_c' },
          { op: 'DequantizeLinear', inputs: ['cq', 's', 'z'], outputs: ['y'], name: 'dq_y' },
        ],
        opset: 13,
      }),
    );
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const { layers } = predictLatency(report, layerLinks(inferred), PROFILE);
    // 4·8·8 = 256 outputs × 27 = 6,912 MACs = 13,824 ops at 400 GOP/s = 0.03456 µs, + 1 µs, + 256 × 2 ns.
    expect(layers[report.layers.findIndex((l) => l.name === 'stem')].latencyMs).toBeCloseTo((0.03456 + 1 + 0.512) / 1e3, 9);
  });
});

describe('the profile\'s int8 block', () => {
  it('is optional: a profile without it stays valid; a bad figure is named', () => {
    const { int8, ...older } = PROFILE;
    expect(validateProfile(JSON.parse(JSON.stringify(older)), 'old.json').int8).toBeUndefined();
    expect(validateProfile(JSON.parse(JSON.stringify(PROFILE)), 'new.json').int8).toEqual(int8);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, gops: { ...int8!.gops, depthwise: 0 } } }, 'bad.json')).toThrow('device profile bad.json: "int8.gops.depthwise" must be a positive number (GOP/s)');
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, quantizeNsPerElement: 'fast' } }, 'bad.json')).toThrow('"int8.quantizeNsPerElement" must be a positive number');
  });
});
