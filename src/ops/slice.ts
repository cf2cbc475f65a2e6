import { NO_COST, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { checkUnique, foldable, forEachIndex, intValues, state, stridesOf } from './values.js';

/** Slice: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const sliceOps = defineOps({
  ops: ['Slice'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    let starts: number[];
    let ends: number[];
    let axes: number[];
    let steps: number[];
    if (ctx.opset < 10) {
      starts = ctx.ints('starts', []);
      ends = ctx.ints('ends', []);
      axes = ctx.ints('axes', starts.map((_, i) => i));
      steps = starts.map(() => 1);
    } else {
      // Values are read as doubles: INT64_MAX / INT64_MIN ends arrive as ±9.22e18, which the clamps below handle.
      starts = intValues(ctx, 1);
      ends = intValues(ctx, 2);
      axes = ctx.has(3) ? intValues(ctx, 3) : starts.map((_, i) => i);
      steps = ctx.has(4) ? intValues(ctx, 4) : starts.map(() => 1);
    }
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
      throw new ShapeError(`Slice starts/ends/axes/steps have different lengths`);
    }
    const norm = axes.map((a) => axisOf(a, r, ctx.node));
    checkUnique(norm, 'Slice');
    const begin = new Array<number>(r).fill(0);
    const step = new Array<number>(r).fill(1);
    const out = x.shape.slice();
    norm.forEach((a, i) => {
      const d = x.shape![a];
      const s = steps[i];
      if (s === 0) throw new ShapeError('Slice step cannot be 0');
      let b = starts[i] < 0 ? starts[i] + d : starts[i];
      let e = ends[i] < 0 ? ends[i] + d : ends[i];
      if (s > 0) {
        b = Math.min(Math.max(b, 0), d);
        e = Math.min(Math.max(e, 0), d);
        out[a] = Math.max(0, Math.ceil((e - b) / s));
      } else {
        b = Math.min(Math.max(b, 0), d - 1);
        e = Math.min(Math.max(e, -1), d - 1);
        out[a] = Math.max(0, Math.ceil((b - e) / -s));
      }
      begin[a] = b;
      step[a] = s;
    });
    let value: number[] | undefined;
    if (x.value && foldable(out)) {
      const strides = stridesOf(x.shape);
      value = new Array(elements(out));
      forEachIndex(out, (idx, flat) => {
        let src = 0;
        for (let d = 0; d < r; d++) src += (begin[d] + idx[d] * step[d]) * strides[d];
        value![flat] = x.value![src];
      });
    }
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});
