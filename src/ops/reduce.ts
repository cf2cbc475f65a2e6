import { DataType } from '../onnx/dtype.js';
import { type RuleContext, type TensorState, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { FOLD_LIMIT, fitValue } from './values.js';

/**
 * Reductions and ArgMax/ArgMin. Axes come from the `axes` attribute before opset 13 for ReduceSum and before 18 for
 * the other Reduce* ops, and from the optional second input after that (its values must be known to fix the shape).
 * No axes reduces every axis, unless noop_with_empty_axes = 1 (input form only), which makes the op an identity.
 * keepdims (default 1) keeps reduced axes as 1. ArgMax/ArgMin take one `axis` (default 0) and output int64.
 * Counting convention: one FLOP per input element (the accumulation; the final scaling of ReduceMean, the log of
 * ReduceLogSum etc. are not counted), no MACs. Values fold for ReduceSum/Prod/Max/Min of known small tensors.
 */

const REDUCE = [
  'ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
  'ReduceLogSumExp', 'ReduceSumSquare',
];

const FOLD: Record<string, { init: number; step: (acc: number, x: number) => number }> = {
  ReduceSum: { init: 0, step: (a, x) => a + x },
  ReduceProd: { init: 1, step: (a, x) => a * x },
  ReduceMax: { init: -Infinity, step: (a, x) => Math.max(a, x) },
  ReduceMin: { init: Infinity, step: (a, x) => Math.min(a, x) },
};

/** Reduced axes (normalized, sorted), or null for an identity (noop_with_empty_axes). */
function reducedAxes(ctx: RuleContext, rank: number): number[] | null {
  const op = ctx.node.opType;
  let axes: number[] | null;
  if (op === 'ArgMax' || op === 'ArgMin') {
    axes = [ctx.int('axis', 0)];
  } else {
    const inputForm = ctx.opset >= (op === 'ReduceSum' ? 13 : 18);
    if (inputForm && ctx.has(1)) {
      const s = ctx.input(1);
      // An axes input of shape [0] is empty even when its (no) values are not known.
      if (s.shape && elements(s.shape) === 0) axes = [];
      else if (!s.value) throw new UnknownShape();
      else axes = s.value.slice();
    } else if (inputForm) {
      axes = null;
    } else {
      axes = ctx.intsOrNull('axes');
    }
    if (!axes || axes.length === 0) {
      if (inputForm && ctx.int('noop_with_empty_axes', 0) === 1) return null;
      return Array.from({ length: rank }, (_, i) => i);
    }
  }
  const norm = axes.map((a) => axisOf(a, rank, ctx.node));
  if (new Set(norm).size !== norm.length) throw new ShapeError(`${op} repeats an axis in [${axes.join(',')}]`);
  return norm.sort((a, b) => a - b);
}

export const reduceOps = defineOps({
  ops: [...REDUCE, 'ArgMax', 'ArgMin'],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    const shape = ctx.shape(0);
    const isArg = op === 'ArgMax' || op === 'ArgMin';
    const dtype = isArg ? DataType.INT64 : x.dtype;
    if (!isArg && shape.length === 0) return [{ ...x, shape: [] }];
    const axes = reducedAxes(ctx, shape.length);
    if (axes === null) return [{ dtype, shape: shape.slice(), ...(x.value ? { value: x.value.slice() } : {}) }];
    const keep = ctx.int('keepdims', 1) === 1;
    const reduced = new Set(axes);
    const out = keep ? shape.map((d, i) => (reduced.has(i) ? 1 : d)) : shape.filter((_, i) => !reduced.has(i));
    const state: TensorState = { dtype, shape: out };
    const f = FOLD[op];
    if (f && x.value && x.value.length === elements(shape) && elements(out) <= FOLD_LIMIT) {
      state.value = foldReduce(shape, x.value, reduced, f.init, f.step).map((v) => fitValue(v, dtype));
    }
    return [state];
  },
  cost(ctx) {
    return { macs: 0, flops: elements(ctx.shape(0)) };
  },
});

function foldReduce(shape: number[], values: number[], reduced: Set<number>, init: number, step: (a: number, x: number) => number): number[] {
  // Output index (with kept dims) = input index with reduced axes zeroed; row-major over the kept shape.
  const kept = shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const out = new Array<number>(elements(kept)).fill(init);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < values.length; k++) {
    let o = 0;
    for (let j = 0; j < shape.length; j++) o = o * kept[j] + (reduced.has(j) ? 0 : idx[j]);
    out[o] = step(out[o], values[k]);
    for (let j = shape.length - 1; j >= 0; j--) {
      if (++idx[j] < shape[j]) break;
      idx[j] = 0;
    }
  }
  return out;
}
