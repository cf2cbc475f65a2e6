import { defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, output } from './tflite-common.js';

/**
 * TFLite type changes: QUANTIZE (float → int8/uint8/int16, or a requantization), DEQUANTIZE (int8 or float16 →
 * float32; converters store float16 weights this way) and CAST. The input's shape, the type the file declares;
 * QUANTIZE and DEQUANTIZE count 1 FLOP per element as ONNX's QuantizeLinear/DequantizeLinear, CAST 0.
 */
export const tfliteQuantizeOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['QUANTIZE', 'DEQUANTIZE', 'CAST'],
  infer(ctx) {
    return [output(ctx, ctx.shape(0).slice())];
  },
  cost(ctx, outputs) {
    return { macs: 0, flops: ctx.node.opType === 'CAST' ? 0 : elements(outputs[0].shape!) };
  },
});
