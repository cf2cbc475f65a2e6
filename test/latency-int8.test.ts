import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { layerLinks } from '../src/latency/graph.js';
import { genericPointwiseNs, type Int8Layer, inputTapShare, planInt8, symmetricConvKernel } from '../src/latency/int8.js';
import { predictLatency } from '../src/latency/model.js';
import { genericPointwiseRates, symmetricConvRates, thinConvCosts } from '../src/latency/measure-int8.js';
import { benchConvShapeWork, fitGroupedConvInteger, GROUPED_CONV_INTEGER_SHAPES, integerNsPerGroup } from '../src/latency/grouped-conv.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';
import { noteText } from '../src/report/messages/analyze.js';
import type { DeviceProfile } from '../src/contract/device.js';
import { ROUND_PROFILE } from './helpers/profiles.js';

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

/**
 * A chain of QDQ convs (8×8, uint8 activations, int8 weights with zero point 0) whose channel counts put each on
 * MLAS's symmetric conv kernels or off them (int8.ts, symmetricConvKernel): depthwise on 16 (on), 24 and 20 (off);
 * 1×1 16→24 (on), 24→20 (on where the output alignment is 4, off where it is 8), 20→34 and 34→32 (off).
 */
/** The channel chain written, read back, inferred and reported (what the timing tests predict on). */
function channelChain() {
  const path = join(tempDir(), 'chain.onnx');
  writeFileSync(path, buildModel(channelChainSpec()));
  const model = readModel(path);
  const inferred = inferModel(model);
  return { inferred, report: buildReport(model, inferred) };
}

function channelChainSpec(): ModelSpec {
  const steps: { name: string; out: number; depthwise: boolean }[] = [
    { name: 'dw16', out: 16, depthwise: true }, { name: 'pw16_24', out: 24, depthwise: false }, { name: 'dw24', out: 24, depthwise: true },
    { name: 'pw24_20', out: 20, depthwise: false }, { name: 'dw20', out: 20, depthwise: true }, { name: 'pw20_34', out: 34, depthwise: false },
    { name: 'pw34_32', out: 32, depthwise: false },
  ];
  const nodes: ModelSpec['nodes'] = [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['x_q'], name: 'q_x' }];
  const initializers: ModelSpec['initializers'] = [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0)];
  let channels = 16;
  let input = 'x_q';
  for (const { name, out, depthwise } of steps) {
    initializers.push(weights(`${name}_w`, INT8, depthwise ? [out, 1, 3, 3] : [out, channels, 1, 1]));
    nodes.push(
      { op: 'DequantizeLinear', inputs: [input, 's', 'z'], outputs: [`${name}_in`], name: `dq_${name}` },
      { op: 'DequantizeLinear', inputs: [`${name}_w`, 'ws', 'wz'], outputs: [`${name}_wd`], name: `dq_${name}_w` },
      { op: 'Conv', inputs: [`${name}_in`, `${name}_wd`], outputs: [`${name}_y`], attrs: depthwise ? { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: out } : { kernel_shape: [1, 1] }, name },
      { op: 'QuantizeLinear', inputs: [`${name}_y`, 's', 'z'], outputs: [`${name}_q`], name: `q_${name}` },
    );
    channels = out;
    input = `${name}_q`;
  }
  nodes.push({ op: 'DequantizeLinear', inputs: [input, 's', 'z'], outputs: ['y'], name: 'dq_y' });
  return { inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }], outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 32, 8, 8] }], initializers, nodes, opset: 13 };
}

function plan(path: string, shape?: readonly number[]): { names: string[]; ops: string[]; folded: boolean[]; plan: (Int8Layer | null)[] } {
  const model = readModel(path);
  const inferred = inferModel(model, shape ? { inputShapes: new Map([[model.graph.inputs[0].name, shape.slice()]]) } : {});
  const links = layerLinks(inferred);
  return { names: links.map((l) => l.name), ops: links.map((l) => l.op), folded: links.map((l) => l.folded), plan: planInt8(links, model.graph.outputs.map((o) => o.name), model.opsetImports.get('') ?? 0) };
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
  async function ortNodes(path: string, level: 'extended' | 'all' = 'extended'): Promise<Map<string, string>> {
    const optimized = path.replace(/\.onnx$/, '.optimized.onnx');
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: level, optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
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
    const nodes = [...(await ortNodes(path, 'all')).values()];
    // Its two convs and the Add run in NHWC: one transpose in (from the graph input), one out (to the float Tanh).
    expect(nodes.filter((op) => op === 'Transpose').length).toBe(2);
    expect(plan(path).plan.reduce((n, k) => n + (k?.kind === 'kernel' ? k.transposes : 0), 0)).toBe(2);
  });

  it.skipIf(!ort)('transpose a fused conv\'s 8-bit tensors to and from NHWC next to float ops, as ORT does', async () => {
    // x → Q → DQ → conv a (fused) → Q → DQ → middle (float) → Q → DQ → conv b (fused) → Q → DQ → y, 16 channels 8×8,
    // where the middle is a Tanh (a transpose passes through it) or a float 1×1 conv (none does).
    const dq = (x: string, y: string, name: string, s = 's', z = 'z') => ({ op: 'DequantizeLinear', inputs: [x, s, z], outputs: [y], name });
    const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const spec = (middle: ModelSpec['nodes']): ModelSpec => ({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      initializers: [
        scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), weights('wa', INT8, [16, 16, 1, 1]), weights('wb', INT8, [16, 16, 1, 1]),
        { name: 'wf', dtype: FLOAT, dims: [16, 16, 1, 1], values: Array.from({ length: 256 }, (_, i) => ((i % 7) - 3) / 10) },
      ],
      nodes: [
        q('x', 'xq', 'q_x'), dq('xq', 'xd', 'dq_x'), dq('wa', 'wad', 'dq_wa', 'ws', 'wz'),
        { op: 'Conv', inputs: ['xd', 'wad'], outputs: ['a'], attrs: { kernel_shape: [1, 1] }, name: 'conv_a' },
        q('a', 'aq', 'q_a'), dq('aq', 'ad', 'dq_a'), ...middle, q('t', 'tq', 'q_t'), dq('tq', 'td', 'dq_t'),
        dq('wb', 'wbd', 'dq_wb', 'ws', 'wz'), { op: 'Conv', inputs: ['td', 'wbd'], outputs: ['b'], attrs: { kernel_shape: [1, 1] }, name: 'conv_b' },
        q('b', 'bq', 'q_b'), dq('bq', 'y', 'dq_y'),
      ],
      opset: 13,
    });
    const dir = tempDir();
    const cases = [
      // ORT moves the transposes between the convs through the Tanh and the conversions, where they cancel; conv a's
      // input (from the graph input) and conv b's output (to the graph output) keep one each, 1,024 elements.
      { middle: [{ op: 'Tanh', inputs: ['ad'], outputs: ['t'], name: 'middle' }], want: [[1, 1024], [1, 1024]], ortTransposes: 2 },
      // A float conv between (its output is not quantized, so ORT does not quantize its float weights either): each
      // fused conv is transposed on both sides.
      { middle: [{ op: 'Conv', inputs: ['ad', 'wf'], outputs: ['f'], attrs: { kernel_shape: [1, 1] }, name: 'middle' }, { op: 'Tanh', inputs: ['f'], outputs: ['t'], name: 'tanh' }], want: [[2, 2048], [2, 2048]], ortTransposes: 4 },
    ];
    for (const [n, c] of cases.entries()) {
      const path = join(dir, `transposes${n}.onnx`);
      writeFileSync(path, buildModel(spec(c.middle)));
      const p = plan(path);
      expect(p.plan.flatMap((k, i) => (k?.kind === 'kernel' && p.ops[i] === 'Conv' ? [[k.transposes, k.transposedElements]] : []))).toEqual(c.want);
      // The layout transformer that runs QLinearConv in NHWC is part of ORT's full optimization ('all', mbn bench's).
      const nodes = [...(await ortNodes(path, 'all')).values()];
      expect([nodes.filter((op) => op === 'Transpose').length, nodes.filter((op) => op === 'com.microsoft::QLinearConv').length]).toEqual([c.ortTransposes, 2]);
    }
  });

  it.skipIf(!ort)('keep a BatchNormalization after a QDQ conv apart, as ORT does (its weights come from a DequantizeLinear)', async () => {
    // x → Q → DQ → Conv(·, DQ(w)) → BatchNormalization → Q → DQ → y: no QLinearConv (the BatchNormalization sits
    // between the conv and its QuantizeLinear), and no ConvBNFusion (the conv's weights are not an initializer).
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 8, 8, 8] }],
      initializers: [
        scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), weights('w', INT8, [8, 8, 1, 1]),
        ...['gamma', 'beta', 'mean', 'var'].map((name, k) => ({ name, dtype: FLOAT, dims: [8], values: Array.from({ length: 8 }, (_, i) => (k === 3 ? 1 + i / 10 : k === 0 ? 1 : i / 10)) })),
      ],
      nodes: [
        { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'], name: 'q_x' },
        { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'], name: 'dq_x' },
        { op: 'DequantizeLinear', inputs: ['w', 'ws', 'wz'], outputs: ['wd'], name: 'dq_w' },
        { op: 'Conv', inputs: ['xd', 'wd'], outputs: ['c'], attrs: { kernel_shape: [1, 1] }, name: 'conv' },
        { op: 'BatchNormalization', inputs: ['c', 'gamma', 'beta', 'mean', 'var'], outputs: ['b'], name: 'bn' },
        { op: 'QuantizeLinear', inputs: ['b', 's', 'z'], outputs: ['bq'], name: 'q_b' },
        { op: 'DequantizeLinear', inputs: ['bq', 's', 'z'], outputs: ['y'], name: 'dq_y' },
      ],
      opset: 13,
    };
    const path = join(tempDir(), 'bn.onnx');
    writeFileSync(path, buildModel(spec));
    const nodes = await ortNodes(path, 'all');
    expect([nodes.get('conv'), nodes.get('bn')]).toEqual(['Conv', 'BatchNormalization']);
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const bn = predictLatency(report, layerLinks(inferred), PROFILE).layers[report.layers.findIndex((l) => l.name === 'bn')];
    expect(bn.fusedInto).toBeNull();
    expect(bn.latencyMs).toBeGreaterThan(0);
  });

  it.skipIf(!ort)('fuse a Gemm with a constant float bias only when a QuantizeLinear follows it, as ORT does', async () => {
    // x → Q → DQ → Gemm(·, DQ(w), float bias) → y, or → Q → DQ → y. ORT quantizes the bias and runs one QGemm only in
    // the second form; in the first the Gemm stays float, its weights dequantized on each run.
    const spec = (quantized: boolean): ModelSpec => ({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [4, 32] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [4, 16] }],
      initializers: [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), weights('w', INT8, [16, 32]), { name: 'b', dtype: FLOAT, dims: [16], values: Array.from({ length: 16 }, (_, i) => i / 10) }],
      nodes: [
        { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'], name: 'q_x' },
        { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'], name: 'dq_x' },
        { op: 'DequantizeLinear', inputs: ['w', 'ws', 'wz'], outputs: ['wd'], name: 'dq_w' },
        { op: 'Gemm', inputs: ['xd', 'wd', 'b'], outputs: [quantized ? 'g' : 'y'], attrs: { transB: 1 }, name: 'gemm' },
        ...(quantized ? [{ op: 'QuantizeLinear', inputs: ['g', 's', 'z'], outputs: ['gq'], name: 'q_g' }, { op: 'DequantizeLinear', inputs: ['gq', 's', 'z'], outputs: ['y'], name: 'dq_y' }] : []),
      ],
      opset: 13,
    });
    const dir = tempDir();
    for (const quantized of [false, true]) {
      const path = join(dir, `gemm${quantized}.onnx`);
      writeFileSync(path, buildModel(spec(quantized)));
      const p = plan(path);
      expect(p.plan[p.names.indexOf('gemm')]?.kind ?? 'float').toBe(quantized ? 'kernel' : 'float');
      // Float: dq_x and dq_w run; quantized: both and the QuantizeLinear after are part of the QGemm.
      expect(await agreesWithOrt(path)).toEqual(quantized ? { fused: 4, kept: 2 } : { fused: 0, kept: 4 });
    }
  });

  it.skipIf(!ort)('drop the pair around a MaxPool only with one scale, and move a QuantizeLinear after a float op in front of it, as ORT does', async () => {
    // MaxPool 2×2 on [1, 8, 8, 8], opset 13 (MaxPool-12: a version ORT's QDQ propagation takes). Its input: the
    // DequantizeLinear of scale s (0.05), or a float Relu; its output quantized at scale s, t (0.1), or s2 (0.05 under
    // another name).
    const spec = (from: 'dq' | 'relu', outScale: string): ModelSpec => ({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 8, 4, 4] }],
      initializers: [scalar('s', FLOAT, 0.05), scalar('s2', FLOAT, 0.05), scalar('t', FLOAT, 0.1), scalar('z', UINT8, 128)],
      nodes: [
        ...(from === 'dq'
          ? [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'], name: 'q_x' }, { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'], name: 'dq_x' }]
          : [{ op: 'Relu', inputs: ['x'], outputs: ['xd'], name: 'relu' }]),
        { op: 'MaxPool', inputs: ['xd'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, name: 'pool' },
        { op: 'QuantizeLinear', inputs: ['p', outScale, 'z'], outputs: ['pq'], name: 'q_p' },
        { op: 'DequantizeLinear', inputs: ['pq', outScale, 'z'], outputs: ['y'], name: 'dq_y' },
      ],
      opset: 13,
    });
    const dir = tempDir();
    const cases = [
      // One scale by name or by value: ORT drops the pair (both gone), the MaxPool runs on uint8.
      { from: 'dq' as const, scale: 's', pool: 'kernel', q: 'folded', fused: 2 },
      { from: 'dq' as const, scale: 's2', pool: 'kernel', q: 'folded', fused: 2 },
      // Another scale (mbn quantize's PP-OCR cls MaxPool): the MaxPool runs in float between the conversions.
      { from: 'dq' as const, scale: 't', pool: 'float', q: 'quantize', fused: 0 },
      // After a float Relu: ORT moves the QuantizeLinear in front of the MaxPool (the 512 elements it reads).
      { from: 'relu' as const, scale: 's', pool: 'kernel', q: 'folded', fused: 1 },
    ];
    for (const [n, c] of cases.entries()) {
      const path = join(dir, `pool${n}.onnx`);
      writeFileSync(path, buildModel(spec(c.from, c.scale)));
      const p = plan(path);
      const pool = p.plan[p.ops.indexOf('MaxPool')];
      expect([pool === null ? 'float' : pool.kind, p.plan[p.names.indexOf('q_p')]?.kind]).toEqual([c.pool, c.q]);
      if (c.from === 'relu') expect(pool?.kind === 'kernel' && pool.quantizedInputElements).toBe(512);
      expect((await agreesWithOrt(path)).fused).toBe(c.fused);
    }
  });

  it.skipIf(!ort)('run a MaxPool in the NHWC region when its QuantizeLinear moves in front of it past a Max by a constant, as ORT does', async () => {
    // conv a (fused) → DequantizeLinear → Max(x, 0) (tf2onnx's, after a LeakyRelu) → MaxPool 2×2 → QDQ → conv b (fused).
    // ORT moves the QuantizeLinear in front of the MaxPool and the transpose through the Max (its other input a
    // constant): NhwcMaxPool (OpenWakeWord's embedding model quantized by ORT: all five of its MaxPools).
    const dq = (x: string, y: string, name: string, sc = 's', z = 'z') => ({ op: 'DequantizeLinear', inputs: [x, sc, z], outputs: [y], name });
    const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const conv = (x: string, w: string, y: string, name: string) => ({ op: 'Conv', inputs: [x, w], outputs: [y], attrs: { kernel_shape: [1, 1] }, name });
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 4, 4] }],
      initializers: [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), scalar('zero', FLOAT, 0), weights('wa', INT8, [16, 16, 1, 1]), weights('wb', INT8, [16, 16, 1, 1])],
      nodes: [
        q('x', 'xq', 'q_x'), dq('xq', 'xd', 'dq_x'), dq('wa', 'wad', 'dq_wa', 'ws', 'wz'), conv('xd', 'wad', 'a', 'conv_a'), q('a', 'aq', 'q_a'), dq('aq', 'ad', 'dq_a'),
        { op: 'Max', inputs: ['ad', 'zero'], outputs: ['m'], name: 'max' },
        { op: 'MaxPool', inputs: ['m'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, name: 'pool' }, q('p', 'pq', 'q_p'), dq('pq', 'pd', 'dq_p'),
        dq('wb', 'wbd', 'dq_wb', 'ws', 'wz'), conv('pd', 'wbd', 'b', 'conv_b'), q('b', 'bq', 'q_b'), dq('bq', 'y', 'dq_y'),
      ],
      opset: 13,
    };
    const path = join(tempDir(), 'max-pool.onnx');
    writeFileSync(path, buildModel(spec));
    expect([...(await ortNodes(path, 'all')).values()].filter((op) => op.endsWith('MaxPool'))).toEqual(['com.microsoft::NhwcMaxPool']);
    const p = plan(path);
    const pool = p.plan[p.ops.indexOf('MaxPool')];
    expect([pool?.kind, pool?.kind === 'kernel' && pool.nchwPool === true]).toEqual(['kernel', false]);
  });

  it.skipIf(!ort)('keep an 8-bit Add and the MaxPool after it in NCHW when one Add input comes from a float conv, as ORT does', async () => {
    // conv a (fused) and a second branch meet in an Add (QDQ around it), then a MaxPool 2×2 (QDQ dropped: uint8) and
    // conv b (fused). The second branch is conv c, fused too (every Add input in NHWC: ORT moves the transposes
    // through, the MaxPool becomes NhwcMaxPool), or a float conv (its quantized output stays NCHW: ORT leaves the Add
    // in NCHW with a transpose in front, and runs its generic uint8 MaxPool).
    const dq = (x: string, y: string, name: string, s = 's', z = 'z') => ({ op: 'DequantizeLinear', inputs: [x, s, z], outputs: [y], name });
    const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const conv = (x: string, w: string, y: string, name: string) => ({ op: 'Conv', inputs: [x, w], outputs: [y], attrs: { kernel_shape: [1, 1] }, name });
    const spec = (branch: ModelSpec['nodes']): ModelSpec => ({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 4, 4] }],
      initializers: [
        scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0),
        weights('wa', INT8, [16, 16, 1, 1]), weights('wb', INT8, [16, 16, 1, 1]), weights('wc', INT8, [16, 16, 1, 1]),
        { name: 'wf', dtype: FLOAT, dims: [16, 16, 1, 1], values: Array.from({ length: 256 }, (_, i) => ((i % 7) - 3) / 10) },
      ],
      nodes: [
        q('x', 'xq', 'q_x'), dq('xq', 'xd', 'dq_x'), dq('wa', 'wad', 'dq_wa', 'ws', 'wz'), conv('xd', 'wad', 'a', 'conv_a'), q('a', 'aq', 'q_a'), dq('aq', 'ad', 'dq_a'),
        ...branch, q('c', 'cq', 'q_c'), dq('cq', 'cd', 'dq_c'),
        { op: 'Add', inputs: ['ad', 'cd'], outputs: ['sum'], name: 'add' }, q('sum', 'sq', 'q_sum'), dq('sq', 'sd', 'dq_sum'),
        { op: 'MaxPool', inputs: ['sd'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, name: 'pool' }, q('p', 'pq', 'q_p'), dq('pq', 'pd', 'dq_p'),
        dq('wb', 'wbd', 'dq_wb', 'ws', 'wz'), conv('pd', 'wbd', 'b', 'conv_b'), q('b', 'bq', 'q_b'), dq('bq', 'y', 'dq_y'),
      ],
      opset: 13,
    });
    const dir = tempDir();
    const cases = [
      { branch: [dq('wc', 'wcd', 'dq_wc', 'ws', 'wz'), conv('xd', 'wcd', 'c', 'conv_c')], pool: 'com.microsoft::NhwcMaxPool', nchw: false },
      { branch: [conv('x', 'wf', 'c', 'conv_f')], pool: 'MaxPool', nchw: true },
    ];
    for (const [n, c] of cases.entries()) {
      const path = join(dir, `pool${n}.onnx`);
      writeFileSync(path, buildModel(spec(c.branch)));
      const nodes = [...(await ortNodes(path, 'all')).values()];
      expect(nodes.filter((op) => op.endsWith('MaxPool'))).toEqual([c.pool]);
      const p = plan(path);
      const pool = p.plan[p.ops.indexOf('MaxPool')];
      expect(pool?.kind === 'kernel' && pool.nchwPool === true).toBe(c.nchw);
      // Timed, with the calibrated rate of ORT's generic uint8 pool: 16 × 4 × 4 outputs × 4 reads × 2 ns, plus the
      // 0.5 µs of an elementwise kernel; in NHWC (NhwcMaxPool) at its own rate, 0.1 ns per read.
      const model = readModel(path);
      const inferred = inferModel(model);
      const report = buildReport(model, inferred);
      const profile = { ...PROFILE, int8: { ...PROFILE.int8!, nchwMaxPoolNsPerElement: 2 } };
      const poolMs = (q: typeof PROFILE) => predictLatency(report, layerLinks(inferred), q).layers[report.layers.findIndex((l) => l.name === 'pool')].latencyMs;
      if (c.nchw) expect(poolMs(profile)).toBeCloseTo((16 * 4 * 4 * 4 * 2 + 500) / 1e6, 12);
      else expect(poolMs(profile)).toBe(poolMs(PROFILE));
      const nhwc = { ...PROFILE, int8: { ...PROFILE.int8!, nchwMaxPoolNsPerElement: 2, nhwcMaxPoolNsPerElement: 0.1 } };
      expect(poolMs(nhwc)).toBeCloseTo(c.nchw ? (16 * 4 * 4 * 4 * 2 + 500) / 1e6 : (16 * 4 * 4 * 4 * 0.1 + 500) / 1e6, 12);
    }
  });

  it.skipIf(!ort)('time a QDQ Mul of two activations, which ORT fuses into QLinearMul, at the calibrated QLinearMul rate', async () => {
    // a = DQ(Q(x)), b = DQ(Q(x2)); Mul(a, b) and Add(a, b), each with QDQ after it: QLinearMul and QLinearAdd.
    const dq = (x: string, y: string, name: string) => ({ op: 'DequantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }, { name: 'x2', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 8, 8] }, { name: 'y2', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      initializers: [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128)],
      nodes: [
        q('x', 'xq', 'q_x'), dq('xq', 'a', 'dq_a'), q('x2', 'x2q', 'q_x2'), dq('x2q', 'b', 'dq_b'),
        { op: 'Mul', inputs: ['a', 'b'], outputs: ['m'], name: 'mul' }, q('m', 'mq', 'q_m'), dq('mq', 'y', 'dq_y'),
        { op: 'Add', inputs: ['a', 'b'], outputs: ['t'], name: 'add' }, q('t', 'tq', 'q_t'), dq('tq', 'y2', 'dq_y2'),
      ],
      opset: 13,
    };
    const path = join(tempDir(), 'mul.onnx');
    writeFileSync(path, buildModel(spec));
    const nodes = [...(await ortNodes(path, 'all')).values()];
    expect(nodes.filter((op) => op.startsWith('com.microsoft::QLinear')).sort()).toEqual(['com.microsoft::QLinearAdd', 'com.microsoft::QLinearMul']);
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const ms = (p: DeviceProfile, name: string) => predictLatency(report, layerLinks(inferred), p).layers[report.layers.findIndex((l) => l.name === name)].latencyMs;
    const profile = { ...PROFILE, int8: { ...PROFILE.int8!, qlinearMulNsPerElement: 0.2 } };
    // 16 × 8 × 8 outputs × 0.2 ns, plus the 0.5 µs of an elementwise kernel; the Add keeps the float Add's time, and
    // without the rate (older profiles) the Mul does too.
    expect(ms(profile, 'mul')).toBeCloseTo((1024 * 0.2 + 500) / 1e6, 12);
    expect(ms(profile, 'add')).toBe(ms(PROFILE, 'add'));
    expect(ms(PROFILE, 'mul')).toBe(ms(PROFILE, 'add'));
  });

  it.skipIf(!ort)('time a QDQ LeakyRelu and Sigmoid, which ORT fuses into its table-lookup kernels, at the calibrated lookup rate', async () => {
    const dq = (x: string, y: string, name: string) => ({ op: 'DequantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const q = (x: string, y: string, name: string) => ({ op: 'QuantizeLinear', inputs: [x, 's', 'z'], outputs: [y], name });
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 8, 8] }, { name: 'y2', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      initializers: [scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128)],
      nodes: [
        q('x', 'xq', 'q_x'), dq('xq', 'a', 'dq_a'), dq('xq', 'b', 'dq_b'),
        { op: 'LeakyRelu', inputs: ['a'], outputs: ['l'], attrs: { alpha: 0.2 }, name: 'leaky' }, q('l', 'lq', 'q_l'), dq('lq', 'y', 'dq_y'),
        { op: 'Sigmoid', inputs: ['b'], outputs: ['g'], name: 'sigmoid' }, q('g', 'gq', 'q_g'), dq('gq', 'y2', 'dq_y2'),
      ],
      opset: 13,
    };
    const path = join(tempDir(), 'lookup.onnx');
    writeFileSync(path, buildModel(spec));
    const nodes = [...(await ortNodes(path, 'all')).values()];
    expect(nodes.filter((op) => op.startsWith('com.microsoft::QLinear')).sort()).toEqual(['com.microsoft::QLinearLeakyRelu', 'com.microsoft::QLinearSigmoid']);
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const ms = (p: DeviceProfile, name: string) => predictLatency(report, layerLinks(inferred), p).layers[report.layers.findIndex((l) => l.name === name)].latencyMs;
    const profile = { ...PROFILE, int8: { ...PROFILE.int8!, qlinearLookupNsPerElement: 0.3 } };
    // 1,024 elements × 0.3 ns, plus the 0.5 µs of an elementwise kernel; without the rate, the float op's time.
    expect(ms(profile, 'leaky')).toBeCloseTo((1024 * 0.3 + 500) / 1e6, 12);
    expect(ms(profile, 'sigmoid')).toBeCloseTo((1024 * 0.3 + 500) / 1e6, 12);
    expect(ms(PROFILE, 'leaky')).not.toBeCloseTo(ms(profile, 'leaky'), 9);
  });

  it.skipIf(!ort)('run a QDQ conv ORT leaves unfused on the generic path (its weights are dequantized each run), a float one blocked', async () => {
    // x → Q → DQ → conv q (int8 weights through DequantizeLinear, a Tanh after: not fused) → conv f (float weights).
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 16, 8, 8] }],
      initializers: [
        scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0), weights('wq', INT8, [16, 16, 3, 3]),
        { name: 'wf', dtype: FLOAT, dims: [16, 16, 3, 3], values: Array.from({ length: 2304 }, (_, i) => ((i % 7) - 3) / 10) },
      ],
      nodes: [
        { op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['xq'], name: 'q_x' }, { op: 'DequantizeLinear', inputs: ['xq', 's', 'z'], outputs: ['xd'], name: 'dq_x' },
        { op: 'DequantizeLinear', inputs: ['wq', 'ws', 'wz'], outputs: ['wqd'], name: 'dq_wq' },
        { op: 'Conv', inputs: ['xd', 'wqd'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, name: 'conv_q' },
        { op: 'Tanh', inputs: ['c'], outputs: ['t'], name: 'tanh' },
        { op: 'Conv', inputs: ['t', 'wf'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, name: 'conv_f' },
      ],
      opset: 13,
    };
    const dir = tempDir();
    const path = join(dir, 'unfused.onnx');
    writeFileSync(path, buildModel(spec));
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const { layers } = predictLatency(report, layerLinks(inferred), { ...PROFILE, nchwcBlock: 16 });
    const pathOf = (name: string) => layers[report.layers.findIndex((l) => l.name === name)].convPath;
    expect([pathOf('conv_q'), pathOf('conv_f')]).toEqual(['generic', 'nchwc']);
    // ORT: conv q runs as a FusedConv (with its Tanh) on dequantized weights, not blocked; conv f as a blocked conv.
    const nodes = await ortNodes(path, 'all');
    expect([nodes.get('conv_q'), [...nodes.values()].filter((op) => op === 'com.microsoft.nchwc::Conv').length]).toEqual(['com.microsoft::FusedConv', 1]);
  });

  it.skipIf(!ort)('agree with the graph ORT optimizes on convs whose channels keep them off the symmetric kernels: all fused', async () => {
    const dir = tempDir();
    const path = join(dir, 'chain.onnx');
    writeFileSync(path, buildModel(channelChainSpec()));
    // 7 convs with their input DequantizeLinear, weight DequantizeLinear and QuantizeLinear after: 28 gone; q_x and
    // dq_y stay.
    expect(await agreesWithOrt(path)).toEqual({ fused: 28, kept: 2 });
  });

  it.skipIf(!ort)('predict the integer kernels ORT makes of models mbn quantize writes (a Relu or Clip before the QuantizeLinear)', async () => {
    // Counted, not matched by name: ORT also fuses these models' float convs with their float activations (FusedConv)
    // and duplicates a DequantizeLinear read by fused and float ops, which the name check above does not follow.
    const dir = tempDir();
    const cases: [string, string[], Record<string, number>, Record<string, number>][] = [
      // PP-OCR cls (real; its 35 BatchNormalizations folded first): squeeze-excite convs → Relu → QuantizeLinear, pools
      // and residual Adds between int8 layers.
      // ORT fuses one more pool than predicted: the last GlobalAveragePool, read by a Reshape whose output is
      // quantized (and by a Shape ORT computes at load); ORT moves that QuantizeLinear up through the Reshape (its
      // QDQ propagation), which the latency model does not follow. Its final MatMul (MatMulIntegerToFloat) is not counted.
      [fixture('real/ppocr_mobile_v2_cls.onnx'), ['--calibrate', fixture('calibration/ppocr_cls')], { QLinearConv: 26, QLinearAdd: 7, QLinearGlobalAveragePool: 10 }, { QLinearConv: 26, QLinearAdd: 7, QLinearGlobalAveragePool: 9 }],
    ];
    const blazeface = join(process.env.MBN_HELDOUT ?? '/work/heldout', 'models', 'blazeface_front_128.onnx');
    const bf = { QLinearConv: 33, QLinearAdd: 16, QLinearConcat: 11 };
    if (existsSync(blazeface)) cases.push([blazeface, ['--calibrate', 'random:8'], bf, bf]);
    else console.warn(`skipping BlazeFace front in the mbn quantize kernel check: ${blazeface} is absent (node scripts/fetch-heldout.mjs)`);
    for (const [input, args, want, wantPredicted] of cases) {
      const out = join(dir, `${basename(input, '.onnx')}.int8.onnx`);
      const r = mbn(['quantize', input, '-o', out, ...args]);
      expect(r.status, r.stderr).toBe(0);
      const p = plan(out);
      const predicted: Record<string, number> = {};
      p.plan.forEach((k, i) => {
        if (k?.kind === 'kernel' && k.qdq && !DROP_QDQ.has(p.ops[i]) && p.ops[i] !== 'MatMul' && p.ops[i] !== 'Gemm') predicted[`QLinear${p.ops[i]}`] = (predicted[`QLinear${p.ops[i]}`] ?? 0) + 1;
      });
      const actual: Record<string, number> = {};
      await ortNodes(out, 'all');
      // From the optimized file itself: ORT gives several fused nodes one name.
      for (const n of readModel(out.replace(/\.onnx$/, '.optimized.onnx')).graph.nodes) if (n.opType.startsWith('QLinear')) actual[n.opType] = (actual[n.opType] ?? 0) + 1;
      expect(actual).toEqual(want);
      expect(predicted).toEqual(wantPredicted);
      // Every Relu/Clip ORT drops before a QuantizeLinear is predicted folded, and none it keeps.
      const nodes = await ortNodes(out);
      p.names.forEach((name, i) => {
        if (p.ops[i] !== 'Relu' && p.ops[i] !== 'Clip') return;
        const merged = nodes.has(name) ? 'kept' : 'dropped';
        expect(`${name}: ${p.plan[i]?.kind === 'folded' ? 'dropped' : 'kept'}`).toBe(`${name}: ${merged}`);
      });
    }
  }, 120_000);

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
  ...ROUND_PROFILE,
  name: 'int8',
  cacheGBps: 1000,
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
    // Its input, from the graph input, is transposed to NHWC (512 bytes read and written at 1000 GB/s, + 0.5 µs).
    expect(at('conv_fused').latencyMs).toBeCloseTo((73_728 / 400e3 + 1 + 0.5 + 1024 / 1e6) / 1e3, 9);
    expect(at('q_c1').fusedInto).toBe('conv_fused');
    expect(at('dq_w1').fusedInto).toBe('conv_fused');
    // q_x: 512 elements × 0.5 ns = 0.256 µs, + 0.5 µs overhead; dq_a: 512 × 1 ns + 0.5 µs.
    expect(at('q_x').latencyMs).toBeCloseTo((0.256 + 0.5) / 1e3, 9);
    expect(at('dq_a').latencyMs).toBeCloseTo((0.512 + 0.5) / 1e3, 9);
    // The Tanh stays float: 512 FLOPs at 1 GFLOP/s (its 4 KB at 1000 GB/s take less) + 0.5 µs.
    expect(at('tanh').latencyMs).toBeCloseTo((0.512 + 0.5) / 1e3, 9);
    // The QLinearAdd works element by element in float, as a float Add: 512 operations at 1 GFLOP/s (its 6 KB at
    // 1000 GB/s take less) + 0.5 µs; its output leaves the NHWC region for the Tanh: a transpose of 512 bytes.
    expect(at('add').latencyMs).toBeCloseTo((0.512 + 0.5 + 0.5 + 1024 / 1e6) / 1e3, 9);
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
    expect(notes).toEqual([{ code: 'latency-int8-at-float-rates', device: 'int8', layers: 8 }]);
    expect(notes.map(noteText)).toEqual(['device profile int8 has no integer-kernel figures: 8 integer and quantize layers predicted at its float rates (mbn calibrate measures them)']);
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

  it('times a grouped ConvInteger per group by its im2col rows, one-by-one elements and GEMM blocks where calibrated', () => {
    const dir = tempDir();
    const path = join(dir, 'dyn-groups.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8, 8, 8] }],
        outputs: [{ name: 'd', dtype: INT32, shape: [1, 8, 8, 8] }, { name: 's', dtype: INT32, shape: [1, 8, 4, 4] }],
        initializers: [weights('dw', UINT8, [8, 1, 3, 3]), scalar('wz', UINT8, 128)],
        nodes: [
          { op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['xq', 'xs', 'xz'], name: 'dql' },
          { op: 'ConvInteger', inputs: ['xq', 'dw', 'xz', 'wz'], outputs: ['d'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 }, name: 'ci_dw' },
          { op: 'ConvInteger', inputs: ['xq', 'dw', 'xz', 'wz'], outputs: ['s'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], group: 8 }, name: 'ci_dw_s2' },
        ],
        opset: 13,
      }),
    );
    const inferred = inferModel(readModel(path));
    const report = buildReport(readModel(path), inferred);
    const rates = { nsPerGroup: 50, nsPerRow: 3, nsPerStridedElement: 0.5, nsPerBlock: 2 };
    const profile: DeviceProfile = { ...PROFILE, int8: { ...PROFILE.int8!, groupedConvInteger: rates } };
    const { layers } = predictLatency(report, layerLinks(inferred), profile);
    // Stride 1 on 8×8, pads 1: kernel rows read the input on 7, 8 and 7 output rows (22), × 3 kernel columns = 66
    // im2col rows; no one-by-one elements; GEMM 1 × 64 × 9: 2 blocks of 32 positions × 5 tap pairs. Per group
    // 50 + 66·3 + 10·2 = 268 ns, × 8 groups, + the depthwise overhead (1 µs).
    expect(layers[1].latencyMs).toBeCloseTo((8 * 268 / 1e3 + 1) / 1e3, 12);
    // Stride 2 → 4×4: kernel rows read on 3, 4 and 4 output rows (11) → 33 rows; 11 × 11 elements gathered one by one;
    // 1 block × 5 pairs. Per group 50 + 99 + 60.5 + 10 = 219.5 ns.
    expect(layers[2].latencyMs).toBeCloseTo((8 * 219.5 / 1e3 + 1) / 1e3, 12);
  });

  it('fits the grouped ConvInteger costs by non-negative least squares', () => {
    const shapes = GROUPED_CONV_INTEGER_SHAPES.map((s) => benchConvShapeWork(s).work);
    // Times made from known costs come back exactly.
    const known = { nsPerGroup: 54, nsPerRow: 3.5, nsPerStridedElement: 0.05, nsPerBlock: 2.6 };
    expect(fitGroupedConvInteger(shapes.map((work) => ({ work, nsPerGroup: integerNsPerGroup(known, work) })))).toEqual(known);
    // Times no cost explains with a positive one-by-one rate (the strided shape faster than the counts allow) leave
    // that rate at 0, never negative.
    const fitted = fitGroupedConvInteger(shapes.map((work) => ({ work, nsPerGroup: integerNsPerGroup(known, work) - 0.2 * work.stridedElements })))!;
    expect(fitted.nsPerStridedElement).toBe(0);
    expect(Object.values(fitted).every((x) => x >= 0)).toBe(true);
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
    // And two transposes to and from NHWC (192 and 256 bytes, each read and written, + 0.5 µs each).
    expect(layers[report.layers.findIndex((l) => l.name === 'stem')].latencyMs).toBeCloseTo((0.03456 + 1 + 0.512 + 1 + (2 * 448) / 1e6) / 1e3, 9);
    // With the per-position and per-tap costs: 64 positions × (10 + 27 taps × 0.5) ns = 1.504 µs in place of 0.512.
    const perTap = { ...PROFILE, int8: { ...PROFILE.int8!, thinConv: { nsPerPosition: 10, nsPerTap: 0.5 } } };
    const wide = predictLatency(report, layerLinks(inferred), perTap).layers;
    expect(wide[report.layers.findIndex((l) => l.name === 'stem')].latencyMs).toBeCloseTo((0.03456 + 1 + 1.504 + 1 + (2 * 448) / 1e6) / 1e3, 9);
  });

  it('solves two stems for the cost per output position and per input tap', () => {
    // 12,544 positions × (12 + 27 × 0.2) ns = 218.2656 µs; 4,096 × (12 + 75 × 0.2) = 110.592 µs.
    expect(thinConvCosts({ extraMs: 0.2182656, positions: 12544, taps: 27 }, { extraMs: 0.110592, positions: 4096, taps: 75 })).toEqual({ thinConv: { nsPerPosition: 12, nsPerTap: 0.2 } });
    // A wider stem that costs less per position than the narrow one: noise, nothing.
    expect(thinConvCosts({ extraMs: 0.2182656, positions: 12544, taps: 27 }, { extraMs: 0.04, positions: 4096, taps: 75 })).toEqual({});
  });

  it('solves the symmetric kernel\'s cost per output pixel and tap and its multiply-add rates', () => {
    // Made with 1.5 ns per pixel-tap, 0.002 ns per multiply-add (1,000 GOP/s), 0.0025 for 1×1 (800 GOP/s):
    // int8-conv 784 pixels × 9 taps, 28,901,376 MACs; int8-conv-narrow 12,544 × 3, 9,633,792; int8-pointwise 3,136 × 1, 12,845,056.
    const made: Record<string, { ns: number; macs: number }> = {
      'int8-conv': { ns: 7056 * 1.5 + 28_901_376 * 0.002, macs: 28_901_376 },
      'int8-conv-narrow': { ns: 37_632 * 1.5 + 9_633_792 * 0.002, macs: 9_633_792 },
      'int8-pointwise': { ns: 3136 * 1.5 + 12_845_056 * 0.0025, macs: 12_845_056 },
    };
    const ms = (name: string) => made[name].ns / 1e6;
    const work = (name: string) => 2 * made[name].macs;
    expect(symmetricConvRates(ms, work)).toEqual({ symmetricConv: { nsPerPixelTap: 1.5, convGops: 1000, pointwiseGops: 800 } });
    // A narrow conv faster than its multiply-adds allow: noise, nothing.
    made['int8-conv-narrow'].ns = 1000;
    expect(symmetricConvRates(ms, work)).toEqual({});
  });
});

describe('QLinearConv on and off MLAS\'s symmetric conv kernels', () => {
  it('follows MlasConvSymPackWSize: depthwise channels a multiple of 16; dense ≥ 16 outputs, inputs a multiple of 4, outputs of the alignment', () => {
    const g = (inChannels: number, outChannels: number, group = 1) => ({ inChannels, outChannels, group, kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], autoPad: 'NOTSET' }) as unknown as Parameters<typeof symmetricConvKernel>[0];
    // BlazeFace's depthwise convs: 24, 28, 36, 42 channels off; 32, 48, 64, 96 on.
    expect([24, 28, 32, 36, 42, 48, 64, 96].map((c) => symmetricConvKernel(g(c, c, c), 4))).toEqual([false, false, true, false, false, true, true, true]);
    // Dense: 32→36 on with AVX-512's alignment 4, off with AVX2's 8; 34→32 (inputs), 32→12 (fewer than 16), 36→42 off.
    expect([g(32, 36), g(32, 40), g(34, 32), g(32, 12), g(36, 42)].map((x) => [symmetricConvKernel(x, 4), symmetricConvKernel(x, 8)])).toEqual([[true, false], [true, true], [false, false], [false, false], [false, false]]);
    // A grouped conv that is not depthwise (2 channels per group), or a depthwise one with a multiplier: generic.
    expect([symmetricConvKernel(g(32, 32, 16), 4), symmetricConvKernel(g(16, 32, 16), 4)]).toEqual([false, false]);
  });

  it('counts the kernel taps that read the input, not padding', () => {
    const g = (k: number, pad: number, stride = 1, autoPad = 'NOTSET') => ({ kernel: [k, k], strides: [stride, stride], dilations: [1, 1], pads: [pad, pad, pad, pad], autoPad });
    // PP-OCR cls: 5×5, pads 2 on 2×96. Rows: each output row reads 2 of 5 input rows (4 of 10); columns: 480 taps,
    // 3 + 3 of them in the padding at the ends (474 of 480).
    expect(inputTapShare(g(5, 2), [2, 96], [2, 96])).toBeCloseTo((4 / 10) * (474 / 480), 12);
    // 3×3, pads 1 on 8×8: 22 of 24 per dimension; no padding: all of them; SAME_UPPER 3×3 stride 2 on 8×8 → 4×4:
    // total pad 1, at the end: 11 of 12 per dimension.
    expect(inputTapShare(g(3, 1), [8, 8], [8, 8])).toBeCloseTo((22 / 24) ** 2, 12);
    expect(inputTapShare(g(3, 0), [8, 8], [6, 6])).toBe(1);
    expect(inputTapShare(g(3, 0, 2, 'SAME_UPPER'), [8, 8], [4, 4])).toBeCloseTo((11 / 12) ** 2, 12);
  });

  it('times convs off the symmetric kernels at the generic rates, depthwise on channels rounded up to 8', () => {
    const { inferred, report } = channelChain();
    const generic = { ...PROFILE, int8: { ...PROFILE.int8!, genericGops: { conv: 100, pointwise: 40, depthwise: 4 } } };
    const times = (profile: DeviceProfile) => {
      const { layers } = predictLatency(report, layerLinks(inferred), profile);
      return Object.fromEntries(['dw16', 'pw16_24', 'dw24', 'pw24_20', 'dw20', 'pw20_34', 'pw34_32'].map((n) => [n, layers[report.layers.findIndex((l) => l.name === n)].latencyMs * 1e3]));
    };
    // Ops = 2 × MACs over 8×8 pixels; each + 1 µs overhead. On: dw16 18,432 ops at 20 GOP/s, pw16_24 49,152 at 200.
    // Off: dw24 27,648 at 4; dw20 23,040 ops timed as 24 channels (27,648) at 4; pw20_34 87,040 and pw34_32 139,264 at 40.
    // The generic depthwise kernel counts only the taps that read the input: on 8×8 with pads 1, 22 of 24 per
    // dimension, (22/24)² of 27,648 = 23,232 ops (5.808 µs at 4).
    // pw24_20 (61,440 ops): 200 GOP/s with AVX-512's alignment 4 (NCHWc block 16), 40 with AVX2's 8 (block 8).
    const expected = { dw16: 0.9216, pw16_24: 0.24576, dw24: 5.808, pw24_20: 0.3072, dw20: 5.808, pw20_34: 2.176, pw34_32: 3.4816 };
    const avx512 = times({ ...generic, nchwcBlock: 16 });
    const avx2 = times({ ...generic, nchwcBlock: 8 });
    // The chain's ends are transposed to and from NHWC: 1,024 bytes into dw16, 2,048 out of pw34_32 (+ 0.5 µs each).
    const transposes: Record<string, number> = { dw16: 0.5 + 2048 / 1e6, pw34_32: 0.5 + 4096 / 1e6 };
    for (const [name, us] of Object.entries(expected)) {
      expect(avx512[name]).toBeCloseTo(us + 1 + (transposes[name] ?? 0), 6);
      expect(avx2[name]).toBeCloseTo((name === 'pw24_20' ? 1.536 : us) + 1 + (transposes[name] ?? 0), 6);
    }
    // A profile without the generic rates (calibrated before them) keeps every QLinearConv at the symmetric rates.
    const older = times({ ...PROFILE, nchwcBlock: 16 });
    expect(older.dw24).toBeCloseTo(27_648 / 20e3 + 1, 6);
    expect(older.pw34_32).toBeCloseTo(139_264 / 200e3 + 1 + transposes.pw34_32, 6);
  });

  it('times a dense conv on MLAS\'s symmetric kernel per output pixel and tap plus its multiply-adds where calibrated', () => {
    const { inferred, report } = channelChain();
    const profile = { ...PROFILE, nchwcBlock: 16, int8: { ...PROFILE.int8!, genericGops: { conv: 100, pointwise: 40, depthwise: 4 }, symmetricConv: { nsPerPixelTap: 2, convGops: 100, pointwiseGops: 400 } } };
    const { layers } = predictLatency(report, layerLinks(inferred), profile);
    // pw16_24: 64 pixels × 1 tap × 2 ns, and 49,152 ops at 400 GOP/s (0.12288 µs), + 1 µs.
    expect(layers[report.layers.findIndex((l) => l.name === 'pw16_24')].latencyMs * 1e3).toBeCloseTo(0.128 + 0.12288 + 1, 6);
    // pw34_32 (34 input channels: not a multiple of 4) stays on the generic path: 139,264 ops at 40 GOP/s.
    expect(layers[report.layers.findIndex((l) => l.name === 'pw34_32')].latencyMs * 1e3).toBeCloseTo(139_264 / 40e3 + 1 + 0.5 + 4096 / 1e6, 6);
  });

  it('times a 1×1 conv off the symmetric kernel as MLAS\'s integer GEMM runs it where calibrated: by blocks of 16 output channels', () => {
    const { inferred, report } = channelChain();
    const genericPointwise = { nsPerPaddedOutput: 0.5, nsPerPaddedMac: 0.01 };
    const profile = { ...PROFILE, nchwcBlock: 16, int8: { ...PROFILE.int8!, genericGops: { conv: 100, pointwise: 40, depthwise: 4 }, genericPointwise } };
    const { layers } = predictLatency(report, layerLinks(inferred), profile);
    // pw34_32: 64 pixels × 32 output channels (two blocks of 16) × (0.5 + 34 × 0.01 ns), 1.72032 µs, + 1 µs, and its
    // transposes as before.
    expect(layers[report.layers.findIndex((l) => l.name === 'pw34_32')].latencyMs * 1e3).toBeCloseTo(1.72032 + 1 + 0.5 + 4096 / 1e6, 6);
    // 33 output channels would pay for three blocks.
    expect(genericPointwiseNs(genericPointwise, 64, 34, 33)).toBeCloseTo(64 * 48 * 0.84, 9);
  });

  it('calibrate solves the generic 1×1 conv\'s two costs from its 62→64 and 36→42 benchmarks (made-up times of known costs)', () => {
    const pixels = 56 * 56;
    const made = { nsPerPaddedOutput: 0.3, nsPerPaddedMac: 0.001 };
    const ms = (name: string) => (name === 'int8-pointwise-generic' ? pixels * 64 * (0.3 + 62 * 0.001) : pixels * 48 * (0.3 + 36 * 0.001)) / 1e6;
    expect(genericPointwiseRates(ms)).toEqual({ genericPointwise: made });
    // A narrow conv slower per padded channel than the wide one: no non-negative solution, no rates.
    expect(genericPointwiseRates((name) => (name === 'int8-pointwise-generic' ? 0.01 : 0.05))).toEqual({});
  });

  it('times a generic depthwise conv as MLAS\'s kernel runs it where calibrated: per pixel and tap, vector, tail channel', () => {
    const { inferred, report } = channelChain();
    const rates = { nsPerPixelTap: 1, nsPerVectorTap: 2, nsPerTailTap: 3 };
    const profile = { ...PROFILE, nchwcBlock: 8, int8: { ...PROFILE.int8!, genericGops: { conv: 100, pointwise: 40, depthwise: 4 }, genericDepthwise: rates } };
    const { layers } = predictLatency(report, layerLinks(inferred), profile);
    const us = (n: string) => layers[report.layers.findIndex((l) => l.name === n)].latencyMs * 1e3;
    // 8×8 pixels × 9 taps, (22/24)² of them reading the input: 484 pairs, plus the dispatch (elementwise overhead).
    // dw24: two vectors (16 and 8), no tail: 484 × (1 + 2·2) ns; dw20: one vector and 4 tail channels: 484 × (1 + 2 + 4·3).
    expect(us('dw24')).toBeCloseTo((484 * 5) / 1000 + PROFILE.overheadUs.elementwise, 6);
    expect(us('dw20')).toBeCloseTo((484 * 15) / 1000 + PROFILE.overheadUs.elementwise, 6);
    // 16 channels: MLAS's symmetric kernel, not this one.
    expect(us('dw16')).toBeCloseTo(18_432 / 20e3 + 1 + 0.5 + 2048 / 1e6, 6);
  });
});

describe('the profile\'s int8 block', () => {
  it('is optional: a profile without it stays valid; a bad figure is named', () => {
    const { int8, ...older } = PROFILE;
    expect(validateProfile(JSON.parse(JSON.stringify(older)), 'old.json').int8).toBeUndefined();
    expect(validateProfile(JSON.parse(JSON.stringify(PROFILE)), 'new.json').int8).toEqual(int8);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, gops: { ...int8!.gops, depthwise: 0 } } }, 'bad.json')).toThrow('device profile bad.json: "int8.gops.depthwise" must be a positive number (GOP/s)');
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, quantizeNsPerElement: 'fast' } }, 'bad.json')).toThrow('"int8.quantizeNsPerElement" must be a positive number');
    const symmetricConv = { nsPerPixelTap: 1.9, convGops: 1100, pointwiseGops: 830 };
    expect(validateProfile({ ...PROFILE, int8: { ...int8, symmetricConv } }, 'new.json').int8!.symmetricConv).toEqual(symmetricConv);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, symmetricConv: { ...symmetricConv, convGops: 0 } } }, 'bad.json')).toThrow('"int8.symmetricConv" must be an object with a positive nsPerPixelTap (ns), convGops and pointwiseGops (GOP/s)');
    const generic = { ...int8!, genericGops: { conv: 300, pointwise: 150, depthwise: 10 } };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: generic })), 'new.json').int8).toEqual(generic);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, genericGops: { conv: 300, pointwise: 150 } } }, 'bad.json')).toThrow('"int8.genericGops" must be an object with positive conv, pointwise, depthwise (GOP/s)');
    const pools = { ...int8!, nchwMaxPoolNsPerElement: 2.5 };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: pools })), 'new.json').int8).toEqual(pools);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, nchwMaxPoolNsPerElement: -1 } }, 'bad.json')).toThrow('"int8.nchwMaxPoolNsPerElement" must be a positive number');
    const thin = { ...int8!, thinConv: { nsPerPosition: 12.5, nsPerTap: 0.15 } };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: thin })), 'new.json').int8).toEqual(thin);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, thinConv: { nsPerPosition: 12.5 } } }, 'bad.json')).toThrow('"int8.thinConv" must be an object with a positive nsPerPosition and nsPerTap (ns)');
    const nhwcPools = { ...int8!, nhwcMaxPoolNsPerElement: 0.06 };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: nhwcPools })), 'new.json').int8).toEqual(nhwcPools);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, nhwcMaxPoolNsPerElement: -1 } }, 'bad.json')).toThrow('"int8.nhwcMaxPoolNsPerElement" must be a positive number');
    const lookups = { ...int8!, qlinearLookupNsPerElement: 0.18 };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: lookups })), 'new.json').int8).toEqual(lookups);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, qlinearLookupNsPerElement: 0 } }, 'bad.json')).toThrow('"int8.qlinearLookupNsPerElement" must be a positive number');
    const muls = { ...int8!, qlinearMulNsPerElement: 0.18 };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: muls })), 'new.json').int8).toEqual(muls);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, qlinearMulNsPerElement: 0 } }, 'bad.json')).toThrow('"int8.qlinearMulNsPerElement" must be a positive number');
    const grouped = { ...int8!, groupedConvInteger: { nsPerGroup: 54, nsPerRow: 3.5, nsPerStridedElement: 0, nsPerBlock: 2.6 } };
    expect(validateProfile(JSON.parse(JSON.stringify({ ...PROFILE, int8: grouped })), 'new.json').int8).toEqual(grouped);
    const groupedError = '"int8.groupedConvInteger" must be an object with nsPerGroup, nsPerRow, nsPerStridedElement, nsPerBlock: numbers ≥ 0 (ns), one of them positive';
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, groupedConvInteger: { ...grouped.groupedConvInteger, nsPerRow: -1 } } }, 'bad.json')).toThrow(groupedError);
    expect(() => validateProfile({ ...PROFILE, int8: { ...int8, groupedConvInteger: { nsPerGroup: 0, nsPerRow: 0, nsPerStridedElement: 0, nsPerBlock: 0 } } }, 'bad.json')).toThrow(groupedError);
  });
});
