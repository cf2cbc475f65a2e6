import { describe, expect, it } from 'vitest';
import { ShapeError, UnknownShape } from '../src/ops/define.js';
import { run, t } from './helpers/rule-context.js';

// Expected numbers worked out by hand from the ONNX spec and the conventions in src/ops/vision.ts and src/ops/misc.ts.

const F = 1;
const I32 = 6;
const I64 = 7;
const STR = 8;
const BOOL = 9;
const F64 = 11;

describe('vision: RoiAlign, MaxRoiPool, MaxUnpool', () => {
  it('RoiAlign: [num_rois, C, oh, ow]; samples·4 + samples − 1 FLOPs per output element', () => {
    const inputs = [t([2, 16, 32, 32]), t([5, 4]), t([5], I64)];
    const r = run('RoiAlign', inputs, { output_height: 7, output_width: 7, sampling_ratio: 2 });
    expect(r.out).toEqual([{ dtype: F, shape: [5, 16, 7, 7] }]);
    // 5·16·49 = 3,920 outputs × (4·4 + 3) = 74,480.
    expect(r.cost).toEqual({ macs: 0, flops: 74480 });
    const adaptive = run('RoiAlign', inputs, { output_height: 7, output_width: 7 });
    expect(adaptive.cost.flops).toBe(74480);
    expect(adaptive.notes).toEqual([{ code: 'roi-align-adaptive-sampling' }]);
    expect(run('RoiAlign', [t([1, 3, 8, 8]), t([2, 4]), t([2], I64)]).out[0].shape).toEqual([2, 3, 1, 1]);
    expect(() => run('RoiAlign', [t([1, 3, 8, 8]), t([2, 5]), t([2], I64)])).toThrow(ShapeError);
  });

  it('MaxRoiPool: [num_rois, C, ph, pw]; a whole-map box per ROI', () => {
    const r = run('MaxRoiPool', [t([1, 8, 20, 30]), t([3, 5])], { pooled_shape: [6, 6] });
    expect(r.out[0].shape).toEqual([3, 8, 6, 6]);
    expect(r.cost).toEqual({ macs: 0, flops: 3 * 8 * 20 * 30 });
  });

  it('MaxUnpool: (in − 1)·s + k − pads, or output_shape when given', () => {
    expect(run('MaxUnpool', [t([1, 1, 2, 2]), t([1, 1, 2, 2], I64)], { kernel_shape: [2, 2], strides: [2, 2] }).out[0].shape).toEqual([1, 1, 4, 4]);
    const shaped = run('MaxUnpool', [t([1, 1, 2, 2]), t([1, 1, 2, 2], I64), t([4], I64, [1, 1, 5, 5])], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(shaped.out[0].shape).toEqual([1, 1, 5, 5]);
    expect(shaped.cost).toEqual({ macs: 0, flops: 0 });
    // (4 − 1)·2 + 3 − 1 − 1 = 7.
    expect(run('MaxUnpool', [t([1, 3, 4, 4]), t([1, 3, 4, 4], I64)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }).out[0].shape).toEqual([1, 3, 7, 7]);
    expect(() => run('MaxUnpool', [t([1, 1, 2, 2]), t([1, 1, 2, 2], I64), t([4], I64)], { kernel_shape: [2, 2] })).toThrow(UnknownShape);
  });
});

describe('vision: GridSample, AffineGrid, Col2Im, CenterCropPad, DeformConv, NonMaxSuppression', () => {
  it('GridSample: [N, C, …grid]; 2·d (linear), 8·d (cubic), 0 (nearest) per output element', () => {
    const inputs = [t([2, 3, 8, 8]), t([2, 5, 6, 2])];
    const r = run('GridSample', inputs, {}, { opset: 16 });
    expect(r.out[0].shape).toEqual([2, 3, 5, 6]);
    // 2·3·5·6 = 180 outputs.
    expect(r.cost.flops).toBe(180 * 4);
    expect(run('GridSample', inputs, { mode: 'bicubic' }, { opset: 16 }).cost.flops).toBe(180 * 16);
    expect(run('GridSample', inputs, { mode: 'nearest' }, { opset: 16 }).cost.flops).toBe(0);
    const vol = run('GridSample', [t([1, 2, 4, 4, 4]), t([1, 3, 3, 3, 3])], { mode: 'linear' }, { opset: 20 });
    expect(vol.out[0].shape).toEqual([1, 2, 3, 3, 3]);
    expect(vol.cost.flops).toBe(54 * 6);
    expect(() => run('GridSample', [t([2, 3, 8, 8]), t([2, 5, 6, 3])])).toThrow(ShapeError);
  });

  it('AffineGrid: [N, …size, r]; MACs N·prod(spatial)·r·(r+1)', () => {
    const r = run('AffineGrid', [t([2, 2, 3]), t([4], I64, [2, 3, 4, 5])], {}, { opset: 20 });
    expect(r.out[0].shape).toEqual([2, 4, 5, 2]);
    expect(r.cost).toEqual({ macs: 2 * 20 * 2 * 3, flops: 0 });
    const v = run('AffineGrid', [t([1, 3, 4]), t([5], I64, [1, 1, 2, 3, 4])], {}, { opset: 20 });
    expect(v.out[0].shape).toEqual([1, 2, 3, 4, 3]);
    expect(v.cost.macs).toBe(24 * 3 * 4);
    expect(() => run('AffineGrid', [t([2, 3, 4]), t([4], I64, [2, 3, 4, 5])], {}, { opset: 20 })).toThrow(ShapeError);
  });

  it('Col2Im: [N, C, …image]; one add per input element; L is checked', () => {
    // The spec's example: [1, 5, 5], image [5, 5], block [1, 5] → [1, 1, 5, 5].
    const r = run('Col2Im', [t([1, 5, 5]), t([2], I64, [5, 5]), t([2], I64, [1, 5])], {}, { opset: 18 });
    expect(r.out[0].shape).toEqual([1, 1, 5, 5]);
    expect(r.cost).toEqual({ macs: 0, flops: 25 });
    const s = run('Col2Im', [t([2, 12, 4]), t([2], I64, [4, 4]), t([2], I64, [2, 2])], { strides: [2, 2] }, { opset: 18 });
    expect(s.out[0].shape).toEqual([2, 3, 4, 4]);
    expect(() => run('Col2Im', [t([2, 12, 5]), t([2], I64, [4, 4]), t([2], I64, [2, 2])], { strides: [2, 2] })).toThrow(ShapeError);
  });

  it('CenterCropPad: the given axes take the target sizes', () => {
    expect(run('CenterCropPad', [t([20, 10, 3]), t([3], I64, [10, 7, 3])], {}, { opset: 18 }).out[0].shape).toEqual([10, 7, 3]);
    expect(run('CenterCropPad', [t([20, 10, 3]), t([2], I64, [24, 12])], { axes: [-3, -2] }, { opset: 18 }).out[0].shape).toEqual([24, 12, 3]);
  });

  it('DeformConv: Conv shape and MACs, plus the bilinear sampling (and mask) FLOPs', () => {
    const x = t([1, 4, 8, 8]);
    const w = t([6, 4, 3, 3]);
    const r = run('DeformConv', [x, w, t([1, 18, 6, 6])], {}, { opset: 19 });
    expect(r.out[0].shape).toEqual([1, 6, 6, 6]);
    // 216 outputs · 4 · 9 = 7,776 MACs; 1·4·36·9·4 = 5,184 FLOPs (·5 = 6,480 with a mask).
    expect(r.cost).toEqual({ macs: 7776, flops: 5184 });
    expect(run('DeformConv', [x, w, t([1, 18, 6, 6]), t([6]), t([1, 9, 6, 6])], {}, { opset: 19 }).cost.flops).toBe(6480);
  });

  it('NonMaxSuppression: data-dependent [?, 3], except max_output_boxes_per_class 0 → [0, 3]', () => {
    expect(() => run('NonMaxSuppression', [t([1, 6, 4]), t([1, 1, 6]), t([1], I64, [3])])).toThrow(UnknownShape);
    // The reason names the upper bound: 1 batch · 1 class · min(6 boxes, 3).
    expect(() => run('NonMaxSuppression', [t([1, 6, 4]), t([1, 1, 6]), t([1], I64, [3])])).toThrow(/^output shape unknown: .*at most 3\)/);
    expect(run('NonMaxSuppression', [t([1, 6, 4]), t([1, 1, 6])]).out).toEqual([{ dtype: I64, shape: [0, 3] }]);
    expect(() => run('NonMaxSuppression', [t([1, 6, 4]), t([1, 2, 5])])).toThrow(ShapeError);
  });
});

describe('losses', () => {
  it('NegativeLogLikelihoodLoss: none keeps the target shape, sum/mean give a scalar', () => {
    const inputs = [t([3, 5, 2, 4]), t([3, 2, 4], I64)];
    const none = run('NegativeLogLikelihoodLoss', inputs, { reduction: 'none' }, { opset: 13 });
    expect(none.out).toEqual([{ dtype: F, shape: [3, 2, 4] }]);
    expect(none.cost).toEqual({ macs: 0, flops: 24 });
    const mean = run('NegativeLogLikelihoodLoss', [...inputs, t([5])], {}, { opset: 13 });
    expect(mean.out[0].shape).toEqual([]);
    expect(mean.cost.flops).toBe(48);
    expect(() => run('NegativeLogLikelihoodLoss', [t([3, 5]), t([4], I64)])).toThrow(ShapeError);
    expect(() => run('NegativeLogLikelihoodLoss', [t([3, 5]), t([3], I64), t([4])])).toThrow(ShapeError);
  });

  it('SoftmaxCrossEntropyLoss: loss and log_prob; + 3 FLOPs per score for the log-softmax', () => {
    const r = run('SoftmaxCrossEntropyLoss', [t([3, 5, 2]), t([3, 2], I64)], { reduction: 'sum' }, { opset: 13, outputs: 2 });
    expect(r.out).toEqual([{ dtype: F, shape: [] }, { dtype: F, shape: [3, 5, 2] }]);
    // 2·6 + 3·30 = 102.
    expect(r.cost).toEqual({ macs: 0, flops: 102 });
    expect(() => run('SoftmaxCrossEntropyLoss', [t([3, 5]), t([3], I64)], { reduction: 'avg' })).toThrow(ShapeError);
  });
});

describe('signal processing', () => {
  it('DFT (opset 17, axis attribute): last dim 2, onesided halves, dft_length pads; 5·n·log2 n per transform', () => {
    const r = run('DFT', [t([2, 8, 3, 2])], { axis: 1 });
    expect(r.out).toEqual([{ dtype: F, shape: [2, 8, 3, 2] }]);
    // 96 / (8·2) = 6 transforms of 5·8·3 = 120.
    expect(r.cost).toEqual({ macs: 0, flops: 720 });
    expect(run('DFT', [t([2, 8, 3, 1])], { onesided: 1 }).out[0].shape).toEqual([2, 5, 3, 2]);
    const padded = run('DFT', [t([2, 8, 3, 1]), t([], I64, [16])]);
    expect(padded.out[0].shape).toEqual([2, 16, 3, 2]);
    // 6 transforms of 5·16·4 = 320.
    expect(padded.cost.flops).toBe(1920);
    expect(run('DFT', [t([1, 10, 10, 1])], { axis: 2 }).out[0].shape).toEqual([1, 10, 10, 2]);
    expect(() => run('DFT', [t([2, 8, 3, 2])], { axis: 3 })).toThrow(ShapeError);
  });

  it('DFT (opset 20): axis is an input, default −2', () => {
    const r = run('DFT', [t([2, 3, 8, 2])], {}, { opset: 20 });
    expect(r.out[0].shape).toEqual([2, 3, 8, 2]);
    expect(r.cost.flops).toBe(720);
    expect(run('DFT', [t([2, 3, 8, 1]), null, t([], I64, [1])], { onesided: 1 }, { opset: 20 }).out[0].shape).toEqual([2, 2, 8, 2]);
  });

  it('STFT: [batch, frames, bins, 2]', () => {
    // ONNX test_stft: signal [1, 128, 1], frame_step 8, frame_length 16 → [1, 15, 9, 2].
    const r = run('STFT', [t([1, 128, 1]), t([], I64, [8]), null, t([], I64, [16])]);
    expect(r.out[0].shape).toEqual([1, 15, 9, 2]);
    expect(r.cost.flops).toBe(15 * 320);
    const w = run('STFT', [t([1, 128, 1]), t([], I64, [8]), t([16])], { onesided: 0 });
    expect(w.out[0].shape).toEqual([1, 15, 16, 2]);
    expect(w.cost.flops).toBe(15 * (320 + 16));
    expect(() => run('STFT', [t([1, 128, 1]), t([], I64, [8])])).toThrow(ShapeError);
  });

  it('windows and MelWeightMatrix: shapes from input values, 1 FLOP per element', () => {
    const r = run('HannWindow', [t([], I32, [10])]);
    expect(r.out).toEqual([{ dtype: F, shape: [10] }]);
    expect(r.cost.flops).toBe(10);
    expect(run('BlackmanWindow', [t([], I64, [12])], { output_datatype: F64, periodic: 0 }).out[0]).toEqual({ dtype: F64, shape: [12] });
    expect(() => run('HammingWindow', [t([], I64)])).toThrow(UnknownShape);
    const mel = run('MelWeightMatrix', [t([], I64, [8]), t([], I64, [16]), t([], I64, [8192]), t([], F, [0]), t([], F, [4096])]);
    expect(mel.out[0].shape).toEqual([9, 8]);
    expect(mel.cost.flops).toBe(72);
  });
});

describe('random, Det, attention-era ops', () => {
  it('random generators', () => {
    expect(run('RandomNormal', [], { shape: [2, 3] }).out).toEqual([{ dtype: F, shape: [2, 3] }]);
    expect(run('RandomUniform', [], { shape: [4], dtype: F64 }).cost.flops).toBe(4);
    expect(run('RandomUniformLike', [t([4, 5], I32)], { dtype: F64 }).out[0]).toEqual({ dtype: F64, shape: [4, 5] });
    expect(run('RandomNormalLike', [t([4, 5])]).out[0]).toEqual({ dtype: F, shape: [4, 5] });
    expect(run('Bernoulli', [t([10], F64)], {}, { opset: 15 }).out[0]).toEqual({ dtype: F64, shape: [10] });
    const m = run('Multinomial', [t([2, 10])], { sample_size: 5 });
    expect(m.out[0]).toEqual({ dtype: I32, shape: [2, 5] });
    expect(m.cost.flops).toBe(30);
    expect(() => run('RandomNormal', [])).toThrow(ShapeError);
  });

  it('Det: [*, M, M] → [*], round(2·M³/3) per matrix', () => {
    const r = run('Det', [t([3, 4, 4])]);
    expect(r.out[0].shape).toEqual([3]);
    expect(r.cost.flops).toBe(3 * 43);
    expect(run('Det', [t([2, 2])]).out[0].shape).toEqual([]);
    expect(run('Det', [t([2, 2])]).cost.flops).toBe(5);
    expect(() => run('Det', [t([3, 4])])).toThrow(ShapeError);
  });

  it('Attention (opset 23), 4-D with a past: outputs and MatMul-style MACs', () => {
    const inputs = [t([2, 8, 10, 64]), t([2, 2, 12, 64]), t([2, 2, 12, 32]), null, t([2, 2, 4, 64]), t([2, 2, 4, 32])];
    const r = run('Attention', inputs, {}, { opset: 23, outputs: 4 });
    expect(r.out.map((s) => s.shape)).toEqual([[2, 8, 10, 32], [2, 2, 16, 64], [2, 2, 16, 32], [2, 8, 10, 16]]);
    // 2·8·10·16 = 2,560 scores × (64 + 32) = 245,760 MACs; 4 per score = 10,240 FLOPs (5 with is_causal).
    expect(r.cost).toEqual({ macs: 245760, flops: 10240 });
    expect(run('Attention', inputs, { is_causal: 1 }, { opset: 23, outputs: 4 }).cost.flops).toBe(12800);
  });

  it('Attention, 3-D with head counts', () => {
    const r = run('Attention', [t([1, 10, 512]), t([1, 10, 128]), t([1, 10, 128])], { q_num_heads: 8, kv_num_heads: 2 }, { opset: 23 });
    expect(r.out[0].shape).toEqual([1, 10, 512]);
    // 8·10·10 = 800 scores × (64 + 64).
    expect(r.cost.macs).toBe(102400);
    expect(() => run('Attention', [t([1, 10, 512]), t([1, 10, 128]), t([1, 10, 128])], {}, { opset: 23 })).toThrow(ShapeError);
  });

  it('RotaryEmbedding, Swish, TensorScatter', () => {
    const x = t([1, 4, 10, 64]);
    expect(run('RotaryEmbedding', [x, t([10, 32]), t([10, 32])], { rotary_embedding_dim: 32 }, { opset: 23 }).cost.flops).toBe(3840);
    expect(run('RotaryEmbedding', [x, t([10, 32]), t([10, 32])], {}, { opset: 23 }).cost.flops).toBe(7680);
    expect(run('Swish', [t([2, 3])], {}, { opset: 24 }).cost).toEqual({ macs: 0, flops: 6 });
    expect(run('TensorScatter', [t([2, 4, 16, 8]), t([2, 4, 1, 8]), t([2], I64)], {}, { opset: 24 }).out[0].shape).toEqual([2, 4, 16, 8]);
  });
});

describe('Optional and string ops', () => {
  it('Optional passes its content through; OptionalHasElement is a bool scalar', () => {
    expect(run('Optional', [t([4], I64, [1, 2, 3, 4])], {}, { opset: 15 }).out[0]).toEqual({ dtype: I64, shape: [4], value: [1, 2, 3, 4] });
    expect(run('OptionalGetElement', [t([2, 3])], {}, { opset: 18 }).out[0].shape).toEqual([2, 3]);
    expect(run('OptionalHasElement', [t([2, 3])], {}, { opset: 18 }).out[0]).toEqual({ dtype: BOOL, shape: [] });
    expect(run('OptionalHasElement', [], {}, { opset: 18 }).out[0]).toEqual({ dtype: BOOL, shape: [], value: [0] });
  });

  it('StringNormalizer, TfIdfVectorizer, RegexFullMatch, StringConcat, StringSplit', () => {
    expect(run('StringNormalizer', [t([2], STR)], { is_case_sensitive: 1 }).out[0]).toEqual({ dtype: STR, shape: [2] });
    expect(() => run('StringNormalizer', [t([4], STR)], { stopwords: ['monday'] })).toThrow(UnknownShape);
    const tf = run('TfIdfVectorizer', [t([2, 6], I64)], { ngram_indexes: [0, 1, 2, 3, 4, 5, 6], mode: 'TF' });
    expect(tf.out[0]).toEqual({ dtype: F, shape: [2, 7] });
    expect(tf.cost).toEqual({ macs: 0, flops: 0 });
    expect(run('RegexFullMatch', [t([3], STR)], { pattern: 'a+' }, { opset: 20 }).out[0]).toEqual({ dtype: BOOL, shape: [3] });
    expect(run('StringConcat', [t([2, 1], STR), t([3], STR)], {}, { opset: 20 }).out[0].shape).toEqual([2, 3]);
    const split = run('StringSplit', [t([2, 3], STR)], {}, { opset: 20, outputs: 2 });
    expect(split.out).toEqual([{ dtype: STR, shape: null }, { dtype: I64, shape: [2, 3] }]);
  });
});
