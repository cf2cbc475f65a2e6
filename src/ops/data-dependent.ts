import { DataType } from '../onnx/dtype.js';
import { NO_COST, type RuleContext, type TensorState, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { foldable, forEachIndex, state, transposeValues } from './values.js';

/** Compress, NonZero, Unique (data-dependent output shapes): a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const dataDependentOps = defineOps({
  ops: ['Compress', 'NonZero', 'Unique'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const op = ctx.node.opType;
    if (op === 'Compress') {
      const cond = ctx.values(1);
      const axisAttr = ctx.attribute('axis');
      if (!axisAttr) {
        const n = elements(x.shape);
        const keep: number[] = [];
        for (let i = 0; i < Math.min(n, cond.length); i++) if (cond[i]) keep.push(i);
        return [state(x.dtype, [keep.length], x.value ? keep.map((i) => x.value![i]) : undefined)];
      }
      const axis = axisOf(ctx.int('axis', 0), x.shape.length, ctx.node);
      const dim = x.shape[axis];
      const keep: number[] = [];
      for (let i = 0; i < Math.min(dim, cond.length); i++) if (cond[i]) keep.push(i);
      const out = x.shape.slice();
      out[axis] = keep.length;
      let value: number[] | undefined;
      if (x.value && foldable(out)) {
        const outer = elements(x.shape.slice(0, axis));
        const inner = elements(x.shape.slice(axis + 1));
        value = [];
        for (let o = 0; o < outer; o++) for (const i of keep) for (let k = 0; k < inner; k++) value.push(x.value[(o * dim + i) * inner + k]);
      }
      return [state(x.dtype, out, value)];
    }
    const v = ctx.values(0);
    if (op === 'NonZero') {
      const coords: number[][] = x.shape.map(() => []);
      forEachIndex(x.shape, (idx, flat) => {
        if (v[flat] !== 0) idx.forEach((c, d) => coords[d].push(c));
      });
      const nnz = coords.length ? coords[0].length : v.filter((e) => e !== 0).length;
      // A scalar input gives shape [0, nnz] (rank 0 → zero coordinate rows).
      return [state(DataType.INT64, [x.shape.length, nnz], coords.flat())];
    }
    return unique(ctx, x, v);
  },
  cost: () => NO_COST,
});

function unique(ctx: RuleContext, x: TensorState, v: number[]): TensorState[] {
  const sorted = ctx.int('sorted', 1) === 1;
  const axisAttr = ctx.attribute('axis');
  const shape = x.shape!;
  // Rows: whole tensor flattened (no axis) or slices along the axis.
  let axis = -1;
  let rows: number[][];
  if (!axisAttr) rows = v.map((e) => [e]);
  else {
    axis = axisOf(ctx.int('axis', 0), shape.length, ctx.node);
    const perm = [axis, ...shape.map((_, i) => i).filter((i) => i !== axis)];
    const moved = transposeValues(v, shape, perm);
    const width = elements(shape) / shape[axis];
    rows = Array.from({ length: shape[axis] }, (_, i) => moved.slice(i * width, (i + 1) * width));
  }
  const key = (r: number[]) => r.join(',');
  const firstAt = new Map<string, number>();
  rows.forEach((r, i) => {
    if (!firstAt.has(key(r))) firstAt.set(key(r), i);
  });
  let order = [...firstAt.values()];
  if (sorted) {
    order = order.sort((a, b) => {
      for (let j = 0; j < rows[a].length; j++) if (rows[a][j] !== rows[b][j]) return rows[a][j] - rows[b][j];
      return 0;
    });
  }
  const pos = new Map(order.map((i, p) => [key(rows[i]), p]));
  const counts = order.map(() => 0);
  const inverse = rows.map((r) => {
    const p = pos.get(key(r))!;
    counts[p]++;
    return p;
  });
  const u = order.length;
  let yShape: number[];
  let yValue: number[];
  if (axis < 0) {
    yShape = [u];
    yValue = order.map((i) => rows[i][0]);
  } else {
    const movedShape = [u, ...shape.filter((_, i) => i !== axis)];
    const flatRows = order.flatMap((i) => rows[i]);
    const back = movedShape.map((_, i) => (i < axis ? i + 1 : i === axis ? 0 : i));
    yShape = back.map((p) => movedShape[p]);
    yValue = transposeValues(flatRows, movedShape, back);
  }
  return [
    state(x.dtype, yShape, yValue),
    state(DataType.INT64, [u], order),
    state(DataType.INT64, [rows.length], inverse),
    state(DataType.INT64, [u], counts),
  ];
}
