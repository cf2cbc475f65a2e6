import { NO_COST, type RuleContext, ShapeError, type TensorState, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { bracketed, foldable, intValues, state } from './values.js';

/** Concat, Split: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const concatSplitOps = defineOps({
  ops: ['Concat', 'Split'],
  infer(ctx) {
    return ctx.node.opType === 'Concat' ? concat(ctx) : split(ctx);
  },
  cost: () => NO_COST,
});

function concat(ctx: RuleContext): TensorState[] {
  const parts: TensorState[] = [];
  for (let i = 0; i < ctx.node.inputs.length; i++) if (ctx.has(i)) parts.push(ctx.input(i));
  if (parts.length === 0) throw new ShapeError('Concat has no inputs');
  for (const p of parts) if (!p.shape) throw new UnknownShape();
  const first = parts[0].shape!;
  const r = first.length;
  if (ctx.opset >= 4 && !ctx.attribute('axis')) throw new ShapeError('Concat has no axis attribute');
  const axis = axisOf(ctx.int('axis', 1), r, ctx.node);
  const out = first.slice();
  out[axis] = 0;
  for (const p of parts) {
    const s = p.shape!;
    if (s.length !== r || s.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeError(`Concat on axis ${axis} cannot join ${parts.map((q) => bracketed(q.shape!)).join(' and ')}`);
    }
    out[axis] += s[axis];
  }
  let value: number[] | undefined;
  if (parts.every((p) => p.value) && foldable(out)) {
    value = [];
    const outer = elements(first.slice(0, axis));
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const chunk = elements(p.shape!.slice(axis));
        for (let k = 0; k < chunk; k++) value.push(p.value![o * chunk + k]);
      }
    }
  }
  return [state(parts[0].dtype, out, value)];
}

function split(ctx: RuleContext): TensorState[] {
  const x = ctx.input(0);
  if (!x.shape) throw new UnknownShape();
  const r = x.shape.length;
  const axis = axisOf(ctx.int('axis', 0), r, ctx.node);
  const dim = x.shape[axis];
  const n = ctx.node.outputs.length;
  let sizes: number[] | null = null;
  if (ctx.opset >= 13) sizes = ctx.has(1) ? intValues(ctx, 1) : null;
  else if (ctx.opset >= 2) sizes = ctx.intsOrNull('split');
  else sizes = ctx.intsOrNull('split') ?? (ctx.has(1) ? intValues(ctx, 1) : null);
  if (sizes === null) {
    const numOutputs = ctx.opset >= 18 ? ctx.int('num_outputs', 0) : 0;
    if (numOutputs > 0) {
      if (numOutputs !== n) throw new ShapeError(`Split num_outputs ${numOutputs} does not match its ${n} outputs`);
      // Opset 18: chunks of ceil(dim / n); the last one is smaller when dim does not divide evenly.
      const chunk = Math.ceil(dim / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    } else {
      if (dim % n !== 0) throw new ShapeError(`Split cannot divide dim ${dim} into ${n} equal parts`);
      sizes = new Array(n).fill(dim / n);
    }
  }
  if (sizes.length !== n) throw new ShapeError(`Split has ${sizes.length} sizes for ${n} outputs`);
  if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    throw new ShapeError(`Split sizes [${sizes.join(',')}] do not add up to dim ${dim}`);
  }
  const outer = elements(x.shape.slice(0, axis));
  const inner = elements(x.shape.slice(axis + 1));
  let start = 0;
  return sizes.map((size) => {
    const shape = x.shape!.slice();
    shape[axis] = size;
    let value: number[] | undefined;
    if (x.value && foldable(shape)) {
      value = [];
      for (let o = 0; o < outer; o++) {
        const base = (o * dim + start) * inner;
        for (let k = 0; k < size * inner; k++) value.push(x.value[base + k]);
      }
    }
    start += size;
    return state(x.dtype, shape, value);
  });
}
