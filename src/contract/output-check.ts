/**
 * How far a written model's outputs are from the input model's, as the JSON documents report it: `OutputCheck`
 * (on calibration batches: `mbn separate --calibrate`, `mbn quantize`) and `Deviation` (on random inputs:
 * `mbn rewrite`). Types only; calibrate/collect.ts and bench/compare.ts measure them.
 */

/** The calibration batches a command used (`mbn separate --calibrate`, `mbn quantize`) and how they were split. */
export interface CalibrationBatches {
  source: string;
  kind: 'folder' | 'random';
  batches: number;
  /** Batches the fit (or the ranges) came from. */
  fitBatches: number;
  /** Batches the verification ran on: held back from the fit, or all of them when fewer than 4. */
  verifyBatches: number;
  heldBack: boolean;
}

export interface OutputCheck {
  name: string;
  /** ‖rewritten − original‖ / ‖original‖ over every element of every batch. */
  relativeError: number;
  /** Cosine similarity between the two outputs, flattened over every batch. */
  cosine: number;
  maxAbsDiff: number;
  /** Share of rows whose arg-max over the last dim is unchanged, for class-score-like outputs (float, rank ≤ 3, last dim > 1). */
  top1Agreement: number | null;
}

/**
 * How far a rewritten model's outputs moved from the original's: both run in ONNX Runtime on the same seeded
 * random inputs (uniform in [-1, 1), as `mbn bench` feeds them).
 */
export interface OutputDeviation {
  name: string;
  /** max |rewritten − original| over every element of every sample. */
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** maxAbsDiff / max |original|. */
  relative: number;
  /** For [N, K] and [N, T, K] outputs with K > 1: the share of rows whose arg-max is unchanged. */
  top1Agreement: number | null;
}

export interface Deviation {
  samples: number;
  seed: number;
  outputs: OutputDeviation[];
}
