import { MbnError, quote } from '../errors.js';
import type { ByteSource } from '../ir/types.js';
import { BufferSource } from '../onnx/source.js';

/**
 * A lazy FlatBuffers reader: tables, vectors and strings read in place through a ByteSource. A file read whole is
 * one buffer; a larger one is read in pages as the reader touches them, so the weight payloads between the tables
 * (all but a few kilobytes of a large model) are never read: a buffer's data is only located (offset, length).
 *
 * Every offset is checked against the file's size: a broken or hostile file gets one "not a valid TFLite model"
 * line, never a read past the end or an allocation sized by a corrupt length.
 */

/** Pages of a file read lazily: small enough that touching a weight's length prefix reads little of the weight. */
const PAGE = 16 * 1024;

export class FlatBuffer {
  readonly size: number;
  private readonly whole: Uint8Array | null;
  private readonly pages = new Map<number, Uint8Array>();
  private readonly scratch = new DataView(new ArrayBuffer(8));

  constructor(
    private readonly source: ByteSource,
    private readonly label: string,
  ) {
    this.size = source.size;
    this.whole = source instanceof BufferSource ? source.bytes : null;
  }

  fail(what: string): never {
    throw new MbnError('invalid-model', `${quote(this.label)} is not a valid TFLite model: ${what}`);
  }

  private check(at: number, length: number): void {
    if (!(at >= 0 && at + length <= this.size)) this.fail(`an offset points outside the file (byte ${at} of ${this.size})`);
  }

  /** Byte at `at` (bounds already checked). */
  private byte(at: number): number {
    if (this.whole) return this.whole[at];
    const index = Math.floor(at / PAGE);
    let page = this.pages.get(index);
    if (!page) {
      const start = index * PAGE;
      page = this.source.view(start, Math.min(this.size, start + PAGE));
      this.pages.set(index, page);
    }
    return page[at - index * PAGE];
  }

  /** `length` little-endian bytes at `at` through the scratch view (values cross page boundaries). */
  private load(at: number, length: number): DataView {
    this.check(at, length);
    if (this.whole) return new DataView(this.whole.buffer, this.whole.byteOffset + at, length);
    for (let i = 0; i < length; i++) this.scratch.setUint8(i, this.byte(at + i));
    return this.scratch;
  }

  u8(at: number): number {
    this.check(at, 1);
    return this.byte(at);
  }
  i8(at: number): number {
    return this.load(at, 1).getInt8(0);
  }
  u16(at: number): number {
    return this.load(at, 2).getUint16(0, true);
  }
  i32(at: number): number {
    return this.load(at, 4).getInt32(0, true);
  }
  u32(at: number): number {
    return this.load(at, 4).getUint32(0, true);
  }
  f32(at: number): number {
    return this.load(at, 4).getFloat32(0, true);
  }
  /** A uint64/int64 as a number; past 2^53 the file is refused (no file offset or count is that large). */
  u64(at: number): number {
    const view = this.load(at, 8);
    const value = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    if (value > Number.MAX_SAFE_INTEGER) this.fail(`a 64-bit value at byte ${at} is too large`);
    return value;
  }
  i64(at: number): number {
    const view = this.load(at, 8);
    const value = view.getUint32(0, true) + view.getInt32(4, true) * 2 ** 32;
    if (!Number.isSafeInteger(value)) this.fail(`a 64-bit value at byte ${at} is too large`);
    return value;
  }

  /** Bytes [start, end) as text (names, custom codes, small metadata). */
  text(start: number, end: number): string {
    this.check(start, end - start);
    if (this.whole) return Buffer.from(this.whole.buffer, this.whole.byteOffset + start, end - start).toString('utf8');
    return Buffer.from(this.source.view(start, end)).toString('utf8');
  }

  /** The root table's position. */
  root(): Table {
    return this.table(this.u32(0));
  }

  table(at: number): Table {
    const vtable = at - this.i32(at);
    const vtableSize = this.u16(vtable);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.fail(`a table at byte ${at} has a malformed vtable`);
    this.check(vtable, vtableSize);
    return new Table(this, at, vtable, (vtableSize - 4) / 2);
  }
}

/** One table: fields by their index in the schema (declaration order, unions taking two slots). */
export class Table {
  constructor(
    readonly fb: FlatBuffer,
    readonly at: number,
    private readonly vtable: number,
    private readonly fields: number,
  ) {}

  /** The field's absolute position, or 0 when it is absent (defaulted). */
  private field(index: number): number {
    if (index >= this.fields) return 0;
    const offset = this.fb.u16(this.vtable + 4 + 2 * index);
    return offset === 0 ? 0 : this.at + offset;
  }
  has(index: number): boolean {
    return this.field(index) !== 0;
  }
  u8(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.u8(p) : fallback;
  }
  i8(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.i8(p) : fallback;
  }
  bool(index: number, fallback: boolean): boolean {
    const p = this.field(index);
    return p ? this.fb.u8(p) !== 0 : fallback;
  }
  i32(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.i32(p) : fallback;
  }
  u32(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.u32(p) : fallback;
  }
  f32(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.f32(p) : fallback;
  }
  u64(index: number, fallback: number): number {
    const p = this.field(index);
    return p ? this.fb.u64(p) : fallback;
  }
  /** Where an offset field points, or 0 when absent. */
  private target(index: number): number {
    const p = this.field(index);
    return p ? p + this.fb.u32(p) : 0;
  }
  table(index: number): Table | null {
    const t = this.target(index);
    return t ? this.fb.table(t) : null;
  }
  string(index: number): string | null {
    const t = this.target(index);
    if (!t) return null;
    const length = this.fb.u32(t);
    return this.fb.text(t + 4, t + 4 + length);
  }
  /** A vector field: where its elements start and how many there are (each `width` bytes), or null when absent. */
  vector(index: number, width: number): { start: number; length: number } | null {
    const t = this.target(index);
    if (!t) return null;
    const length = this.fb.u32(t);
    // Checked before any caller sizes a list by it: a corrupt length cannot pass the file's end.
    if (t + 4 + length * width > this.fb.size) this.fb.fail(`a vector at byte ${t} runs past the end of the file`);
    return { start: t + 4, length };
  }
  tables(index: number): Table[] {
    const v = this.vector(index, 4);
    if (!v) return [];
    const out = new Array<Table>(v.length);
    for (let i = 0; i < v.length; i++) {
      const e = v.start + 4 * i;
      out[i] = this.fb.table(e + this.fb.u32(e));
    }
    return out;
  }
  /** A vector of numbers, each `width` bytes read by `read`. */
  private numbers(index: number, width: number, read: (at: number) => number): number[] | null {
    const v = this.vector(index, width);
    if (!v) return null;
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = read(v.start + width * i);
    return out;
  }
  i32s(index: number): number[] | null {
    return this.numbers(index, 4, (at) => this.fb.i32(at));
  }
  f32s(index: number): number[] | null {
    return this.numbers(index, 4, (at) => this.fb.f32(at));
  }
  i64s(index: number): number[] | null {
    return this.numbers(index, 8, (at) => this.fb.i64(at));
  }
}
