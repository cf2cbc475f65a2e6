/**
 * Tiny TFLite flatbuffers for tests, written field by field (no flatbuffers package): each table's vtable and
 * fields, then the objects its offset fields point to, always after it (uoffsets are unsigned). Field slots are
 * schema.fbs's (src/tflite/schema.ts). Enough for the schema's traps that converters rarely produce.
 */
export type Scalar = 'u8' | 'i8' | 'bool' | 'i32' | 'u32' | 'f32' | 'u64';

export type FbValue =
  | { table: Record<number, FbField> }
  | { string: string }
  | { vector: Scalar; values: number[] }
  | { tables: { table: Record<number, FbField> }[] };

export type FbField = { scalar: Scalar; value: number } | FbValue;

const WIDTH: Record<Scalar, number> = { u8: 1, i8: 1, bool: 1, i32: 4, u32: 4, f32: 4, u64: 8 };

class Writer {
  bytes: number[] = [];
  private view = new DataView(new ArrayBuffer(8));
  put(kind: Scalar, value: number, at = this.bytes.length): void {
    const w = WIDTH[kind];
    if (kind === 'f32') this.view.setFloat32(0, value, true);
    else if (kind === 'u64') this.view.setBigUint64(0, BigInt(value), true);
    else if (kind === 'i32' || kind === 'u32') this.view.setUint32(0, value >>> 0, true);
    else this.view.setUint8(0, value & 0xff);
    for (let i = 0; i < w; i++) this.bytes[at + i] = this.view.getUint8(i);
  }
  align(n: number): void {
    while (this.bytes.length % n) this.bytes.push(0);
  }
  /** Writes `value` here and returns its position (a table's position is its table start, after its vtable). */
  write(value: FbValue): number {
    if ('string' in value) {
      this.align(4);
      const at = this.bytes.length;
      const text = Buffer.from(value.string, 'utf8');
      this.put('u32', text.length);
      this.bytes.push(...text, 0);
      return at;
    }
    if ('vector' in value) {
      this.align(Math.max(4, WIDTH[value.vector]));
      if (WIDTH[value.vector] === 8) {
        // The elements, not the length, are 8-aligned.
        this.bytes.push(0, 0, 0, 0);
      }
      const at = this.bytes.length;
      this.put('u32', value.values.length);
      for (const v of value.values) this.put(value.vector, v);
      return at;
    }
    if ('tables' in value) {
      this.align(4);
      const at = this.bytes.length;
      this.put('u32', value.tables.length);
      const slots = value.tables.map(() => {
        const slot = this.bytes.length;
        this.put('u32', 0);
        return slot;
      });
      value.tables.forEach((t, i) => this.put('u32', this.write(t) - slots[i], slots[i]));
      return at;
    }
    const entries = Object.entries(value.table).map(([k, f]) => [Number(k), f] as const);
    const slots = entries.length ? Math.max(...entries.map(([k]) => k)) + 1 : 0;
    this.align(4);
    const vtable = this.bytes.length;
    const vtableSize = 4 + 2 * slots;
    for (let i = 0; i < vtableSize; i++) this.bytes.push(0);
    this.align(8);
    const table = this.bytes.length;
    this.put('i32', table - vtable);
    const offsets: { at: number; value: FbValue }[] = [];
    for (const [slot, f] of entries) {
      const width = 'scalar' in f ? WIDTH[f.scalar] : 4;
      while ((this.bytes.length - table) % width) this.bytes.push(0);
      const at = this.bytes.length;
      // A vtable entry is 16 bits.
      this.bytes[vtable + 4 + 2 * slot] = (at - table) & 0xff;
      this.bytes[vtable + 5 + 2 * slot] = (at - table) >> 8;
      if ('scalar' in f) this.put(f.scalar, f.value);
      else {
        this.put('u32', 0);
        offsets.push({ at, value: f });
      }
    }
    const size = this.bytes.length - table;
    this.bytes[vtable] = vtableSize & 0xff;
    this.bytes[vtable + 1] = vtableSize >> 8;
    this.bytes[vtable + 2] = size & 0xff;
    this.bytes[vtable + 3] = size >> 8;
    for (const o of offsets) this.put('u32', this.write(o.value) - o.at, o.at);
    return table;
  }
}

/** A whole file: root offset, the `TFL3` identifier, the model table; `tail` bytes appended after it. */
export function buildTflite(model: Record<number, FbField>, tail: Uint8Array = new Uint8Array(0)): Uint8Array {
  const w = new Writer();
  w.put('u32', 0);
  w.bytes.push(...Buffer.from('TFL3'));
  const root = w.write({ table: model });
  w.put('u32', root, 0);
  return Uint8Array.from([...w.bytes, ...tail]);
}

export const i32 = (value: number): FbField => ({ scalar: 'i32', value });
export const u32 = (value: number): FbField => ({ scalar: 'u32', value });
export const i8 = (value: number): FbField => ({ scalar: 'i8', value });
export const u8 = (value: number): FbField => ({ scalar: 'u8', value });
export const u64 = (value: number): FbField => ({ scalar: 'u64', value });
export const ints = (values: number[]): FbField => ({ vector: 'i32', values });
export const bytes = (values: number[]): FbField => ({ vector: 'u8', values });
export const str = (text: string): FbField => ({ string: text });
export const tables = (list: Record<number, FbField>[]): FbField => ({ tables: list.map((table) => ({ table })) });
export const table = (fields: Record<number, FbField>): FbField => ({ table: fields });
