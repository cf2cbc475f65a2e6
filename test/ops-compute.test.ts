import { describe, expect, it } from 'vitest';
import { ShapeError, type TensorState, UnknownShape } from '../src/ops/define.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead } from './helpers/build-model.js';
import { run } from './helpers/rule-context.js';

// Expected numbers below are worked out by hand from the ONNX operator spec and the conventions in each src/ops file.

const F = 1; // FLOAT
const U8 = 2;
const I8 = 3;
const I32 = 6;
const I64 = 7;
const BOOL = 9;

const t = (shape: number[], dtype = F, value?: number[]): TensorState => (value ? { dtype, shape, value } : { dtype, shape });

describe('elementwise', () => {
  it('broadcasts numpy-style and counts 1 FLOP per output element', () => {
    const r = run('Add', [t([2, 1, 4]), t([3, 1])]);
    expect(r.out[0]).toEqual({ dtype: F, shape: [2, 3, 4] });
    expect(r.cost).toEqual({ macs: 0, flops: 24 });
    expect(run('Mul', [t([2, 3, 4]), t([4])]).cost.flops).toBe(24);
    expect(() => run('Sub', [t([2, 3]), t([4])])).toThrow(ShapeError);
  });

  it('comparisons and logic give bool', () => {
    const r = run('Less', [t([2], I64, [1, 5]), t([], I64, [3])]);
    expect(r.out[0]).toEqual({ dtype: BOOL, shape: [2], value: [1, 0] });
    expect(r.cost.flops).toBe(2);
    expect(run('And', [t([3, 1], BOOL), t([1, 4], BOOL)]).out[0]).toEqual({ dtype: BOOL, shape: [3, 4] });
    expect(run('Equal', [t([2], I64, [4, 5]), t([2], I64, [4, 6])]).out[0].value).toEqual([1, 0]);
  });

  it('Where broadcasts all three inputs and takes the data type', () => {
    const r = run('Where', [t([2, 1], BOOL), t([1, 3], I64), t([], I64)]);
    expect(r.out[0]).toEqual({ dtype: I64, shape: [2, 3] });
    expect(r.cost.flops).toBe(6);
    expect(run('Where', [t([2], BOOL, [1, 0]), t([2], I64, [7, 8]), t([], I64, [-1])]).out[0].value).toEqual([7, -1]);
  });

  it('variadic Max/Min/Sum/Mean count (inputs − 1) per output element', () => {
    const r = run('Sum', [t([2, 3]), t([3]), t([1])]);
    expect(r.out[0].shape).toEqual([2, 3]);
    expect(r.cost.flops).toBe(12);
    expect(run('Max', [t([4, 5])]).cost.flops).toBe(0);
    expect(run('Min', [t([4]), t([4])]).cost.flops).toBe(4);
    expect(run('Mean', [t([2], F, [1, 2]), t([2], F, [3, 6])]).out[0].value).toEqual([2, 4]);
    expect(run('Max', [t([3], I64, [1, 9, 3]), t([], I64, [4])]).out[0].value).toEqual([4, 9, 4]);
  });

  it('folds integer shape arithmetic with ONNX integer semantics', () => {
    expect(run('Mul', [t([2], I64, [3, 4]), t([], I64, [2])]).out[0].value).toEqual([6, 8]);
    expect(run('Add', [t([2], I64, [3, 4]), t([1], I64, [-1])]).out[0].value).toEqual([2, 3]);
    // Div on ints truncates toward zero.
    expect(run('Div', [t([4], I64, [-7, 7, -1, 9]), t([], I64, [2])]).out[0].value).toEqual([-3, 3, 0, 4]);
    expect(run('Div', [t([1], F, [-7]), t([], F, [2])]).out[0].value).toEqual([-3.5]);
    // Mod: fmod = 0 takes the divisor's sign, fmod = 1 the dividend's.
    expect(run('Mod', [t([2], I64, [-7, 7]), t([2], I64, [3, -3])]).out[0].value).toEqual([2, -2]);
    expect(run('Mod', [t([2], I64, [-7, 7]), t([2], I64, [3, -3])], { fmod: 1 }).out[0].value).toEqual([-1, 1]);
    // Fixed-width ints wrap.
    expect(run('Add', [t([1], I32, [2147483647]), t([1], I32, [1])]).out[0].value).toEqual([-2147483648]);
    expect(run('BitShift', [t([2], U8, [1, 200]), t([2], U8, [3, 1])], { direction: 'LEFT' }).out[0].value).toEqual([8, 144]);
    expect(run('BitShift', [t([1], U8, [200]), t([1], U8, [3])], { direction: 'RIGHT' }).out[0].value).toEqual([25]);
  });

  it('does not fold an integer division by zero, and keeps the shape', () => {
    const r = run('Div', [t([2], I64, [4, 5]), t([2], I64, [2, 0])]);
    expect(r.out[0]).toEqual({ dtype: I64, shape: [2] });
  });

  it('Pow keeps the base type; legacy opset-6 broadcast aligns B at axis', () => {
    expect(run('Pow', [t([3], F), t([], I64)]).out[0].dtype).toBe(F);
    const r = run('Add', [t([2, 3, 4, 5]), t([3, 4])], { broadcast: 1, axis: 1 }, { opset: 6 });
    expect(r.out[0].shape).toEqual([2, 3, 4, 5]);
    expect(r.cost.flops).toBe(120);
  });
});

describe('activations', () => {
  it('count 1 FLOP per element, composite ones included', () => {
    for (const op of ['Relu', 'HardSwish', 'Gelu', 'Mish', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Softplus', 'Selu']) {
      const r = run(op, [t([1, 16, 8, 8])]);
      expect(r.out[0]).toEqual({ dtype: F, shape: [1, 16, 8, 8] });
      expect(r.cost).toEqual({ macs: 0, flops: 1024 });
    }
  });

  it('Dropout has an optional mask of the same shape (bool from opset 10)', () => {
    const r = run('Dropout', [t([2, 5])], {}, { opset: 13, outputs: 2 });
    expect(r.out).toEqual([{ dtype: F, shape: [2, 5] }, { dtype: BOOL, shape: [2, 5] }]);
    expect(r.cost.flops).toBe(10);
    expect(run('Dropout', [t([2, 5])], {}, { opset: 7, outputs: 2 }).out[1].dtype).toBe(F);
  });

  it('IsNaN/IsInf give bool; PRelu checks the slope broadcast', () => {
    expect(run('IsNaN', [t([3])]).out[0].dtype).toBe(BOOL);
    expect(run('PRelu', [t([1, 16, 8, 8]), t([16, 1, 1])]).cost.flops).toBe(1024);
    expect(() => run('PRelu', [t([1, 16, 8, 8]), t([5])])).toThrow(ShapeError);
    // Legacy per-channel slope [C] against [N, C, H, W] (old PyTorch exports), as ONNX Runtime accepts.
    expect(run('PRelu', [t([2, 3, 4, 5]), t([3])]).out[0].shape).toEqual([2, 3, 4, 5]);
  });

  it('folds Neg, Abs, Floor, Clip on known values', () => {
    expect(run('Neg', [t([2], I64, [3, -4])]).out[0].value).toEqual([-3, 4]);
    expect(run('Abs', [t([2], I64, [3, -4])]).out[0].value).toEqual([3, 4]);
    expect(run('Round', [t([4], F, [0.5, 1.5, 2.5, -1.5])]).out[0].value).toEqual([0, 2, 2, -2]);
    expect(run('Clip', [t([3], I64, [-5, 3, 10]), t([], I64, [0]), t([], I64, [6])], {}, { opset: 13 }).out[0].value).toEqual([0, 3, 6]);
    expect(run('Clip', [t([3], F, [-5, 3, 10])], { min: { f: 0 }, max: { f: 6 } }, { opset: 6 }).out[0].value).toEqual([0, 3, 6]);
  });
});

describe('Gemm / MatMul / Einsum', () => {
  it('Gemm with transA and transB: M·K·N MACs, bias not counted', () => {
    // A [4,3] transposed → M=3, K=4; B [5,4] transposed → K=4, N=5.
    const r = run('Gemm', [t([4, 3]), t([5, 4]), t([5])], { transA: 1, transB: 1, alpha: { f: 0.5 }, beta: { f: 2 } });
    expect(r.out[0]).toEqual({ dtype: F, shape: [3, 5] });
    expect(r.cost).toEqual({ macs: 60, flops: 0 });
    // Classifier: [1,512] × [1000,512]ᵀ.
    expect(run('Gemm', [t([1, 512]), t([1000, 512]), t([1000])], { transB: 1 }).cost.macs).toBe(512_000);
    expect(() => run('Gemm', [t([4, 3]), t([4, 5])])).toThrow(ShapeError);
    expect(() => run('Gemm', [t([2, 3]), t([3, 5]), t([4])])).toThrow(ShapeError);
    expect(() => run('Gemm', [t([2, 3]), t([3, 5]), t([3, 2, 5])])).toThrow(ShapeError);
    expect(run('Gemm', [t([2, 3]), t([3, 5]), t([2, 1])]).out[0].shape).toEqual([2, 5]);
  });

  it('MatMul broadcasts batch dims: [2,1,4,8]×[3,8,5] → [2,3,4,5], 2·3·4·8·5 MACs', () => {
    const r = run('MatMul', [t([2, 1, 4, 8]), t([3, 8, 5])]);
    expect(r.out[0]).toEqual({ dtype: F, shape: [2, 3, 4, 5] });
    expect(r.cost).toEqual({ macs: 2 * 3 * 4 * 8 * 5, flops: 0 });
    expect(r.cost.macs).toBe(960);
  });

  it('MatMul promotes 1-D operands and drops the promoted dim', () => {
    expect(run('MatMul', [t([8]), t([8])]).out[0].shape).toEqual([]);
    expect(run('MatMul', [t([8]), t([8])]).cost.macs).toBe(8);
    const left = run('MatMul', [t([8]), t([2, 8, 5])]);
    expect(left.out[0].shape).toEqual([2, 5]);
    expect(left.cost.macs).toBe(80);
    const right = run('MatMul', [t([2, 3, 8]), t([8])]);
    expect(right.out[0].shape).toEqual([2, 3]);
    expect(right.cost.macs).toBe(48);
    expect(() => run('MatMul', [t([2, 3, 8]), t([7, 2])])).toThrow(ShapeError);
    expect(() => run('MatMul', [t([2, 3, 8]), t([4, 8, 2])])).toThrow(ShapeError);
  });

  it('attention: Q·Kᵀ and A·V (ViT-B/16: 12 heads, 197 tokens, head dim 64)', () => {
    const scores = run('MatMul', [t([1, 12, 197, 64]), t([1, 12, 64, 197])]);
    expect(scores.out[0].shape).toEqual([1, 12, 197, 197]);
    expect(scores.cost.macs).toBe(29_805_312); // 12·197·64·197
    const context = run('MatMul', [t([1, 12, 197, 197]), t([1, 12, 197, 64])]);
    expect(context.out[0].shape).toEqual([1, 12, 197, 64]);
    expect(context.cost.macs).toBe(29_805_312); // 12·197·197·64
  });

  it('MatMulInteger gives int32, QLinearMatMul reads a at 0 and b at 3', () => {
    const mi = run('MatMulInteger', [t([2, 4], U8), t([4, 3], I8)]);
    expect(mi.out[0]).toEqual({ dtype: I32, shape: [2, 3] });
    expect(mi.cost.macs).toBe(24);
    const q = run('QLinearMatMul', [t([2, 4], U8), t([]), t([], U8), t([4, 3], U8), t([]), t([], U8), t([]), t([], I8)]);
    expect(q.out[0]).toEqual({ dtype: I8, shape: [2, 3] });
    expect(q.cost).toEqual({ macs: 24, flops: 0 });
  });

  it('Einsum: product of all index sizes with a contraction', () => {
    const qk = run('Einsum', [t([1, 12, 197, 64]), t([1, 12, 197, 64])], { equation: 'bhid,bhjd->bhij' });
    expect(qk.out[0].shape).toEqual([1, 12, 197, 197]);
    expect(qk.cost).toEqual({ macs: 29_805_312, flops: 0 });
    const implicit = run('Einsum', [t([3, 4]), t([4, 5])], { equation: 'ij,jk' });
    expect(implicit.out[0].shape).toEqual([3, 5]);
    expect(implicit.cost.macs).toBe(60);
    const ell = run('Einsum', [t([2, 1, 3, 4]), t([5, 4, 6])], { equation: '...ij,...jk->...ik' });
    expect(ell.out[0].shape).toEqual([2, 5, 3, 6]);
    expect(ell.cost.macs).toBe(720); // 2·5·3·4·6
    const dot = run('Einsum', [t([8]), t([8])], { equation: 'i,i' });
    expect(dot.out[0].shape).toEqual([]);
    expect(dot.cost.macs).toBe(8);
    const chain = run('Einsum', [t([2, 3]), t([3, 4]), t([4, 5])], { equation: 'ij, jk, kl -> il' });
    expect(chain.out[0].shape).toEqual([2, 5]);
    expect(chain.cost.macs).toBe(120);
  });

  it('Einsum without contraction or with one operand counts FLOPs', () => {
    expect(run('Einsum', [t([3, 4]), t([3, 4])], { equation: 'ij,ij->ij' }).cost).toEqual({ macs: 0, flops: 12 });
    const tr = run('Einsum', [t([3, 4])], { equation: 'ij->ji' });
    expect(tr.out[0].shape).toEqual([4, 3]);
    expect(tr.cost).toEqual({ macs: 0, flops: 12 });
    const diag = run('Einsum', [t([4, 4])], { equation: 'ii->i' });
    expect(diag.out[0].shape).toEqual([4]);
    expect(diag.cost).toEqual({ macs: 0, flops: 16 });
    expect(() => run('Einsum', [t([3, 4]), t([5, 6])], { equation: 'ij,jk->ik' })).toThrow(ShapeError);
    expect(() => run('Einsum', [t([3, 4])], { equation: 'ijk->i' })).toThrow(ShapeError);
  });
});

describe('normalization', () => {
  it('BatchNormalization: 2 per element; training outputs are per-channel', () => {
    const r = run('BatchNormalization', [t([2, 16, 8, 8]), t([16]), t([16]), t([16]), t([16])]);
    expect(r.out).toEqual([{ dtype: F, shape: [2, 16, 8, 8] }]);
    expect(r.cost).toEqual({ macs: 0, flops: 4096 });
    const train = run('BatchNormalization', [t([2, 16, 8, 8]), t([16]), t([16]), t([16]), t([16])], { training_mode: 1 }, { opset: 15, outputs: 3 });
    expect(train.out.map((s) => s.shape)).toEqual([[2, 16, 8, 8], [16], [16]]);
  });

  it('Instance/Layer/Group/MVN 5 per element, LpNormalization 3, LRN size + 3', () => {
    expect(run('InstanceNormalization', [t([1, 8, 4, 4]), t([8]), t([8])]).cost.flops).toBe(640);
    const ln = run('LayerNormalization', [t([2, 10, 32]), t([32]), t([32])], {}, { outputs: 3 });
    expect(ln.out.map((s) => s.shape)).toEqual([[2, 10, 32], [2, 10, 1], [2, 10, 1]]);
    expect(ln.cost.flops).toBe(3200);
    expect(run('LayerNormalization', [t([2, 10, 32]), t([10, 32])], { axis: 1 }, { outputs: 2 }).out[1].shape).toEqual([2, 1, 1]);
    expect(run('GroupNormalization', [t([1, 8, 4, 4]), t([8]), t([8])], { num_groups: 4 }, { opset: 21 }).cost.flops).toBe(640);
    expect(() => run('GroupNormalization', [t([1, 8, 4, 4]), t([8]), t([8])], { num_groups: 3 })).toThrow(ShapeError);
    expect(run('MeanVarianceNormalization', [t([1, 8, 4, 4])]).cost.flops).toBe(640);
    expect(run('LpNormalization', [t([1, 8, 4, 4])], { axis: 1, p: 2 }).cost.flops).toBe(384);
    expect(run('LRN', [t([1, 8, 4, 4])], { size: 5 }).cost.flops).toBe(1024);
  });
});

describe('pooling', () => {
  it('floor vs ceil_mode', () => {
    // in 6, k 3, s 2: floor((6−3)/2)+1 = 2; ceil((6−3)/2)+1 = 3 (last window starts at 4 < 6: kept).
    const floor = run('MaxPool', [t([1, 1, 6, 6])], { kernel_shape: [3, 3], strides: [2, 2] });
    expect(floor.out[0].shape).toEqual([1, 1, 2, 2]);
    expect(floor.cost).toEqual({ macs: 0, flops: 36 });
    const ceil = run('MaxPool', [t([1, 1, 6, 6])], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
    expect(ceil.out[0].shape).toEqual([1, 1, 3, 3]);
    expect(ceil.cost.flops).toBe(81);
  });

  it('ceil_mode drops a last window that would start in the end padding', () => {
    // in 5, k 2, s 2, pads 1/1: ceil((5+2−2)/2)+1 = 4, but (4−1)·2 = 6 ≥ 5+1 → 3 (as PyTorch and ONNX Runtime).
    const r = run('MaxPool', [t([1, 2, 5, 5])], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, { outputs: 2 });
    expect(r.out).toEqual([{ dtype: F, shape: [1, 2, 3, 3] }, { dtype: I64, shape: [1, 2, 3, 3] }]);
    expect(r.cost.flops).toBe(72);
  });

  it('SAME and VALID auto_pad, dilations', () => {
    // SAME: ceil(7/2) = 4, whatever ceil_mode.
    const same = run('AveragePool', [t([1, 3, 7, 7])], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' });
    expect(same.out[0].shape).toEqual([1, 3, 4, 4]);
    expect(same.cost.flops).toBe(432);
    expect(run('MaxPool', [t([1, 3, 7, 7])], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_LOWER', ceil_mode: 1 }).out[0].shape).toEqual([1, 3, 4, 4]);
    // VALID: ceil((7 − 3 + 1)/2) = 3.
    expect(run('MaxPool', [t([1, 3, 7, 7])], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'VALID', pads: [5, 5, 5, 5] }).out[0].shape).toEqual([1, 3, 3, 3]);
    // VALID with ceil_mode: ceil((6 − 3)/2) + 1 = 3, as ONNX Runtime's kernel computes.
    expect(run('AveragePool', [t([1, 1, 6, 6])], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'VALID', ceil_mode: 1 }).out[0].shape).toEqual([1, 1, 3, 3]);
    // Dilation 2: eff_k = 5, (7 − 5)/1 + 1 = 3.
    expect(run('MaxPool', [t([1, 1, 7, 7])], { kernel_shape: [3, 3], dilations: [2, 2] }).out[0].shape).toEqual([1, 1, 3, 3]);
    const avg = run('AveragePool', [t([1, 4, 8, 8])], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(avg.out[0].shape).toEqual([1, 4, 4, 4]);
    expect(avg.cost.flops).toBe(256);
    expect(run('LpPool', [t([1, 4, 8])], { kernel_shape: [3], p: 2 }).cost.flops).toBe(4 * 6 * 3);
    expect(() => run('MaxPool', [t([1, 1, 2, 2])], { kernel_shape: [3, 3] })).toThrow(ShapeError);
  });

  it('global pools: one FLOP per input element', () => {
    const r = run('GlobalAveragePool', [t([2, 8, 7, 7])]);
    expect(r.out[0].shape).toEqual([2, 8, 1, 1]);
    expect(r.cost).toEqual({ macs: 0, flops: 784 });
    expect(run('GlobalMaxPool', [t([1, 3, 4, 5, 6])]).out[0].shape).toEqual([1, 3, 1, 1, 1]);
  });
});

describe('reductions', () => {
  const x = t([2, 3, 4]);
  it('axes attribute (before opset 18), keepdims 1 and 0', () => {
    const keep = run('ReduceMean', [x], { axes: [1] }, { opset: 13 });
    expect(keep.out[0]).toEqual({ dtype: F, shape: [2, 1, 4] });
    expect(keep.cost).toEqual({ macs: 0, flops: 24 });
    expect(run('ReduceMean', [x], { axes: [1], keepdims: 0 }, { opset: 13 }).out[0].shape).toEqual([2, 4]);
    expect(run('ReduceMax', [x], { axes: [0, -1], keepdims: 0 }, { opset: 13 }).out[0].shape).toEqual([3]);
    expect(run('ReduceL2', [x], {}, { opset: 13 }).out[0].shape).toEqual([1, 1, 1]);
  });

  it('axes input (ReduceSum from 13, others from 18), noop_with_empty_axes', () => {
    expect(run('ReduceSum', [x, t([1], I64, [-1])], { keepdims: 0 }, { opset: 13 }).out[0].shape).toEqual([2, 3]);
    expect(run('ReduceSum', [x], { keepdims: 0 }, { opset: 13 }).out[0].shape).toEqual([]);
    expect(run('ReduceSum', [x], { noop_with_empty_axes: 1 }, { opset: 13 }).out[0].shape).toEqual([2, 3, 4]);
    // An axes input of shape [0] is empty even with unknown values.
    expect(run('ReduceSum', [x, t([0], I64)], { noop_with_empty_axes: 1 }, { opset: 13 }).out[0].shape).toEqual([2, 3, 4]);
    expect(run('ReduceSum', [x, t([0], I64)], {}, { opset: 13 }).out[0].shape).toEqual([1, 1, 1]);
    expect(run('ReduceMax', [x, t([2], I64, [0, 2])], {}, { opset: 18 }).out[0].shape).toEqual([1, 3, 1]);
    // Attribute ignored in the input form; an axes input of unknown value blocks the shape.
    expect(() => run('ReduceMax', [x, t([1], I64)], {}, { opset: 18 })).toThrow(UnknownShape);
    expect(() => run('ReduceSum', [x], { axes: [1, 1] }, { opset: 11 })).toThrow(ShapeError);
  });

  it('ArgMax/ArgMin output int64', () => {
    const r = run('ArgMax', [x], { axis: 1, keepdims: 0 });
    expect(r.out[0]).toEqual({ dtype: I64, shape: [2, 4] });
    expect(r.cost.flops).toBe(24);
    expect(run('ArgMin', [x]).out[0].shape).toEqual([1, 3, 4]);
  });

  it('folds ReduceSum and ReduceProd of known ints', () => {
    expect(run('ReduceProd', [t([3], I64, [2, 3, 4])], { keepdims: 0 }, { opset: 13 }).out[0]).toEqual({ dtype: I64, shape: [], value: [24] });
    const m = t([2, 3], I64, [1, 2, 3, 4, 5, 6]);
    expect(run('ReduceSum', [m, t([1], I64, [1])], {}, { opset: 13 }).out[0].value).toEqual([6, 15]);
    expect(run('ReduceSum', [m, t([1], I64, [0])], { keepdims: 0 }, { opset: 13 }).out[0].value).toEqual([5, 7, 9]);
  });
});

describe('softmax', () => {
  it('3 FLOPs per element; axis default −1 from 13, 1 before', () => {
    const r = run('Softmax', [t([2, 5])], {}, { opset: 13 });
    expect(r.out[0]).toEqual({ dtype: F, shape: [2, 5] });
    expect(r.cost).toEqual({ macs: 0, flops: 30 });
    expect(run('LogSoftmax', [t([1, 12, 197, 197])], {}, { opset: 11 }).cost.flops).toBe(3 * 12 * 197 * 197);
    expect(run('Hardmax', [t([4])], {}, { opset: 13 }).cost.flops).toBe(12);
    expect(() => run('Softmax', [t([4])], {}, { opset: 11 })).toThrow(ShapeError);
    expect(() => run('Softmax', [t([2, 5])], { axis: 2 })).toThrow(ShapeError);
  });
});

describe('quantized', () => {
  it('Quantize/Dequantize: 1 FLOP per element, output types', () => {
    const q = run('QuantizeLinear', [t([1, 3, 4, 4]), t([]), t([], I8)]);
    expect(q.out[0]).toEqual({ dtype: I8, shape: [1, 3, 4, 4] });
    expect(q.cost).toEqual({ macs: 0, flops: 48 });
    expect(run('QuantizeLinear', [t([1, 3]), t([])]).out[0].dtype).toBe(U8);
    expect(run('DequantizeLinear', [t([5], I8), t([]), t([], I8)]).out[0]).toEqual({ dtype: F, shape: [5] });
    const d = run('DynamicQuantizeLinear', [t([2, 8])], {}, { outputs: 3 });
    expect(d.out).toEqual([{ dtype: U8, shape: [2, 8] }, { dtype: F, shape: [] }, { dtype: U8, shape: [] }]);
    expect(d.cost.flops).toBe(16);
  });

  it('QLinearConv reads w at input 3; MACs as Conv', () => {
    // [1,4,8,8] * [8,4,3,3], pads 1 → [1,8,8,8]; MACs 512·4·9.
    const r = run('QLinearConv', [t([1, 4, 8, 8], U8), t([]), t([], U8), t([8, 4, 3, 3], U8), t([]), t([], U8), t([]), t([], I8)], { pads: [1, 1, 1, 1] });
    expect(r.out[0]).toEqual({ dtype: I8, shape: [1, 8, 8, 8] });
    expect(r.cost).toEqual({ macs: 18_432, flops: 0 });
  });

  it('ConvInteger with groups and stride: int32, MACs as Conv', () => {
    // out floor((8−3)/2)+1 = 3 → [1,6,3,3]; MACs 54·2·9.
    const r = run('ConvInteger', [t([1, 4, 8, 8], U8), t([6, 2, 3, 3], U8)], { group: 2, strides: [2, 2] });
    expect(r.out[0]).toEqual({ dtype: I32, shape: [1, 6, 3, 3] });
    expect(r.cost.macs).toBe(972);
  });
});

describe('through inferModel', () => {
  it('folds shape arithmetic and counts a small MLP with attention-style MatMuls', () => {
    const model = buildAndRead({
      opset: 17,
      inputs: [{ name: 'x', dtype: F, shape: ['batch', 4, 8] }],
      outputs: ['y', 'n'],
      initializers: [
        { name: 'w', dtype: F, dims: [8, 8], values: new Array(64).fill(0.5) },
        { name: 'dims', dtype: I64, dims: [2], values: [6, -9] },
        { name: 'two', dtype: I64, dims: [], values: [2] },
        { name: 'axes', dtype: I64, dims: [1], values: [0] },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Einsum', inputs: ['r', 'r'], outputs: ['s'], attrs: { equation: 'bid,bjd->bij' } },
        { op: 'Softmax', inputs: ['s'], outputs: ['p'] },
        { op: 'MatMul', inputs: ['p', 'r'], outputs: ['y'] },
        { op: 'Div', inputs: ['dims', 'two'], outputs: ['half'] },
        { op: 'Mul', inputs: ['half', 'two'], outputs: ['m'] },
        { op: 'ReduceProd', inputs: ['m'], outputs: ['n'], attrs: { keepdims: 0 } },
      ],
    });
    const res = inferModel(model, { batch: 2 });
    const by = new Map(res.layers.map((l) => [l.node.opType + ':' + l.node.outputs[0], l]));
    expect(by.get('MatMul:h')!.outputs[0]!.shape).toEqual([2, 4, 8]);
    expect(by.get('MatMul:h')!.cost).toEqual({ macs: 2 * 4 * 8 * 8, flops: 0 });
    expect(by.get('Relu:r')!.cost).toEqual({ macs: 0, flops: 64 });
    expect(by.get('Einsum:s')!.outputs[0]!.shape).toEqual([2, 4, 4]);
    expect(by.get('Einsum:s')!.cost!.macs).toBe(2 * 4 * 4 * 8);
    expect(by.get('Softmax:p')!.cost!.flops).toBe(96);
    expect(by.get('MatMul:y')!.cost!.macs).toBe(2 * 4 * 4 * 8);
    expect(by.get('Div:half')!.outputs[0]!.value).toEqual([3, -4]);
    expect(by.get('Mul:m')!.outputs[0]!.value).toEqual([6, -8]);
    expect(res.values.get('n')).toEqual({ dtype: I64, shape: [], value: [-48] });
    for (const l of res.layers) expect(l.reason).toBeNull();
  });

  it('folds Mul/Div/ReduceProd of Shape-derived values', () => {
    const model = buildAndRead({
      opset: 17,
      inputs: [{ name: 'x', dtype: F, shape: ['batch', 6, 8] }],
      outputs: ['flat'],
      initializers: [{ name: 'two', dtype: I64, dims: [], values: [2] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Mul', inputs: ['s', 'two'], outputs: ['m'] },
        { op: 'Div', inputs: ['s', 'two'], outputs: ['d'] },
        { op: 'ReduceProd', inputs: ['s'], outputs: ['p'], attrs: { keepdims: 1 } },
        { op: 'Equal', inputs: ['s', 'two'], outputs: ['e'] },
        { op: 'Reshape', inputs: ['x', 'p'], outputs: ['flat'] },
      ],
    });
    const res = inferModel(model, { batch: 3 });
    expect(res.values.get('m')!.value).toEqual([6, 12, 16]);
    expect(res.values.get('d')!.value).toEqual([1, 3, 4]);
    expect(res.values.get('p')).toEqual({ dtype: I64, shape: [1], value: [144] });
    expect(res.values.get('e')!.value).toEqual([0, 0, 0]);
    expect(res.values.get('flat')!.shape).toEqual([144]);
  });

  it('QLinearConv and Gemm through the real node context', () => {
    const model = buildAndRead({
      opset: 13,
      inputs: [{ name: 'x', dtype: U8, shape: [1, 4, 8, 8] }],
      outputs: ['y', 'g'],
      initializers: [
        { name: 'xs', dtype: F, dims: [], values: [0.1] },
        { name: 'xz', dtype: U8, dims: [], values: [128] },
        { name: 'w', dtype: U8, dims: [8, 4, 3, 3], values: new Array(288).fill(1) },
        { name: 'ws', dtype: F, dims: [], values: [0.1] },
        { name: 'wz', dtype: U8, dims: [], values: [0] },
        { name: 'ys', dtype: F, dims: [], values: [0.1] },
        { name: 'yz', dtype: I8, dims: [], values: [0] },
        { name: 'a', dtype: F, dims: [3, 4], values: new Array(12).fill(1) },
        { name: 'b', dtype: F, dims: [5, 4], values: new Array(20).fill(1) },
      ],
      nodes: [
        { op: 'QLinearConv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
        { op: 'Gemm', inputs: ['a', 'b'], outputs: ['g'], attrs: { transB: 1 } },
      ],
    });
    const res = inferModel(model);
    const conv = res.layers.find((l) => l.node.opType === 'QLinearConv')!;
    // (8 + 2 − 3)/2 + 1 = 4 → [1,8,4,4]; MACs 128·4·9.
    expect(conv.outputs[0]).toEqual({ dtype: I8, shape: [1, 8, 4, 4] });
    expect(conv.cost).toEqual({ macs: 4608, flops: 0 });
    const gemm = res.layers.find((l) => l.node.opType === 'Gemm')!;
    expect(gemm.outputs[0]!.shape).toEqual([3, 5]);
    expect(gemm.cost).toEqual({ macs: 60, flops: 0 });
  });
});
