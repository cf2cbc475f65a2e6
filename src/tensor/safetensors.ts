/**
 * The safetensors format (huggingface/safetensors), written directly: an 8-byte little-endian header length N, N
 * bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}` (offsets from the first
 * byte after the header), then the tensors' raw little-endian bytes. The header is padded with spaces to a multiple
 * of 8 bytes, so that every tensor starts aligned for its dtype.
 */

export type SafetensorsDType = 'F64' | 'F32' | 'I64' | 'I32';

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  values: ArrayLike<number>;
}

const SIZE: Record<SafetensorsDType, number> = { F64: 8, F32: 4, I64: 8, I32: 4 };

function rawBytes(e: SafetensorsEntry): Uint8Array {
  const count = e.shape.reduce((a, b) => a * b, 1);
  if (count !== e.values.length) throw new Error(`safetensors: ${e.name} has ${e.values.length} values for shape [${e.shape.join(', ')}]`);
  const out = new Uint8Array(count * SIZE[e.dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const v = e.values[i];
    if (e.dtype === 'F64') view.setFloat64(i * 8, v, true);
    else if (e.dtype === 'F32') view.setFloat32(i * 4, v, true);
    else if (e.dtype === 'I64') view.setBigInt64(i * 8, BigInt(v), true);
    else view.setInt32(i * 4, v, true);
  }
  return out;
}

/** The file's bytes, as pieces in order (header length, header, then each tensor). */
export function encodeSafetensors(entries: readonly SafetensorsEntry[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    if (e.name in header) throw new Error(`safetensors: duplicate tensor name ${e.name}`);
    const raw = rawBytes(e);
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + raw.length] };
    data.push(raw);
    offset += raw.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length % 8) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.length), true);
  return [length, json, ...data];
}
