import { NO_COST, ShapeError, UnknownShape, axisOf, broadcast, defineOps, elements } from './define.js';
import { broadcastValues, foldable, forEachIndex, intValues, state, stridesOf } from './values.js';

/** Expand, Tile: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const expandTileOps = defineOps({
  ops: ['Expand', 'Tile'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (ctx.node.opType === 'Expand') {
      const target = intValues(ctx, 1);
      const out = broadcast([x.shape, target], ctx.node);
      return [state(x.dtype, out, x.value && foldable(out) ? broadcastValues(x.value, x.shape, out) : undefined)];
    }
    if (ctx.opset < 6) {
      // Tile-1: inputs (input, tiles, axis): repeat `tiles` times along one axis.
      const tiles = intValues(ctx, 1)[0];
      const axis = axisOf(intValues(ctx, 2)[0], x.shape.length, ctx.node);
      const out = x.shape.slice();
      out[axis] *= tiles;
      return [state(x.dtype, out, x.value && foldable(out) ? tileValues(x.value, x.shape, out) : undefined)];
    }
    const repeats = intValues(ctx, 1);
    if (repeats.length !== x.shape.length) throw new ShapeError(`Tile repeats [${repeats.join(',')}] do not match rank ${x.shape.length}`);
    if (repeats.some((r) => r < 0)) throw new ShapeError(`Tile repeats [${repeats.join(',')}] must be non-negative`);
    const out = x.shape.map((d, i) => d * repeats[i]);
    return [state(x.dtype, out, x.value && foldable(out) ? tileValues(x.value, x.shape, out) : undefined)];
  },
  cost: () => NO_COST,
});

function tileValues(values: readonly number[], shape: readonly number[], out: readonly number[]): number[] {
  const strides = stridesOf(shape);
  const res = new Array<number>(elements(out));
  forEachIndex(out, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += (idx[d] % shape[d]) * strides[d];
    res[flat] = values[src];
  });
  return res;
}
