import { NO_COST, ShapeError, UnknownShape, defineOps } from './define.js';
import { foldable, state, transposeValues } from './values.js';

/** Transpose: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const transposeOps = defineOps({
  ops: ['Transpose'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    const perm = ctx.ints('perm', Array.from({ length: r }, (_, i) => r - 1 - i));
    if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new ShapeError(`Transpose perm [${perm.join(',')}] is not a permutation of rank ${r}`);
    }
    const out = perm.map((p) => x.shape![p]);
    return [state(x.dtype, out, x.value && foldable(out) ? transposeValues(x.value, x.shape, perm) : undefined)];
  },
  cost: () => NO_COST,
});
