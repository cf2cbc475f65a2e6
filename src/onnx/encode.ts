import protobuf from 'protobufjs/minimal.js';
import { varint } from './splice.js';

/**
 * Encoders for the few messages a rewrite creates (nodes, tensors, value infos), with field numbers from
 * onnx.proto. Repeated scalars are written unpacked, as onnx's own (proto2) serializer does.
 */
const { Writer } = protobuf;
type W = protobuf.Writer;

const LEN = 2;
const VARINT = 0;

function tag(w: W, no: number, wire: number): W {
  return w.uint32((no << 3) | wire);
}

function str(w: W, no: number, value: string): void {
  if (value !== '') tag(w, no, LEN).string(value);
}

function bytes(w: W, no: number, value: Uint8Array): void {
  tag(w, no, LEN).bytes(value);
}

function int64(w: W, no: number, value: number): void {
  tag(w, no, VARINT).int64(value);
}

function message(w: W, no: number, body: (w: W) => void): void {
  tag(w, no, LEN).fork();
  body(w);
  w.ldelim();
}

// Field-level encoding, for callers that assemble messages from pieces (bench models streamed to a file, hand-made
// and deliberately malformed messages in tests). Same wire format as the Writer above.

type Bytes = Uint8Array | readonly number[];

/** A base-128 varint; negative numbers as their 64-bit two's complement (10 bytes), as protobuf writes int64. */
export function wireVarint(value: number | bigint): Uint8Array {
  let x = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return Uint8Array.from(out);
}

/** A field key: field number and wire type. */
export function fieldTag(no: number, wireType: number): Uint8Array {
  return wireVarint(no * 8 + wireType);
}

export function concatBytes(...parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The key and length of a length-delimited field whose payload (of `length` bytes) follows separately. */
export function fieldHeader(no: number, length: number): Uint8Array {
  return concatBytes(fieldTag(no, LEN), wireVarint(length));
}

/** A length-delimited field: bytes, an encoded message, or a string (UTF-8). */
export function lengthField(no: number, payload: Bytes | string): Uint8Array {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return concatBytes(fieldHeader(no, bytes.length), bytes);
}

/** A varint field (int32, int64, enum, bool). */
export function varintField(no: number, value: number | bigint): Uint8Array {
  return concatBytes(fieldTag(no, VARINT), wireVarint(value));
}

export type NewAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'string'; value: string }
  /** An attribute copied from the source as its encoded AttributeProto payload. */
  | { name: string; type: 'raw'; payload: Uint8Array };

export interface NewNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: NewAttribute[];
  docString?: string;
  /** Encoded fields carried over from the node this one replaces (metadata_props, overload, … of newer IRs). */
  extraFields?: Uint8Array[];
}

/** A NodeProto as a complete GraphProto.node field (tag 1). */
export function encodeNodeField(node: NewNode, fieldNo = 1): Uint8Array {
  const w = Writer.create();
  for (const i of node.inputs) tag(w, 1, LEN).string(i);
  for (const o of node.outputs) tag(w, 2, LEN).string(o);
  str(w, 3, node.name);
  str(w, 4, node.opType);
  for (const a of node.attributes) {
    if (a.type === 'raw') {
      bytes(w, 5, a.payload);
      continue;
    }
    message(w, 5, (w) => {
      str(w, 1, a.name);
      if (a.type === 'int') {
        int64(w, 3, a.value);
        int64(w, 20, 2);
      } else if (a.type === 'float') {
        tag(w, 2, 5).float(a.value);
        int64(w, 20, 1);
      } else if (a.type === 'ints') {
        for (const v of a.value) int64(w, 8, v);
        int64(w, 20, 7);
      } else {
        tag(w, 4, LEN).bytes(Buffer.from(a.value));
        int64(w, 20, 3);
      }
    });
  }
  if (node.docString) str(w, 6, node.docString);
  str(w, 7, node.domain);
  // Carried-over fields are already encoded: append them after the writer's output, then frame the message.
  const payload = Buffer.concat([w.finish(), ...(node.extraFields ?? [])]);
  return Buffer.concat([varint((fieldNo << 3) | LEN), varint(payload.length), payload]);
}

export interface NewTensor {
  name: string;
  dtype: number;
  dims: number[];
  /** raw_data bytes, or an external data reference. */
  raw?: Uint8Array;
  external?: { location: string; offset: number; length: number };
}

/** A TensorProto as a complete field (GraphProto.initializer is field 5). */
export function encodeTensorField(t: NewTensor, fieldNo = 5): Uint8Array {
  const w = Writer.create();
  message(w, fieldNo, (w) => {
    for (const d of t.dims) int64(w, 1, d);
    int64(w, 2, t.dtype);
    str(w, 8, t.name);
    if (t.raw) bytes(w, 9, t.raw);
    if (t.external) {
      const entries: [string, string][] = [
        ['location', t.external.location],
        ['offset', String(t.external.offset)],
        ['length', String(t.external.length)],
      ];
      for (const [k, v] of entries) {
        message(w, 13, (w) => {
          str(w, 1, k);
          str(w, 2, v);
        });
      }
      int64(w, 14, 1);
    }
  });
  return w.finish();
}

/** A ValueInfoProto for a tensor of known rank, as a complete field (GraphProto.value_info is field 13). */
export function encodeValueInfoField(name: string, dtype: number, shape: (number | string | null)[], fieldNo = 13): Uint8Array {
  const w = Writer.create();
  message(w, fieldNo, (w) => {
    str(w, 1, name);
    message(w, 2, (w) => {
      message(w, 1, (w) => {
        int64(w, 1, dtype);
        message(w, 2, (w) => {
          // null: a dim left unknown (an empty Dimension), for dims that vary at run time such as the batch; a string
          // is a symbolic dim (dim_param).
          for (const d of shape) message(w, 1, (w) => void (typeof d === 'string' ? str(w, 2, d) : d !== null && int64(w, 1, d)));
        });
      });
    });
  });
  return w.finish();
}
