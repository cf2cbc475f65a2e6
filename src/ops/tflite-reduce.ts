import { DataType } from '../onnx/dtype.js';
import { axisOf, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, constantInts, outputDtype } from './tflite-common.js';

/**
 * TFLite reductions: MEAN, SUM, REDUCE_MAX/MIN/PROD/ANY/ALL (input, axes; keep_dims) and ARG_MAX/ARG_MIN (input,
 * axis; the axis is dropped). Cost as ONNX's reductions: input_elements FLOPs.
 */
const REDUCERS = ['MEAN', 'SUM', 'REDUCE_MAX', 'REDUCE_MIN', 'REDUCE_PROD', 'REDUCE_ANY', 'REDUCE_ALL'];

export const tfliteReduceOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: [...REDUCERS, 'ARG_MAX', 'ARG_MIN'],
  infer(ctx) {
    const x = ctx.shape(0);
    const axes = new Set(constantInts(ctx, 1).map((a) => axisOf(a, x.length, ctx.node)));
    if (ctx.node.opType.startsWith('ARG_')) {
      return [{ dtype: outputDtype(ctx, 0, DataType.INT64), shape: x.filter((_, i) => !axes.has(i)) }];
    }
    const keep = ctx.int('keep_dims', 0) !== 0;
    const shape = keep ? x.map((d, i) => (axes.has(i) ? 1 : d)) : x.filter((_, i) => !axes.has(i));
    return [{ dtype: outputDtype(ctx, 0, ctx.input(0).dtype), shape }];
  },
  cost(ctx) {
    return { macs: 0, flops: elements(ctx.shape(0)) };
  },
});
