import { quote } from '../../errors.js';
import { clipMiddle } from '../../text.js';
import type { Report } from '../../contract/analyze.js';
import type { CalibrationNote, KeptReason, SeparationNote, SkipReason } from '../../contract/separate.js';
import { type Words, wordsOf } from '../words.js';
import { shortMs } from '../units.js';
import { gateLines, reasonText } from './analyze.js';

/**
 * The words of `mbn separate` (and of its calibration), one entry per message code (contract/separate.ts): the
 * only place they, and the CLI flags they name, are written.
 */
const SKIP_TEXT: Words<SkipReason> = {
  'quantized-conv': (m) => `quantized ${m.opType} (dequantize, separate, then quantize again)`,
  'qdq-conv': () => 'QDQ conv: its weight is dequantized at run time (separate the float model, then quantize it)',
  'in-function': () => 'inside a model-local function',
  'weight-shape-unknown': (m) => `weight shape unknown (${m.why ? reasonText(m.why) : 'no shape'})`,
  'already-pointwise': () => '1×1 conv: already pointwise',
  'already-depthwise': () => 'already depthwise',
  'weight-not-constant': () => 'weight is computed at run time (not a constant)',
  'weight-dtype': (m) => `weight dtype ${m.dtype} is not float32/float16/bfloat16/float64`,
  'not-included': () => 'not matched by --include',
  excluded: () => 'matched by --exclude',
  costlier: (m) => `would ${m.ratio > 1 ? 'cost more' : 'save nothing'} (×${m.ratio.toFixed(2)})`,
  'below-min-reduction': (m) => `saves ${(100 * m.saving).toFixed(1)}% of its MACs, below --min-reduction ${(100 * m.minReduction).toFixed(1)}%`,
  'weight-error': (m) => `weight error ${m.error.toFixed(4)} exceeds --max-error ${m.maxError}${m.rank === null ? '' : ` even at rank ${m.rank}`}`,
  'output-error': (m) => `output error on data${m.error === null ? '' : ` ${m.error.toFixed(4)}`} exceeds --max-error ${m.maxError} even at rank ${m.rank}`,
  'not-needed-for-target-macs': () => 'not needed to meet --target-macs',
  'no-predicted-saving': (m) => `separation is not predicted to save time on ${m.device}`,
  'not-needed-for-target-latency': () => 'not needed to meet --target-latency',
  'not-selected': () => 'not selected',
};

/** How a conv name is shown in the note about an --include that matches nothing. */
const shownConv = (name: string) => quote(clipMiddle(name, 22), 40);

/** `inputs`: the model's inputs, which the words of a gap name (the MACs-unknown note). */
const NOTE_TEXT: Words<SeparationNote, [inputs: Report['model']['inputs']]> = {
  // torch.onnx.export names nodes `/layer1/layer1.0/conv1/Conv`: the usual reason a pattern such as `layer1*` matches nothing.
  'include-matches-nothing': (m) => {
    const more = m.total > m.convs.length ? `, … (${m.total} in all)` : '';
    const listing = m.total ? `convs: ${m.convs.map(shownConv).join(', ')}${more}` : 'the model has no conv';
    return `--include ${quote(m.pattern)} matches no conv (torch.onnx.export names start with '/': --include '/layer1/*'); ${listing}`;
  },
  'target-latency-met': (m) => `--target-latency: predicted latency on ${m.device} ${shortMs(m.fromMs)} → ${shortMs(m.toMs)} (${m.convs} conv${m.convs === 1 ? '' : 's'}, by predicted time saved)`,
  'target-latency-unmet': (m) => `--target-latency cannot be met: separating every conv predicted to save time gives ${shortMs(m.ms)} on ${m.device}`,
  'target-macs-unmet': (m) =>
    m.onData
      ? `--target-macs cannot be met${m.maxError !== null ? ` within --max-error ${m.maxError}` : ''}: the best plan on the data gives ${m.macs} MACs`
      : `--target-macs cannot be met: separating every eligible conv gives ${m.macs} MACs`,
  'costlier-rewritten': (m) => `${m.convs} rewritten conv${m.convs === 1 ? ' costs' : 's cost'} more than before (--allow-costlier): ratio ≥ 1`,
  'macs-unknown': (m, inputs) => `MACs are unknown: ${macsUnknownText(m, inputs)}`,
};

const CALIBRATION_NOTE_TEXT: Words<CalibrationNote> = {
  'random-data': () => 'random calibration data says little about a trained model: a folder of real inputs (.npy) gives figures you can trust',
  'check-on-fit-batches': () => 'fewer than 4 calibration batches: the output check ran on the batches the fit used',
  'no-onnxruntime': () => 'onnxruntime-node is not installed, so nothing was fitted or verified on data (npm install onnxruntime-node); the rewrite uses the SVD weights',
  'random-init-not-fitted': () => '--init he: the new weights are random (for training from scratch), so nothing was fitted; expect a large output error until trained',
  'shared-weights-fitted-together': (m) => `${m.convs} convs share their weights with others: each shared weight was fitted once, on all its uses together (their errors are over all the uses)`,
  'depthwise-refitted': (m) =>
    `--refit-depthwise: the depthwise filters of ${m.refitted} of ${m.layers} layer${m.layers === 1 ? '' : 's'} were refitted (rounds fitted on half the batches and kept while they lowered the error on the other half)`,
  'ranks-chosen-on-data': () => '--target-macs: ranks chosen by the refitted output error of each layer on the calibration data',
};

const KEPT_TEXT: { [K in KeptReason['code']]: string } = {
  'in-loop-body': 'inside a Loop/Scan body: its activations cannot be read',
  'shares-weight-with-loop-body': 'shares its weight with a conv inside a Loop/Scan body',
  'shared-weight-one-rank': 'shares its weight with another conv',
  'shared-weight-chained': 'shares its weight with a conv upstream of it (a use feeds another): not fitted',
  'branch-not-run': 'its If branch did not run on the calibration data',
};

export const skipText = (m: SkipReason): string => wordsOf(SKIP_TEXT, m);
export const separationNoteText = (m: SeparationNote, inputs: Report['model']['inputs']): string => wordsOf(NOTE_TEXT, m, inputs);
export const calibrationNoteText = (m: CalibrationNote): string => wordsOf(CALIBRATION_NOTE_TEXT, m);
export const keptText = (m: KeptReason): string => KEPT_TEXT[m.code];

/** Why the model's MACs are unknown: the analysis's gaps as every gate words them, or the convs of unknown shape. */
export function macsUnknownText(m: Extract<SeparationNote, { code: 'macs-unknown' }>, inputs: Report['model']['inputs']): string {
  if (m.gaps.length) return gateLines(m.gaps, inputs, { configKeys: false }).join('; ');
  const n = m.unknownConvs;
  return `${n} conv${n === 1 ? ' has an' : 's have'} unknown output shape${n === 1 ? '' : 's'} (give the input shapes with --input NAME:…)`;
}

/** Every code these tables word (README, "Message codes"). */
export const SEPARATE_CODES: readonly string[] = [...Object.keys(SKIP_TEXT), ...Object.keys(NOTE_TEXT), ...Object.keys(CALIBRATION_NOTE_TEXT), ...Object.keys(KEPT_TEXT)];
