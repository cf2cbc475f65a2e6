import type { PlainPoolRates } from '../contract/device.js';
import { type CostFamily, costOf, fitRates } from './cost-fit.js';
import type { LayerLink } from './graph.js';

/**
 * A float MaxPool or AveragePool in plain NCHW layout, as ONNX Runtime runs it: MLAS's MlasPool, which calls its 2-D
 * vector kernel once per channel (pooling.cpp, MlasPool2DVectorKernel, when the last stride is 1 or 2 and every kernel
 * dim at most 32). Per output row the kernel first reduces the window's input rows across their whole width, four
 * floats at a time (a scalar tail for a width not a multiple of 4), then slides the window across that row, four
 * outputs per step at stride 1, two at stride 2. So its time follows rows and loads, not outputs: OpenWakeWord's
 * embedding's 2×2 pools on [24, 72, 32] take 12 µs (the depthwise roofline said 2.2), a 1×2 pool at stride [1, 2]
 * of the same tensor 17 µs: twice the rows.
 */

/** One image's work through an NCHW pool's vector kernel. */
export interface PoolWork {
  /** Channel planes (one kernel call each). */
  channels: number;
  /** Output rows, over all channels. */
  rows: number;
  /** Loads of the height reduction: per row, the window's input rows across the input width (a vector of 4, or a tail float). */
  heightLoads: number;
  /** Steps of the width reduction: per row, one per 4 outputs at stride 1, per 2 at stride 2 (each loads the window's width and stores). */
  widthSteps: number;
}

const POOL: CostFamily<PlainPoolRates, PoolWork> = {
  keys: ['nsPerChannel', 'nsPerRow', 'nsPerHeightLoad', 'nsPerWidthStep'],
  counts: (w) => [w.channels, w.rows, w.heightLoads, w.widthSteps],
};

/** MLAS's reduction buffer: the input width plus the pads must fit (MLAS_POOL_REDUCTION_BUFFER_STACK less its padding). */
const REDUCTION_BUFFER = 2048 - 16;

/**
 * The vector kernel's work for a 2-D float pool on [N, C, H, W], or null where MLAS runs another kernel (1-D or 3-D,
 * a last stride over 2, a kernel dim over 32, a window the size of the input: the global kernel) or ORT does not call
 * MLAS (a MaxPool with dilations, an indices output or storage_order 1).
 */
export function poolWork(input: readonly number[], output: readonly number[], kernel: readonly number[], strides: readonly number[], pads: readonly number[]): PoolWork | null {
  if (input.length !== 4 || output.length !== 4 || kernel.length !== 2) return null;
  const [n, c, h, w] = input;
  const [oh, ow] = [output[2], output[3]];
  const [kh, kw] = kernel;
  const sw = strides[1] ?? 1;
  if (sw > 2 || kh > 32 || kw > 32) return null;
  if (kh === h && kw === w && strides.every((s) => s === 1) && pads.every((p) => p === 0)) return null;
  if (w + (pads[1] ?? 0) + (pads[3] ?? 0) > REDUCTION_BUFFER) return null;
  const channels = n * c;
  const rows = channels * oh;
  return {
    channels,
    rows,
    heightLoads: rows * (Math.floor(w / 4) + (w % 4)) * kh,
    widthSteps: rows * Math.ceil(ow / (sw === 1 ? 4 : 2)),
  };
}

/** The vector kernel's work for a pool layer, or null (not a float MaxPool/AveragePool MLAS runs with it). */
export function poolLinkWork(link: LayerLink): PoolWork | null {
  if (link.domain !== '' || (link.op !== 'MaxPool' && link.op !== 'AveragePool') || !link.float32) return null;
  if (link.outputs.filter((o) => o).length > 1) return null;
  if ((link.ints.dilations ?? []).some((d) => d !== 1) || (link.ints.storage_order?.[0] ?? 0) !== 0) return null;
  if (link.strings.auto_pad && link.strings.auto_pad !== 'NOTSET') return null;
  const input = link.inputShapes[0];
  const kernel = link.ints.kernel_shape;
  if (!input || !link.outputShape || !kernel) return null;
  return poolWork(input, link.outputShape, kernel, link.ints.strides ?? kernel.map(() => 1), link.ints.pads ?? kernel.flatMap(() => [0, 0]));
}

/** A pool's kernel time, ns. */
export function poolNs(rates: PlainPoolRates, w: PoolWork): number {
  return costOf(POOL, rates, w);
}

/** The rates from measured pools' kernel times (ns); undefined when no non-negative fit explains them. */
export function fitPlainPool(samples: readonly { work: PoolWork; ns: number }[]): PlainPoolRates | undefined {
  return fitRates(POOL, samples);
}

/** A benchmark pool: MaxPool of [1, channels, height, width], kernel and strides [h, w]. */
export interface BenchPoolShape {
  channels: number;
  height: number;
  width: number;
  kernel: [number, number];
  strides: [number, number];
}

/**
 * `mbn calibrate`'s NCHW pools: odd channel counts, so that no NCHWc block divides them and ORT keeps the pool in
 * NCHW. Chosen to pull the four rates apart: many channels of tiny planes, wide rows, narrow ones (8 and 6 floats), many
 * rows of few loads (stride 1 in height), 3×3 windows, and plain 2×2 ones; each some 15 to 45 microseconds (ORT's profiler counts
 * whole microseconds).
 */
export const PLAIN_POOL_SHAPES: readonly BenchPoolShape[] = [
  { channels: 23, height: 144, width: 64, kernel: [2, 2], strides: [2, 2] },
  { channels: 71, height: 56, width: 56, kernel: [2, 2], strides: [2, 2] },
  { channels: 47, height: 72, width: 32, kernel: [1, 2], strides: [1, 2] },
  { channels: 47, height: 72, width: 32, kernel: [3, 3], strides: [1, 1] },
  { channels: 799, height: 8, width: 8, kernel: [2, 2], strides: [2, 2] },
  { channels: 47, height: 8, width: 400, kernel: [2, 2], strides: [2, 2] },
  { channels: 95, height: 28, width: 28, kernel: [3, 3], strides: [2, 2] },
  { channels: 47, height: 144, width: 16, kernel: [2, 2], strides: [2, 2] },
  { channels: 143, height: 28, width: 8, kernel: [2, 2], strides: [2, 2] },
  { channels: 95, height: 72, width: 6, kernel: [2, 2], strides: [2, 2] },
];

/** A benchmark pool's output dims and work. */
export function benchPoolWork(s: BenchPoolShape): { out: [number, number]; work: PoolWork } {
  const out: [number, number] = [Math.floor((s.height - s.kernel[0]) / s.strides[0]) + 1, Math.floor((s.width - s.kernel[1]) / s.strides[1]) + 1];
  return { out, work: poolWork([1, s.channels, s.height, s.width], [1, s.channels, ...out], s.kernel, s.strides, [0, 0, 0, 0])! };
}
