import { DataType } from '../onnx/dtype.js';
import { type Cost, type RuleContext, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { foldable, state } from './values.js';

/** TopK, CumSum: a data-movement family; its folding and cost conventions are in ops/values.ts. */

function topK(ctx: RuleContext): number {
  return ctx.opset < 10 ? ctx.int('k', 0) : Math.trunc(ctx.values(1)[0]);
}

export const topkCumsumOps = defineOps({
  ops: ['TopK', 'CumSum'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const s = x.shape;
    if (ctx.node.opType === 'CumSum') {
      // The shape is the input's whatever the axis; the axis value matters only for folding.
      const axisValue = ctx.inputs[1]?.value;
      let value: number[] | undefined;
      if (x.value && axisValue) {
        const axis = axisOf(Math.trunc(axisValue[0]), s.length, ctx.node);
        const exclusive = ctx.int('exclusive', 0) === 1;
        const reverse = ctx.int('reverse', 0) === 1;
        const dim = s[axis];
        const inner = elements(s.slice(axis + 1));
        const outer = elements(s.slice(0, axis));
        value = new Array(x.value.length);
        for (let o = 0; o < outer; o++) {
          for (let k = 0; k < inner; k++) {
            let acc = 0;
            for (let t = 0; t < dim; t++) {
              const i = reverse ? dim - 1 - t : t;
              const at = (o * dim + i) * inner + k;
              if (exclusive) {
                value[at] = acc;
                acc += x.value[at];
              } else {
                acc += x.value[at];
                value[at] = acc;
              }
            }
          }
        }
      }
      return [state(x.dtype, s.slice(), value)];
    }
    const k = topK(ctx);
    const axis = axisOf(ctx.int('axis', -1), s.length, ctx.node);
    if (k < 0 || k > s[axis]) throw new ShapeError(`TopK k=${k} is out of range for dim ${s[axis]}`);
    const out = s.slice();
    out[axis] = k;
    let values: number[] | undefined;
    let indices: number[] | undefined;
    if (x.value && foldable(out)) {
      const largest = ctx.opset < 11 || ctx.int('largest', 1) === 1;
      const dim = s[axis];
      const inner = elements(s.slice(axis + 1));
      const outer = elements(s.slice(0, axis));
      values = new Array(elements(out));
      indices = new Array(elements(out));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          const cand = Array.from({ length: dim }, (_, i) => i);
          const at = (i: number) => x.value![(o * dim + i) * inner + j];
          // Ties: the lower index first (the spec's rule for sorted output).
          cand.sort((a, b) => (largest ? at(b) - at(a) : at(a) - at(b)) || a - b);
          for (let t = 0; t < k; t++) {
            const dst = (o * k + t) * inner + j;
            values[dst] = at(cand[t]);
            indices[dst] = cand[t];
          }
        }
      }
    }
    return [state(x.dtype, out, values), state(DataType.INT64, out.slice(), indices)];
  },
  cost(ctx, outputs): Cost {
    if (ctx.node.opType === 'CumSum') return { macs: 0, flops: elements(outputs[0].shape!) };
    const n = elements(ctx.shape(0));
    const k = outputs[0].shape![axisOf(ctx.int('axis', -1), outputs[0].shape!.length, ctx.node)];
    return { macs: 0, flops: k === 0 ? 0 : Math.round(n * Math.max(1, Math.log2(k))) };
  },
});
