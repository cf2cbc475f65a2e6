import type { Attribute, Node } from '../../src/ir/types.js';
import type { Cost, RuleContext, TensorState } from '../../src/ops/define.js';
import { ruleFor } from '../../src/ops/index.js';
import { NodeContext } from '../../src/shape/node-context.js';
import type { LayerNote } from '../../src/contract/messages.js';

/**
 * Drives one op rule directly, with the same NodeContext (shape/node-context.ts) shape/infer.ts builds, for the
 * op-family tests: inputs are given as states, with no model around them.
 */

export type A = number | number[] | string | string[] | { f: number } | { fs: number[] };
const span = { tagStart: 0, start: 0, end: 0 };
const enc = new TextEncoder();

function attribute(name: string, v: A): Attribute {
  let data: Attribute['data'];
  if (typeof v === 'number') data = { type: 'int', value: v };
  else if (typeof v === 'string') data = { type: 'string', value: enc.encode(v) };
  else if (Array.isArray(v)) {
    data = v.length > 0 && typeof v[0] === 'string'
      ? { type: 'strings', value: (v as string[]).map((s) => enc.encode(s)) }
      : { type: 'ints', value: v as number[] };
  } else if ('f' in v) data = { type: 'float', value: v.f };
  else data = { type: 'floats', value: v.fs };
  return { name, refAttrName: null, data, span };
}

export function context(op: string, inputs: (TensorState | null)[], attrs: Record<string, A>, opset: number, outputs: number, notes: LayerNote[] = []): RuleContext {
  const node: Node = {
    name: op,
    opType: op,
    domain: '',
    inputs: inputs.map((s, i) => (s ? `in${i}` : '')),
    outputs: Array.from({ length: outputs }, (_, i) => `out${i}`),
    attributes: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    docString: '',
    span,
  };
  return new NodeContext(null, node, opset, inputs, notes);
}

export interface RunResult {
  out: TensorState[];
  cost: Cost;
  notes: LayerNote[];
}

export function run(
  op: string,
  inputs: (TensorState | null)[],
  attrs: Record<string, A> = {},
  opts: { opset?: number; outputs?: number } = {},
): RunResult {
  const rule = ruleFor('', op);
  if (!rule) throw new Error(`no rule for ${op}`);
  const notes: LayerNote[] = [];
  const ctx = context(op, inputs, attrs, opts.opset ?? 17, opts.outputs ?? 1, notes);
  const out = rule.infer(ctx);
  return { out, cost: rule.cost(ctx, out), notes };
}

/** A tensor state: shape, dtype (FLOAT by default) and optional known values. */
export const t = (shape: number[], dtype = 1, value?: number[]): TensorState => (value ? { dtype, shape, value } : { dtype, shape });
