import type { Attribute, Node, TensorRef } from '../ir/types.js';
import { product } from '../util/count.js';

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
  /** A note on this layer, shown in reports (for example an assumption made). */
  note(text: string): void;
}

export interface OpRule {
  /** Operator domain; '' is the default ai.onnx domain. */
  domain?: string;
  ops: readonly string[];
  /** Output states, one per node output (fewer is fine: the rest stay unknown). Throw UnknownShape if blocked. */
  infer(ctx: RuleContext): TensorState[];
  /** Cost of one execution of the node, given its inferred outputs (all known). */
  cost(ctx: RuleContext, outputs: TensorState[]): Cost;
}

export function defineOps(rule: OpRule): OpRule {
  return rule;
}

export const NO_COST: Cost = { macs: 0, flops: 0 };

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
