import type { Gap } from '../cost/analyze.js';

/**
 * What `mbn separate` and `mbn rewrite` say, as data: a `code` a library caller can switch on and the figures the
 * sentence needs. The words (and the CLI flags they name) are in src/report/ (separate-report.ts, rewrite-report.ts),
 * one table per command; README "Message codes" lists the codes.
 */

/** Why a conv is left alone (`CandidateLayer.skipped`). */
export type SkipReason =
  /** QLinearConv or ConvInteger: separate the float model. */
  | { code: 'quantized-conv'; opType: string }
  | { code: 'qdq-conv' }
  | { code: 'in-function' }
  /** The weight's dims are unknown; `why` is shape inference's own reason (null: no shape). */
  | { code: 'weight-shape-unknown'; why: string | null }
  | { code: 'already-pointwise' }
  | { code: 'already-depthwise' }
  | { code: 'weight-not-constant' }
  | { code: 'weight-dtype'; dtype: string }
  | { code: 'not-included' }
  | { code: 'excluded' }
  /** The pair would cost `ratio` (≥ 1) of the conv. */
  | { code: 'costlier'; ratio: number }
  | { code: 'below-min-reduction'; saving: number; minReduction: number }
  /** The weight error exceeds the limit; `rank` set when every rank that saves MACs was tried. */
  | { code: 'weight-error'; error: number; maxError: number; rank: number | null }
  /** With calibration data: the refitted output error exceeds the limit at every rank (`error` null: not measured at that rank). */
  | { code: 'output-error'; error: number | null; maxError: number; rank: number }
  | { code: 'not-needed-for-target-macs' }
  | { code: 'no-predicted-saving'; device: string }
  | { code: 'not-needed-for-target-latency' }
  | { code: 'not-selected' };

/** The plan's notes (`SeparationPlan.notes`). */
export type SeparationNote =
  /** An include pattern matched no conv; `convs`: the first few conv names, `total`: how many there are. */
  | { code: 'include-matches-nothing'; pattern: string; convs: string[]; total: number }
  | { code: 'target-latency-met'; device: string; fromMs: number; toMs: number; convs: number }
  | { code: 'target-latency-unmet'; device: string; ms: number }
  /** From the weights; with calibration data `maxError` says whether the error limit applied (null: none). */
  | { code: 'target-macs-unmet'; macs: number; onData: boolean; maxError: number | null }
  | { code: 'costlier-rewritten'; convs: number }
  /** The model's MACs are unknown: the analysis's own gaps (worded as every gate words them), or convs of unknown output shape. */
  | { code: 'macs-unknown'; gaps: Gap[]; unknownConvs: number };

/** The notes of `mbn rewrite` (hard-swish.ts), and why the output deviation was not measured. */
export type RewriteNote =
  | { code: 'non-float32-left'; patterns: number }
  | { code: 'hard-sigmoid-form'; opset: number }
  | { code: 'swish-ops-left'; ops: number; names: string[] }
  | { code: 'subgraphs-left' };

export type DeviationSkip =
  /** onnxruntime-node is missing, or an input's shape is unknown, or the input model does not run: the error's own line. */
  | { code: 'cannot-run'; message: string }
  | { code: 'nothing-rewritten' }
  | { code: 'external-data-dry-run' };
