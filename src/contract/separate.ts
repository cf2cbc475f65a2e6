/** The `mbn.separate/1` contract (report/separate-report.ts builds the document). */
import type { OutputCheck } from './output-check.js';

export interface CalibrationSummary {
  source: string;
  kind: 'folder' | 'random';
  batches: number;
  fitBatches: number;
  /** Batches the verification ran on: held back from the fit, or all of them when fewer than 4. */
  verifyBatches: number;
  heldBack: boolean;
  /** Per rewritten conv: its output error on the fitting data with SVD weights and after the refit. */
  layers: { name: string; svdError: number | null; refitError: number | null; kept: string | null; filterRounds?: number; uses?: number }[];
  /** Per graph output of the rewritten vs the original model on the verification batches; null: not run. */
  outputs: OutputCheck[] | null;
  /** The same check for the plain SVD rewrite (before the refit), for comparison; null when nothing was refitted. */
  svdOutputs: OutputCheck[] | null;
  notes: string[];
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
  skipped: { name: string; op: string; reason: string }[];
  notes: string[];
  /** With calibration data: the fit, the output check and its verdict. */
  calibration?: CalibrationSummary & { verdict: string | null };
  /** With --torch-plan: the folder written, its convs, and the ONNX nodes whose module path is unknown. */
  torchPlan?: { dir: string; convs: number; unmapped: string[] };
}
