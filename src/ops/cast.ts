import { DataType } from '../onnx/dtype.js';
import { NO_COST, ShapeError, UnknownShape, defineOps } from './define.js';
import { castValue, state } from './values.js';

/** Cast: a data-movement family; its folding and cost conventions are in ops/values.ts. */

function castValues(values: number[] | undefined, to: number): number[] | undefined {
  if (!values) return undefined;
  const out: number[] = [];
  for (const v of values) {
    const c = castValue(v, to);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

export const castOps = defineOps({
  ops: ['Cast', 'CastLike'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    let to: number;
    if (ctx.node.opType === 'CastLike') to = ctx.input(1).dtype;
    else {
      const a = ctx.attribute('to');
      if (!a) throw new ShapeError('Cast has no to attribute');
      // Opset 1 gave `to` as a type name string.
      if (a.data.type === 'string') {
        const name = new TextDecoder().decode(a.data.value).toUpperCase();
        to = (DataType as Record<string, number>)[name] ?? 0;
      } else to = ctx.int('to', 0);
    }
    return [state(to, x.shape, castValues(x.value, to))];
  },
  cost: () => NO_COST,
});
