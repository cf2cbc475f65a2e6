import type { OpTraits, TensorState } from '../ops/define.js';
import type { WeightUse } from './types.js';

/** What a shape walk knows of a graph's values, chained to the scopes of the graphs around it (If/Loop/Scan bodies). */
export class Scope {
  readonly values = new Map<string, TensorState>();
  readonly weights = new Map<string, WeightUse>();
  readonly declared = new Map<string, (number | string | null)[] | null>();
  /** Declared element types (value_info, graph outputs), for values whose rule could not say. */
  readonly declaredTypes = new Map<string, number>();
  /** The traits of the nodes that produce values here (only nodes that have traits). */
  readonly traits = new Map<string, OpTraits>();
  constructor(readonly parent: Scope | null) {}
  producerTraits(name: string): OpTraits | null {
    for (let s: Scope | null = this; s; s = s.parent) {
      const t = s.traits.get(name);
      if (t) return t;
      if (s.values.has(name)) return null;
    }
    return null;
  }
  get(name: string): TensorState | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const v = s.values.get(name);
      if (v) return v;
    }
    return undefined;
  }
  weight(name: string): WeightUse | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const v = s.weights.get(name);
      if (v) return v;
    }
    return undefined;
  }
  knows(name: string): boolean {
    for (let s: Scope | null = this; s; s = s.parent) if (s.values.has(name) || s.declared.has(name)) return true;
    return false;
  }
}

/** A value nothing could infer. */
export const UNKNOWN: TensorState = { dtype: 0, shape: null };
