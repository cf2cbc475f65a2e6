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
  /** Conv → BatchNormalization pairs folded into one Conv before quantizing. */
  foldBatchNorm: boolean;
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
  | { code: 'kept-by-max-error'; maxError: number }
  /** `--device`: the whole model is predicted no faster with this layer int8 (`int8Ms`) than float (`floatMs`). */
  | { code: 'int8-slower-on-device'; device: string; int8Ms: number; floatMs: number }
  /** `--target-latency`: the layer's int8 form was predicted to save no time, so it was not a candidate. */
  | { code: 'int8-no-saving-on-device'; device: string }
  /** `--target-latency`: the target was met before this layer's turn. */
  | { code: 'not-needed-for-target-latency' };

/** Why cross-layer equalization could not take a pair: `op` between them is not positively homogeneous. */
export type NotEqualizedReason = { code: 'not-homogeneous'; op: string };

export type QuantizeNote =
  /** No calibration data given: the ranges come from 8 random batches. */
  | { code: 'default-random-data' }
  | { code: 'random-data' }
  /** Fewer than 4 batches: the output check ran on the batches the ranges came from. */
  | { code: 'check-on-range-batches' }
  | { code: 'max-error-unmet'; maxError: number }
  /** `--target-latency` met: predicted `beforeMs` (the input) → `afterMs` with `int8Layers` layers int8. */
  | { code: 'target-latency-met'; device: string; beforeMs: number; afterMs: number; int8Layers: number }
  /** `--target-latency` not met: `bestMs` with every layer predicted to save time in int8. */
  | { code: 'target-latency-unmet'; device: string; bestMs: number };

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

/** `--device`: what the latency model predicts before and after, and its choice. */
export interface QuantizeLatency {
  device: string;
  calibrated: boolean;
  /** Predicted latency of the input model (as given) and of the written int8 model, ms. */
  predicted: { floatMs: number; int8Ms: number };
  /** With every candidate layer int8 (before the device choice), ms. */
  predictedAllInt8Ms: number;
  /** `--target-latency`: the bound and whether the written model's prediction is within it. */
  target: { ms: number; met: boolean } | null;
  /** Layers kept float because the latency model predicts their int8 form no faster (or not needed for the target). */
  keptFloat: number;
}

/** Median latency in ONNX Runtime (`mbn bench`'s method, one thread) of the input and of the written model, ms. */
export interface QuantizeMeasured {
  floatMs: number;
  int8Ms: number;
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
  /** The convs that took the BatchNormalization after them (their names), before anything else. */
  batchNormFolded: string[];
  equalization: { pairs: EqualizedPair[]; skipped: NotEqualized[] };
  outputs: OutputCheck[] | null;
  verdict: string | null;
  verdictCode: { code: VerdictCode; error: number } | null;
  maxError: MaxErrorResult | null;
  weightBytes: BytesBeforeAfter;
  fileBytes: BytesBeforeAfter;
  /** `--device` only: predicted latency before and after, and the layers kept float for it. */
  latency?: QuantizeLatency;
  /** With --measure (default with --device): timed in ONNX Runtime. */
  measured?: QuantizeMeasured;
  notes: string[];
  /** `notes` as data, in the same order. */
  noteCodes: QuantizeNote[];
}
