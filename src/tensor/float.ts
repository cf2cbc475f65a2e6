/**
 * Floating-point (de)serialisation for ONNX initializer raw_data.
 *
 * The rewriter does its arithmetic in float64 but must write rewritten weights
 * back in the model's original dtype, so that a float16/bfloat16 model stays
 * that size and runtimes see the dtype they expect. ONNX raw_data is always
 * little-endian and a Uint8Array sliced out of a protobuf buffer is generally
 * not aligned, so everything goes through DataView (never typed-array views).
 */

export type FloatDType = 'float32' | 'float16' | 'bfloat16' | 'float64';

const BYTES: Record<FloatDType, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8 };

/** Size in bytes of one element of `dtype`. */
export function floatDTypeSize(dtype: FloatDType): number {
  const n = BYTES[dtype];
  if (n === undefined) throw new Error(`unsupported float dtype '${String(dtype)}'`);
  return n;
}

// --- generic small-float codec -------------------------------------------------
// float16 (1-5-10) and bfloat16 (1-8-7) differ only in field widths, so one
// codec parameterised by exponent/mantissa bits serves both. Rounding is done
// directly from the float64 value: going through float32 first would round
// twice and can break ties the wrong way.

function decodeSmall(bits: number, expBits: number, manBits: number): number {
  const expMax = (1 << expBits) - 1;
  const bias = (1 << (expBits - 1)) - 1;
  const sign = (bits >>> (expBits + manBits)) & 1 ? -1 : 1;
  const e = (bits >>> manBits) & expMax;
  const m = bits & ((1 << manBits) - 1);
  if (e === expMax) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (1 - bias - manBits); // zero / subnormal
  return sign * (1 + m / (1 << manBits)) * 2 ** (e - bias);
}

/** Round a non-negative finite integer-valued-or-not number to an integer, ties to even. */
function roundHalfEven(m: number): number {
  const f = Math.floor(m);
  const d = m - f;
  if (d > 0.5 || (d === 0.5 && (f & 1) === 1)) return f + 1;
  return f;
}

function encodeSmall(x: number, expBits: number, manBits: number, nanBits: number): number {
  const expMax = (1 << expBits) - 1;
  const bias = (1 << (expBits - 1)) - 1;
  const signBit = 1 << (expBits + manBits);
  if (Number.isNaN(x)) return nanBits;
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const infBits = sign | (expMax << manBits);
  if (a === Infinity) return infBits;
  const minNormalExp = 1 - bias;
  if (a < 2 ** minNormalExp) {
    // Subnormal range: count in units of the smallest subnormal. Scaling by a
    // power of two is exact, so the only rounding is roundHalfEven. A result of
    // 1 << manBits is exactly the smallest normal, whose encoding is the same
    // integer, so no special case is needed.
    return sign | roundHalfEven(a * 2 ** (manBits - minNormalExp));
  }
  let e = Math.floor(Math.log2(a));
  // log2 may be off by one near powers of two; fix with exact comparisons.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven(a * 2 ** (manBits - e)); // in [2^manBits, 2^(manBits+1)]
  if (m === 1 << (manBits + 1)) {
    m = 1 << manBits;
    e++;
  }
  if (e + bias >= expMax) return infBits; // overflow rounds to infinity
  return sign | ((e + bias) << manBits) | (m - (1 << manBits));
}

/** IEEE 754 binary16 bit pattern -> number. */
export function float16ToNumber(bits: number): number {
  return decodeSmall(bits & 0xffff, 5, 10);
}

/** number -> IEEE 754 binary16 bit pattern (round-to-nearest-even, subnormals, ±inf, NaN -> 0x7E00). */
export function numberToFloat16(x: number): number {
  return encodeSmall(x, 5, 10, 0x7e00);
}

/** bfloat16 bit pattern (upper half of a float32) -> number. */
export function bfloat16ToNumber(bits: number): number {
  return decodeSmall(bits & 0xffff, 8, 7);
}

/** number -> bfloat16 bit pattern (round-to-nearest-even, NaN -> 0x7FC0). */
export function numberToBfloat16(x: number): number {
  return encodeSmall(x, 8, 7, 0x7fc0);
}

// --- bulk conversion ------------------------------------------------------------

/** Decode little-endian raw_data bytes of `dtype` into float64 values. */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDType): Float64Array {
  const size = floatDTypeSize(dtype);
  if (bytes.byteLength % size !== 0) {
    throw new Error(`raw data length ${bytes.byteLength} is not a multiple of ${size} for dtype '${dtype}'`);
  }
  const n = bytes.byteLength / size;
  const out = new Float64Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = decodeSmall(dv.getUint16(i * 2, true), 5, 10);
      break;
    case 'bfloat16':
      for (let i = 0; i < n; i++) out[i] = decodeSmall(dv.getUint16(i * 2, true), 8, 7);
      break;
  }
  return out;
}

/** Encode float64 values as little-endian raw_data bytes of `dtype` (round-to-nearest-even). */
export function encodeFloats(values: Float64Array, dtype: FloatDType): Uint8Array {
  const size = floatDTypeSize(dtype);
  const n = values.length;
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'float64':
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i], true);
      break;
    case 'float32':
      // DataView.setFloat32 performs IEEE round-to-nearest-even from float64.
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i], true);
      break;
    case 'float16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, numberToFloat16(values[i]), true);
      break;
    case 'bfloat16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, numberToBfloat16(values[i]), true);
      break;
  }
  return out;
}
