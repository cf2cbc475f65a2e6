import { axisOf, defineOps, elements } from './define.js';

/**
 * Softmax, LogSoftmax, Hardmax: the output has the input's shape. axis defaults to −1 from opset 13 and to 1 before
 * (where the input is coerced to 2-D around the axis: that changes what is normalized together, not the shape or
 * the element count). Counting convention: 3 FLOPs per element (exp, sum, divide; max-subtraction not counted),
 * Hardmax included. No MACs.
 */
export const softmaxOps = defineOps({
  ops: ['Softmax', 'LogSoftmax', 'Hardmax'],
  infer(ctx) {
    const x = ctx.input(0);
    const shape = ctx.shape(0).slice();
    const axis = ctx.int('axis', ctx.opset > 0 && ctx.opset < 13 ? 1 : -1);
    if (shape.length > 0) axisOf(axis, shape.length, ctx.node);
    return [{ dtype: x.dtype, shape }];
  },
  cost(_ctx, outputs) {
    return { macs: 0, flops: 3 * elements(outputs[0].shape!) };
  },
});
