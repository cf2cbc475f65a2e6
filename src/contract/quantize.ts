/**
 * The `mbn.quantize/1` contract (`mbn quantize --format json`, and what the library's `quantize` returns): one entry
 * per layer that has a constant weight. quantize/summary.ts holds what the command did as data, report/quantize-report.ts
 * builds the document.
 */
import type { CalibrationBatches, OutputCheck } from './output-check.js';
import type { VerdictCode } from './separate.js';

export const QUANTIZE_SCHEMA = 'mbn.quantize/1';

export type RangeMethod = 'minmax' | 'percentile' | 'mse';

export interface QuantizeSettings {
  method: RangeMethod;
  percentile: number | null;
  equalize: boolean;
  biasCorrection: boolean;
  activations: 'uint8';
  weights: 'int8 per channel';
}

export type QuantizeCalibration = CalibrationBatches;

/** A cross-layer equalized pair (first → second, through a ReLU or directly) and the largest |log₂ s| applied. */
export interface EqualizedPair {
  first: string;
  second: string;
  through: string | null;
  maxLog2Scale: number;
}

/**
 * What `mbn quantize` says, as data: a `code` a library caller can switch on and the figures the sentence needs. The
 * words, and the CLI flags they name, are report/quantize-report.ts's; README "Message codes" lists the codes.
 */

/** Why a layer stays float. */
export type FloatReason =
  | { code: 'weight-dtype'; dtype: string }
  | { code: 'weight-rank'; rank: number }
  | { code: 'grouped-conv-transpose' }
  | { code: 'gemm-first-operand' }
  | { code: 'matmul-weight-not-right-2d' }
  | { code: 'shared-weight' }
  | { code: 'bias-not-float32' }
  | { code: 'not-included' }
  | { code: 'excluded' }
  | { code: 'input-not-produced' }
  /** Among the most sensitive layers, kept float to meet the output error limit. */
  | { code: 'kept-by-max-error'; maxError: number };

/** Why cross-layer equalization could not take a pair: `op` between them is not positively homogeneous. */
export type NotEqualizedReason = { code: 'not-homogeneous'; op: string };

export type QuantizeNote =
  /** No calibration data given: the ranges come from 8 random batches. */
  | { code: 'default-random-data' }
  | { code: 'random-data' }
  /** Fewer than 4 batches: the output check ran on the batches the ranges came from. */
  | { code: 'check-on-range-batches' }
  | { code: 'max-error-unmet'; maxError: number };

/** A pair CLE could not take, with the reason in words (`why`) and as data (`whyCode`). */
export interface NotEqualized {
  first: string;
  second: string;
  why: string;
  whyCode: NotEqualizedReason;
}

/** `--max-error`: the limit, whether it is met, and how many sensitivity probes ran. */
export interface MaxErrorResult {
  limit: number;
  met: boolean;
  probes: number;
}

/** Bytes before and after (after: null when nothing was written). */
export interface BytesBeforeAfter {
  before: number;
  after: number | null;
}

/** `mbn quantize --format json`: one entry per layer that has a constant weight. */
export interface QuantizeJson {
  schema: typeof QUANTIZE_SCHEMA;
  input: string;
  output: string;
  opset: { from: number; to: number; nodesChanged: number } | null;
  settings: QuantizeSettings;
  calibration: QuantizeCalibration;
  layers: {
    name: string;
    op: string;
    precision: 'int8' | 'float32';
    /** Input activation range [lo, hi] (uint8 per tensor); null when the layer stayed float before calibration. */
    range: [number, number] | null;
    /** Relative error of this layer's output when it alone is quantized, on the held-back batches. */
    ownError: number | null;
    /** Why the layer stayed float (null when int8), in words and as data. */
    why: string | null;
    whyCode: FloatReason | null;
    equalizedWith: string[];
    /** Largest |change| empirical bias correction made to a bias value. */
    biasCorrection: number | null;
  }[];
  equalization: { pairs: EqualizedPair[]; skipped: NotEqualized[] };
  outputs: OutputCheck[] | null;
  verdict: string | null;
  verdictCode: { code: VerdictCode; error: number } | null;
  maxError: MaxErrorResult | null;
  weightBytes: BytesBeforeAfter;
  fileBytes: BytesBeforeAfter;
  notes: string[];
  /** `notes` as data, in the same order. */
  noteCodes: QuantizeNote[];
}
