import type { ByteSource } from '../ir/types.js';
import { Reader, WireType } from './wire.js';

/**
 * Writing a model back as a splice of its own bytes. A rewrite describes edits keyed by the byte offset of the
 * field they change; everything else — unknown fields of newer IR versions, doc strings, weights — is copied as
 * the byte range it was, so an edit-free write is byte-identical and a large model is written at disk speed.
 */

/** A run of output: a range of the source, or new bytes. */
export type Piece = { start: number; end: number } | Uint8Array;

export type FieldEdit =
  /** Replace the whole field (tag included) with these encoded fields; [] deletes it. */
  | { kind: 'replace'; fields: Uint8Array[] }
  /** Keep the field but edit inside its (message) payload. */
  | { kind: 'nested'; edit: MessageEdit };

export interface MessageEdit {
  /** Edits keyed by the tag offset of the field they apply to. */
  fields: Map<number, FieldEdit>;
  /** Encoded fields added at the end of the message. */
  append: Uint8Array[];
}

export function emptyEdit(): MessageEdit {
  return { fields: new Map(), append: [] };
}

export function pieceLength(p: Piece): number {
  return p instanceof Uint8Array ? p.length : p.end - p.start;
}

export function piecesLength(pieces: Piece[]): number {
  let n = 0;
  for (const p of pieces) n += pieceLength(p);
  return n;
}

/** The pieces of message [start, end) with `edit` applied. */
export function spliceMessage(source: ByteSource, start: number, end: number, edit: MessageEdit): Piece[] {
  const out: Piece[] = [];
  let copyFrom = start;
  if (edit.fields.size > 0) {
    const r = new Reader(source, start, end);
    for (let f = r.field(); f; f = r.field()) {
      const fe = edit.fields.get(f.tagStart);
      if (!fe) continue;
      if (copyFrom < f.tagStart) out.push({ start: copyFrom, end: f.tagStart });
      if (fe.kind === 'replace') out.push(...fe.fields);
      else {
        if (f.wireType !== WireType.Len) throw new Error(`nested edit on a non-message field at byte ${f.tagStart}`);
        const inner = spliceMessage(source, f.start, f.end, fe.edit);
        out.push(source.view(f.tagStart, tagEnd(source, f.tagStart)).slice(), varint(piecesLength(inner)), ...inner);
      }
      copyFrom = f.end;
    }
  }
  if (copyFrom < end) out.push({ start: copyFrom, end });
  out.push(...edit.append);
  return coalesce(out);
}

/** End offset of the tag varint that starts at `at`. */
function tagEnd(source: ByteSource, at: number): number {
  const head = source.view(at, Math.min(source.size, at + 5));
  let i = 0;
  while (head[i] & 0x80) i++;
  return at + i + 1;
}

function coalesce(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && !(last instanceof Uint8Array) && !(p instanceof Uint8Array) && last.end === p.start) last.end = p.end;
    else if (p instanceof Uint8Array ? p.length > 0 : p.end > p.start) out.push(p instanceof Uint8Array ? p : { ...p });
  }
  return out;
}

export function varint(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

/**
 * The bytes a list of pieces would write, readable without writing or concatenating them: a dry run analyzes the
 * rewritten model through this, at the cost of the few ranges the reader asks for.
 */
export class PieceSource implements ByteSource {
  readonly size: number;
  private readonly starts: number[] = [];
  constructor(
    private readonly pieces: Piece[],
    private readonly base: ByteSource,
  ) {
    let at = 0;
    for (const p of pieces) {
      this.starts.push(at);
      at += pieceLength(p);
    }
    this.size = at;
  }
  view(start: number, end: number): Uint8Array {
    const parts: Uint8Array[] = [];
    // The last piece starting at or before `start`.
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= start) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo, at = start; at < end && i < this.pieces.length; i++) {
      const p = this.pieces[i];
      const from = at - this.starts[i];
      const to = Math.min(end - this.starts[i], pieceLength(p));
      parts.push(p instanceof Uint8Array ? p.subarray(from, to) : this.base.view(p.start + from, p.start + to));
      at = this.starts[i] + to;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
  close(): void {}
}
