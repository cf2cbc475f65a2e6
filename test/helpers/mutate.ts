/**
 * Byte-level tools for hostile-input tests: a seeded PRNG, mutations (truncate, flip, splice random bytes), and a
 * minimal protobuf encoder for crafting messages that no well-behaved library would write.
 */

import { mulberry32 } from '../../src/util/random.js';

/** The project's seeded PRNG: the same seed gives the same inputs on every machine. */
export const rng = mulberry32;

export function randInt(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

export function randomBytes(r: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = randInt(r, 256);
  return out;
}

/** One seeded mutation of `bytes`: flips, byte overwrites, a varint-ish splice, a cut, or a duplicated range. */
export function mutate(bytes: Uint8Array, r: () => number): { bytes: Uint8Array; what: string } {
  const out = new Uint8Array(bytes);
  const kind = randInt(r, 5);
  if (kind === 0) {
    const n = 1 + randInt(r, 4);
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = randInt(r, out.length);
      out[p] ^= 1 << randInt(r, 8);
      at.push(p);
    }
    return { bytes: out, what: `bit flips at ${at.join(',')}` };
  }
  if (kind === 1) {
    const n = 1 + randInt(r, 8);
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = randInt(r, out.length);
      out[p] = randInt(r, 256);
      at.push(p);
    }
    return { bytes: out, what: `random bytes at ${at.join(',')}` };
  }
  if (kind === 2) {
    // Overwrite with 0xff runs: long varints, huge lengths, field numbers out of range.
    const p = randInt(r, out.length);
    const n = 1 + randInt(r, 10);
    for (let i = p; i < Math.min(out.length, p + n); i++) out[i] = 0xff;
    return { bytes: out, what: `0xff x${n} at ${p}` };
  }
  if (kind === 3) {
    const cut = randInt(r, out.length);
    return { bytes: out.subarray(0, cut), what: `truncated at ${cut}` };
  }
  const a = randInt(r, out.length);
  const b = Math.min(out.length, a + 1 + randInt(r, 64));
  const p = randInt(r, out.length);
  const spliced = new Uint8Array(out.length + (b - a));
  spliced.set(out.subarray(0, p), 0);
  spliced.set(out.subarray(a, b), p);
  spliced.set(out.subarray(p), p + (b - a));
  return { bytes: spliced, what: `duplicated [${a},${b}) at ${p}` };
}

// ---- protobuf encoding -------------------------------------------------------------------------------------

export function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}

export function tag(no: number, wireType: number): number[] {
  return varint(no * 8 + wireType);
}

type Bytes = Uint8Array | number[];

export function cat(...parts: Bytes[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A length-delimited field. */
export function len(no: number, payload: Bytes | string): Uint8Array {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return cat(tag(no, 2), varint(bytes.length), bytes);
}

/** A varint field. */
export function vint(no: number, value: number | bigint): Uint8Array {
  return cat(tag(no, 0), varint(value));
}

/** A minimal ModelProto around graph bytes: ir_version 8, opset 13. */
export function modelAround(graph: Uint8Array, opset = 13): Uint8Array {
  return cat(vint(1, 8), len(8, cat(len(1, ''), vint(2, opset))), len(7, graph));
}

/** ValueInfoProto with a float tensor type and the given dims. */
export function valueInfo(name: string, dims: (number | bigint)[] | null = null, elemType = 1): Uint8Array {
  const shape = dims === null ? [] : [len(2, cat(...dims.map((d) => len(1, vint(1, d)))))];
  return cat(len(1, name), len(2, len(1, cat(vint(1, elemType), ...shape))));
}

/** NodeProto bytes (without its field tag). */
export function node(op: string, inputs: string[], outputs: string[], extra: Uint8Array[] = []): Uint8Array {
  return cat(...inputs.map((i) => len(1, i)), ...outputs.map((o) => len(2, o)), len(4, op), ...extra);
}
