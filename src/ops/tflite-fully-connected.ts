import { isInteger } from '../onnx/dtype.js';
import { ShapeError, broadcast, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, fusedActivationFlops, output } from './tflite-common.js';

/**
 * TFLite matrix products. FULLY_CONNECTED: input [..., K] (read as rows of K), weights [O, K], bias [O]; output
 * [rows, O], or the input's leading dims with keep_num_dims; MACs rows · K · O. BATCH_MATMUL: [..., M, K] ×
 * [..., K, N] (adj_x/adj_y transpose the last two dims), batch dims broadcast; MACs batch · M · K · N.
 */
export const tfliteFullyConnectedOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['FULLY_CONNECTED', 'BATCH_MATMUL'],
  infer(ctx) {
    const x = ctx.shape(0);
    const w = ctx.shape(1);
    if (ctx.node.opType === 'BATCH_MATMUL') {
      if (x.length < 2 || w.length < 2) throw new ShapeError(`BATCH_MATMUL operands must have rank ≥ 2, got [${x.join(',')}] and [${w.join(',')}]`);
      const [m, k] = ctx.int('adj_x', 0) ? [x[x.length - 1], x[x.length - 2]] : [x[x.length - 2], x[x.length - 1]];
      const [k2, n] = ctx.int('adj_y', 0) ? [w[w.length - 1], w[w.length - 2]] : [w[w.length - 2], w[w.length - 1]];
      if (k !== k2) throw new ShapeError(`BATCH_MATMUL inner dims differ: ${k} and ${k2}`);
      const batch = broadcast([x.slice(0, -2), w.slice(0, -2)], ctx.node);
      return [output(ctx, [...batch, m, n])];
    }
    if (w.length !== 2) throw new ShapeError(`FULLY_CONNECTED weights must be [out, in], got [${w.join(',')}]`);
    const [o, k] = w;
    const total = elements(x);
    if (k < 1 || total % k !== 0) throw new ShapeError(`FULLY_CONNECTED input [${x.join(',')}] is not rows of ${k}`);
    const bias = ctx.inputs[2]?.shape;
    if (ctx.has(2) && bias && elements(bias) !== o) throw new ShapeError(`FULLY_CONNECTED bias [${bias.join(',')}] must have ${o} values`);
    const keep = ctx.int('keep_num_dims', 0) !== 0 && x[x.length - 1] === k;
    return [output(ctx, keep ? [...x.slice(0, -1), o] : [total / k, o])];
  },
  traits(ctx) {
    const fc = ctx.node.opType === 'FULLY_CONNECTED';
    // A full-integer product is ONNX's QLinearMatMul; FULLY_CONNECTED's bias makes it a Gemm.
    const form = isInteger(ctx.inputs[0]?.dtype ?? 0) ? 'qlinear' : 'float';
    return { kind: 'matmul', form, operands: [0, 1], bias: fc && ctx.has(2) ? 2 : null, gemm: fc, general: false };
  },
  cost(ctx, outputs) {
    const out = outputs[0].shape!;
    if (ctx.node.opType === 'BATCH_MATMUL') {
      const x = ctx.shape(0);
      const k = ctx.int('adj_x', 0) ? x[x.length - 2] : x[x.length - 1];
      return { macs: elements(out) * k, flops: 0 };
    }
    return { macs: elements(out) * ctx.shape(1)[1], flops: fusedActivationFlops(ctx, out) };
  },
});
