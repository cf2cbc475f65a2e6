import { DataType, isInteger } from '../onnx/dtype.js';
import { type RuleContext, ShapeError, type TensorState, elements } from './define.js';

/**
 * Value folding shared by the op rules: how large a tensor's values may be to be carried (TensorState.value), and
 * how a number is brought into a dtype. Two conversions, one place: `castValue` is the Cast operator (undefined when
 * the result is not exact in the target type), `fitValue` is an arithmetic result stored in its own dtype.
 */

/** Largest tensor (in elements) whose values are carried along for folding. */
export const FOLD_LIMIT = 4096;

const INT_BITS: Record<number, { bits: number; signed: boolean }> = {
  [DataType.INT8]: { bits: 8, signed: true },
  [DataType.UINT8]: { bits: 8, signed: false },
  [DataType.INT16]: { bits: 16, signed: true },
  [DataType.UINT16]: { bits: 16, signed: false },
  [DataType.INT32]: { bits: 32, signed: true },
  [DataType.UINT32]: { bits: 32, signed: false },
};

/** A finite integer wrapped into a fixed-width integer dtype (two's complement); 64-bit integers unchanged. */
function wrapInteger(t: number, dtype: number): number {
  const w = INT_BITS[dtype];
  if (!w) return t;
  const m = 2 ** w.bits;
  let r = ((t % m) + m) % m;
  if (w.signed && r >= m / 2) r -= m;
  return r;
}

/** Brings a computed number into the range and precision of dtype (wraps fixed-width ints, rounds float32). */
export function fitValue(v: number, dtype: number): number {
  if (dtype === DataType.BOOL) return v ? 1 : 0;
  if (dtype === DataType.FLOAT) return Math.fround(v);
  if (isInteger(dtype)) {
    if (!Number.isFinite(v)) return v;
    return wrapInteger(Math.trunc(v) + 0, dtype); // + 0 turns −0 into 0
  }
  return v;
}

/** Converts a value as a cast to `to` would (integers truncate toward zero and wrap); undefined when not exact. */
export function castValue(v: number, to: number): number | undefined {
  if (to === DataType.BOOL) return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  if (to === DataType.FLOAT) return Math.fround(v);
  if (to === DataType.DOUBLE) return v;
  if (to === DataType.FLOAT16) return Number.isInteger(v) && Math.abs(v) <= 2048 ? v : undefined;
  if (to === DataType.BFLOAT16) return Number.isInteger(v) && Math.abs(v) <= 256 ? v : undefined;
  if (!Number.isFinite(v)) return undefined;
  const t = Math.trunc(v);
  if (to in INT_BITS) return wrapInteger(t, to);
  if (to === DataType.INT64) return t;
  if (to === DataType.UINT64) return t >= 0 ? t : undefined;
  return undefined;
}

/**
 * The data-movement families (cast.ts, reshape.ts, transpose.ts, concat-split.ts, slice.ts, gather.ts, scatter.ts,
 * expand-tile.ts, pad.ts, depth-space.ts, one-hot-trilu.ts, data-dependent.ts, topk-cumsum.ts): operators that move,
 * reshape, select or convert data: Cast/CastLike, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Gather, GatherElements, GatherND, Expand, Tile, Pad, DepthToSpace, SpaceToDepth,
 * ScatterND, ScatterElements, Scatter, OneHot, Trilu, ReverseSequence, Compress, NonZero, TopK, Unique, CumSum.
 * Shape rules follow onnx/defs/tensor/defs.cc per opset (ctx.opset): attributes that became inputs are read from
 * where the opset in force puts them.
 *
 * Value folding: when the input values an op needs are known (TensorState.value, row-major), the output's values are
 * computed too, so shape arithmetic such as Shape → Gather → Unsqueeze → Concat → Reshape folds to a concrete target.
 * Values are only carried for outputs of at most FOLD_LIMIT elements. Compress, NonZero and Unique have
 * data-dependent output shapes: they are inferred only when their values fold (else UnknownShape).
 *
 * Cost conventions (documented here once):
 * - Pure data movement, selection and conversion cost nothing: {macs: 0, flops: 0}. This covers every op here
 *   except the two below (Cast included: a conversion, not arithmetic; Unique too: its sort is comparisons).
 * - CumSum: 1 flop (one add) per output element.
 * - TopK: round(input elements · max(1, log2 k)) flops: a heap selection compares every element about log2 k
 *   times; k = 1 (an argmax) still compares every element once.
 */

// ---------------------------------------------------------------------------------------------- helpers ---

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A state with its values attached when they are given and small enough. */
export function state(dtype: number, shape: number[], value?: number[] | null): TensorState {
  const s: TensorState = { dtype, shape };
  if (value && value.length === elements(shape) && value.length <= FOLD_LIMIT) s.value = value;
  return s;
}

/** Input i's values when known (never throws). */
export function knownValues(ctx: RuleContext, i: number): number[] | undefined {
  return ctx.has(i) ? (ctx.inputs[i]?.value ?? undefined) : undefined;
}

/** Input i's values as integers; throws UnknownShape when not known. */
export function intValues(ctx: RuleContext, i: number): number[] {
  return ctx.values(i).map((v) => Math.trunc(v));
}

/** Whether folding an output of this many elements is worth doing. */
export function foldable(shape: readonly number[]): boolean {
  return elements(shape) <= FOLD_LIMIT;
}

/** Calls f on every multi-index of a shape in row-major order (reusing one index array). */
export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = elements(shape);
  if (n === 0) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function transposeValues(values: readonly number[], shape: readonly number[], perm: readonly number[]): number[] {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const out = new Array<number>(values.length);
  forEachIndex(outShape, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d] * inStrides[perm[d]];
    out[flat] = values[src];
  });
  return out;
}

/** Values of a tensor of `shape` broadcast to `outShape` (numpy rules, already checked). */
export function broadcastValues(values: readonly number[], shape: readonly number[], outShape: readonly number[]): number[] {
  const offset = outShape.length - shape.length;
  const strides = stridesOf(shape);
  const out = new Array<number>(elements(outShape));
  forEachIndex(outShape, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) src += idx[d + offset] * strides[d];
    out[flat] = values[src];
  });
  return out;
}

export function checkUnique(axes: number[], op: string): void {
  if (new Set(axes).size !== axes.length) throw new ShapeError(`${op} has repeated axes [${axes.join(',')}]`);
}

export function bracketed(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
