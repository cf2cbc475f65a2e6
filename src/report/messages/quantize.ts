import type { FloatReason, NotEqualizedReason, QuantizeNote } from '../../contract/quantize.js';
import { type Words, wordsOf } from '../words.js';
import { shortMs, shortUs } from '../units.js';

/** The words of `mbn quantize`, one entry per message code (contract/quantize.ts): the only place they are written. */
const FLOAT_TEXT: Words<FloatReason> = {
  'weight-dtype': (m) => `weights are ${m.dtype} (mbn quantize reads float32 weights)`,
  'weight-rank': (m) => `weight of rank ${m.rank}`,
  'grouped-conv-transpose': () => 'grouped ConvTranspose (its output channels are not one weight axis)',
  'gemm-first-operand': () => 'Gemm with a transposed or constant first operand',
  'matmul-weight-not-right-2d': () => 'MatMul weight that is not a 2-D right operand',
  'shared-weight': () => 'its weight is shared with another node (one int8 copy per use is not written)',
  'bias-not-float32': () => 'its bias is not a float32 constant',
  'not-included': () => 'not matched by --include',
  excluded: () => 'matched by --exclude',
  'input-not-produced': () => 'its input was not produced on the calibration data',
  'kept-by-max-error': (m) => `kept float by --max-error ${m.maxError} (among the most sensitive layers)`,
  'int8-slower-on-device': (m) => `int8 predicted no faster on ${m.device}: the model ${shortUs(m.int8Ms)} with it int8, ${shortUs(m.floatMs)} float`,
  'int8-no-saving-on-device': (m) => `int8 predicted no faster on ${m.device}`,
  'not-needed-for-target-latency': () => 'not needed to meet --target-latency',
};

const NOT_EQUALIZED_TEXT: Words<NotEqualizedReason> = {
  'not-homogeneous': (m) => `${m.op} between them is not positively homogeneous (see README: Quantize)`,
};

const NOTE_TEXT: Words<QuantizeNote> = {
  'default-random-data': () => 'no --calibrate: the ranges come from 8 random batches, which say little about a trained model; give a folder of real inputs (.npy)',
  'random-data': () => 'random calibration data says little about a trained model: a folder of real inputs (.npy) gives figures you can trust',
  'check-on-range-batches': () => 'fewer than 4 calibration batches: the output check ran on the batches the ranges came from',
  'max-error-unmet': (m) => `--max-error ${m.maxError} cannot be met even with every layer float (the opset change alone or the data differ)`,
  'target-latency-met': (m) => `--target-latency: predicted latency on ${m.device} ${shortMs(m.beforeMs)} → ${shortMs(m.afterMs)} (${m.int8Layers} layer${m.int8Layers === 1 ? '' : 's'} int8, by predicted time saved)`,
  'target-latency-unmet': (m) => `--target-latency cannot be met: quantizing every layer predicted to save time gives ${shortMs(m.bestMs)} on ${m.device}`,
};


export const floatReasonText = (m: FloatReason): string => wordsOf(FLOAT_TEXT, m);
export const notEqualizedText = (m: NotEqualizedReason): string => wordsOf(NOT_EQUALIZED_TEXT, m);
export const quantizeNoteText = (m: QuantizeNote): string => wordsOf(NOTE_TEXT, m);

/** Every code these tables word (README, "Message codes"). */
export const QUANTIZE_CODES: readonly string[] = [...Object.keys(FLOAT_TEXT), ...Object.keys(NOT_EQUALIZED_TEXT), ...Object.keys(NOTE_TEXT)];
