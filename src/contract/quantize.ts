/**
 * The `mbn.quantize/1` contract (`mbn quantize --format json`, and what the library's `quantize` returns): one entry
 * per layer that has a constant weight. quantize/summary.ts holds what the command did as data, report/quantize-report.ts
 * builds the document.
 */
import type { OutputCheck } from './output-check.js';

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

export interface QuantizeCalibration {
  source: string;
  kind: 'folder' | 'random';
  batches: number;
  fitBatches: number;
  verifyBatches: number;
  heldBack: boolean;
}

/** A cross-layer equalized pair (first → second, through a ReLU or directly) and the largest |log₂ s| applied. */
export interface EqualizedPair {
  first: string;
  second: string;
  through: string | null;
  maxLog2Scale: number;
}

/** A pair CLE could not take, with the reason. */
export interface NotEqualized {
  first: string;
  second: string;
  why: string;
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
    /** Why the layer stayed float (null when int8). */
    why: string | null;
    equalizedWith: string[];
    /** Largest |change| empirical bias correction made to a bias value. */
    biasCorrection: number | null;
  }[];
  equalization: { pairs: EqualizedPair[]; skipped: NotEqualized[] };
  outputs: OutputCheck[] | null;
  verdict: string | null;
  maxError: MaxErrorResult | null;
  weightBytes: BytesBeforeAfter;
  fileBytes: BytesBeforeAfter;
  notes: string[];
}
