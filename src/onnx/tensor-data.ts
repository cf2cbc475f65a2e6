import { MbnError, quote } from '../errors.js';
import type { Model, TensorRef } from '../ir/types.js';
import { DataType, bytesFor, dtypeBits, dtypeName, isFloat } from './dtype.js';
import { readExternalBytes } from './external.js';
import { Reader } from './wire.js';
import { product } from '../util/count.js';
import { float16ToNumber } from '../tensor/float.js';

/**
 * Tensor element data, read only when asked for: by the rewriter for the weights it changes, and by shape
 * inference for small integer tensors (shape arithmetic).
 */

export function elementCount(t: TensorRef): number {
  return product(t.dims, `the element count of tensor ${quote(t.name)}, dims`);
}

/** The tensor's bytes in raw_data layout (little-endian, packed), from whichever field holds them. */
export function readTensorBytes(model: Model, t: TensorRef): Uint8Array {
  const count = elementCount(t);
  const expected = bytesFor(t.dtype, count);
  if (t.dtype === DataType.STRING) throw new MbnError('unsupported', `tensor ${quote(t.name)} holds strings`);
  if (t.storage === 'external') {
    if (!model.path) throw new MbnError('external-data', `tensor ${quote(t.name)} has external data but the model has no file path`);
    return readExternalBytes(model.path, t, expected);
  }
  if (t.storage === 'none') {
    if (count === 0) return new Uint8Array(0);
    throw new MbnError('invalid-model', `tensor ${quote(t.name)} has dims [${t.dims.join(', ')}] but no data`);
  }
  if (t.storage === 'raw') {
    const span = t.dataSpans[t.dataSpans.length - 1];
    if (span.end - span.start !== expected) {
      throw new MbnError('invalid-model', `tensor ${quote(t.name)} should hold ${expected} bytes of ${dtypeName(t.dtype)} but its raw_data has ${span.end - span.start}`);
    }
    return model.source.view(span.start, span.end);
  }
  return typedToRaw(model, t, count, expected);
}

function typedToRaw(model: Model, t: TensorRef, count: number, expected: number): Uint8Array {
  // The most values the fields can hold (a varint takes at least one byte): checked before allocating, so that
  // dims declaring far more elements than the file holds cannot size an allocation.
  let capacity = 0;
  for (const span of t.dataSpans) {
    const width = span.field === 4 ? 4 : span.field === 10 ? 8 : 1;
    capacity += span.packed ? Math.floor((span.end - span.start) / width) : 1;
  }
  if (capacity < count) {
    throw new MbnError('invalid-model', `tensor ${quote(t.name)} has dims [${t.dims.join(', ')}] (${count} values) but its data holds at most ${capacity}`);
  }
  const out = new Uint8Array(expected);
  const view = new DataView(out.buffer);
  let i = 0;
  const bits = dtypeBits(t.dtype);
  const put = (v: number): void => {
    if (i >= count) throw new MbnError('invalid-model', `tensor ${quote(t.name)} holds more values than its dims [${t.dims.join(', ')}] allow`);
    switch (t.dtype) {
      case DataType.FLOAT: view.setFloat32(i * 4, v, true); break;
      case DataType.DOUBLE: view.setFloat64(i * 8, v, true); break;
      case DataType.INT64: view.setBigInt64(i * 8, BigInt(v), true); break;
      case DataType.UINT64: view.setBigUint64(i * 8, BigInt(v), true); break;
      case DataType.INT32: view.setInt32(i * 4, v, true); break;
      case DataType.UINT32: view.setUint32(i * 4, v, true); break;
      default:
        // int32_data carries 8- and 16-bit types (and float16/bfloat16 bit patterns) one value per element.
        if (bits === 16) view.setUint16(i * 2, v & 0xffff, true);
        else if (bits === 8) out[i] = v & 0xff;
        else throw new MbnError('unsupported', `tensor ${quote(t.name)}: typed data of ${dtypeName(t.dtype)} is not supported`);
    }
    i++;
  };
  for (const span of t.dataSpans) {
    const r = new Reader(model.source, span.start, span.end);
    const isFixed32 = span.field === 4;
    const isFixed64 = span.field === 10;
    if (!span.packed) {
      // One unpacked value: the span is the encoded value itself.
      if (isFixed32) put(r.float32());
      else if (isFixed64) put(r.float64());
      else put(r.varint());
      continue;
    }
    while (!r.done) {
      if (isFixed32) put(r.float32());
      else if (isFixed64) put(r.float64());
      else put(r.varint());
    }
  }
  if (i !== count) {
    throw new MbnError('invalid-model', `tensor ${quote(t.name)} has dims [${t.dims.join(', ')}] (${count} values) but holds ${i}`);
  }
  return out;
}

/** Element values as numbers (int64 exact within ±2^53), for integer and float tensors. */
export function decodeNumbers(bytes: Uint8Array, dtype: number, count: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case DataType.FLOAT: out[i] = view.getFloat32(i * 4, true); break;
      case DataType.DOUBLE: out[i] = view.getFloat64(i * 8, true); break;
      case DataType.INT64: out[i] = Number(view.getBigInt64(i * 8, true)); break;
      case DataType.UINT64: out[i] = Number(view.getBigUint64(i * 8, true)); break;
      case DataType.INT32: out[i] = view.getInt32(i * 4, true); break;
      case DataType.UINT32: out[i] = view.getUint32(i * 4, true); break;
      case DataType.INT16: out[i] = view.getInt16(i * 2, true); break;
      case DataType.UINT16: out[i] = view.getUint16(i * 2, true); break;
      case DataType.INT8: out[i] = view.getInt8(i); break;
      case DataType.UINT8: case DataType.BOOL: out[i] = view.getUint8(i); break;
      case DataType.FLOAT16: out[i] = float16ToNumber(view.getUint16(i * 2, true)); break;
      default: throw new MbnError('unsupported', `cannot read values of ${dtypeName(dtype)}`);
    }
  }
  return out;
}

/** Types whose values shape inference folds. */
const FOLDABLE = new Set<number>([
  DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8,
  DataType.UINT64, DataType.UINT32, DataType.UINT16, DataType.UINT8, DataType.BOOL,
]);

/** Integer tensors carry shapes, axes and indices; float tensors that shape arithmetic needs are scales: a few values. */
const INTEGER_LIMIT = 4096;
const FLOAT_LIMIT = 64;

/** The most elements of a tensor of this dtype whose values shape inference carries (0: values not carried). */
export function valueLimit(dtype: number): number {
  if (!FOLDABLE.has(dtype)) return 0;
  return isFloat(dtype) ? FLOAT_LIMIT : INTEGER_LIMIT;
}

/**
 * Values of a small tensor stored in the model itself (never external data), or undefined. Only small tensors are
 * decoded, and floats only when a handful (Resize scales, not biases), so analysis stays independent of weight size.
 */
export function smallTensorValues(model: Model, t: TensorRef): number[] | undefined {
  if (!FOLDABLE.has(t.dtype) || t.storage === 'external') return undefined;
  const limit = valueLimit(t.dtype);
  let count: number;
  try {
    count = elementCount(t);
  } catch {
    return undefined;
  }
  if (count > limit) return undefined;
  try {
    return decodeNumbers(readTensorBytes(model, t), t.dtype, count);
  } catch (error) {
    if (error instanceof MbnError) return undefined;
    throw error;
  }
}
