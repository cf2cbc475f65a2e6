import { NO_COST, type RuleContext, ShapeError, type TensorState, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { bracketed, foldable, forEachIndex, state, stridesOf } from './values.js';

/** Gather: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const gatherOps = defineOps({
  ops: ['Gather', 'GatherElements', 'GatherND'],
  infer(ctx) {
    const data = ctx.input(0);
    const ind = ctx.input(1);
    if (!data.shape || !ind.shape) throw new UnknownShape();
    const op = ctx.node.opType;
    if (op === 'Gather') return [gather(ctx, data, ind)];
    if (op === 'GatherElements') return [gatherElements(ctx, data, ind)];
    return [gatherND(ctx, data, ind)];
  },
  cost: () => NO_COST,
});

export function checkIndex(i: number, dim: number, op: string): number {
  const j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) throw new ShapeError(`${op} index ${i} is out of range for a dim of ${dim}`);
  return j;
}

function gather(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
  const out = [...ds.slice(0, axis), ...ind.shape!, ...ds.slice(axis + 1)];
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(out)) {
    const n = ds[axis];
    const inner = elements(ds.slice(axis + 1));
    const outer = elements(ds.slice(0, axis));
    const idx = ind.value.map((i) => checkIndex(Math.trunc(i), n, 'Gather'));
    value = [];
    for (let o = 0; o < outer; o++) {
      for (const i of idx) for (let k = 0; k < inner; k++) value.push(data.value[(o * n + i) * inner + k]);
    }
  }
  return state(data.dtype, out, value);
}

function gatherElements(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const is = ind.shape!;
  if (is.length !== ds.length) throw new ShapeError(`GatherElements indices ${bracketed(is)} and data ${bracketed(ds)} differ in rank`);
  const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(is)) {
    const strides = stridesOf(ds);
    value = new Array(elements(is));
    forEachIndex(is, (idx, flat) => {
      let src = 0;
      for (let d = 0; d < ds.length; d++) {
        src += (d === axis ? checkIndex(Math.trunc(ind.value![flat]), ds[axis], 'GatherElements') : idx[d]) * strides[d];
      }
      value![flat] = data.value![src];
    });
  }
  return state(data.dtype, is.slice(), value);
}

/** Byte-free offset arithmetic shared by GatherND and ScatterND: the flat offset of an index tuple into dims. */
export function tupleOffset(tuple: readonly number[], dims: readonly number[], strides: readonly number[], op: string): number {
  let off = 0;
  for (let j = 0; j < tuple.length; j++) off += checkIndex(Math.trunc(tuple[j]), dims[j], op) * strides[j];
  return off;
}

function gatherND(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const is = ind.shape!;
  const b = ctx.opset >= 12 ? ctx.int('batch_dims', 0) : 0;
  if (is.length < 1) throw new ShapeError('GatherND indices must have rank ≥ 1');
  const k = is[is.length - 1];
  if (b + k > ds.length) throw new ShapeError(`GatherND index tuples of ${k} with batch_dims ${b} exceed data rank ${ds.length}`);
  for (let i = 0; i < b; i++) if (is[i] !== ds[i]) throw new ShapeError(`GatherND batch dims of ${bracketed(is)} and ${bracketed(ds)} differ`);
  const out = [...is.slice(0, -1), ...ds.slice(b + k)];
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(out)) {
    const batches = elements(is.slice(0, b));
    const tuples = elements(is.slice(b, -1));
    const perBatch = elements(ds.slice(b));
    const slice = elements(ds.slice(b + k));
    const inner = ds.slice(b);
    const strides = stridesOf(inner);
    value = [];
    for (let bi = 0; bi < batches; bi++) {
      for (let t = 0; t < tuples; t++) {
        const at = (bi * tuples + t) * k;
        const off = tupleOffset(ind.value.slice(at, at + k), inner, strides, 'GatherND');
        for (let s = 0; s < slice; s++) value.push(data.value[bi * perBatch + off + s]);
      }
    }
  }
  return state(data.dtype, out, value);
}
