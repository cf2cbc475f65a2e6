import type { LayerNote, LayerReason, ModelNote } from './messages.js';

/**
 * The `mbn.analyze/1` contract (`mbn analyze --format json`, and what the library's `analyze` returns): the cost
 * report and the types it is made of. Types and the schema id only; cost/analyze.ts builds the report,
 * report/analyze-report.ts writes the document. See the README, "JSON report".
 */

/**
 * What a layer is, as its op rule's traits say (`OpTraits['kind']` in ops/define.ts; cost/analyze.ts assigns one to
 * the other, so the compiler keeps them in step).
 */
export type OpKind = 'conv' | 'matmul' | 'recurrent' | 'attention' | 'quantize' | 'dequantize';

/**
 * What separating a convolution would cost, in the MobileNet paper's terms: M input channels, N output channels,
 * D_K the kernel, D_F the output feature map. Standard: D_K²·M·N·D_F²; depthwise + pointwise (multiplier r):
 * r·(D_K²·M·D_F² + M·N·D_F²). For a grouped conv the pointwise keeps the groups, so the per-group reduction is
 * r·(g/N + 1/K) — the MobileNet 1/N + 1/D_K² with N/g outputs per group.
 */
export interface SeparableInfo {
  M: number;
  N: number;
  group: number;
  kernel: number[];
  /** Output spatial dims (D_F). */
  featureMap: number[];
  multiplier: number;
  macs: number;
  params: number;
  macsAfter: number;
  paramsAfter: number;
  /** Theoretical ratio after/before: r·(g/N + 1/prod(kernel)). */
  reduction: number;
}

/** A layer's numeric precision, read from the model (cost/precision.ts; README, "Precision"): `float32`, `uint8/int8`… */
export type Precision = string;

/** One row of the per-precision breakdown (`byPrecision` in `mbn.analyze/1`). */
export interface PrecisionBreakdown {
  precision: Precision;
  layers: number;
  macs: number;
  params: number;
  /** Stored bytes of the weights these layers read first (each tensor counted once, as the totals do). */
  weightBytes: number;
}

/**
 * The cost report: per-layer MACs, other FLOPs, params, bytes, and for every standard conv what depthwise
 * separation would save. This is the JSON contract of `mbn analyze --format json` (see README, "JSON report").
 */
export interface LayerReport {
  name: string;
  op: string;
  domain: string;
  /**
   * What the layer is, as its op rule says (src/ops, "traits"): 'conv' (Conv, ConvTranspose, QLinearConv,
   * ConvInteger…), 'matmul', 'recurrent', 'attention', 'quantize', 'dequantize'; null for every other op.
   */
  kind: OpKind | null;
  /** Enclosing subgraph ('' for the main graph). */
  scope: string;
  outputShapes: (number[] | null)[];
  /** Per inference: one execution's cost times `executions`. */
  macs: number;
  /** Non-MAC floating-point operations per inference (normalization, activations, pooling, elementwise). */
  otherFlops: number;
  params: number;
  weightBytes: number;
  activationBytes: number;
  /** Executions per inference (loop trip counts; 0 for an If branch not counted). Written `multiplier` in JSON v1. */
  executions: number;
  counted: boolean;
  /** Why the layer is not counted (null when counted), as a code; the document has it in English too (LayerJson). */
  reason: LayerReason | null;
  /** Notes on the layer, as codes; the document has them in English too (LayerJson). */
  notes: LayerNote[];
  separable: SeparableInfo | null;
  /** Numeric precision, from the model (cost/precision.ts): `float32`, `float16`, `uint8/int8` (activations/weights)… */
  precision: Precision;
}

export interface Totals {
  macs: number;
  /** 2·MACs + other FLOPs. */
  flops: number;
  otherFlops: number;
  params: number;
  weightBytes: number;
  /** Largest sum of live activations at any point of a sequential run of the main graph. */
  peakActivationBytes: number;
  layers: number;
  notCounted: number;
  separableLayers: number;
  /** The model's MACs and params if its standard convs were separated (depth multiplier 1; a conv whose pair would cost more is left alone). */
  macsIfSeparated: number;
  paramsIfSeparated: number;
  /** Every layer that runs is counted and every input dim is known (a batch dim assumed 1 aside): see `incomplete`. */
  complete: boolean;
}

/**
 * What keeps a report from being complete: a layer that runs but is not counted, or an input dim (other than the
 * batch dim) that nothing fixed and mbn set to `value`. Gates fail on these unless the op is allowed.
 */
export type Gap =
  | { kind: 'uncounted'; layer: string; op: string; domain: string; reason: LayerReason }
  | { kind: 'assumed-dim'; input: string; dim: number; name: string | null; value: number };

export interface OpBreakdown {
  op: string;
  count: number;
  macs: number;
  otherFlops: number;
  params: number;
}

/** The schema id of a Report rendered as JSON (`mbn analyze --format json`); see the README, "JSON output". */
export const ANALYZE_SCHEMA = 'mbn.analyze/1';

export interface Report {
  model: {
    path: string | null;
    irVersion: number;
    producer: string;
    opsets: Record<string, number>;
    /**
     * `shape` is the shape used. `declaredShape` is the model's own (numbers fixed, strings symbolic names, null
     * unnamed dynamic dims); `assumedDims` are the dims nothing fixed, set to 1 (the batch dim included).
     */
    inputs: { name: string; dtype: string; shape: number[] | null; declaredShape: (number | string | null)[] | null; assumedDims: number[] }[];
    outputs: { name: string; dtype: string; shape: number[] | null }[];
  };
  totals: Totals;
  /** Why the report is not complete (empty when `totals.complete`). */
  incomplete: Gap[];
  byOp: OpBreakdown[];
  weightsByDtype: Record<string, { tensors: number; elements: number; bytes: number }>;
  /** MACs, params and stored weight bytes per layer precision. */
  byPrecision: PrecisionBreakdown[];
  layers: LayerReport[];
  /** Notes on the model, as codes (the document has them in English too). */
  notes: ModelNote[];
}

/** One module's row of the roll-up by name scope (`mbn analyze --depth N`; cost/modules.ts). */
export interface ModuleCost {
  /** Module path joined with '/', e.g. 'layer1/layer1.0'; '' for layers outside any module. */
  name: string;
  /** 1 for top-level modules (and the '' row), 2 for their children, … */
  depth: number;
  /** The enclosing module's name, or null at depth 1. */
  parent: string | null;
  /** Layers in the module and in all modules inside it. */
  layers: number;
  macs: number;
  otherFlops: number;
  /** 2·MACs + other FLOPs. */
  flops: number;
  params: number;
  weightBytes: number;
  /** Sum of the module's layer outputs (bytes written, not the peak). */
  activationBytes: number;
  /** Layers mbn could not count: the module's figures leave them out, so they are lower bounds when this is > 0. */
  notCounted: number;
  /** Its convs that the totals' `separableLayers` counts (a pair that would cost less, in a layer that runs). */
  separableLayers: number;
  /** The module's MACs if its standard convs were separated as the totals' `macsIfSeparated` counts them (multiplier 1). */
  macsIfSeparated: number;
}

/**
 * A layer in `mbn.analyze/1`: the code's `executions` (per inference) is the contract's `multiplier`; `reason` and
 * `notes` are English, `reasonCode` and `noteCodes` the same messages as codes (README, "Message codes").
 */
export type LayerJson = Omit<LayerReport, 'executions' | 'reason' | 'notes'> & {
  multiplier: number;
  reason: string | null;
  reasonCode: LayerReason | null;
  notes: string[];
  noteCodes: LayerNote[];
};

/** A gap in `mbn.analyze/1` (and `mbn.check/1`, `mbn.diff/1`, `mbn.advise/1`): an uncounted layer's `reason` in English, and as a code. */
export type GapJson =
  | (Omit<Extract<Gap, { kind: 'uncounted' }>, 'reason'> & { reason: string; reasonCode: LayerReason })
  | Extract<Gap, { kind: 'assumed-dim' }>;

/**
 * The `mbn.analyze/1` document (`mbn analyze --format json`, and what the library's `analyze` returns): the report
 * with its schema id first and its layers as the contract names them, its messages in English with their codes
 * beside them (`noteCodes`, `reasonCode`); `modules` with --depth (`depth` option).
 */
export type AnalyzeJson = { schema: typeof ANALYZE_SCHEMA } & Omit<Report, 'layers' | 'incomplete' | 'notes'> & {
  incomplete: GapJson[];
  layers: LayerJson[];
  notes: string[];
  noteCodes: ModelNote[];
  modules?: ModuleCost[];
};
