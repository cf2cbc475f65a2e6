import { ShapeError, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, constantInts, nhwc, output } from './tflite-common.js';

/**
 * TFLite RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR: NHWC input and a size tensor [new_height, new_width]. Cost as
 * ONNX's Resize: nearest 0; linear 2 FLOPs per resized axis (two here) per output element.
 */
export const tfliteResizeOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR'],
  infer(ctx) {
    const [n, , , c] = nhwc(ctx, 0);
    const size = constantInts(ctx, 1);
    if (size.length !== 2 || size.some((d) => d < 1)) throw new ShapeError(`${ctx.node.opType} size must be two positive dims, got [${size.join(',')}]`);
    return [output(ctx, [n, size[0], size[1], c])];
  },
  cost(ctx, outputs) {
    return { macs: 0, flops: ctx.node.opType === 'RESIZE_BILINEAR' ? 4 * elements(outputs[0].shape!) : 0 };
  },
});
