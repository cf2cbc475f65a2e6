import type { Attribute, Node, TensorRef } from '../ir/types.js';
import { product } from '../util/count.js';
import type { LayerNote } from '../contract/messages.js';

/**
 * One operator family = one file under src/ops, holding both its shape rule and its cost rule, registered with
 * defineOps. Shapes are concrete: symbolic dims are bound before inference (see shape/infer.ts).
 */
export interface TensorState {
  /** ONNX DataType code; 0 when unknown. */
  dtype: number;
  /** Concrete dims; null when the rank or a dim is unknown. */
  shape: number[] | null;
  /**
   * Element values, row-major, for small tensors whose values are known before run time (initializers, Constant
   * nodes, and anything computed from them such as Shape → Gather → Concat chains). Used to fold shape arithmetic.
   */
  value?: number[];
}

export interface Cost {
  /** Multiply-accumulates: Conv, ConvTranspose, Gemm, MatMul, Einsum and the like. Bias adds are not MACs. */
  macs: number;
  /** Other floating-point operations (normalization, activations, pooling, elementwise, reductions). */
  flops: number;
}

export class ShapeError extends Error {}

/** Thrown by rules when an input's shape (or value) they need is unknown: the output stays unknown, quietly. */
export class UnknownShape extends Error {}

export interface RuleContext {
  readonly node: Node;
  /** The opset version in force for the node's domain. */
  readonly opset: number;
  /** Input states by position; null for an omitted optional input ('' name) or beyond the inputs given. */
  readonly inputs: (TensorState | null)[];
  /** Input i's state; throws UnknownShape when missing. */
  input(i: number): TensorState;
  /** Input i's concrete shape; throws UnknownShape when unknown. */
  shape(i: number): number[];
  /** Input i's known values; throws UnknownShape when they are not known. */
  values(i: number): number[];
  /** Whether input i is present (named and not ''). */
  has(i: number): boolean;
  int(name: string, fallback: number): number;
  ints(name: string, fallback: number[]): number[];
  /** ints(name) or undefined when the attribute is absent. */
  intsOrNull(name: string): number[] | null;
  float(name: string, fallback: number): number;
  floats(name: string, fallback: number[]): number[];
  string(name: string, fallback: string): string;
  attribute(name: string): Attribute | undefined;
  /** Values of a small tensor held in the model (a Constant's value attribute), or undefined. */
  tensorValues(t: TensorRef): number[] | undefined;
  /** A note on this layer, shown in reports (for example an assumption made): a code, worded in src/report/messages. */
  note(message: LayerNote): void;
  /**
   * What the node producing input i is (its rule's traits), or null for a graph input, a constant, or a producer
   * without traits. A Conv asks it to tell a QDQ conv (weight from a DequantizeLinear) from a float one.
   */
  producerTraits(i: number): OpTraits | null;
}

// ---- Traits: what a node is -------------------------------------------------------------------------------------

/**
 * What a node *is*, as its rule declares it (ARCHITECTURE.md, "Op traits"). Every consumer (separation figures,
 * advice, latency, the rewrite, the reports) asks the layer's traits instead of comparing op-type strings, so a new
 * op family (a TFLite CONV_2D, a quantized conv) is a conv everywhere by answering `traits` once in src/ops.
 */
export type OpTraits = ConvTraits | MatMulTraits | RecurrentTraits | AttentionTraits | QuantizeTraits;

/**
 * How a conv stores and computes: `float` (a plain Conv on float weights), `qdq` (a float Conv whose weight comes
 * from a DequantizeLinear: a quantized conv in ONNX's QDQ form), `qlinear` (QLinearConv: int8/uint8 in and out),
 * `integer` (ConvInteger: int8/uint8 in, int32 out).
 */
export type ConvForm = 'float' | 'qdq' | 'qlinear' | 'integer';

/**
 * A conv's geometry: everything its weight and attributes say, no input size needed. The one definition of
 * depthwise and pointwise lives here (`convGeometryOf` in ops/conv.ts computes them).
 */
export interface ConvGeometry {
  /** Input channels (all groups). */
  inChannels: number;
  /** Output channels (all groups). */
  outChannels: number;
  group: number;
  /** Kernel dims, one per spatial dim (the spatial rank is its length). */
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, as the attribute gives them (auto_pad resolves them only once the input is known). */
  pads: number[];
  /** 'NOTSET', 'SAME_UPPER', 'SAME_LOWER' or 'VALID'. */
  autoPad: string;
  /** One input channel per group, more than one group (a depth multiplier of outChannels/group allowed). */
  depthwise: boolean;
  /** A 1×1 (every kernel dim 1) conv that is not depthwise; it may have groups (ShuffleNet's grouped 1×1). */
  pointwise: boolean;
}

export interface ConvTraits {
  kind: 'conv';
  form: ConvForm;
  /** ConvTranspose: the weight is [C_in, C_out/group, k…] and the conv scatters rather than gathers. */
  transposed: boolean;
  geometry: ConvGeometry;
  /** Input positions: the activation, the weight, the bias (null when the node has none). */
  input: number;
  weight: number;
  bias: number | null;
  /**
   * Element type of the weight as stored: float for a float conv, the integer type of a QLinearConv/ConvInteger
   * weight, and for a QDQ conv the type its DequantizeLinear reads. (Per-layer precision is worked out from these
   * in src/cost/precision.ts, not here.)
   */
  weightDtype: number;
  /** For a `qdq` conv: the tensor the weight's DequantizeLinear produces. */
  dequantizedWeight: string | null;
  /** Batch and output spatial dims, when the output shape is known. */
  batch: number | null;
  outSpatial: number[] | null;
  /** An activation the conv op applies to its own output (TFLite's fused_activation_function: 'RELU6', …). */
  fusedActivation?: string | null;
}

/** Where a conv op keeps its inputs, and how it computes (see OpRule.convLayout). */
export interface ConvLayout {
  /** 'float' here also for a Conv whose weight turns out to come from a DequantizeLinear (its traits say 'qdq'). */
  form: ConvForm;
  transposed: boolean;
  input: number;
  weight: number;
  bias: number | null;
}

export interface MatMulTraits {
  kind: 'matmul';
  /** `float` (Gemm, MatMul, Einsum), `integer` (MatMulInteger), `qlinear` (QLinearMatMul). */
  form: 'float' | 'integer' | 'qlinear';
  /** Input positions of the two operands. */
  operands: [number, number];
  /** Gemm's C: the bias the product adds (null when absent, and for the other ops). */
  bias: number | null;
  /** Gemm: a product with an epilogue (bias, transposes) that a runtime can fold a following add or activation into. */
  gemm: boolean;
  /** An Einsum: a general contraction rather than one matrix product. */
  general: boolean;
}

/** An LSTM's, GRU's or RNN's dimensions (recurrent.ts; what src/latency/model.ts times it by). */
export interface RnnDims {
  gates: number;
  dirs: number;
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  layout: number;
}

/** LSTM, GRU, RNN: matrix products per time step. */
export interface RecurrentTraits {
  kind: 'recurrent';
  /** Gates, directions, steps, batch, input and hidden sizes (null when an input shape is unknown). */
  dims: RnnDims | null;
}

/** Scaled dot-product attention as one op. */
export interface AttentionTraits {
  kind: 'attention';
}

/** QuantizeLinear / DequantizeLinear: `quantized` is the integer tensor's element type (0 when unknown). */
export interface QuantizeTraits {
  kind: 'quantize' | 'dequantize';
  quantized: number;
}

export interface OpRule {
  /** Operator domain; '' is the default ai.onnx domain. */
  domain?: string;
  ops: readonly string[];
  /** Output states, one per node output (fewer is fine: the rest stay unknown). Throw UnknownShape if blocked. */
  infer(ctx: RuleContext): TensorState[];
  /** Cost of one execution of the node, given its inferred outputs (all known). */
  cost(ctx: RuleContext, outputs: TensorState[]): Cost;
  /**
   * What the node is (see OpTraits), or null for a node that is none of those kinds. Called once per node by shape
   * inference, whether or not the shape rule succeeded: `outputs` are the inferred states (null or shapeless where
   * unknown), and a conv's geometry needs only its weight's dims. Throwing (ShapeError, UnknownShape) means null.
   */
  traits?(ctx: RuleContext, outputs: readonly (TensorState | null)[]): OpTraits | null;
  /**
   * For a conv op: where its activation, weight and bias are and how it computes, from the node alone (no shapes),
   * for callers that must know a node is a conv even when its weight's dims are unknown (`mbn separate` lists it).
   */
  convLayout?(node: Node): ConvLayout | null;
}

export function defineOps(rule: OpRule): OpRule {
  return rule;
}

export const NO_COST: Cost = { macs: 0, flops: 0 };

/** FLOPs = 2·MACs + other FLOPs (a multiply-accumulate is two operations): the one place the sum is made. */
export function totalFlops(macs: number, otherFlops: number): number {
  return 2 * macs + otherFlops;
}

/** The element count of a shape; past 2^53 the model is refused (see util/count.ts). */
export function elements(shape: readonly number[]): number {
  return product(shape);
}

/** Normalizes a possibly negative axis against a rank, throwing ShapeError when out of range. */
export function axisOf(axis: number, rank: number, node: Node): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`axis ${axis} is out of range for rank ${rank} in ${node.opType}`);
  return a;
}

/** Numpy-style multidirectional broadcasting. */
export function broadcast(shapes: readonly (readonly number[])[], node: Node): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new ShapeError(`${node.opType} cannot broadcast shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')}`);
      }
    }
  }
  return out;
}
