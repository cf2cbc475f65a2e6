import type { GroupedConvFloatRates, GroupedConvIntegerRates } from '../contract/device.js';
import type { ConvGeometry } from '../ops/define.js';
import { tapsInside } from './int8.js';
import { type CostFamily, costOf, fitRates } from './cost-fit.js';

/**
 * Grouped convs that ONNX Runtime runs one group at a time, each as an NCHW im2col of the group's input and a GEMM:
 * a grouped ConvInteger (quantize_dynamic's depthwise conv; conv_integer.cc, with math_cpu.cc's im2col and MLAS's
 * uint8 × uint8 GEMM) and a float grouped conv off the NCHWc path (MLAS's MlasConv, ExpandThenGemm: MlasConvIm2Col,
 * then MLAS's SGEMM, a GEMV when the group has one output channel). Both im2col loops go through the group's channels ×
 * kernel rows × kernel columns × output rows; a row that reads only padding is one fill, a stride-1 row one copy, any
 * other stride an element at a time; the float one also writes each padded column of a row on its own. So a group's
 * time follows a few counts, not its MACs: a fixed cost, its im2col rows that read the input, its elements gathered
 * one by one, its padded columns, its elements, its GEMM's blocks.
 *
 * Measured here (ORT 1.30, one thread), per group of a depthwise ConvInteger 3×3: 296 ns on 7×7 (441 MACs), 300 on
 * 8×8 and 546 on 16×4 (576 MACs each: the same outputs, twice the rows), 2995 on 56×56 (28224 MACs); the per-MAC
 * rate of the 56×56 shape put MobileNetV2's 7×7 convs at a sixth of their time. The float depthwise conv: 211 ns on
 * 7×7, 351 on 16×4, 3232 on 56×56. The integer rates fitted to their six calibration shapes below predicted 58
 * measured shapes (maps 1×200 to 112×112, 3×3 and 5×5, strides 1 and 2) with a median error of 5% and at most 19%;
 * GEMM blocks of 32 positions fit those shapes better than 16 or 64 (worst 15% against 18% and 17%, all 58 fitted).
 * The float rates fitted to their ten predicted 40 measured shapes (2×96 to 56×56) with a median error of 6%, at most
 * 44% (a 48×6 map at stride 2); the GEMM-rate and expansion-bandwidth model they replace was off by −71% to +99%.
 * With the SGEMM's two rates fitted to the four grouped shapes, 24 grouped convs of 8, 24 and 4 channels per group
 * (7×7 to 56×56, strides 1 and 2) came within a median of 6%, at most 19%.
 */

/** What one group of a grouped conv does, by the counts its time follows. */
export interface GroupedConvWork {
  /** Groups × batch: how many times the per-group work runs. */
  groups: number;
  /** im2col rows that read the input, per group. */
  rows: number;
  /** Elements im2col gathers one by one (column stride ≠ 1), per group. */
  stridedElements: number;
  /** Elements a stride-1 row copies at once, per group. */
  copiedElements: number;
  /** Padded columns of rows that read the input (MLAS writes each on its own), per group. */
  paddedColumns: number;
  /** Elements of the group's im2col buffer (input channels × kernel taps × output positions). */
  elements: number;
  /** Blocks of the integer GEMM (GEMM_BLOCK_POSITIONS positions × GEMM_BLOCK_TAPS taps × output channels), per group. */
  blocks: number;
  /** The group's output channels (the GEMM's M). */
  outChannels: number;
  /** The GEMM's N (output positions) and K (input channels × kernel taps). */
  positions: number;
  taps: number;
}

/** Output positions per block of the integer GEMM's count (see GroupedConvIntegerRates.nsPerBlock). */
export const GEMM_BLOCK_POSITIONS = 32;
/** Kernel taps per block: MLAS's uint8 × uint8 kernel works through K in pairs (16-bit products). */
export const GEMM_BLOCK_TAPS = 2;

/**
 * The work of a 2-D grouped conv on an input of spatial size `inSpatial` giving `outSpatial`, batch `batch`. Null for
 * other ranks (ORT's N-d im2col is another loop) or unknown sizes.
 */
export function groupedConvWork(g: ConvGeometry, inSpatial: readonly number[], outSpatial: readonly number[], batch: number): GroupedConvWork | null {
  if (g.kernel.length !== 2 || inSpatial.length !== 2 || outSpatial.length !== 2 || !(batch > 0) || !(g.group > 0)) return null;
  const rowsInside = tapsInside(g, 0, inSpatial[0], outSpatial[0]);
  const colsInside = tapsInside(g, 1, inSpatial[1], outSpatial[1]);
  if (!rowsInside || !colsInside) return null;
  const channels = g.inChannels / g.group;
  const readingRows = rowsInside.reduce((a, b) => a + b, 0);
  const readColumns = colsInside.reduce((a, b) => a + b, 0);
  const taps = channels * g.kernel[0] * g.kernel[1];
  const positions = outSpatial[0] * outSpatial[1];
  const rows = channels * g.kernel[1] * readingRows;
  const gathered = channels * readingRows * readColumns;
  const outChannels = g.outChannels / g.group;
  return {
    groups: g.group * batch,
    rows,
    stridedElements: (g.strides[1] ?? 1) === 1 ? 0 : gathered,
    copiedElements: (g.strides[1] ?? 1) === 1 ? gathered : 0,
    paddedColumns: rows * outSpatial[1] - gathered,
    elements: taps * positions,
    blocks: outChannels * Math.ceil(positions / GEMM_BLOCK_POSITIONS) * Math.ceil(taps / GEMM_BLOCK_TAPS),
    outChannels,
    positions,
    taps,
  };
}

const INTEGER: CostFamily<GroupedConvIntegerRates, GroupedConvWork> = {
  keys: ['nsPerGroup', 'nsPerRow', 'nsPerStridedElement', 'nsPerBlock'],
  counts: (w) => [1, w.rows, w.stridedElements, w.blocks],
};
const FLOAT: CostFamily<GroupedConvFloatRates, GroupedConvWork> = {
  keys: ['nsPerGroup', 'nsPerRow', 'nsPerCopiedElement', 'nsPerStridedElement', 'nsPerPaddedColumn', 'nsPerElement'],
  counts: (w) => [1, w.rows, w.copiedElements, w.stridedElements, w.paddedColumns, w.elements],
};

/** Time of one group of a grouped ConvInteger, ns (the conv takes `groups` of them). */
export function integerNsPerGroup(rates: GroupedConvIntegerRates, w: GroupedConvWork): number {
  return costOf(INTEGER, rates, w);
}

/** A group's SGEMM beyond the GEMV: multiply-adds over positions padded to the strip, and the packed buffer. */
function gemmFamily(strip: number): CostFamily<Required<Pick<GroupedConvFloatRates, 'nsPerGemmMac' | 'nsPerPackedElement'>>, GroupedConvWork> {
  return {
    keys: ['nsPerGemmMac', 'nsPerPackedElement'],
    counts: (w) => [w.outChannels * w.taps * Math.ceil(w.positions / strip) * strip, w.elements],
  };
}

/**
 * Time of one group of a float grouped conv, ns. The first six rates are fitted to depthwise convs, whose GEMM is a
 * GEMV over the im2col buffer (in `nsPerElement`); a group with more output channels runs MLAS's SGEMM on top, in
 * strips of `strip` positions (the NCHWc block: MLAS computes a vector's width of floats at a time), at
 * `nsPerGemmMac` and `nsPerPackedElement` where calibrated, else its FLOPs at the GEMM rate (`gemmGflops`).
 */
export function floatNsPerGroup(rates: GroupedConvFloatRates, w: GroupedConvWork, gemmGflops: number, strip: number): number {
  if (w.outChannels <= 1) return costOf(FLOAT, rates, w);
  const { nsPerGemmMac, nsPerPackedElement } = rates;
  const gemm = nsPerGemmMac !== undefined && nsPerPackedElement !== undefined ? costOf(gemmFamily(strip), { nsPerGemmMac, nsPerPackedElement }, w) : (2 * w.outChannels * w.elements) / gemmGflops;
  return costOf(FLOAT, rates, w) + gemm;
}

/** The integer rates from measured convs (ns per group); undefined when no non-negative fit explains them. */
export function fitGroupedConvInteger(samples: readonly { work: GroupedConvWork; nsPerGroup: number }[]): GroupedConvIntegerRates | undefined {
  return fitRates(INTEGER, samples.map((s) => ({ work: s.work, ns: s.nsPerGroup })));
}

/**
 * The float rates from measured convs (ns per group): the six from the depthwise ones, then the SGEMM's two from the
 * grouped ones' time beyond those six (strips of `strip` positions). Undefined when no non-negative fit explains the
 * depthwise convs; without the SGEMM's two when none explains the grouped ones.
 */
export function fitGroupedConvFloat(depthwise: readonly { work: GroupedConvWork; nsPerGroup: number }[], grouped: readonly { work: GroupedConvWork; nsPerGroup: number }[], strip: number): GroupedConvFloatRates | undefined {
  const rates = fitRates(FLOAT, depthwise.map((s) => ({ work: s.work, ns: s.nsPerGroup })));
  if (!rates) return undefined;
  const beyond = grouped.map((s) => ({ work: s.work, ns: s.nsPerGroup - costOf(FLOAT, rates, s.work) }));
  const gemm = beyond.every((s) => s.ns > 0) ? fitRates(gemmFamily(strip), beyond) : undefined;
  return gemm ? { ...rates, ...gemm } : rates;
}

/** A benchmark conv: channels, map height and width, kernel, stride (pads keep the size at stride 1), depthwise unless `groups` is given. */
export interface BenchConvShape {
  channels: number;
  /** Groups, where not one per channel (channels / groups in and out per group). */
  groups?: number;
  height: number;
  width: number;
  kernel: number;
  stride: number;
}

/** The geometry and work of one image through a benchmark conv. */
export function benchConvShapeWork(s: BenchConvShape): { geometry: ConvGeometry; out: [number, number]; work: GroupedConvWork } {
  const group = s.groups ?? s.channels;
  const geometry: ConvGeometry = { inChannels: s.channels, outChannels: s.channels, group, kernel: [s.kernel, s.kernel], strides: [s.stride, s.stride], dilations: [1, 1], pads: Array(4).fill((s.kernel - 1) / 2), autoPad: 'NOTSET', depthwise: group === s.channels, pointwise: false };
  const out: [number, number] = [Math.floor((s.height - 1) / s.stride) + 1, Math.floor((s.width - 1) / s.stride) + 1];
  return { geometry, out, work: groupedConvWork(geometry, [s.height, s.width], out, 1)! };
}

/**
 * The depthwise ConvIntegers `mbn calibrate` times to fit the integer rates: each count dominates one of them (7×7
 * the fixed cost, 16×4 the rows, stride 2 the one-by-one elements, 56×56 and 28×28 5×5 the GEMM, 2×96 5×5 the rows
 * that read only padding).
 */
export const GROUPED_CONV_INTEGER_SHAPES: readonly BenchConvShape[] = [
  { channels: 64, height: 56, width: 56, kernel: 3, stride: 1 },
  { channels: 256, height: 7, width: 7, kernel: 3, stride: 1 },
  { channels: 128, height: 2, width: 96, kernel: 5, stride: 1 },
  { channels: 64, height: 56, width: 56, kernel: 3, stride: 2 },
  { channels: 64, height: 28, width: 28, kernel: 5, stride: 1 },
  { channels: 128, height: 16, width: 4, kernel: 3, stride: 1 },
];

/**
 * The float depthwise convs it times for the float rates: channels 2 more than a multiple of 4, so that ORT keeps
 * them off its NCHWc kernels (src/latency/layout.ts); the integer shapes and four more (stride 2 on small and narrow
 * maps, 5×5 on 10×10 and on 48×6) for the padded columns the float im2col writes one by one.
 */
export const GROUPED_CONV_FLOAT_SHAPES: readonly BenchConvShape[] = [
  { channels: 66, height: 56, width: 56, kernel: 3, stride: 1 },
  { channels: 258, height: 7, width: 7, kernel: 3, stride: 1 },
  { channels: 130, height: 2, width: 96, kernel: 5, stride: 1 },
  { channels: 66, height: 56, width: 56, kernel: 3, stride: 2 },
  { channels: 66, height: 28, width: 28, kernel: 5, stride: 1 },
  { channels: 130, height: 16, width: 4, kernel: 3, stride: 1 },
  { channels: 130, height: 14, width: 14, kernel: 3, stride: 2 },
  { channels: 130, height: 48, width: 6, kernel: 5, stride: 1 },
  { channels: 130, height: 10, width: 10, kernel: 5, stride: 1 },
  { channels: 130, height: 8, width: 96, kernel: 3, stride: 2 },
];

/**
 * Grouped float convs for the SGEMM's two rates, 6, 6, 22 and 3 channels per group in and out: not a multiple of 4, so
 * off the NCHWc path whatever the block (RegNet-Y's 8-channel groups are off it only where the block is 16). Fitted
 * here, they predicted 24 convs of 8, 24 and 4 channels per group (maps 7×7 to 56×56, strides 1 and 2) measured one
 * by one: see the README.
 */
export const GROUPED_CONV_GEMM_SHAPES: readonly BenchConvShape[] = [
  { channels: 78, groups: 13, height: 28, width: 28, kernel: 3, stride: 1 },
  { channels: 48, groups: 8, height: 56, width: 56, kernel: 3, stride: 2 },
  { channels: 176, groups: 8, height: 14, width: 14, kernel: 3, stride: 1 },
  { channels: 48, groups: 16, height: 14, width: 14, kernel: 3, stride: 1 },
];
