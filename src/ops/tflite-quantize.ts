import { defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, output, outputDtype } from './tflite-common.js';

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
  // QUANTIZE and DEQUANTIZE are ONNX's QuantizeLinear and DequantizeLinear (a DEQUANTIZE of float16 weights too:
  // per-layer precision then reads the conv that uses them as float32 on float16 weights).
  traits(ctx) {
    const op = ctx.node.opType;
    if (op === 'QUANTIZE') return { kind: 'quantize', quantized: outputDtype(ctx, 0, 0) };
    if (op === 'DEQUANTIZE') return { kind: 'dequantize', quantized: ctx.inputs[0]?.dtype ?? 0 };
    return null;
  },
  cost(ctx, outputs) {
    return { macs: 0, flops: ctx.node.opType === 'CAST' ? 0 : elements(outputs[0].shape!) };
  },
});
