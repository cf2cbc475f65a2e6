import type { GroupedConvIntegerRates } from '../contract/device.js';
import type { ConvGeometry } from '../ops/define.js';
import { tapsInside } from './int8.js';

/**
 * A grouped ConvInteger (quantize_dynamic's depthwise conv) as ONNX Runtime runs it (conv_integer.cc): for each
 * image and each group, an NCHW im2col of the group's input (math_cpu.cc: a loop over the group's channels × kernel
 * rows × kernel columns × output rows; a row that reads only padding is one fill, a stride-1 row one copy, any other
 * stride an element at a time), then one integer GEMM (MLAS, uint8 × uint8) of M = the group's output channels,
 * N = the output positions, K = the group's input channels × kernel taps. Per group that is a fixed cost, a cost per
 * im2col row, a cost per element gathered one by one and the GEMM's blocks.
 *
 * Measured here (ORT 1.30, one thread), per group of a depthwise ConvInteger 3×3: 296 ns on 7×7 (441 MACs), 300 on
 * 8×8 and 546 on 16×4 (576 MACs each: the same outputs, twice the rows), 2995 on 56×56 (28224 MACs); the per-MAC
 * rate of the 56×56 shape put MobileNetV2's 7×7 convs at a sixth of their time. A row that reads only padding is one
 * fill and is not counted. The four rates fitted to the six calibration shapes below predicted 58 measured shapes (maps 1×200 to
 * 112×112, 3×3 and 5×5, strides 1 and 2) with a median error of 5% and at most 19%. GEMM blocks of 32 positions fit
 * those shapes better than 16 or 64 (worst 15% against 18% and 17%, all 58 fitted).
 */

/** Output positions per block of the integer GEMM's count (see GroupedConvIntegerRates.nsPerBlock). */
export const GEMM_BLOCK_POSITIONS = 32;
/** Kernel taps per block: MLAS's uint8 × uint8 kernel works through K in pairs (16-bit products). */
export const GEMM_BLOCK_TAPS = 2;

/** What one group of a grouped ConvInteger does, by the counts its time follows. */
export interface GroupedConvIntegerWork {
  /** Groups × batch: how many times the per-group work runs. */
  groups: number;
  /** im2col rows that read the input, per group. */
  rows: number;
  /** Elements im2col gathers one by one (column stride ≠ 1), per group. */
  stridedElements: number;
  /** GEMM blocks per group. */
  blocks: number;
}

/**
 * The work of a 2-D grouped ConvInteger on an input of spatial size `inSpatial` giving `outSpatial`, batch `batch`.
 * Null for other ranks (ORT's N-d im2col is another loop) or unknown sizes.
 */
export function groupedConvIntegerWork(g: ConvGeometry, inSpatial: readonly number[], outSpatial: readonly number[], batch: number): GroupedConvIntegerWork | null {
  if (g.kernel.length !== 2 || inSpatial.length !== 2 || outSpatial.length !== 2 || !(batch > 0) || !(g.group > 0)) return null;
  const rowsInside = tapsInside(g, 0, inSpatial[0], outSpatial[0]);
  const colsInside = tapsInside(g, 1, inSpatial[1], outSpatial[1]);
  if (!rowsInside || !colsInside) return null;
  const channels = g.inChannels / g.group;
  const readingRows = rowsInside.reduce((a, b) => a + b, 0);
  const readColumns = colsInside.reduce((a, b) => a + b, 0);
  const taps = channels * g.kernel[0] * g.kernel[1];
  const positions = outSpatial[0] * outSpatial[1];
  return {
    groups: g.group * batch,
    rows: channels * g.kernel[1] * readingRows,
    stridedElements: (g.strides[1] ?? 1) === 1 ? 0 : channels * readingRows * readColumns,
    blocks: (g.outChannels / g.group) * Math.ceil(positions / GEMM_BLOCK_POSITIONS) * Math.ceil(taps / GEMM_BLOCK_TAPS),
  };
}

/** Features of one group's work, in the order of RATE_KEYS. */
function features(w: GroupedConvIntegerWork): number[] {
  return [1, w.rows, w.stridedElements, w.blocks];
}
const RATE_KEYS = ['nsPerGroup', 'nsPerRow', 'nsPerStridedElement', 'nsPerBlock'] as const satisfies readonly (keyof GroupedConvIntegerRates)[];

/** Time of one group, ns (the conv takes `groups` of them). */
export function nsPerGroup(rates: GroupedConvIntegerRates, w: GroupedConvIntegerWork): number {
  const f = features(w);
  return RATE_KEYS.reduce((sum, key, i) => sum + rates[key] * f[i], 0);
}

/**
 * The four rates from measured convs (ns per group), by least squares on relative residuals with every rate ≥ 0:
 * the unconstrained optimum over each subset of the rates (the others 0), the best that is non-negative (the
 * non-negative optimum is the unconstrained one on its own support). Undefined when no subset gives a positive
 * cost for every sample.
 */
export function fitGroupedConvInteger(samples: readonly { work: GroupedConvIntegerWork; nsPerGroup: number }[]): GroupedConvIntegerRates | undefined {
  const rows = samples.map((s) => features(s.work).map((f) => f / s.nsPerGroup));
  let best: { rates: number[]; cost: number } | undefined;
  for (let mask = 1; mask < 1 << RATE_KEYS.length; mask++) {
    const cols = RATE_KEYS.map((_, i) => i).filter((i) => mask & (1 << i));
    const solved = solveLeastSquares(rows.map((r) => cols.map((i) => r[i])));
    if (!solved || solved.some((x) => !(x >= 0))) continue;
    const rates = RATE_KEYS.map((_, i) => (cols.includes(i) ? solved[cols.indexOf(i)] : 0));
    const fitted = rows.map((r) => r.reduce((s, x, i) => s + x * rates[i], 0));
    if (fitted.some((x) => !(x > 0))) continue;
    const cost = fitted.reduce((s, x) => s + (x - 1) ** 2, 0);
    if (!best || cost < best.cost) best = { rates, cost };
  }
  if (!best) return undefined;
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return Object.fromEntries(RATE_KEYS.map((key, i) => [key, round(best.rates[i])])) as unknown as GroupedConvIntegerRates;
}

/** argmin_x Σ (row · x − 1)², by the normal equations and Gaussian elimination; null when singular. */
function solveLeastSquares(rows: readonly number[][]): number[] | null {
  const n = rows[0]?.length ?? 0;
  if (n === 0 || rows.length < n) return null;
  const a = Array.from({ length: n }, (_, i) => [...Array.from({ length: n }, (_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0)), rows.reduce((s, r) => s + r[i], 0)]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    if (!(Math.abs(a[pivot][c]) > 1e-12 * Math.abs(a[c][c] || 1))) return null;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const k = a[r][c] / a[c][c];
      for (let j = c; j <= n; j++) a[r][j] -= k * a[c][j];
    }
  }
  return a.map((r, i) => r[n] / r[i]);
}

/**
 * The depthwise shapes `mbn calibrate` times to fit the rates: each count dominates one of them (7×7 the fixed cost,
 * 16×4 the rows, stride 2 the one-by-one elements, 56×56 and 28×28 5×5 the GEMM, 2×96 5×5 the rows that read only
 * padding). Channels, map height and width, kernel, stride; pads keep the size at stride 1.
 */
export const GROUPED_CONV_INTEGER_SHAPES: readonly { channels: number; height: number; width: number; kernel: number; stride: number }[] = [
  { channels: 64, height: 56, width: 56, kernel: 3, stride: 1 },
  { channels: 256, height: 7, width: 7, kernel: 3, stride: 1 },
  { channels: 128, height: 2, width: 96, kernel: 5, stride: 1 },
  { channels: 64, height: 56, width: 56, kernel: 3, stride: 2 },
  { channels: 64, height: 28, width: 28, kernel: 5, stride: 1 },
  { channels: 128, height: 16, width: 4, kernel: 3, stride: 1 },
];
