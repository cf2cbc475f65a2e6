import { defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, output } from './tflite-common.js';

/** TFLite SOFTMAX and LOG_SOFTMAX: the input's shape; 3 FLOPs per element, as ONNX's Softmax. */
export const tfliteSoftmaxOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['SOFTMAX', 'LOG_SOFTMAX'],
  infer(ctx) {
    return [output(ctx, ctx.shape(0).slice())];
  },
  cost(_ctx, outputs) {
    return { macs: 0, flops: 3 * elements(outputs[0].shape!) };
  },
});
