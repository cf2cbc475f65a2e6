import type { FindingMessage, FixMessage, StepName } from '../../contract/messages.js';
import { type Words, wordsOf } from '../words.js';

/**
 * The English of `mbn advise`'s findings: each finding's evidence and its fix (src/contract/messages.ts has the codes; README,
 * "Message codes"). CLI flags and commands a fix suggests are named here.
 */

/** A figure: `?` when it is unknown (it would depend on an input dim that was assumed). */
const figure = (n: number | null) => (n === null ? '?' : String(n));

/** A share as a percentage, `?` when unknown. */
const percent = (x: number | null) => (x === null ? '?' : `${(100 * x).toFixed(1)}%`);

/** An expansion ratio: whole numbers as they are, else two decimals. */
const ratio = (x: number) => (Number.isInteger(x) ? `${x}` : x.toFixed(2));

/** A step on a block's path: its op, or what its ops make. */
function stepText(s: StepName): string {
  if ('op' in s) return s.op;
  if ('fused' in s) return `${s.fused} (fused into the projection)`;
  if (s.pattern === 'x-f-x') return `x·f(x) (${s.ops.join(', ')})`;
  return s.pattern === 'swish' ? 'Swish (x·Sigmoid(x))' : s.pattern === 'hard-swish' ? 'HardSwish (x·ReLU6(x+3)/6)' : 'squeeze-and-excite gate';
}

const ORT = { x86: 'ONNX Runtime on x86', avx512: 'ONNX Runtime on AVX-512 CPUs' } as const;

const FINDINGS: Words<FindingMessage> = {
  'separable-conv': (m) =>
    `${m.kernel.join('×')} conv ${m.inChannels}→${m.outChannels}${m.group > 1 ? ` (group ${m.group})` : ''} costs ${figure(m.macs)} MACs, ${percent(m.share)} of the model; as depthwise + pointwise it would cost ${percent(m.reduction)} of that`,
  'channel-alignment': (m) => `${m.channels} output channels, not a multiple of ${m.alignment}: hardware that works in groups of ${m.alignment} or 16 pads them`,
  'bottleneck-nonlinearity': (m) =>
    `${m.activations.map(stepText).join(', then ')} on the output of the 1×1 projection ${m.width}→${m.output} (a narrowing bottleneck)${m.residual ? ', which the residual Add then sums' : ''}: a non-linearity in the bottleneck destroys information the block cannot recover`,
  swish: (m) => `swish x·Sigmoid(x) on ${m.shape ? `[${m.shape.join('×')}]` : 'a tensor of unknown shape'}: Sigmoid needs an exponential per element and quantizes poorly`,
  'swish-op': (m) => `${m.domain ? `${m.domain}::` : ''}${m.op} op: swish needs an exponential per element and quantizes poorly`,
  'sigmoid-gate': (m) => `Sigmoid gate${m.shape ? ` [${m.shape.join('×')}]` : ''} scaling a tensor (squeeze-and-excite): Sigmoid needs an exponential and quantizes poorly`,
  'runtime-conv-depthwise': (m) => `depthwise conv on ${m.channels} channels, not a multiple of 4: ${ORT[m.where]} runs it as im2col + GEMM per channel, not in its depthwise kernel`,
  'runtime-conv-grouped': (m) =>
    `${m.groups} groups of ${m.inPerGroup} → ${m.outPerGroup} channels: ${ORT[m.where]} blocks a grouped conv only with whole blocks of ${m.block} channels per group, so it runs im2col + GEMM per group`,
  'runtime-conv-channels': (m) => `${m.channels} input channels, not a multiple of 4: ${ORT[m.where]} cannot convert them to its blocked layout and runs im2col + GEMM`,
  'inverted-residual-summary': (m) => {
    const ratios = [...new Set(m.expansions.map(ratio))];
    const share = m.share === null ? '' : ` (${(100 * m.share).toFixed(1)}% of the model's MACs)`;
    return `${m.blocks} inverted residual block${m.blocks === 1 ? '' : 's'}, expansion ratios ${ratios.join(', ')}; ${m.residual} with a residual Add${m.squeezeExcite ? `, ${m.squeezeExcite} with squeeze-and-excite` : ''}; ${figure(m.macs)} MACs${share}`;
  },
};

const SEPARATE_HOW = {
  tflite: () => 'separate it in the model’s source (mbn separate rewrites ONNX models)',
  float: (layer: string) => `separate it (mbn separate --include '${layer}')`,
  quantized: () => 'separate it in the float model before quantizing (mbn separate rewrites float convs only)',
} as const;

const FIXES: Words<FixMessage> = {
  'separate-conv': (m) => `${SEPARATE_HOW[m.how](m.layer)} and fine-tune: saves ${figure(m.macsSaved)} MACs (${percent(m.share)} of the model) and ${m.paramsSaved} params`,
  'align-channels': (m) => `use ${m.up} channels (+${figure(m.macsAdded)} MACs in this layer)${m.down > 0 ? ` or ${m.down}` : ''}, as MobileNet's _make_divisible does, and retrain`,
  'linear-projection': () => 'retrain the model with a linear projection (no activation after it); do not just delete the activation from the trained model, which changes its function',
  'hard-swish': (m) =>
    `use HardSwish x·ReLU6(x+3)/6 (${m.format === 'tflite' ? 'HARD_SWISH, in the model’s source' : 'mbn rewrite --hard-swish'}) and fine-tune${m.flopsSaved === null ? '' : `: ${m.flopsSaved} fewer FLOPs by mbn's count (1 per element per op), more on hardware where exp is slow`}`,
  'hard-swish-in-source': () => 'use HardSwish x·ReLU6(x+3)/6 in the model’s source and re-export (mbn rewrite rewrites the Mul(x, Sigmoid(x)) form only)',
  'hard-sigmoid': () => "use HardSigmoid ReLU6(x+3)/6 (alpha 1/6, beta 0.5; mbn rewrite --hard-sigmoid) and fine-tune; same FLOPs by mbn's count, no exponential",
  'keep-stem-dense': (m) => `it reads the model's ${m.channels}-channel input: keep the first conv dense, as MobileNet does (mbn separate --exclude '${m.layer}')`,
  'align-depthwise-channels': (m) => `use ${m.channels} channels (a multiple of 4) in this block, or measure with mbn bench --per-layer`,
  'widen-groups': () => 'use 16 channels per group (fewer, wider groups), or measure with mbn bench --per-layer',
  'align-producer-channels': (m) => `make the producer's channels a multiple of 4 (${m.channels}), or measure with mbn bench --per-layer`,
  'none-needed': () => 'none needed: see the blocks table',
};

/** A finding's evidence in English. */
export function findingText(m: FindingMessage): string {
  return wordsOf(FINDINGS, m);
}

/** A finding's fix in English. */
export function fixText(m: FixMessage): string {
  return wordsOf(FIXES, m);
}

/** Every code this table words. */
export const ADVISE_CODES: readonly string[] = [...Object.keys(FINDINGS), ...Object.keys(FIXES)];
