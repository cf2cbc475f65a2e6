import { MbnError } from '../errors.js';
import type { ByteSource } from '../ir/types.js';
import { BufferSource } from './source.js';

/**
 * Protocol-buffer wire format, read lazily. A Reader walks the fields of one message range; length-delimited
 * fields are reported as byte ranges and only read when the caller asks for their contents, so a weight payload
 * is skipped by moving the position past it.
 */
export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

export interface Field {
  no: number;
  wireType: WireType;
  /** Offset of the field's tag: [tagStart, end) is the whole field as it stands in the file. */
  tagStart: number;
  /** For Len fields the payload's range; for the others the encoded value's range. */
  start: number;
  end: number;
  /** Varint value (int64 semantics, exact up to 2^53), or fixed32/fixed64 bit patterns decoded by the caller. */
  value: number;
}

const WINDOW = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

export class Reader {
  pos: number;
  private buf: Uint8Array;
  private bufStart: number;
  private readonly whole: boolean;

  constructor(
    readonly source: ByteSource,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
    // A buffer-backed source is viewed whole: no copies at all.
    this.whole = source instanceof BufferSource;
    this.bufStart = this.whole ? 0 : start;
    this.buf = this.whole ? (source as BufferSource).bytes : EMPTY;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private corrupt(what: string): never {
    throw new MbnError('corrupt', `model is truncated or corrupt: ${what} at byte ${this.pos}`);
  }

  /** Ensures bytes [pos, pos + n) are in the window; n must not exceed what the range holds. */
  private fill(n: number): void {
    const offset = this.pos - this.bufStart;
    if (offset >= 0 && offset + n <= this.buf.length) return;
    if (this.whole) this.corrupt('unexpected end of data');
    const size = Math.min(Math.max(n, WINDOW), this.end - this.pos);
    if (size < n) this.corrupt('unexpected end of data');
    this.buf = this.source.view(this.pos, this.pos + size);
    this.bufStart = this.pos;
  }

  private byte(): number {
    if (this.pos >= this.end) this.corrupt('unexpected end of data');
    this.fill(1);
    return this.buf[this.pos++ - this.bufStart];
  }

  /** A varint as a JavaScript number with int64 two's-complement semantics (exact within ±2^53). */
  varint(): number {
    // Fast path: tags, lengths and small values are one or two bytes, already in the window.
    const o = this.pos - this.bufStart;
    if (this.pos + 2 <= this.end && o >= 0 && o + 2 <= this.buf.length) {
      const b0 = this.buf[o];
      if (b0 < 0x80) {
        this.pos += 1;
        return b0;
      }
      const b1 = this.buf[o + 1];
      if (b1 < 0x80) {
        this.pos += 2;
        return (b0 & 0x7f) | (b1 << 7);
      }
    }
    let lo = 0;
    let hi = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    let more = b >= 0x80;
    for (let shift = 3; more && shift < 31; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      more = b >= 0x80;
    }
    if (more) {
      // Tenth byte: only its lowest bit belongs to a 64-bit value.
      b = this.byte();
      if (b > 1) this.corrupt('varint longer than 64 bits');
      hi |= b << 31;
    }
    lo >>>= 0;
    if (hi & 0x80000000) {
      // Negative: two's complement of the 64-bit value.
      const nlo = (~lo + 1) >>> 0;
      const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
      return -(nhi * 4294967296 + nlo);
    }
    return (hi >>> 0) * 4294967296 + lo;
  }

  fixed32Bits(): number {
    if (this.end - this.pos < 4) this.corrupt('unexpected end of data');
    this.fill(4);
    const o = this.pos - this.bufStart;
    const b = this.buf;
    this.pos += 4;
    return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  }

  float32(): number {
    const bits = this.fixed32Bits();
    scratchView.setUint32(0, bits, true);
    return scratchView.getFloat32(0, true);
  }

  float64(): number {
    const lo = this.fixed32Bits();
    const hi = this.fixed32Bits();
    scratchView.setUint32(0, lo, true);
    scratchView.setUint32(4, hi, true);
    return scratchView.getFloat64(0, true);
  }

  /** The next field, or null at the end of the range. Checks every declared length against what is there. */
  field(): Field | null {
    if (this.pos >= this.end) return null;
    const tagStart = this.pos;
    const tag = this.varint();
    const no = Math.floor(tag / 8);
    const wireType = (tag & 7) as WireType;
    if (no < 1 || no > 536870911) {
      this.pos = tagStart;
      this.corrupt(`invalid field number ${no}`);
    }
    const start = this.pos;
    switch (wireType) {
      case WireType.Varint: {
        const value = this.varint();
        return { no, wireType, tagStart, start, end: this.pos, value };
      }
      case WireType.Fixed64:
        if (this.end - this.pos < 8) this.corrupt('unexpected end of data');
        this.pos += 8;
        return { no, wireType, tagStart, start, end: this.pos, value: 0 };
      case WireType.Fixed32:
        if (this.end - this.pos < 4) this.corrupt('unexpected end of data');
        this.pos += 4;
        return { no, wireType, tagStart, start, end: this.pos, value: 0 };
      case WireType.Len: {
        const length = this.varint();
        if (length < 0 || length > this.end - this.pos) {
          this.corrupt(`field ${no} declares ${length} bytes but only ${this.end - this.pos} remain`);
        }
        const payload = this.pos;
        this.pos += length;
        return { no, wireType, tagStart, start: payload, end: this.pos, value: length };
      }
      default:
        this.pos = tagStart;
        this.corrupt(`unsupported wire type ${wireType} for field ${no}`);
    }
  }

  sub(field: Field): Reader {
    const sub = new Reader(this.source, field.start, field.end);
    // A message inside the bytes already read (a node in a graph's window) is read from them: no read per message.
    if (!this.whole && field.start >= this.bufStart && field.end <= this.bufStart + this.buf.length) {
      sub.buf = this.buf;
      sub.bufStart = this.bufStart;
    }
    return sub;
  }

  bytes(field: Field): Uint8Array {
    if (this.whole) return this.buf.subarray(field.start, field.end);
    return this.source.view(field.start, field.end);
  }

  string(field: Field, what: string): string {
    // Names are nearly always ASCII: read them straight from the window, with no view and no decoder.
    const o = field.start - this.bufStart;
    const buf = this.buf;
    if (o >= 0 && field.end - this.bufStart <= buf.length && buf instanceof Buffer) {
      let ascii = true;
      for (let i = o, e = field.end - this.bufStart; i < e; i++) {
        if (buf[i] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return buf.toString('latin1', o, field.end - this.bufStart);
    }
    try {
      return utf8.decode(this.bytes(field));
    } catch {
      throw new MbnError('corrupt', `model is corrupt: ${what} at byte ${field.start} is not valid UTF-8`);
    }
  }

  /** Decodes a fixed32 field's value (the reader has moved past it). */
  fieldFloat32(field: Field): number {
    const saved = this.pos;
    this.pos = field.start;
    const v = this.float32();
    this.pos = saved;
    return v;
  }

  fieldFloat64(field: Field): number {
    const saved = this.pos;
    this.pos = field.start;
    const v = this.float64();
    this.pos = saved;
    return v;
  }

  /** Values of a packed repeated varint field. */
  packedVarints(field: Field, into: number[]): void {
    const saved = this.pos;
    this.pos = field.start;
    while (this.pos < field.end) into.push(this.varint());
    if (this.pos !== field.end) this.corrupt('packed field overruns its length');
    this.pos = saved;
  }

  packedFloat32(field: Field, into: number[]): void {
    if ((field.end - field.start) % 4 !== 0) this.corrupt('packed float field length is not a multiple of 4');
    const saved = this.pos;
    this.pos = field.start;
    while (this.pos < field.end) into.push(this.float32());
    this.pos = saved;
  }
}

const scratchView = new DataView(new ArrayBuffer(8));

/** Expected wire types per known field: a mismatch means the bytes are not the message we think they are. */
export function expectWire(field: Field, expected: WireType, message: string, name: string): void {
  if (field.wireType !== expected) {
    throw new MbnError(
      'corrupt',
      `model is corrupt: ${message}.${name} (field ${field.no}) has wire type ${field.wireType}, expected ${expected}, at byte ${field.tagStart}`,
    );
  }
}

/** Repeated scalar fields may be packed (Len) or not (one field per value); both are valid encodings. */
export function readRepeatedVarint(r: Reader, field: Field, into: number[], message: string, name: string): void {
  if (field.wireType === WireType.Len) r.packedVarints(field, into);
  else {
    expectWire(field, WireType.Varint, message, name);
    into.push(field.value);
  }
}

export function readRepeatedFloat(r: Reader, field: Field, into: number[], message: string, name: string): void {
  if (field.wireType === WireType.Len) r.packedFloat32(field, into);
  else {
    expectWire(field, WireType.Fixed32, message, name);
    into.push(r.fieldFloat32(field));
  }
}
