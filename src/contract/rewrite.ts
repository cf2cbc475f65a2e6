/** The `mbn.rewrite/1` contract (`mbn rewrite --format json`; report/rewrite-report.ts builds the document). */
import type { Deviation } from './output-check.js';

/** The ops whose counts `mbn rewrite` reports on each side (report/rewrite-report.ts counts them). */
export type ActivationOp = 'Sigmoid' | 'HardSigmoid' | 'HardSwish' | 'Mul';

/** `mbn rewrite` output; JSON `"schema": "mbn.rewrite/1"`. */
export const REWRITE_SCHEMA = 'mbn.rewrite/1';

export interface HardSwishChange {
  kind: 'swish' | 'gate';
  /** The nodes replaced (Sigmoid, Mul), by name. */
  replaced: string[];
  /** The node that replaces them (or the Sigmoid, below opset 14). */
  node: string;
  op: 'HardSwish' | 'HardSigmoid';
}

/** The model's figures on one side of the rewrite: the ones the activations change, and the op counts they move. */
export interface RewriteFigures {
  macs: number;
  flops: number;
  otherFlops: number;
  params: number;
  /** How many Sigmoid, HardSigmoid, HardSwish and Mul nodes the model has. */
  ops: Record<ActivationOp, number>;
}

/** The `mbn.rewrite/1` document (`mbn rewrite --format json`, and what the library's `rewrite` returns). */
export interface RewriteJson {
  schema: typeof REWRITE_SCHEMA;
  input: string;
  /** The file written; null for a dry run. */
  output: string | null;
  /** The model's default-domain opset: at 14 and above swish becomes HardSwish, below it x·HardSigmoid(x). */
  opset: number;
  changes: HardSwishChange[];
  before: RewriteFigures;
  after: RewriteFigures;
  /** How far the outputs moved in ONNX Runtime; null when not measured (`deviationSkipped` says why). */
  deviation: Deviation | null;
  deviationSkipped: string | null;
  notes: string[];
}

/** What `mbn rewrite` says, as data (the words are report/rewrite-report.ts's; README "Message codes"). */
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
