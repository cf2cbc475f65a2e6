import { type Chunk, initializer, node, writeModel } from '../bench/models.js';
import type { Ort } from '../bench/run.js';
import { DataType } from '../onnx/dtype.js';
import { encodeTensorField, encodeValueInfoField } from '../onnx/encode.js';
import { kernelTimes } from './measure-int8.js';
import { type DeviceProfile, FUSED_ACTIVATIONS, type FusedActivation, type GroupedConvFloatRates, type PlainPoolRates, type ResizeRates } from '../contract/device.js';
import { type BenchPoolShape, benchPoolWork, fitPlainPool, PLAIN_POOL_SHAPES } from './pool.js';
import { type BenchConvShape, benchConvShapeWork, fitGroupedConvFloat, GROUPED_CONV_FLOAT_SHAPES, GROUPED_CONV_GEMM_SHAPES } from './grouped-conv.js';

/**
 * `mbn calibrate`'s float kernels that no class rate covers, each a one-op model whose kernel time is read from ORT's
 * profiler (the fastest over all runs and rounds): a ConvTranspose (a GEMM into a column buffer, then col2im; its
 * time beyond the GEMM's FLOPs is the scatter, per column-buffer element), ORT's four plain-layout Resize kernels
 * (src/latency/resize.ts), per output element, ten depthwise and four grouped float convs off the NCHWc path
 * (src/latency/grouped-conv.ts), per group, a 1×1 conv with and without each activation ORT fuses into it, and ten
 * NCHW MaxPools (src/latency/pool.ts).
 */
const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });
const text = (name: string, value: string) => ({ name, type: 'string' as const, value });

interface KernelBench {
  name: string;
  what: string;
  input: number[];
  /** ORT's op name of the kernel to time. */
  kernel: string;
  /** Output elements (a Resize), or column-buffer elements (the ConvTranspose). */
  elements: number;
  /** FLOPs of the ConvTranspose's GEMM; 0 for the others. */
  flops: number;
  write(path: string): void;
}

function floats(name: string, values: number[]): Uint8Array {
  return encodeTensorField({ name, dtype: DataType.FLOAT, dims: [values.length], raw: new Uint8Array(new Float32Array(values).buffer) });
}

/** ConvTranspose 2×2 stride 2, `c` → `c` channels, on [1, c, hw, hw]: the upsampling of a segmentation head. */
function convTransposeBench(c: number, hw: number): KernelBench {
  const columns = c * 4 * hw * hw;
  return {
    name: 'conv-transpose',
    what: `ConvTranspose 2×2 stride 2, ${c}→${c} channels, ${hw}×${hw} → ${2 * hw}×${2 * hw} (GEMM into a column buffer, then col2im; its kernel time from ORT's profiler)`,
    input: [1, c, hw, hw],
    kernel: 'ConvTranspose',
    elements: columns,
    flops: 2 * columns * c,
    write: (path) =>
      writeModel(path, 'conv-transpose', [
        node('ConvTranspose', ['x', 'w'], ['y'], 'upsample', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
        ...initializer('w', [c, c, 2, 2], Math.sqrt(1 / c)),
        encodeValueInfoField('x', DataType.FLOAT, [1, c, hw, hw], 11),
        encodeValueInfoField('y', DataType.FLOAT, [1, c, 2 * hw, 2 * hw], 12),
      ], 13, 9),
  };
}

/**
 * One Resize (opset 13) of a float input by `scales`; `eightBit`: of the input quantized to uint8 first (and
 * dequantized after), the 8-bit tensor a QDQ model's Resize runs on, channels last.
 */
function resizeBench(kernel: keyof ResizeRates, what: string, shape: number[], scales: number[], mode: 'nearest' | 'linear', eightBit = false): KernelBench {
  const out = shape.map((d, k) => d * scales[k]);
  const attrs = mode === 'nearest' ? [text('mode', 'nearest'), text('coordinate_transformation_mode', 'asymmetric'), text('nearest_mode', 'floor')] : [text('mode', 'linear'), text('coordinate_transformation_mode', 'half_pixel')];
  return {
    name: `resize-${kernel}`,
    what,
    input: shape,
    kernel: 'Resize',
    elements: out.reduce((a, b) => a * b, 1),
    flops: 0,
    write: (path) => {
      const chunks: Chunk[] = eightBit
        ? [
            node('QuantizeLinear', ['x', 's', 'z'], ['q'], 'quantize'),
            node('Resize', ['q', '', 'scales'], ['r'], 'resize', attrs),
            node('DequantizeLinear', ['r', 's', 'z'], ['y'], 'dequantize'),
            encodeTensorField({ name: 's', dtype: DataType.FLOAT, dims: [], raw: new Uint8Array(new Float32Array([0.05]).buffer) }),
            encodeTensorField({ name: 'z', dtype: DataType.UINT8, dims: [], raw: new Uint8Array([128]) }),
          ]
        : [node('Resize', ['x', '', 'scales'], ['y'], 'resize', attrs)];
      chunks.push(floats('scales', scales), encodeValueInfoField('x', DataType.FLOAT, shape, 11), encodeValueInfoField('y', DataType.FLOAT, out, 12));
      writeModel(path, `resize-${kernel}`, chunks, 13, 9);
    },
  };
}

/**
 * A float depthwise or grouped conv off ORT's NCHWc kernels (channels per group not a multiple of 4: MLAS's MlasConv,
 * an im2col and a GEMV or GEMM per group), for the grouped-conv rates (grouped-conv.ts).
 */
function groupedConvBench(s: BenchConvShape): KernelBench {
  const { out, work } = benchConvShapeWork(s);
  const groups = s.groups ?? s.channels;
  const perGroup = s.channels / groups;
  return {
    name: `grouped-conv-${perGroup > 1 ? `g${groups}-` : ''}${s.height}x${s.width}-k${s.kernel}-s${s.stride}`,
    what:
      perGroup > 1
        ? `Conv ${s.kernel}×${s.kernel}${s.stride > 1 ? ` stride ${s.stride}` : ''}, ${s.channels} channels in ${groups} groups of ${perGroup}, ${s.height}×${s.width} (generic path: im2col and a GEMM per group)`
        : `depthwise Conv ${s.kernel}×${s.kernel}${s.stride > 1 ? ` stride ${s.stride}` : ''}, ${s.channels} channels, ${s.height}×${s.width} (generic path: im2col and a GEMV per channel)`,
    input: [1, s.channels, s.height, s.width],
    kernel: 'Conv',
    elements: work.elements * work.groups,
    flops: 2 * work.outChannels * work.elements * work.groups,
    write: (path) =>
      writeModel(path, 'grouped-conv', [
        node('Conv', ['x', 'w'], ['y'], 'grouped', [ints('kernel_shape', [s.kernel, s.kernel]), ints('pads', Array(4).fill((s.kernel - 1) / 2)), ints('strides', [s.stride, s.stride]), { name: 'group', type: 'int' as const, value: groups }]),
        ...initializer('w', [s.channels, perGroup, s.kernel, s.kernel], Math.sqrt(1 / (perGroup * s.kernel * s.kernel))),
        encodeValueInfoField('x', DataType.FLOAT, [1, s.channels, s.height, s.width], 11),
        encodeValueInfoField('y', DataType.FLOAT, [1, s.channels, ...out], 12),
      ], 13, 9),
  };
}

/** The fused-activation benchmarks' conv: 1×1, 32 → 32 channels on 80×80 (NCHWc: a multiple of every block). */
const ACTIVATION_CONV = { channels: 32, hw: 80 };

function scalar(name: string, value: number): Uint8Array {
  return encodeTensorField({ name, dtype: DataType.FLOAT, dims: [], raw: new Uint8Array(new Float32Array([value]).buffer) });
}

/**
 * A 1×1 conv followed by `activation` (null: none), which ORT fuses into it (FusedConv, then the NCHWc conv): the
 * conv kernel's time beyond the plain one's is the activation's pass over the output.
 */
function fusedActivationBench(activation: FusedActivation | null): KernelBench {
  const { channels: c, hw } = ACTIVATION_CONV;
  const act: Chunk[] =
    activation === null
      ? []
      : activation === 'Clip'
        ? [node('Clip', ['v', 'lo', 'hi'], ['y'], 'act'), scalar('lo', 0), scalar('hi', 6)]
        : [node(activation, ['v'], ['y'], 'act', activation === 'LeakyRelu' ? [{ name: 'alpha', type: 'float' as const, value: 0.2 }] : [])];
  return {
    name: `fused-activation-${activation ?? 'none'}`,
    what: `Conv 1×1, ${c}→${c} channels, ${hw}×${hw}${activation ? `, then ${activation} (ORT fuses it into the conv)` : ' (the base of the fused-activation benchmarks)'}; the conv kernel's time from ORT's profiler`,
    input: [1, c, hw, hw],
    kernel: 'Conv',
    elements: c * hw * hw,
    flops: 0,
    write: (path) =>
      writeModel(path, 'fused-activation', [
        node('Conv', ['x', 'w'], [activation === null ? 'y' : 'v'], 'conv', [ints('kernel_shape', [1, 1])]),
        ...act,
        ...initializer('w', [c, c, 1, 1], Math.sqrt(1 / c)),
        encodeValueInfoField('x', DataType.FLOAT, [1, c, hw, hw], 11),
        encodeValueInfoField('y', DataType.FLOAT, [1, c, hw, hw], 12),
      ], 13, 9),
  };
}

/** A float MaxPool MLAS runs in NCHW (odd channels: no NCHWc block divides them), for the plain-pool rates (pool.ts). */
function plainPoolBench(s: BenchPoolShape): KernelBench {
  const { out, work } = benchPoolWork(s);
  return {
    name: `pool-${s.channels}x${s.height}x${s.width}-k${s.kernel.join('x')}-s${s.strides.join('x')}`,
    what: `MaxPool ${s.kernel.join('×')} stride ${s.strides.join('×')} of [1, ${s.channels}, ${s.height}, ${s.width}] in NCHW (MLAS's vector pool kernel, once per channel)`,
    input: [1, s.channels, s.height, s.width],
    kernel: 'MaxPool',
    elements: work.rows,
    flops: 0,
    write: (path) =>
      writeModel(path, 'plain-pool', [
        node('MaxPool', ['x'], ['y'], 'pool', [ints('kernel_shape', s.kernel), ints('strides', s.strides)]),
        encodeValueInfoField('x', DataType.FLOAT, [1, s.channels, s.height, s.width], 11),
        encodeValueInfoField('y', DataType.FLOAT, [1, s.channels, ...out], 12),
      ], 13, 9),
  };
}

function kernelBenchmarks(): KernelBench[] {
  return [
    convTransposeBench(32, 40),
    resizeBench('nearest2x', 'Resize nearest ×2 of [1, 64, 40, 40] (asymmetric, floor: ORT\'s UpsampleNearest2x fast path)', [1, 64, 40, 40], [1, 1, 2, 2], 'nearest'),
    resizeBench('nearest', 'Resize nearest ×4 of [1, 32, 20, 20] (asymmetric, floor: the index-table path)', [1, 32, 20, 20], [1, 1, 4, 4], 'nearest'),
    resizeBench('linear', 'Resize linear ×2 of [1, 64, 40, 40] (half_pixel: bilinear)', [1, 64, 40, 40], [1, 1, 2, 2], 'linear'),
    resizeBench('nearest8bit', 'Resize nearest ×2 of a uint8 [1, 40, 40, 64] channels-last tensor, scales [1, 2, 2, 1] (a QDQ model\'s Resize in ORT\'s NHWC region)', [1, 40, 40, 64], [1, 2, 2, 1], 'nearest', true),
    ...GROUPED_CONV_FLOAT_SHAPES.map(groupedConvBench),
    ...GROUPED_CONV_GEMM_SHAPES.map(groupedConvBench),
    fusedActivationBench(null),
    ...FUSED_ACTIVATIONS.map(fusedActivationBench),
    ...PLAIN_POOL_SHAPES.map(plainPoolBench),
  ];
}

export interface KernelOptions {
  threads: number;
  runs: number;
  rounds: number;
  warmup: number;
  onStep?: (name: string) => void;
}

/**
 * Runs the kernel micro-benchmarks; returns their measurements (kernel ms) and the profile's figures:
 * convTransposeNsPerColumn = (kernel − GEMM FLOPs at `gemmGflops`) / column-buffer elements; each Resize's kernel
 * time per output element.
 */
export async function measureKernels(
  ort: Ort,
  dir: string,
  options: KernelOptions,
  gemmGflops: number,
  block: number,
): Promise<{ convTransposeNsPerColumn: number; resizeNsPerOutput: ResizeRates; genericGroupedConv?: GroupedConvFloatRates; plainPool?: PlainPoolRates; fusedActivationNsPerElement: NonNullable<DeviceProfile['fusedActivationNsPerElement']>; measurements: { name: string; what: string; flops: number; bytes: number; ms: number }[] }> {
  const list = kernelBenchmarks();
  const best = await kernelTimes(ort, dir, list, options);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const at = (name: string) => list.find((b) => b.name === name)!;
  const perElement = (name: string) => round((best.get(name)! * 1e6) / at(name).elements);
  const ct = at('conv-transpose');
  // At least a tenth of the kernel is the scatter: a noisy run cannot make it negative.
  const scatterMs = Math.max(best.get(ct.name)! - ct.flops / (gemmGflops * 1e6), best.get(ct.name)! / 10);
  const perGroup = (shape: BenchConvShape) => {
    const { work } = benchConvShapeWork(shape);
    return { work, nsPerGroup: (best.get(groupedConvBench(shape).name)! * 1e6) / work.groups };
  };
  // Each fused activation: its conv's kernel time less the plain conv's, per output element (never below 0).
  const plainMs = best.get(fusedActivationBench(null).name)!;
  const fusedActivationNsPerElement = Object.fromEntries(
    FUSED_ACTIVATIONS.map((op) => [op, round((Math.max(0, best.get(fusedActivationBench(op).name)! - plainMs) * 1e6) / at(fusedActivationBench(op).name).elements)]),
  );
  const plainPool = fitPlainPool(PLAIN_POOL_SHAPES.map((s) => ({ work: benchPoolWork(s).work, ns: best.get(plainPoolBench(s).name)! * 1e6 })));
  const grouped = fitGroupedConvFloat(GROUPED_CONV_FLOAT_SHAPES.map(perGroup), GROUPED_CONV_GEMM_SHAPES.map(perGroup), block);
  return {
    ...(grouped ? { genericGroupedConv: grouped } : {}),
    ...(plainPool ? { plainPool } : {}),
    convTransposeNsPerColumn: round((scatterMs * 1e6) / ct.elements),
    fusedActivationNsPerElement,
    resizeNsPerOutput: { nearest2x: perElement('resize-nearest2x'), nearest: perElement('resize-nearest'), linear: perElement('resize-linear'), nearest8bit: perElement('resize-nearest8bit') },
    measurements: list.map((b) => ({ name: b.name, what: b.what, flops: b.flops, bytes: 0, ms: round(best.get(b.name)!) })),
  };
}
