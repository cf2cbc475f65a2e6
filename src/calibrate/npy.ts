import { MbnError, quote } from '../errors.js';
import { float16ToNumber } from '../tensor/float.js';

/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), read without Python: magic `\x93NUMPY`, two version bytes,
 * the header length (uint16 LE in v1, uint32 LE in v2/v3), an ASCII (v3: UTF-8) Python dict literal with `descr`,
 * `fortran_order` and `shape`, then the raw C-order data. Values are returned as float64 whatever the stored dtype.
 */
export interface NpyArray {
  /** The stored dtype as NumPy spells it, e.g. '<f4'. */
  descr: string;
  shape: number[];
  data: Float64Array;
}

interface Decoder {
  size: number;
  read: (view: DataView, offset: number, little: boolean) => number;
}

const DECODERS: Record<string, Decoder> = {
  f8: { size: 8, read: (v, o, le) => v.getFloat64(o, le) },
  f4: { size: 4, read: (v, o, le) => v.getFloat32(o, le) },
  f2: { size: 2, read: (v, o, le) => float16ToNumber(v.getUint16(o, le)) },
  i8: { size: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  u8: { size: 8, read: (v, o, le) => Number(v.getBigUint64(o, le)) },
  i4: { size: 4, read: (v, o, le) => v.getInt32(o, le) },
  u4: { size: 4, read: (v, o, le) => v.getUint32(o, le) },
  i2: { size: 2, read: (v, o, le) => v.getInt16(o, le) },
  u2: { size: 2, read: (v, o, le) => v.getUint16(o, le) },
  i1: { size: 1, read: (v, o) => v.getInt8(o) },
  u1: { size: 1, read: (v, o) => v.getUint8(o) },
  b1: { size: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0) },
};


const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

function bad(file: string, why: string): MbnError {
  return new MbnError('usage', `${quote(file)} is not a usable .npy file: ${why}`);
}

export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(file, 'no NumPy magic (\\x93NUMPY) at the start');
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(file, `format version ${major}.${bytes[7]} is not 1.0, 2.0 or 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) throw bad(file, 'truncated header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw bad(file, `truncated header (${headerLength} bytes announced, ${bytes.length - headerStart} present)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(file, 'header lacks descr, fortran_order or shape');
  if (fortran === 'True') throw bad(file, 'fortran_order is True (save it in C order: np.save(f, np.ascontiguousarray(a)))');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) throw bad(file, `shape (${shapeText}) is not a tuple of integers`);
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const decoder = m ? DECODERS[`${m[2]}${m[3]}`] : undefined;
  if (!m || !decoder) throw bad(file, `dtype ${quote(descr)} is not a float, integer or bool dtype`);
  const little = m[1] !== '>';
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * decoder.size;
  if (bytes.length - dataStart < need) throw bad(file, `truncated data (shape (${shape.join(', ')}) needs ${need} bytes, ${bytes.length - dataStart} present)`);
  const data = new Float64Array(count);
  for (let i = 0, o = dataStart; i < count; i++, o += decoder.size) data[i] = decoder.read(view, o, little);
  return { descr, shape, data };
}

/** A .npy file (v1.0) holding `data` as the given dtype, for tests and calibration-data scripts. */
export function encodeNpy(shape: number[], data: ArrayLike<number>, descr: '<f4' | '<f8' | '<i8' = '<f4'): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const size = descr === '<f4' ? 4 : 8;
  const out = new Uint8Array(10 + header.length + data.length * size);
  const view = new DataView(out.buffer);
  const put = descr === '<f4' ? (o: number, x: number) => view.setFloat32(o, x, true) : descr === '<f8' ? (o: number, x: number) => view.setFloat64(o, x, true) : (o: number, x: number) => view.setBigInt64(o, BigInt(x), true);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const base = 10 + header.length;
  for (let i = 0; i < data.length; i++) put(base + size * i, data[i]);
  return out;
}
