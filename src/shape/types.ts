import type { Node } from '../ir/types.js';
import type { Cost, OpTraits, TensorState } from '../ops/define.js';
import type { LayerNote, LayerReason, ModelNote } from '../contract/messages.js';

/** The data shape inference works with and returns (src/shape/infer.ts walks; these are what it makes). */

export interface InferOptions {
  /** Full shapes for named graph inputs. */
  inputShapes?: Map<string, number[]>;
  /** Value for a symbolic first (batch) dim of every graph input. */
  batch?: number;
  /** Known values of graph inputs (--input-value): every element of the input is this value. */
  inputValues?: Map<string, number>;
  /**
   * The branch an If takes, by the If layer's name (--if-branch): in place of the costlier one where its condition is
   * known at run time only (a wake-word model's verifier that runs only when the first stage fires).
   */
  ifBranches?: Map<string, IfBranch>;
  /** Where inputShapes came from, for messages: '--input' (the default) or a config entry's "input". */
  inputOrigin?: string;
}

export type IfBranch = 'then' | 'else';

/** A dim of a graph input that nothing fixed (no --input, --batch or fixed dim elsewhere): mbn used `value`. */
export interface AssumedDim {
  input: string;
  dim: number;
  /** The symbolic name the model gives the dim, or null for an unnamed dynamic dim. */
  name: string | null;
  value: number;
  /** The first dim: the per-sample (batch 1) convention, not a gap in the analysis. */
  batch: boolean;
}

export interface ResolvedInput {
  name: string;
  dtype: number;
  /** The shape used (null when the model declares none and none was given). */
  shape: number[] | null;
  /** The shape as the model declares it: numbers for fixed dims, names for symbolic ones, null for unnamed ones. */
  declared: (number | string | null)[] | null;
}

/**
 * A constant tensor feeding a layer: an initializer or a Constant node's value, also when passed on by `Identity`
 * nodes (torch.onnx routes deduplicated weights through them). Counted once (by `key`) as parameters.
 */
export interface WeightUse {
  /** The tensor itself: one key however many names reach it. */
  key: object;
  name: string;
  dtype: number;
  elements: number;
  /** Set when the layer reads the tensor through an `Identity` node's output (named `name`). */
  viaIdentity?: boolean;
}

export interface LayerRecord {
  /** Unique, readable path: node name (or op_index), prefixed by enclosing subgraph nodes. */
  name: string;
  node: Node;
  opset: number;
  inputs: (TensorState | null)[];
  outputs: (TensorState | null)[];
  /** Cost of one execution; null when not counted (see reason). */
  cost: Cost | null;
  reason: LayerReason | null;
  /** Executions per inference: loop trip counts; 0 for a branch not counted. */
  multiplier: number;
  notes: LayerNote[];
  weights: WeightUse[];
  /** The weight each input position reads (by input index; absent or null where an input is no weight). */
  weightAt?: readonly (WeightUse | null)[];
  /** Enclosing subgraph path ('' for the main graph). */
  scope: string;
  /** What the node is, as its rule says (a conv and its geometry, a matrix product…); null for other nodes. */
  traits: OpTraits | null;
}

export interface InferResult {
  layers: LayerRecord[];
  /** Main-graph value states. */
  values: Map<string, TensorState>;
  /** Resolved graph input shapes. */
  inputs: ResolvedInput[];
  /** Input dims nothing fixed, set to 1 (each also has a note). */
  assumed: AssumedDim[];
  outputs: { name: string; state: TensorState | null }[];
  notes: ModelNote[];
}
