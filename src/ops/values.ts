import { DataType, isInteger } from '../onnx/dtype.js';

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
