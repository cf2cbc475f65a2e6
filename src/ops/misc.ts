import { DataType } from '../onnx/dtype.js';
import { NO_COST, type RuleContext, ShapeError, type TensorState, UnknownShape, broadcast, defineOps, elements } from './define.js';

/**
 * The rest of the default domain: losses, signal processing (DFT, STFT, windows, MelWeightMatrix), random
 * generators, Det, attention-era ops (Attention, RotaryEmbedding, Swish, TensorScatter), Optional and string ops.
 * Sequence-typed ops (Sequence*, SplitToSequence, ConcatFromSequence) are not here: TensorState holds tensors only.
 *
 * Counting convention (FLOPs unless stated; T = target elements, S = score elements):
 * - NegativeLogLikelihoodLoss: 1 per target element (the negated, weighted pick), + 1 per target element for the
 *   sum when reduction is sum or mean (default mean). SoftmaxCrossEntropyLoss: the same plus LogSoftmax's 3 per
 *   score element (softmax.ts convention). Outputs: reduction none → target's shape; sum/mean → a scalar [].
 * - DFT: 5·n·log2(n) per 1-D transform of length n (the FFT count FFTW's benchmarks use), times the number of
 *   transforms (input elements / (n_in · last dim)). STFT: the same per frame with n = frame_length, plus one
 *   multiply per frame sample when a window is given.
 * - Generators (HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix, RandomNormal(Like), RandomUniform(Like),
 *   Bernoulli): 1 per output element. Multinomial: 1 per input element (the cumulative sum) + 1 per sample.
 * - Det: an LU factorization, round(2·M³/3) per M×M matrix.
 * - Attention (opset 23): MACs = B·q_heads·q_seq·total_seq·(head_size + v_head_size) (Q·Kᵀ and P·V, as MatMul
 *   counts them), FLOPs = 4 per score element (scale 1 + softmax 3), + 1 with a mask or is_causal.
 *   RotaryEmbedding: 3 per rotated element (two multiplies and an add), i.e. 3·elements·(rotary_dim/head_size).
 *   Swish: 1 per element (activation.ts convention).
 * - Optional, OptionalGetElement, OptionalHasElement, TensorScatter and string ops: 0.
 * Data-dependent output shapes (StringNormalizer with stopwords, StringSplit's Y, ImageDecoder) are UnknownShape.
 */

const GENERATORS = new Set([
  'HannWindow', 'HammingWindow', 'BlackmanWindow', 'MelWeightMatrix',
  'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli',
]);

function scalar(ctx: RuleContext, i: number, what: string): number {
  const v = ctx.values(i);
  if (v.length !== 1) throw new ShapeError(`${ctx.node.opType} ${what} must be a single value, got ${v.length}`);
  return Math.trunc(v[0]);
}

// ---- losses ----

function lossShapes(ctx: RuleContext): { loss: number[]; target: number[]; scores: number[] } {
  const op = ctx.node.opType;
  const scores = ctx.shape(0);
  const target = ctx.shape(1);
  if (scores.length < 2) throw new ShapeError(`${op} input must be [N, C, …], got [${scores.join(',')}]`);
  const expected = [scores[0], ...scores.slice(2)];
  if (target.join(',') !== expected.join(',')) {
    throw new ShapeError(`${op} target [${target.join(',')}] does not match input [${scores.join(',')}] (expected [${expected.join(',')}])`);
  }
  const w = ctx.has(2) ? ctx.inputs[2]?.shape : null;
  if (w && (w.length !== 1 || w[0] !== scores[1])) throw new ShapeError(`${op} weight [${w.join(',')}] must be [${scores[1]}]`);
  const reduction = ctx.string('reduction', 'mean');
  if (!['none', 'sum', 'mean'].includes(reduction)) throw new ShapeError(`${op} has an invalid reduction '${reduction}'`);
  return { loss: reduction === 'none' ? target.slice() : [], target, scores };
}

// ---- signal ----

/** log2 cost of an FFT of length n: 5·n·log2(n) (0 for n ≤ 1). */
function fft(n: number): number {
  return n > 1 ? 5 * n * Math.log2(n) : 0;
}

function dft(ctx: RuleContext): { out: number[]; n: number; transforms: number } {
  const x = ctx.shape(0);
  const r = x.length;
  if (r < 3 || (x[r - 1] !== 1 && x[r - 1] !== 2)) throw new ShapeError(`DFT input must be [batch, …signal, 1|2], got [${x.join(',')}]`);
  let axis: number;
  if (ctx.opset >= 20) axis = ctx.has(2) ? scalar(ctx, 2, 'axis') : -2;
  else axis = ctx.int('axis', 1);
  // Accepted: [−r, −2] ∪ [0, r − 2]; the last dim holds the real/imaginary parts and is not transformed.
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r - 2) throw new ShapeError(`DFT axis ${axis} is not a signal axis of [${x.join(',')}]`);
  const n = ctx.has(1) ? scalar(ctx, 1, 'dft_length') : x[a];
  if (n < 1) throw new ShapeError(`DFT dft_length ${n} must be positive`);
  const onesided = ctx.int('onesided', 0) === 1;
  if (onesided && ctx.int('inverse', 0) === 1) throw new ShapeError('DFT onesided and inverse cannot both be set');
  const out = x.slice();
  out[a] = onesided ? Math.floor(n / 2) + 1 : n;
  out[r - 1] = 2;
  return { out, n, transforms: elements(x) / (x[a] * x[r - 1]) };
}

function stft(ctx: RuleContext): { out: number[]; frameLength: number; frames: number } {
  const x = ctx.shape(0);
  if (x.length !== 3 || (x[2] !== 1 && x[2] !== 2)) throw new ShapeError(`STFT signal must be [batch, length, 1|2], got [${x.join(',')}]`);
  const step = scalar(ctx, 1, 'frame_step');
  let frameLength: number;
  if (ctx.has(3)) frameLength = scalar(ctx, 3, 'frame_length');
  else if (ctx.has(2)) {
    const w = ctx.shape(2);
    if (w.length !== 1) throw new ShapeError(`STFT window must be 1-D, got [${w.join(',')}]`);
    frameLength = w[0];
  } else throw new ShapeError('STFT needs a window or a frame_length');
  if (step < 1 || frameLength < 1 || frameLength > x[1]) throw new ShapeError(`STFT frame_step ${step}, frame_length ${frameLength} do not fit signal length ${x[1]}`);
  const frames = Math.floor((x[1] - frameLength) / step) + 1;
  const bins = ctx.int('onesided', 1) === 1 ? Math.floor(frameLength / 2) + 1 : frameLength;
  return { out: [x[0], frames, bins, 2], frameLength, frames };
}

// ---- attention ----

interface AttentionDims {
  b: number;
  qHeads: number;
  kvHeads: number;
  qSeq: number;
  total: number;
  head: number;
  vHead: number;
  threeD: boolean;
  past: number;
}

function attention(ctx: RuleContext): AttentionDims {
  const q = ctx.shape(0);
  const k = ctx.shape(1);
  const v = ctx.shape(2);
  let d: Omit<AttentionDims, 'total' | 'past'> & { kvSeq: number };
  if (q.length === 4) {
    if (k.length !== 4 || v.length !== 4) throw new ShapeError('Attention Q, K, V must all be 4-D or all 3-D');
    if (k[3] !== q[3] || k[0] !== q[0] || v[0] !== q[0] || v[1] !== k[1] || v[2] !== k[2]) {
      throw new ShapeError(`Attention Q [${q.join(',')}], K [${k.join(',')}], V [${v.join(',')}] do not match`);
    }
    d = { b: q[0], qHeads: q[1], kvHeads: k[1], qSeq: q[2], kvSeq: k[2], head: q[3], vHead: v[3], threeD: false };
  } else if (q.length === 3) {
    if (k.length !== 3 || v.length !== 3) throw new ShapeError('Attention Q, K, V must all be 4-D or all 3-D');
    const qHeads = ctx.int('q_num_heads', 0);
    const kvHeads = ctx.int('kv_num_heads', 0);
    if (qHeads < 1 || kvHeads < 1) throw new ShapeError('Attention with 3-D inputs needs q_num_heads and kv_num_heads');
    if (q[2] % qHeads || k[2] % kvHeads || v[2] % kvHeads) throw new ShapeError('Attention hidden sizes are not divisible by the head counts');
    const head = q[2] / qHeads;
    if (k[2] / kvHeads !== head || v[1] !== k[1]) throw new ShapeError(`Attention Q [${q.join(',')}], K [${k.join(',')}], V [${v.join(',')}] do not match`);
    d = { b: q[0], qHeads, kvHeads, qSeq: q[1], kvSeq: k[1], head, vHead: v[2] / kvHeads, threeD: true };
  } else throw new ShapeError(`Attention Q must be 3-D or 4-D, got [${q.join(',')}]`);
  if (d.qHeads % d.kvHeads !== 0) throw new ShapeError(`Attention q heads ${d.qHeads} are not a multiple of kv heads ${d.kvHeads}`);
  const pk = ctx.has(4) ? ctx.shape(4) : null;
  const past = pk ? pk[2] : 0;
  return { ...d, total: past + d.kvSeq, past };
}

// ---- the rule ----

export const miscOps = defineOps({
  ops: [
    'NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss', 'DFT', 'STFT', ...GENERATORS, 'Multinomial', 'Det',
    'Attention', 'RotaryEmbedding', 'Swish', 'TensorScatter',
    'Optional', 'OptionalGetElement', 'OptionalHasElement',
    'StringNormalizer', 'TfIdfVectorizer', 'RegexFullMatch', 'StringConcat', 'StringSplit', 'ImageDecoder',
  ],
  infer(ctx) {
    const op = ctx.node.opType;
    switch (op) {
      case 'NegativeLogLikelihoodLoss':
        return [{ dtype: ctx.input(0).dtype, shape: lossShapes(ctx).loss }];
      case 'SoftmaxCrossEntropyLoss': {
        const { loss, scores } = lossShapes(ctx);
        const dtype = ctx.input(0).dtype;
        return [{ dtype, shape: loss }, { dtype, shape: scores.slice() }];
      }
      case 'DFT':
        return [{ dtype: ctx.input(0).dtype, shape: dft(ctx).out }];
      case 'STFT':
        return [{ dtype: ctx.input(0).dtype, shape: stft(ctx).out }];
      case 'HannWindow':
      case 'HammingWindow':
      case 'BlackmanWindow': {
        const size = scalar(ctx, 0, 'size');
        if (size < 0) throw new ShapeError(`${op} size ${size} is negative`);
        return [{ dtype: ctx.int('output_datatype', DataType.FLOAT), shape: [size] }];
      }
      case 'MelWeightMatrix': {
        const bins = scalar(ctx, 0, 'num_mel_bins');
        const length = scalar(ctx, 1, 'dft_length');
        if (bins < 1 || length < 1) throw new ShapeError(`MelWeightMatrix num_mel_bins ${bins} and dft_length ${length} must be positive`);
        return [{ dtype: ctx.int('output_datatype', DataType.FLOAT), shape: [Math.floor(length / 2) + 1, bins] }];
      }
      case 'RandomNormal':
      case 'RandomUniform': {
        const shape = ctx.intsOrNull('shape');
        if (!shape) throw new ShapeError(`${op} has no shape attribute`);
        return [{ dtype: ctx.int('dtype', DataType.FLOAT), shape: shape.slice() }];
      }
      case 'RandomNormalLike':
      case 'RandomUniformLike':
      case 'Bernoulli': {
        const x = ctx.input(0);
        return [{ dtype: ctx.int('dtype', x.dtype), shape: ctx.shape(0).slice() }];
      }
      case 'Multinomial': {
        const x = ctx.shape(0);
        if (x.length !== 2) throw new ShapeError(`Multinomial input must be [batch, classes], got [${x.join(',')}]`);
        return [{ dtype: ctx.int('dtype', DataType.INT32), shape: [x[0], ctx.int('sample_size', 1)] }];
      }
      case 'Det': {
        const x = ctx.shape(0);
        const r = x.length;
        if (r < 2 || x[r - 1] !== x[r - 2]) throw new ShapeError(`Det input must be [*, M, M], got [${x.join(',')}]`);
        return [{ dtype: ctx.input(0).dtype, shape: x.slice(0, -2) }];
      }
      case 'Attention': {
        const d = attention(ctx);
        const dtype = ctx.input(0).dtype;
        const y = d.threeD ? [d.b, d.qSeq, d.qHeads * d.vHead] : [d.b, d.qHeads, d.qSeq, d.vHead];
        return [
          { dtype, shape: y },
          { dtype, shape: [d.b, d.kvHeads, d.total, d.head] },
          { dtype, shape: [d.b, d.kvHeads, d.total, d.vHead] },
          { dtype, shape: [d.b, d.qHeads, d.qSeq, d.total] },
        ];
      }
      case 'RotaryEmbedding':
      case 'Swish':
        return [{ dtype: ctx.input(0).dtype, shape: ctx.shape(0).slice() }];
      case 'TensorScatter':
        return [{ dtype: ctx.input(0).dtype, shape: ctx.shape(0).slice() }];
      case 'Optional':
      case 'OptionalGetElement': {
        // The optional's content passes through (an empty Optional has no shape).
        if (!ctx.has(0)) throw new UnknownShape();
        const x = ctx.input(0);
        return [{ ...x, shape: ctx.shape(0).slice() }];
      }
      case 'OptionalHasElement': {
        const s: TensorState = { dtype: DataType.BOOL, shape: [] };
        if (!ctx.has(0)) s.value = [0];
        return [s];
      }
      case 'StringNormalizer': {
        const x = ctx.shape(0);
        if (!(x.length === 1 || (x.length === 2 && x[0] === 1))) throw new ShapeError(`StringNormalizer input must be [C] or [1, C], got [${x.join(',')}]`);
        const stop = ctx.attribute('stopwords');
        if (stop && stop.data.type === 'strings' && stop.data.value.length > 0) {
          throw new UnknownShape('output shape unknown: with stopwords the output length is only known at run time');
        }
        return [{ dtype: DataType.STRING, shape: x.slice() }];
      }
      case 'TfIdfVectorizer': {
        const x = ctx.shape(0);
        const idx = ctx.ints('ngram_indexes', []);
        if (idx.length === 0) throw new ShapeError('TfIdfVectorizer has no ngram_indexes');
        const size = Math.max(...idx) + 1;
        if (x.length === 1) return [{ dtype: DataType.FLOAT, shape: [size] }];
        if (x.length === 2) return [{ dtype: DataType.FLOAT, shape: [x[0], size] }];
        throw new ShapeError(`TfIdfVectorizer input must be [C] or [N, C], got [${x.join(',')}]`);
      }
      case 'RegexFullMatch':
        return [{ dtype: DataType.BOOL, shape: ctx.shape(0).slice() }];
      case 'StringConcat':
        return [{ dtype: DataType.STRING, shape: broadcast([ctx.shape(0), ctx.shape(1)], ctx.node) }];
      case 'StringSplit':
        // Y's last dim is the largest number of pieces, known at run time only.
        return [{ dtype: DataType.STRING, shape: null }, { dtype: DataType.INT64, shape: ctx.shape(0).slice() }];
      default:
        // ImageDecoder: [H, W, C] of the decoded image.
        throw new UnknownShape('output shape unknown: the decoded image size is only known at run time');
    }
  },
  cost(ctx, outputs) {
    const op = ctx.node.opType;
    const out = outputs[0].shape!;
    if (GENERATORS.has(op)) return { macs: 0, flops: elements(out) };
    switch (op) {
      case 'NegativeLogLikelihoodLoss':
      case 'SoftmaxCrossEntropyLoss': {
        const { target, scores } = lossShapes(ctx);
        const t = elements(target);
        const nll = ctx.string('reduction', 'mean') === 'none' ? t : 2 * t;
        return { macs: 0, flops: nll + (op === 'SoftmaxCrossEntropyLoss' ? 3 * elements(scores) : 0) };
      }
      case 'DFT': {
        const { n, transforms } = dft(ctx);
        return { macs: 0, flops: Math.round(transforms * fft(n)) };
      }
      case 'STFT': {
        const { frameLength, frames } = stft(ctx);
        const batch = ctx.shape(0)[0];
        const window = ctx.has(2) ? frameLength : 0;
        return { macs: 0, flops: Math.round(batch * frames * (fft(frameLength) + window)) };
      }
      case 'Multinomial':
        return { macs: 0, flops: elements(ctx.shape(0)) + elements(out) };
      case 'Det': {
        const x = ctx.shape(0);
        const m = x[x.length - 1];
        return { macs: 0, flops: elements(x.slice(0, -2)) * Math.round((2 * m ** 3) / 3) };
      }
      case 'Attention': {
        const d = attention(ctx);
        const scores = d.b * d.qHeads * d.qSeq * d.total;
        const masked = ctx.has(3) || ctx.int('is_causal', 0) === 1;
        return { macs: scores * (d.head + d.vHead), flops: scores * (masked ? 5 : 4) };
      }
      case 'RotaryEmbedding': {
        const x = ctx.shape(0);
        const head = x.length === 4 ? x[3] : x[x.length - 1] / Math.max(1, ctx.int('num_heads', 1));
        const rot = ctx.int('rotary_embedding_dim', 0) || head;
        return { macs: 0, flops: Math.round((3 * elements(x) * rot) / head) };
      }
      case 'Swish':
        return { macs: 0, flops: elements(out) };
      default:
        return NO_COST;
    }
  },
  traits(ctx) {
    return ctx.node.opType === 'Attention' ? { kind: 'attention' } : null;
  },
});

