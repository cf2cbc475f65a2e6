import { NO_COST, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { bracketed, foldable, forEachIndex, knownValues, state, stridesOf } from './values.js';

/** OneHot, Trilu, ReverseSequence: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const miscLayoutOps = defineOps({
  ops: ['OneHot', 'Trilu', 'ReverseSequence'],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (op === 'OneHot') {
      const depth = Math.trunc(ctx.values(1)[0]);
      if (!(depth >= 1)) throw new ShapeError(`OneHot depth ${depth} must be positive`);
      const vals = ctx.input(2);
      const r = x.shape.length;
      const axis = axisOf(ctx.int('axis', -1), r + 1, ctx.node);
      const out = [...x.shape.slice(0, axis), depth, ...x.shape.slice(axis)];
      let value: number[] | undefined;
      if (x.value && vals.value && vals.value.length === 2 && foldable(out)) {
        const [off, on] = vals.value;
        const outer = elements(x.shape.slice(0, axis));
        const inner = elements(x.shape.slice(axis));
        value = new Array(elements(out)).fill(off);
        for (let o = 0; o < outer; o++) {
          for (let k = 0; k < inner; k++) {
            let i = Math.trunc(x.value[o * inner + k]);
            if (i < 0) i += depth;
            if (i >= 0 && i < depth) value[(o * depth + i) * inner + k] = on;
          }
        }
      }
      return [state(vals.dtype, out, value)];
    }
    if (op === 'Trilu') {
      const s = x.shape;
      if (s.length < 2) throw new ShapeError(`Trilu needs rank ≥ 2, got ${bracketed(s)}`);
      let value: number[] | undefined;
      const k = ctx.has(1) ? knownValues(ctx, 1)?.[0] : 0;
      if (x.value && k !== undefined) {
        const upper = ctx.int('upper', 1) === 1;
        const rows = s[s.length - 2];
        const cols = s[s.length - 1];
        value = x.value.map((v, flat) => {
          const j = flat % cols;
          const i = Math.floor(flat / cols) % rows;
          const keep = upper ? j - i >= k : j - i <= k;
          return keep ? v : 0;
        });
      }
      return [state(x.dtype, s.slice(), value)];
    }
    // ReverseSequence (opset 10): reverse the first seq_lens[b] entries along time_axis for every batch b.
    const s = x.shape;
    if (s.length < 2) throw new ShapeError(`ReverseSequence needs rank ≥ 2, got ${bracketed(s)}`);
    const batchAxis = ctx.int('batch_axis', 1);
    const timeAxis = ctx.int('time_axis', 0);
    let value: number[] | undefined;
    const lens = knownValues(ctx, 1);
    if (x.value && lens) {
      const strides = stridesOf(s);
      value = new Array(x.value.length);
      forEachIndex(s, (idx, flat) => {
        const len = Math.trunc(lens[idx[batchAxis]]);
        const t = idx[timeAxis];
        const src = t < len ? flat + (len - 1 - 2 * t) * strides[timeAxis] : flat;
        value![flat] = x.value![src];
      });
    }
    return [state(x.dtype, s.slice(), value)];
  },
  cost: () => NO_COST,
});
