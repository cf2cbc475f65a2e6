import { NO_COST, type RuleContext, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { checkIndex, tupleOffset } from './gather.js';
import { bracketed, forEachIndex, state, stridesOf } from './values.js';

/** ScatterND, ScatterElements, Scatter: a data-movement family; its folding and cost conventions are in ops/values.ts. */

type Reduce = (a: number, b: number) => number;

function reduction(ctx: RuleContext): Reduce {
  const r = ctx.string('reduction', 'none');
  switch (r) {
    case 'none': return (_a, b) => b;
    case 'add': return (a, b) => a + b;
    case 'mul': return (a, b) => a * b;
    case 'max': return (a, b) => Math.max(a, b);
    case 'min': return (a, b) => Math.min(a, b);
    default: throw new ShapeError(`${ctx.node.opType} has an unknown reduction '${r}'`);
  }
}

export const scatterOps = defineOps({
  ops: ['ScatterND', 'ScatterElements', 'Scatter'],
  infer(ctx) {
    const data = ctx.input(0);
    const ind = ctx.input(1);
    const upd = ctx.input(2);
    if (!data.shape) throw new UnknownShape();
    const ds = data.shape;
    const fold = !!(data.value && ind.value && upd.value && ind.shape && upd.shape);
    if (ctx.node.opType === 'ScatterND') {
      if (ind.shape && upd.shape) {
        const k = ind.shape[ind.shape.length - 1];
        const expected = [...ind.shape.slice(0, -1), ...ds.slice(k)];
        if (k > ds.length || bracketed(expected) !== bracketed(upd.shape)) {
          throw new ShapeError(`ScatterND updates ${bracketed(upd.shape)} do not match indices ${bracketed(ind.shape)} into data ${bracketed(ds)}`);
        }
      }
      if (!fold) return [state(data.dtype, ds.slice())];
      const f = reduction(ctx);
      const is = ind.shape!;
      const k = is[is.length - 1];
      const tuples = elements(is.slice(0, -1));
      const slice = elements(ds.slice(k));
      const strides = stridesOf(ds);
      const out = data.value!.slice();
      for (let t = 0; t < tuples; t++) {
        const off = tupleOffset(ind.value!.slice(t * k, t * k + k), ds, strides, 'ScatterND');
        for (let s = 0; s < slice; s++) out[off + s] = f(out[off + s], upd.value![t * slice + s]);
      }
      return [state(data.dtype, ds.slice(), out)];
    }
    if (ind.shape && upd.shape && (ind.shape.length !== ds.length || bracketed(ind.shape) !== bracketed(upd.shape))) {
      throw new ShapeError(`${ctx.node.opType} indices ${bracketed(ind.shape)} and updates ${bracketed(upd.shape)} must match and have the data's rank ${ds.length}`);
    }
    if (!fold) return [state(data.dtype, ds.slice())];
    const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
    // Scatter (opsets 9–10) has no reduction attribute: it always replaces.
    const f: Reduce = ctx.node.opType === 'Scatter' ? (_a, b) => b : reduction(ctx);
    const strides = stridesOf(ds);
    const out = data.value!.slice();
    forEachIndex(ind.shape!, (idx, flat) => {
      let dst = 0;
      for (let d = 0; d < ds.length; d++) {
        dst += (d === axis ? checkIndex(Math.trunc(ind.value![flat]), ds[axis], ctx.node.opType) : idx[d]) * strides[d];
      }
      out[dst] = f(out[dst], upd.value![flat]);
    });
    return [state(data.dtype, ds.slice(), out)];
  },
  cost: () => NO_COST,
});
