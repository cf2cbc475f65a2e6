import { NO_COST, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { checkUnique, bracketed, foldable, forEachIndex, intValues, knownValues, state, stridesOf } from './values.js';

/** Pad: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const padOps = defineOps({
  ops: ['Pad'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    const mode = ctx.string('mode', 'constant');
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw new ShapeError(`Pad has an unknown mode '${mode}'`);
    let pads: number[];
    let constant = 0;
    let axes: number[] = Array.from({ length: r }, (_, i) => i);
    if (ctx.opset < 11) {
      pads = ctx.ints(ctx.opset < 2 ? 'paddings' : 'pads', []);
      constant = ctx.float('value', 0);
    } else {
      pads = intValues(ctx, 1);
      if (ctx.has(2)) {
        const c = knownValues(ctx, 2);
        if (mode === 'constant' && !c) constant = NaN; // unknown pad value: the shape still infers, values do not
        else if (c) constant = c[0] ?? 0;
      }
      if (ctx.opset >= 18 && ctx.has(3)) {
        axes = intValues(ctx, 3).map((a) => axisOf(a, r, ctx.node));
        checkUnique(axes, 'Pad');
      }
    }
    const n = axes.length;
    if (pads.length !== 2 * n) throw new ShapeError(`Pad has ${pads.length} pads for ${n} axes (needs ${2 * n})`);
    const begin = new Array<number>(r).fill(0);
    const out = x.shape.slice();
    axes.forEach((a, i) => {
      begin[a] = pads[i];
      out[a] = x.shape![a] + pads[i] + pads[i + n];
      if (out[a] < 0) throw new ShapeError(`Pad makes dim ${a} of ${bracketed(x.shape!)} negative`);
    });
    let value: number[] | undefined;
    if (x.value && foldable(out) && !Number.isNaN(constant)) {
      const shape = x.shape;
      const strides = stridesOf(shape);
      value = new Array(elements(out));
      forEachIndex(out, (idx, flat) => {
        let src = 0;
        for (let d = 0; d < r; d++) {
          let i = idx[d] - begin[d];
          const dim = shape[d];
          if (i < 0 || i >= dim) {
            if (mode === 'constant' || dim === 0) {
              src = -1;
              break;
            }
            if (mode === 'edge') i = Math.min(Math.max(i, 0), dim - 1);
            else if (mode === 'wrap') i = ((i % dim) + dim) % dim;
            else {
              // reflect (mirror without repeating the edge)
              const period = 2 * (dim - 1);
              if (period === 0) i = 0;
              else {
                i = ((i % period) + period) % period;
                if (i >= dim) i = period - i;
              }
            }
          }
          src += i * strides[d];
        }
        value![flat] = src < 0 ? constant : x.value![src];
      });
    }
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});
