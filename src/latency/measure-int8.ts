import { join } from 'node:path';
import { type Chunk, node, writeModel } from '../bench/models.js';
import { measureModel, type Ort, quantile } from '../bench/run.js';
import { DataType } from '../onnx/dtype.js';
import { encodeTensorField, encodeValueInfoField } from '../onnx/encode.js';
import { MbnError } from '../errors.js';
import type { GenericDepthwiseRates, GroupedConvIntegerRates, Int8Rates } from '../contract/device.js';
import { genericPointwiseNs, inputTapShare } from './int8.js';
import { fitGenericDepthwise, GENERIC_DEPTHWISE_CHANNELS, GENERIC_DEPTHWISE_MAP, genericDepthwiseWork } from './qdw-conv.js';
import { type BenchConvShape, benchConvShapeWork, fitGroupedConvInteger, GROUPED_CONV_INTEGER_SHAPES } from './grouped-conv.js';

/**
 * `mbn calibrate`'s integer kernels: one-op models through ONNX Runtime, each kernel's time read from ORT's profiler
 * (the quantize and layout steps around a lone integer kernel would swamp it in a whole run). The QDQ models are
 * the form ORT's quantizer writes (DequantizeLinear → Conv/MatMul → QuantizeLinear); ORT fuses each into one
 * QLinearConv / QLinearMatMul kernel, the kernel a QOperator model runs too. The fastest kernel time over all runs
 * and rounds is kept, as for the float micro-benchmarks.
 */
const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });

interface KernelBench {
  name: string;
  what: string;
  /** 2 × MACs of the kernel, or elements for a quantize step. */
  work: number;
  input: number[];
  /** ORT's op name of the kernel to time (after its graph optimizations). */
  kernel: string;
  write(path: string): void;
}

/** A constant tensor of deterministic values in [lo, lo + span) of an 8-bit type (or a float scalar). */
function tensor8(name: string, dtype: number, dims: number[], lo: number, span: number): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = new Uint8Array(count);
  for (let i = 0; i < count; i++) raw[i] = (lo + ((i * 37 + 11) % span)) & 0xff;
  return encodeTensorField({ name, dtype, dims, raw });
}
function floatScalar(name: string, value: number): Uint8Array {
  return encodeTensorField({ name, dtype: DataType.FLOAT, dims: [], raw: new Uint8Array(new Float32Array([value]).buffer) });
}

/** Scales and zero points of a uint8 activation `t` (zero point 128). */
function activationQuant(t: string): Chunk[] {
  return [floatScalar(`${t}_s`, 0.05), tensor8(`${t}_z`, DataType.UINT8, [], 128, 1)];
}

/** Weights of 8-bit type `dtype` (int8: zero point 0, values −8…7; uint8: zero point 128, 120…135). */
function weightQuant(w: string, dtype: number, dims: number[]): Chunk[] {
  const signed = dtype === DataType.INT8;
  return [tensor8(w, dtype, dims, signed ? -8 : 120, 16), floatScalar(`${w}_s`, 0.01), tensor8(`${w}_z`, dtype, [], signed ? 0 : 128, 1)];
}

/** The kernel ORT fuses each QDQ group into (its op name in the profiler's trace). */
const FUSED_KERNEL = { Conv: 'QLinearConv', MatMul: 'QLinearMatMul' } as const;

/** x → Q → DQ → op(·, DQ(w)) → Q → DQ → y: the QDQ group ORT fuses into one integer kernel. */
function qdqBench(name: string, what: string, op: 'Conv' | 'MatMul', x: number[], w: number[], y: number[], attrs: Parameters<typeof node>[4], macs: number, weightType: number): KernelBench {
  return {
    name,
    what,
    work: 2 * macs,
    input: x,
    kernel: FUSED_KERNEL[op],
    write: (path) => {
      const chunks: Chunk[] = [
        node('QuantizeLinear', ['x', 'x_s', 'x_z'], ['xq'], 'quantize_x'),
        node('DequantizeLinear', ['xq', 'x_s', 'x_z'], ['xd'], 'dequantize_x'),
        node('DequantizeLinear', ['w', 'w_s', 'w_z'], ['wd'], 'dequantize_w'),
        node(op, ['xd', 'wd'], ['yf'], 'op', attrs),
        node('QuantizeLinear', ['yf', 'y_s', 'y_z'], ['yq'], 'quantize_y'),
        node('DequantizeLinear', ['yq', 'y_s', 'y_z'], ['y'], 'dequantize_y'),
        ...activationQuant('x'),
        ...weightQuant('w', weightType, w),
        ...activationQuant('y'),
        encodeValueInfoField('x', DataType.FLOAT, x, 11),
        encodeValueInfoField('y', DataType.FLOAT, y, 12),
      ];
      writeModel(path, name, chunks, 13, 5);
    },
  };
}

/** x → DynamicQuantizeLinear → ConvInteger / MatMulInteger (uint8 weights) → int32 y: quantize_dynamic's form. */
function dynamicBench(name: string, what: string, op: 'ConvInteger' | 'MatMulInteger', x: number[], w: number[], y: number[], attrs: Parameters<typeof node>[4], macs: number): KernelBench {
  return {
    name,
    what,
    work: 2 * macs,
    input: x,
    kernel: op,
    write: (path) => {
      const chunks: Chunk[] = [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'x_s', 'x_z'], 'quantize_x'),
        node(op, ['xq', 'w', 'x_z', 'w_z'], ['y'], 'op', attrs),
        ...weightQuant('w', DataType.UINT8, w),
        encodeValueInfoField('x', DataType.FLOAT, x, 11),
        encodeValueInfoField('y', DataType.INT32, y, 12),
      ];
      writeModel(path, name, chunks, 13, 5);
    },
  };
}

/**
 * x → QuantizeLinear → q (also returned, so that ORT's clean-up cannot drop the pair) → DequantizeLinear → y: the
 * conversions left around a layer ORT cannot fuse. Timed separately: `kernel` names which one.
 */
function quantizeBench(name: string, kernel: 'QuantizeLinear' | 'DequantizeLinear', shape: number[]): KernelBench {
  const elements = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    what: `${kernel} of a [${shape.join(', ')}] tensor (float32 ↔ uint8), after a QuantizeLinear whose output is also returned`,
    work: elements,
    input: shape,
    kernel,
    write: (path) => {
      const chunks: Chunk[] = [
        node('QuantizeLinear', ['x', 'x_s', 'x_z'], ['q'], 'quantize'),
        node('DequantizeLinear', ['q', 'x_s', 'x_z'], ['y'], 'dequantize'),
        ...activationQuant('x'),
        encodeValueInfoField('x', DataType.FLOAT, shape, 11),
        encodeValueInfoField('q', DataType.UINT8, shape, 12),
        encodeValueInfoField('y', DataType.FLOAT, shape, 12),
      ];
      writeModel(path, name, chunks, 13, 5);
    },
  };
}

/**
 * x → Q → DQ (once per operand) → op → Q → DQ → y, one scale throughout: an 8-bit op between the pairs ORT either
 * fuses or drops. `op` reads the dequantized operands `d0`, `d1`, … and writes `yf`.
 */
function writeQdqAround(path: string, name: string, operands: number, op: Chunk, x: number[], y: number[]): void {
  const dequantized = Array.from({ length: operands }, (_, i) => node('DequantizeLinear', ['xq', 'x_s', 'x_z'], [`d${i}`], `dequantize_${i}`));
  const chunks: Chunk[] = [
    node('QuantizeLinear', ['x', 'x_s', 'x_z'], ['xq'], 'quantize_x'),
    ...dequantized,
    op,
    node('QuantizeLinear', ['yf', 'x_s', 'x_z'], ['yq'], 'quantize_y'),
    node('DequantizeLinear', ['yq', 'x_s', 'x_z'], ['y'], 'dequantize_y'),
    ...activationQuant('x'),
    encodeValueInfoField('x', DataType.FLOAT, x, 11),
    encodeValueInfoField('y', DataType.FLOAT, y, 12),
  ];
  writeModel(path, name, chunks, 13, 5);
}

/**
 * MaxPool 2×2, stride 2 between QDQ pairs: ORT drops the pairs around the MaxPool (DropQDQNodes) and runs its generic
 * NCHW pool on the uint8 tensor, as in a model whose 8-bit MaxPool sits outside every QLinearConv's NHWC region
 * (src/latency/int8.ts). Work: the input elements the windows read.
 */
function nchwMaxPoolBench(name: string, shape: number[]): KernelBench {
  const [n, c, h, w] = shape;
  const out = [n, c, h / 2, w / 2];
  return {
    name,
    what: `MaxPool 2×2 stride 2 of a uint8 [${shape.join(', ')}] tensor in NCHW (QDQ dropped around it: ORT's generic pool)`,
    work: out.reduce((a, b) => a * b, 1) * 4,
    input: shape,
    kernel: 'MaxPool',
    write: (path) => writeQdqAround(path, name, 1, node('MaxPool', ['d0'], ['yf'], 'op', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]), shape, out),
  };
}

/**
 * A QDQ 1×1 conv (32 → 32 channels, int8 weights) and a MaxPool 2×2, stride 2 after it, between QDQ pairs: ORT runs the
 * conv as a QLinearConv in NHWC and the pool in its region as MLAS's NhwcMaxPool. Work: the input elements the
 * windows read.
 */
function nhwcMaxPoolBench(name: string, shape: number[]): KernelBench {
  const [n, c, h, w] = shape;
  const out = [n, c, h / 2, w / 2];
  return {
    name,
    what: `MaxPool 2×2 stride 2 of a uint8 [${shape.join(', ')}] tensor after a QDQ 1×1 conv (ORT: QLinearConv, then NhwcMaxPool in its NHWC region)`,
    work: out.reduce((a, b) => a * b, 1) * 4,
    input: shape,
    kernel: 'NhwcMaxPool',
    write: (path) => {
      const chunks: Chunk[] = [
        node('QuantizeLinear', ['x', 'x_s', 'x_z'], ['xq'], 'quantize_x'),
        node('DequantizeLinear', ['xq', 'x_s', 'x_z'], ['xd'], 'dequantize_x'),
        node('DequantizeLinear', ['w', 'w_s', 'w_z'], ['wd'], 'dequantize_w'),
        node('Conv', ['xd', 'wd'], ['cf'], 'conv', conv(1)),
        node('QuantizeLinear', ['cf', 'x_s', 'x_z'], ['cq'], 'quantize_c'),
        node('DequantizeLinear', ['cq', 'x_s', 'x_z'], ['cd'], 'dequantize_c'),
        node('MaxPool', ['cd'], ['pf'], 'op', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
        node('QuantizeLinear', ['pf', 'x_s', 'x_z'], ['pq'], 'quantize_p'),
        node('DequantizeLinear', ['pq', 'x_s', 'x_z'], ['y'], 'dequantize_y'),
        ...activationQuant('x'),
        ...weightQuant('w', DataType.INT8, [c, c, 1, 1]),
        encodeValueInfoField('x', DataType.FLOAT, shape, 11),
        encodeValueInfoField('y', DataType.FLOAT, out, 12),
      ];
      writeModel(path, name, chunks, 13, 5);
    },
  };
}

/**
 * A Mul of two dequantized 8-bit activations between QDQ pairs (hard-swish's x · relu6(x + 3) / 6 in a quantized
 * MobileNetV3 or PP-LCNet), which ORT fuses into one QLinearMul. Work: the output elements.
 */
function qlinearMulBench(name: string, shape: number[]): KernelBench {
  return {
    name,
    what: `QDQ Mul of two uint8 [${shape.join(', ')}] tensors (ORT: one QLinearMul)`,
    work: shape.reduce((a, b) => a * b, 1),
    input: shape,
    kernel: 'QLinearMul',
    write: (path) => writeQdqAround(path, name, 2, node('Mul', ['d0', 'd1'], ['yf'], 'op'), shape, shape),
  };
}

/**
 * A QDQ LeakyRelu (α 0.2) of a uint8 activation, which ORT fuses into QLinearLeakyRelu: a table lookup per element
 * (as QLinearSigmoid). Work: the elements.
 */
function qlinearLookupBench(name: string, shape: number[]): KernelBench {
  return {
    name,
    what: `QDQ LeakyRelu of a uint8 [${shape.join(', ')}] tensor (ORT: one QLinearLeakyRelu, a table lookup per element)`,
    work: shape.reduce((a, b) => a * b, 1),
    input: shape,
    kernel: 'QLinearLeakyRelu',
    write: (path) => writeQdqAround(path, name, 1, node('LeakyRelu', ['d0'], ['yf'], 'op', [{ name: 'alpha', type: 'float' as const, value: 0.2 }]), shape, shape),
  };
}

const conv = (k: number, group = 1, stride = 1) => [ints('kernel_shape', [k, k]), ints('pads', Array(4).fill((k - 1) / 2)), { name: 'group', type: 'int' as const, value: group }, ints('strides', [stride, stride])];

export function int8Benchmarks(): KernelBench[] {
  const { channels: c, map: hw } = DENSE;
  const dense = c * c * 9 * hw * hw;
  const pw = 64 * 64 * POINTWISE_MAP * POINTWISE_MAP;
  const dw = 64 * 9 * 56 * 56;
  const [m, k] = [64, 512];
  return [
    qdqBench('int8-conv', `QDQ Conv 3×3, ${c}→${c} channels, ${hw}×${hw}, int8 weights (ORT: one QLinearConv, U8S8)`, 'Conv', [1, c, hw, hw], [c, c, 3, 3], [1, c, hw, hw], conv(3), dense, DataType.INT8),
    qdqBench('int8-conv-u8', `QDQ Conv 3×3, ${c}→${c} channels, ${hw}×${hw}, uint8 weights (ORT: one QLinearConv, U8U8)`, 'Conv', [1, c, hw, hw], [c, c, 3, 3], [1, c, hw, hw], conv(3), dense, DataType.UINT8),
    qdqBench('int8-pointwise', `QDQ Conv 1×1, 64→64 channels, ${POINTWISE_MAP}×${POINTWISE_MAP}, int8 weights (QLinearConv)`, 'Conv', [1, 64, POINTWISE_MAP, POINTWISE_MAP], [64, 64, 1, 1], [1, 64, POINTWISE_MAP, POINTWISE_MAP], conv(1), pw, DataType.INT8),
    // With int8-conv: the symmetric kernel's cost per output pixel and tap, apart from its multiply-adds (few channels).
    qdqBench('int8-conv-narrow', 'QDQ Conv 1×3, 16→16 channels, 112×112, int8 weights (QLinearConv: 48 multiply-adds per output pixel and channel)', 'Conv', [1, 16, 112, 112], [16, 16, 1, 3], [1, 16, 112, 112], [ints('kernel_shape', [1, 3]), ints('pads', [0, 1, 0, 1])], NARROW.macs, DataType.INT8),
    qdqBench('int8-depthwise', 'QDQ depthwise Conv 3×3, 64 channels, 56×56, int8 weights (QLinearConv)', 'Conv', [1, 64, 56, 56], [64, 1, 3, 3], [1, 64, 56, 56], conv(3, 64), dw, DataType.INT8),
    // MLAS's generic paths (int8.ts, symmetricConvKernel): 62 input channels (not a multiple of 4), 24 depthwise
    // channels (not a multiple of 16; a multiple of 8, so no scalar tail).
    qdqBench('int8-conv-generic', `QDQ Conv 3×3, ${c - 2}→${c} channels, ${hw}×${hw}, int8 weights (QLinearConv, generic path: im2col + integer GEMM)`, 'Conv', [1, c - 2, hw, hw], [c, c - 2, 3, 3], [1, c, hw, hw], conv(3), (dense * (c - 2)) / c, DataType.INT8),
    genericPointwiseBench('int8-pointwise-generic', GENERIC_WIDE, 'integer GEMM'),
    // With the one above: the generic GEMM's cost per output channel (rounded up to its block) and per multiply-add.
    genericPointwiseBench('int8-pointwise-generic-narrow', GENERIC_NARROW, `${GENERIC_NARROW.out} output channels in blocks of 16`),
    qdqBench('int8-depthwise-generic', 'QDQ depthwise Conv 3×3, 24 channels, 96×96, int8 weights (QLinearConv, generic depthwise kernel)', 'Conv', [1, 24, 96, 96], [24, 1, 3, 3], [1, 24, 96, 96], conv(3, 24), 24 * 9 * 96 * 96, DataType.INT8),
    // With the one above, the generic depthwise kernel's costs per pixel and tap, per vector and per tail channel (qdw-conv.ts).
    ...GENERIC_DEPTHWISE_CHANNELS.map((c) => {
      const hw = GENERIC_DEPTHWISE_MAP;
      return qdqBench(`int8-depthwise-generic-c${c}`, `QDQ depthwise Conv 5×5, ${c} channels, ${hw}×${hw}, int8 weights (QLinearConv, generic depthwise kernel: ${Math.floor(c / 16)} vectors of 16, ${c % 16 >= 8 ? 1 : 0} of 8, ${c % 8} channels one by one)`, 'Conv', [1, c, hw, hw], [c, 1, 5, 5], [1, c, hw, hw], conv(5, c), c * 25 * hw * hw, DataType.INT8);
    }),
    qdqBench('int8-conv-thin', 'QDQ Conv 3×3 stride 2, 3→32 channels, 224×224 → 112×112, int8 weights (a stem on an RGB image: 27 products per output)', 'Conv', [1, 3, 224, 224], [32, 3, 3, 3], [1, 32, 112, 112], conv(3, 1, 2), 32 * 27 * 112 * 112, DataType.INT8),
    // With the one above: the stem's cost per output position and per input tap (75 here, 27 there).
    qdqBench('int8-conv-thin-wide', 'QDQ Conv 5×5 stride 2, 3→32 channels, 128×128 → 64×64, int8 weights (a stem with 75 products per output)', 'Conv', [1, 3, 128, 128], [32, 3, 5, 5], [1, 32, 64, 64], conv(5, 1, 2), 32 * 75 * 64 * 64, DataType.INT8),
    qdqBench('int8-gemm', `QDQ MatMul [${m}, ${k}] × [${k}, ${k}], int8 weights (QLinearMatMul)`, 'MatMul', [m, k], [k, k], [m, k], [], m * k * k, DataType.INT8),
    dynamicBench('conv-integer', `ConvInteger 3×3, ${c}→${c} channels, ${hw}×${hw}, uint8 weights, after a DynamicQuantizeLinear (quantize_dynamic's form)`, 'ConvInteger', [1, c, hw, hw], [c, c, 3, 3], [1, c, hw, hw], conv(3), dense),
    ...groupedConvIntegerBenchmarks(),
    dynamicBench('matmul-integer', `MatMulInteger [${m}, ${k}] × [${k}, ${k}], uint8 weights, after a DynamicQuantizeLinear`, 'MatMulInteger', [m, k], [k, k], [m, k], [], m * k * k),
    nchwMaxPoolBench('int8-maxpool-nchw', [1, 32, 64, 64]),
    nhwcMaxPoolBench('int8-maxpool-nhwc', [1, 32, 64, 64]),
    qlinearMulBench('int8-mul', [1, 64, 56, 56]),
    qlinearLookupBench('int8-lookup', [1, 64, 56, 56]),
    quantizeBench('quantize', 'QuantizeLinear', [1, 64, 56, 56]),
    quantizeBench('dequantize', 'DequantizeLinear', [1, 64, 56, 56]),
  ];
}

/** The benchmark's name: the first shape keeps the name its `convIntegerDepthwiseGops` had before the fit. */
const groupedName = (s: BenchConvShape, i: number) => (i === 0 ? 'conv-integer-depthwise' : `conv-integer-depthwise-${s.height}x${s.width}-k${s.kernel}-s${s.stride}`);

/**
 * Depthwise ConvIntegers of the shapes the grouped-ConvInteger rates are fitted to (grouped-conv.ts). The first,
 * 64 channels 3×3 on 56×56, also gives `convIntegerDepthwiseGops` under its old name.
 */
function groupedConvIntegerBenchmarks(): KernelBench[] {
  return GROUPED_CONV_INTEGER_SHAPES.map((s, i) => {
    const { out } = benchConvShapeWork(s);
    const what = `depthwise ConvInteger ${s.kernel}×${s.kernel}${s.stride > 1 ? ` stride ${s.stride}` : ''}, ${s.channels} channels, ${s.height}×${s.width}, uint8 weights (ORT: im2col and a GEMM per channel)`;
    return dynamicBench(groupedName(s, i), what, 'ConvInteger', [1, s.channels, s.height, s.width], [s.channels, 1, s.kernel, s.kernel], [1, s.channels, ...out], conv(s.kernel, s.channels, s.stride), s.channels * s.kernel * s.kernel * out[0] * out[1]);
  });
}

/** The grouped-ConvInteger rates from the benchmarks above (kernel ms each); nothing when no fit is positive. */
export function groupedConvIntegerRates(msOf: (name: string) => number): { groupedConvInteger?: GroupedConvIntegerRates } {
  const rates = fitGroupedConvInteger(
    GROUPED_CONV_INTEGER_SHAPES.map((s, i) => {
      const { work } = benchConvShapeWork(s);
      return { work, nsPerGroup: (msOf(groupedName(s, i)) * 1e6) / work.groups };
    }),
  );
  return rates ? { groupedConvInteger: rates } : {};
}

/**
 * Two stems' times beyond their arithmetic, ms, over their output positions, solved for a cost per position and per
 * input tap of each position: extra / positions = nsPerPosition + taps · nsPerTap. Nothing when either is not
 * positive (noise).
 */
export function thinConvCosts(a: { extraMs: number; positions: number; taps: number }, b: { extraMs: number; positions: number; taps: number }): { thinConv?: { nsPerPosition: number; nsPerTap: number } } {
  const [ea, eb] = [(a.extraMs * 1e6) / a.positions, (b.extraMs * 1e6) / b.positions];
  const nsPerTap = (eb - ea) / (b.taps - a.taps);
  const nsPerPosition = ea - a.taps * nsPerTap;
  if (!(nsPerTap > 0) || !(nsPerPosition > 0)) return {};
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { thinConv: { nsPerPosition: round(nsPerPosition), nsPerTap: round(nsPerTap) } };
}

/**
 * The median kernel time of ORT op `op` in a profiling trace, ms: the statistic `mbn bench` reports for a model, so
 * that a profile predicts what it measures (on a VM whose host steals time, a kernel's fastest run was 5–10% under
 * its median, and every prediction with it).
 */
export function medianKernel(trace: readonly unknown[], op: string, what: string): number {
  const times: number[] = [];
  for (const e of trace as { cat?: string; name?: string; dur?: number; args?: { op_name?: string } }[]) {
    if (e.cat === 'Node' && e.name?.endsWith('_kernel_time') && e.args?.op_name === op && typeof e.dur === 'number') times.push(e.dur);
  }
  if (times.length === 0) throw new MbnError('unsupported', `onnxruntime's profiling trace of ${what} has no ${op} kernel`);
  return quantile(times.sort((a, b) => a - b), 0.5) / 1000;
}

export interface Int8Options {
  threads: number;
  runs: number;
  rounds: number;
  warmup: number;
  onStep?: (name: string) => void;
}

/**
 * Writes each benchmark into `dir` and runs them all, round after round, under ORT's profiler; returns each one's
 * kernel time (ms): its `kernel` node alone, not the run around it, the median of a round, the lowest over rounds.
 */
export async function kernelTimes(ort: Ort, dir: string, list: readonly Pick<KernelBench, 'name' | 'input' | 'kernel' | 'write'>[], options: Int8Options): Promise<Map<string, number>> {
  for (const b of list) b.write(join(dir, `${b.name}.onnx`));
  const best = new Map<string, number>();
  for (let round = 0; round < options.rounds; round++) {
    for (const b of list) {
      options.onStep?.(`${b.name} (round ${round + 1} of ${options.rounds})`);
      const m = await measureModel(ort, join(dir, `${b.name}.onnx`), [{ name: 'x', type: 'float32', dims: b.input }], { warmup: options.warmup, runs: options.runs, threads: options.threads, profile: true });
      best.set(b.name, Math.min(best.get(b.name) ?? Infinity, medianKernel(m.trace ?? [], b.kernel, `the ${b.name} benchmark`)));
    }
  }
  return best;
}

/** The narrow benchmark conv: 1×3, 16 → 16 channels on 112×112 (some 80 µs: ORT's profiler counts whole µs). */
const NARROW = { pixels: 112 * 112, taps: 3, macs: 16 * 16 * 3 * 112 * 112 };

/** The dense benchmark conv (3×3, `channels` → `channels` on `map`×`map`) and the pointwise one's map (1×1, 64 → 64). */
const DENSE = { channels: 64, map: 28 };
const POINTWISE_MAP = 56;

/**
 * MLAS's symmetric conv kernel as a cost per output pixel and tap (its indirection buffer and the accumulators of
 * each tap) plus its multiply-adds: solved from the dense 3×3 conv and the narrow 1×3 one (two equations, two
 * unknowns), then the 1×1 rate from the pointwise conv less its pixels' share. None when a figure comes out
 * negative (noise).
 */
export function symmetricConvRates(ms: (name: string) => number, work: (name: string) => number): { symmetricConv?: { nsPerPixelTap: number; convGops: number; pointwiseGops: number } } {
  const a = { pt: DENSE.map * DENSE.map * 9, macs: work('int8-conv') / 2, ns: ms('int8-conv') * 1e6 };
  const s = { pt: NARROW.pixels * NARROW.taps, macs: NARROW.macs, ns: ms('int8-conv-narrow') * 1e6 };
  const det = a.pt * s.macs - s.pt * a.macs;
  const nsPerPixelTap = (a.ns * s.macs - s.ns * a.macs) / det;
  const nsPerMac = (a.pt * s.ns - s.pt * a.ns) / det;
  const pwNsPerMac = (ms('int8-pointwise') * 1e6 - POINTWISE_MAP * POINTWISE_MAP * nsPerPixelTap) / (work('int8-pointwise') / 2);
  if (!(nsPerPixelTap > 0) || !(nsPerMac > 0) || !(pwNsPerMac > 0)) return {};
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { symmetricConv: { nsPerPixelTap: round(nsPerPixelTap), convGops: round(2 / nsPerMac), pointwiseGops: round(2 / pwNsPerMac) } };
}

/**
 * The two generic 1×1 convs on GENERIC_MAP×GENERIC_MAP: 62 input channels (not a multiple of 4, so not the symmetric
 * kernel), and channels in and out the symmetric kernel takes neither of, out not a multiple of 16.
 */
const GENERIC_MAP = 56;
const GENERIC_WIDE = { in: 62, out: 64 };
const GENERIC_NARROW = { in: 36, out: 42 };

function genericPointwiseBench(name: string, c: { in: number; out: number }, path: string) {
  const hw = GENERIC_MAP;
  return qdqBench(name, `QDQ Conv 1×1, ${c.in}→${c.out} channels, ${hw}×${hw}, int8 weights (QLinearConv, generic path: ${path})`, 'Conv', [1, c.in, hw, hw], [c.out, c.in, 1, 1], [1, c.out, hw, hw], conv(1), c.in * c.out * hw * hw, DataType.INT8);
}

/**
 * The generic 1×1 conv's two costs (int8.ts, genericPointwiseNs), solved from its two benchmark convs (62→64 and
 * 36→42 channels on 56×56); none where either comes out negative.
 */
export function genericPointwiseRates(ms: (name: string) => number): { genericPointwise?: { nsPerPaddedOutput: number; nsPerPaddedMac: number } } {
  // Each conv's time per pixel and padded output channel: nsPerPaddedOutput + input channels × nsPerPaddedMac.
  const per = (name: string, c: { in: number; out: number }) => ({ k: c.in, y: (ms(name) * 1e6) / genericPointwiseNs({ nsPerPaddedOutput: 1, nsPerPaddedMac: 0 }, GENERIC_MAP * GENERIC_MAP, c.in, c.out) });
  const wide = per('int8-pointwise-generic', GENERIC_WIDE);
  const narrow = per('int8-pointwise-generic-narrow', GENERIC_NARROW);
  const nsPerPaddedMac = (wide.y - narrow.y) / (wide.k - narrow.k);
  const nsPerPaddedOutput = wide.y - wide.k * nsPerPaddedMac;
  if (!(nsPerPaddedMac >= 0) || !(nsPerPaddedOutput > 0)) return {};
  const round = (x: number) => Math.round(x * 1e5) / 1e5;
  return { genericPointwise: { nsPerPaddedOutput: round(nsPerPaddedOutput), nsPerPaddedMac: round(nsPerPaddedMac) } };
}

/** The generic depthwise kernel's three costs, fitted to its five benchmark convs (qdw-conv.ts); none where no fit is non-negative. */
function genericDepthwiseRates(ms: (name: string) => number): { genericDepthwise?: GenericDepthwiseRates } {
  // Each benchmark conv is 'same' padded at stride 1: the share of its taps that read the input.
  const share = (k: number, hw: number) => inputTapShare({ kernel: [k, k], strides: [1, 1], dilations: [1, 1], pads: Array(4).fill((k - 1) / 2), autoPad: 'NOTSET' }, [hw, hw], [hw, hw]);
  const samples = [
    { work: genericDepthwiseWork(24, 96 * 96, 9, share(3, 96)), ns: ms('int8-depthwise-generic') * 1e6 },
    ...GENERIC_DEPTHWISE_CHANNELS.map((c) => ({ work: genericDepthwiseWork(c, GENERIC_DEPTHWISE_MAP ** 2, 25, share(5, GENERIC_DEPTHWISE_MAP)), ns: ms(`int8-depthwise-generic-c${c}`) * 1e6 })),
  ];
  const rates = fitGenericDepthwise(samples);
  return rates ? { genericDepthwise: rates } : {};
}

/** Runs the integer micro-benchmarks; returns their measurements (kernel ms) and the profile's `int8` figures. */
export async function measureInt8(ort: Ort, dir: string, options: Int8Options): Promise<{ rates: Int8Rates; measurements: { name: string; what: string; flops: number; bytes: number; ms: number }[] }> {
  const list = int8Benchmarks();
  const best = await kernelTimes(ort, dir, list, options);
  const ms = (name: string) => best.get(name)!;
  const work = (name: string) => list.find((b) => b.name === name)!.work;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const gops = (name: string) => round(work(name) / (ms(name) * 1e6));
  const rates: Int8Rates = {
    gops: { conv: gops('int8-conv'), pointwise: gops('int8-pointwise'), depthwise: gops('int8-depthwise'), gemm: gops('int8-gemm') },
    // The stem's time beyond its arithmetic at the dense rate, per output element (32 × 112 × 112).
    thinConvNsPerOutput: round(Math.max(0, ms('int8-conv-thin') - work('int8-conv-thin') / (gops('int8-conv') * 1e6)) * 1e6 / (32 * 112 * 112)),
    ...thinConvCosts(
      { extraMs: ms('int8-conv-thin') - work('int8-conv-thin') / (gops('int8-conv') * 1e6), positions: 112 * 112, taps: 27 },
      { extraMs: ms('int8-conv-thin-wide') - work('int8-conv-thin-wide') / (gops('int8-conv') * 1e6), positions: 64 * 64, taps: 75 },
    ),
    uint8WeightsSlowdown: round(ms('int8-conv-u8') / ms('int8-conv')),
    convIntegerGops: gops('conv-integer'),
    convIntegerDepthwiseGops: gops('conv-integer-depthwise'),
    matMulIntegerGops: gops('matmul-integer'),
    quantizeNsPerElement: round((ms('quantize') * 1e6) / work('quantize')),
    dequantizeNsPerElement: round((ms('dequantize') * 1e6) / work('dequantize')),
    genericGops: { conv: gops('int8-conv-generic'), pointwise: gops('int8-pointwise-generic'), depthwise: gops('int8-depthwise-generic') },
    nchwMaxPoolNsPerElement: round((ms('int8-maxpool-nchw') * 1e6) / work('int8-maxpool-nchw')),
    nhwcMaxPoolNsPerElement: round((ms('int8-maxpool-nhwc') * 1e6) / work('int8-maxpool-nhwc')),
    qlinearMulNsPerElement: round((ms('int8-mul') * 1e6) / work('int8-mul')),
    qlinearLookupNsPerElement: round((ms('int8-lookup') * 1e6) / work('int8-lookup')),
    ...groupedConvIntegerRates(ms),
    ...genericDepthwiseRates(ms),
    ...symmetricConvRates(ms, work),
    ...genericPointwiseRates(ms),
  };
  const measurements = list.map((b) => ({ name: b.name, what: b.what, flops: b.kernel.endsWith('Linear') || b.kernel.endsWith('MaxPool') || b.kernel === 'QLinearMul' || b.kernel === 'QLinearLeakyRelu' ? 0 : b.work, bytes: 0, ms: round(ms(b.name)) }));
  return { rates, measurements };
}
