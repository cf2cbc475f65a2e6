/**
 * Byte-level tools for hostile-input tests: a seeded PRNG, mutations (truncate, flip, splice random bytes), and a
 * helpers that craft, with the field encoders of src/onnx/encode.ts, messages that no well-behaved library would write.
 */

import { concatBytes as cat, lengthField as len, varintField as vint } from '../../src/onnx/encode.js';
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

// The encoder is src/onnx/encode.ts's field-level one, under the short names these tests use.
export {
  concatBytes as cat,
  fieldTag as tag,
  lengthField as len,
  varintField as vint,
  wireVarint as varint,
} from '../../src/onnx/encode.js';

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
