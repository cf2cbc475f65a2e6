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
  /** `deviationSkipped` as data. */
  deviationSkippedCode: DeviationSkip | null;
  notes: string[];
  /** `notes` as data, in the same order. */
  noteCodes: RewriteNote[];
}

/**
 * What `mbn rewrite` says, as data: a `code` and the figures the sentence needs (the words are
 * report/rewrite-report.ts's; README "Message codes").
 */
export type RewriteNote =
  /** Patterns on a type other than float32 left as they are (ONNX Runtime's CPU kernels are float32 only). */
  | { code: 'non-float32-left'; patterns: number }
  /** Below opset 14 each swish became x·HardSigmoid(x). */
  | { code: 'hard-sigmoid-form'; opset: number }
  /** Swish/SiLU ops (not the Mul(x, Sigmoid(x)) form) left as they are; `names`: the first three. */
  | { code: 'swish-ops-left'; ops: number; names: string[] }
  | { code: 'subgraphs-left' };

/** Why the output deviation was not measured. */
export type DeviationSkip =
  /** onnxruntime-node is missing, or the input model does not run: the error's own line. */
  | { code: 'cannot-run'; message: string }
  | { code: 'input-shape-unknown'; input: string }
  | { code: 'nothing-rewritten' }
  | { code: 'external-data-dry-run' };
