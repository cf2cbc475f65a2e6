import type { LayerReason } from './messages.js';
/** The `mbn.separate/1` contract (report/separate-report.ts builds the document). */
import type { Gap } from './analyze.js';
import type { CalibrationBatches, OutputCheck } from './output-check.js';

/**
 * What `mbn separate` (and its calibration) says, as data: a `code` a library caller can switch on and the figures
 * the sentence needs. The words, and the CLI flags they name, are report/separate-report.ts's; README "Message
 * codes" lists the codes.
 */

/** Why a conv is left alone (`CandidateLayer.skipped`). */
export type SkipReason =
  /** QLinearConv or ConvInteger: separate the float model. */
  | { code: 'quantized-conv'; opType: string }
  | { code: 'qdq-conv' }
  | { code: 'in-function' }
  /** The weight's dims are unknown; `why` is shape inference's own reason (null: no shape). */
  | { code: 'weight-shape-unknown'; why: LayerReason | null }
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

/** The calibration's notes (`CalibrationSummary.notes`). */
export type CalibrationNote =
  | { code: 'random-data' }
  /** Fewer than 4 batches: the output check ran on the batches the fit used. */
  | { code: 'check-on-fit-batches' }
  | { code: 'no-onnxruntime' }
  /** `--init he`: the new weights are random, nothing was fitted. */
  | { code: 'random-init-not-fitted' }
  /** `convs` convs share their weights with others: each shared weight was fitted once, on all its uses. */
  | { code: 'shared-weights-fitted-together'; convs: number }
  /** `--refit-depthwise`: the filters of `refitted` of `layers` layers moved. */
  | { code: 'depthwise-refitted'; refitted: number; layers: number }
  | { code: 'ranks-chosen-on-data' };

/** Why a rewritten conv kept its SVD weights (`LayerFit.kept`). */
export type KeptReason =
  | { code: 'in-loop-body' }
  | { code: 'shares-weight-with-loop-body' }
  /** The --target-macs probe picks a rank per conv; the uses of one weight need one rank. */
  | { code: 'shared-weight-one-rank' }
  /** One use of the weight feeds another: their inputs depend on the weights being fitted. */
  | { code: 'shared-weight-chained' }
  | { code: 'branch-not-run' };

/**
 * The verdict on the worst output's relative error e on the check batches (separate --calibrate and quantize):
 * `outputs-kept` (e ≤ 0.01), `small-error` (e ≤ 0.1: check the task metric before use), `large-error` (above).
 */
export type VerdictCode = 'outputs-kept' | 'small-error' | 'large-error';

/** The calibration part of `mbn.separate/1`: each message in words and, beside it, as data (`…Code`). */
export interface CalibrationJson extends CalibrationBatches {
  /** Per rewritten conv: its output error on the fitting data with SVD weights and after the refit. */
  layers: { name: string; svdError: number | null; refitError: number | null; kept: string | null; keptCode: KeptReason | null; filterRounds?: number; uses?: number }[];
  /** Per graph output of the rewritten vs the original model on the verification batches; null: not run. */
  outputs: OutputCheck[] | null;
  /** The same check for the plain SVD rewrite (before the refit), for comparison; null when nothing was refitted. */
  svdOutputs: OutputCheck[] | null;
  notes: string[];
  noteCodes: CalibrationNote[];
  verdict: string | null;
  verdictCode: { code: VerdictCode; error: number } | null;
}

export interface SeparatedLayerRow {
  name: string;
  depthwise: string;
  pointwise: string;
  M: number;
  N: number;
  group: number;
  kernel: number[];
  multiplier: number;
  /** Executions per inference: 0 for a conv in an If branch that is not counted (rewritten all the same). */
  executions: number;
  /** One execution's MACs; null when the conv's output shape is unknown. */
  macs: number | null;
  macsAfter: number | null;
  params: number;
  paramsAfter: number;
  /** (depthwise + pointwise MACs) / original MACs, measured by analyzing the rewritten model. */
  measuredRatio: number | null;
  /** r·(g/N + 1/K): MobileNet's 1/N + 1/D_K² for r = 1, g = 1. */
  theoreticalRatio: number;
  relativeError: number | null;
}

/** The schema id of `mbn separate --format json`. */
export const SEPARATE_SCHEMA = 'mbn.separate/1';

/** The `mbn.separate/1` document (`mbn separate --format json`, and what the library's `separate` returns). */
export interface SeparateJson {
  schema: typeof SEPARATE_SCHEMA;
  input: string;
  /** The file written; null for a dry run. */
  output: string | null;
  dryRun: boolean;
  /** null: a figure mbn could not compute (see `notes`), never a partial sum. */
  totals: { macsBefore: number | null; macsAfter: number | null; paramsBefore: number; paramsAfter: number };
  /** With a MACs target: whether it is met and the figure reached. */
  target: { macs: number; met: boolean } | null;
  layers: SeparatedLayerRow[];
  /** `reason` in words; `reasonCode` the same as data. */
  skipped: { name: string; op: string; reason: string; reasonCode: SkipReason }[];
  notes: string[];
  /** `notes` as data, in the same order. */
  noteCodes: SeparationNote[];
  /** With calibration data: the fit, the output check and its verdict. */
  calibration?: CalibrationJson;
  /** With --torch-plan: the folder written, its convs, and the ONNX nodes whose module path is unknown. */
  torchPlan?: { dir: string; convs: number; unmapped: string[] };
}
