import { ShapeError, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, fusedActivationFlops, nhwc, output, windowOutput } from './tflite-common.js';

/**
 * TFLite pools (AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D): NHWC, window filter_height × filter_width, padding
 * SAME/VALID. Cost as ONNX's pools: out_elements · window, plus a fused activation.
 */
export const tflitePoolOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'L2_POOL_2D'],
  infer(ctx) {
    const [n, h, w, c] = nhwc(ctx, 0);
    const kh = ctx.int('filter_height', 0);
    const kw = ctx.int('filter_width', 0);
    if (!(kh >= 1 && kw >= 1)) throw new ShapeError(`${ctx.node.opType} has a ${kh}×${kw} window`);
    const oh = windowOutput(ctx, h, kh, ctx.int('stride_h', 0), 1, 'h');
    const ow = windowOutput(ctx, w, kw, ctx.int('stride_w', 0), 1, 'w');
    return [output(ctx, [n, oh, ow, c])];
  },
  cost(ctx, outputs) {
    const out = outputs[0].shape!;
    const window = ctx.int('filter_height', 0) * ctx.int('filter_width', 0);
    return { macs: 0, flops: elements(out) * window + fusedActivationFlops(ctx, out) };
  },
});
