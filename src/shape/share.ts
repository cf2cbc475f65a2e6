import type { Cost, TensorState } from '../ops/define.js';

/**
 * Sharing between consecutive inference records. A graph of a million layers keeps a million records; most of them
 * repeat their neighbour's figures (an elementwise layer's output is its input's dtype and shape, a run of layers
 * costs the same each). Records, states, lists and costs are never modified once a layer is done, so equal ones can
 * be one object: what a record holds stays the same, only fewer objects hold it.
 */

/** An input's state when the output is the same tensor description (dtype, shape, no known value), else `state`. */
export function sharedState(state: TensorState | null, inputs: readonly (TensorState | null)[]): TensorState | null {
  if (!state || !state.shape || state.value !== undefined) return state;
  for (const s of inputs) {
    if (s && s.dtype === state.dtype && s.value === undefined && s.shape && (s.shape === state.shape || sameElements(s.shape, state.shape))) return s;
  }
  return state;
}

/** One of `candidates` that holds the very same elements as `list`, else a copy of `list` (a scratch list). */
export function sharedList<T>(list: readonly T[], ...candidates: (T[] | undefined)[]): T[] {
  for (const other of candidates) if (other && sameElements(list, other)) return other;
  return list.slice();
}

/** `cost`, or `other` when it counts the same. */
export function sharedCost(cost: Cost | null, other: Cost | null | undefined): Cost | null {
  if (!cost || !other || cost === other) return cost;
  return cost.macs === other.macs && cost.flops === other.flops ? other : cost;
}

function sameElements<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
