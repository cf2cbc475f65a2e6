import { checkCount } from '../util/count.js';

/**
 * ONNX TensorProto.DataType codes, including those added after onnx 1.10 (the spec: TensorProto.DataType in
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
 */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

const NAMES: Record<number, string> = {
  0: 'unknown', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4',
  22: 'int4', 23: 'float4e2m1', 24: 'float8e8m0', 25: 'uint2', 26: 'int2',
};

/** Size of one element in bits (sub-byte types pack), or 0 where it has no fixed size (string). */
const BITS: Record<number, number> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 8: 0, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
  17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
};

export function dtypeName(code: number): string {
  return NAMES[code] ?? `dtype(${code})`;
}

/** The code of a dtype name as dtypeName writes it (`float32` → 1); 0 (undefined) for a name it does not know. */
export function dtypeCode(name: string): number {
  for (const [code, n] of Object.entries(NAMES)) if (n === name) return Number(code);
  return 0;
}

export function dtypeBits(code: number): number {
  return BITS[code] ?? 0;
}

/** Bytes of `elements` values of a dtype; refused past 2^53 like every count. */
export function bytesFor(code: number, elements: number): number {
  const bits = dtypeBits(code);
  // Whole bytes per element: multiply by the byte width, so that the product is exact wherever it is below 2^53.
  return checkCount(bits % 8 === 0 ? elements * (bits / 8) : Math.ceil((elements * bits) / 8), `the byte size of ${elements} ${dtypeName(code)} values`);
}

/** Floating-point element types: their initializers are a model's parameters. */
export function isFloat(code: number): boolean {
  return code === 1 || code === 10 || code === 11 || code === 16 || (code >= 17 && code <= 20) || code === 23 || code === 24;
}

export function isInteger(code: number): boolean {
  return (code >= 2 && code <= 7) || code === 12 || code === 13 || code === 21 || code === 22 || code === 25 || code === 26;
}
