import { NO_COST, type RuleContext, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { checkUnique, bracketed, intValues, state } from './values.js';

/** Reshape, Flatten, Squeeze, Unsqueeze: a data-movement family; its folding and cost conventions are in ops/values.ts. */

function reshapeTarget(ctx: RuleContext, input: number[], target: number[]): number[] {
  const allowZero = ctx.opset >= 14 && ctx.int('allowzero', 0) === 1;
  const out = target.slice();
  let inferAt = -1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === -1) {
      if (inferAt >= 0) throw new ShapeError(`Reshape target ${bracketed(target)} has more than one -1`);
      inferAt = i;
    } else if (out[i] === 0 && !allowZero) {
      if (i >= input.length) throw new ShapeError(`Reshape target ${bracketed(target)} copies dim ${i} (0) but the input ${bracketed(input)} has rank ${input.length}`);
      out[i] = input[i];
    } else if (out[i] < 0) throw new ShapeError(`Reshape target ${bracketed(target)} has an invalid dim ${out[i]}`);
  }
  if (allowZero && inferAt >= 0 && out.includes(0)) throw new ShapeError(`Reshape target ${bracketed(target)} has both 0 (allowzero) and -1`);
  const total = elements(input);
  if (inferAt >= 0) {
    const rest = elements(out.filter((_, i) => i !== inferAt));
    if (rest === 0 || total % rest !== 0) throw new ShapeError(`Reshape cannot infer -1 in ${bracketed(target)} for input ${bracketed(input)}`);
    out[inferAt] = total / rest;
  }
  if (elements(out) !== total) throw new ShapeError(`Reshape of ${bracketed(input)} (${total} elements) to ${bracketed(out)} changes the element count`);
  return out;
}

export const reshapeOps = defineOps({
  ops: ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const shape = x.shape;
    const r = shape.length;
    const op = ctx.node.opType;
    let out: number[];
    if (op === 'Reshape') {
      const target = ctx.opset < 5 ? ctx.ints('shape', []) : intValues(ctx, 1);
      out = reshapeTarget(ctx, shape, target);
    } else if (op === 'Flatten') {
      let axis = ctx.int('axis', 1);
      if (axis < 0) axis += r;
      if (axis < 0 || axis > r) throw new ShapeError(`Flatten axis ${ctx.int('axis', 1)} is out of range for rank ${r}`);
      out = [elements(shape.slice(0, axis)), elements(shape.slice(axis))];
    } else if (op === 'Squeeze') {
      let axes: number[] | null;
      if (ctx.opset < 13) axes = ctx.intsOrNull('axes');
      else axes = ctx.has(1) ? intValues(ctx, 1) : null;
      // No axes (or an empty list, as ONNX Runtime reads it): drop every 1-dim.
      if (axes === null || axes.length === 0) out = shape.filter((d) => d !== 1);
      else {
        const norm = axes.map((a) => axisOf(a, r, ctx.node));
        checkUnique(norm, op);
        for (const a of norm) if (shape[a] !== 1) throw new ShapeError(`Squeeze axis ${a} of ${bracketed(shape)} is not 1`);
        out = shape.filter((_, i) => !norm.includes(i));
      }
    } else {
      const axes = ctx.opset < 13 ? ctx.ints('axes', []) : intValues(ctx, 1);
      const outRank = r + axes.length;
      const norm = axes.map((a) => axisOf(a, outRank, ctx.node));
      checkUnique(norm, op);
      out = [];
      let j = 0;
      for (let i = 0; i < outRank; i++) out.push(norm.includes(i) ? 1 : shape[j++]);
    }
    // Same elements in the same row-major order: values pass through.
    return [state(x.dtype, out, x.value)];
  },
  cost: () => NO_COST,
});
