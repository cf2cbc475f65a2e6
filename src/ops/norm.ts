import { DataType } from '../onnx/dtype.js';
import { type TensorState, ShapeError, axisOf, defineOps, elements } from './define.js';

/**
 * Normalizations: Y has X's shape. Counting convention, FLOPs per element of X (no MACs):
 * - BatchNormalization 2 (inference form: one scale and one shift per element, statistics precomputed; the
 *   training-mode forms are counted the same).
 * - InstanceNormalization, LayerNormalization, GroupNormalization, MeanVarianceNormalization 5 (mean, subtract,
 *   square-accumulate for the variance, normalize, affine).
 * - RMSNormalization 4 (square-accumulate, normalize, scale; no mean).
 * - LpNormalization 3. LRN size + 3 (the size-wide window sum plus square, scale and power).
 */

const PER_ELEMENT: Record<string, number> = {
  BatchNormalization: 2,
  InstanceNormalization: 5,
  LayerNormalization: 5,
  GroupNormalization: 5,
  MeanVarianceNormalization: 5,
  RMSNormalization: 4,
  LpNormalization: 3,
};

function channelsOf(x: number[]): number {
  return x.length < 2 ? 1 : x[1];
}

export const normOps = defineOps({
  ops: [...Object.keys(PER_ELEMENT), 'LRN'],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    const shape = ctx.shape(0).slice();
    const y: TensorState = { dtype: x.dtype, shape };
    if (op === 'BatchNormalization') {
      const c = channelsOf(shape);
      const stat = ctx.inputs[3]?.dtype || x.dtype;
      // Extra outputs (training mode): running mean/var (opset 14+) or mean, var, saved mean, saved var (before).
      const extra = ctx.node.outputs.length - 1;
      return [y, ...Array.from({ length: Math.max(0, extra) }, () => ({ dtype: stat, shape: [c] }))];
    }
    if (op === 'LayerNormalization' || op === 'RMSNormalization') {
      const axis = axisOf(ctx.int('axis', -1), shape.length, ctx.node);
      const statShape = shape.map((d, i) => (i < axis ? d : 1));
      const stash = ctx.int('stash_type', DataType.FLOAT);
      if (op === 'RMSNormalization') return [y];
      return [y, { dtype: stash, shape: statShape }, { dtype: stash, shape: statShape.slice() }];
    }
    if (op === 'GroupNormalization') {
      const groups = ctx.int('num_groups', 0);
      if (shape.length < 2) throw new ShapeError(`GroupNormalization input must have rank ≥ 2, got [${shape.join(',')}]`);
      if (groups < 1 || shape[1] % groups !== 0) {
        throw new ShapeError(`GroupNormalization num_groups ${groups} does not divide ${shape[1]} channels`);
      }
    }
    if (op === 'LpNormalization') axisOf(ctx.int('axis', -1), shape.length, ctx.node);
    if (op === 'LRN' && ctx.int('size', 0) < 1) throw new ShapeError('LRN needs a positive size');
    return [y];
  },
  cost(ctx, outputs) {
    const n = elements(outputs[0].shape!);
    const op = ctx.node.opType;
    const per = op === 'LRN' ? ctx.int('size', 0) + 3 : PER_ELEMENT[op];
    return { macs: 0, flops: n * per };
  },
});
