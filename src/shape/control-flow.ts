import { type Graph, type Node, attr } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import type { TensorState } from '../ops/define.js';
import { TFLITE_DOMAIN } from '../ops/tflite-common.js';
import { Scope, UNKNOWN } from './scope.js';
import type { IfBranch, LayerRecord } from './types.js';

/**
 * Control flow in shape inference: If, Loop and Scan (and TFLite's WHILE and IF). Their bodies are walked in place, in a scope chained to the
 * enclosing one; their layers carry the body's path and how many times it runs per inference (a loop's trip count,
 * a scan's length; an If branch not counted runs ×0). The node itself costs nothing: its outputs are its body's.
 */

/** What the walk over a graph offers the control-flow rules. */
export interface SubgraphWalk {
  /** Every record so far, in walk order: a body's layers are appended by walkSubgraph. */
  readonly layers: LayerRecord[];
  /** Walks a body in `scope` (its initializers first), its layers named under `prefix`, run `multiplier` times. */
  walkSubgraph(graph: Graph, scope: Scope, prefix: string, multiplier: number, opsets: Map<string, number>): void;
  /** The branch the caller says the If named `name` takes (--if-branch), if any. */
  askedBranch(name: string): IfBranch | undefined;
}

/**
 * Which branch of an If is counted: the one a constant condition picks; else the one asked for; else the costlier
 * (an upper bound). `costs` are the then and else branches' (null for a missing branch).
 */
export function countedBranch(costs: readonly [number | null, number | null], cond: readonly number[] | null | undefined, asked: IfBranch | undefined): { taken: 0 | 1; why: 'if-constant-condition' | 'if-costlier-branch' | 'if-asked-branch' } {
  if (cond && cond.length === 1 && costs[0] !== null && costs[1] !== null) return { taken: cond[0] ? 0 : 1, why: 'if-constant-condition' };
  if (asked && costs[asked === 'then' ? 0 : 1] !== null) return { taken: asked === 'then' ? 0 : 1, why: 'if-asked-branch' };
  return { taken: (costs[1] ?? -1) > (costs[0] ?? -1) ? 1 : 0, why: 'if-costlier-branch' };
}

/** If, Loop and Scan of the default domain, TFLite's WHILE and IF: nodes whose bodies the walk enters. */
export function isControlFlow(node: Node): boolean {
  if (node.domain === TFLITE_DOMAIN) return node.opType === 'WHILE' || node.opType === 'IF';
  return node.domain === '' && (node.opType === 'If' || node.opType === 'Loop' || node.opType === 'Scan');
}

/**
 * Walks a control-flow node's bodies and sets its record's outputs and notes: an If's two branches (the one
 * countedBranch picks; the other's layers at ×0), a Loop's body at its trip count, a Scan's at its length.
 */
export function walkControlFlow(walk: SubgraphWalk, record: LayerRecord, scope: Scope, name: string, multiplier: number, opsets: Map<string, number>): void {
  if (record.node.domain === TFLITE_DOMAIN) return walkTfliteControlFlow(walk, record, scope, name, multiplier, opsets);
  const node = record.node;
  const graphAttr = (n: string): Graph | null => graphAttribute(node, n);
  record.cost = { macs: 0, flops: 0 };
  if (node.opType === 'If') {
    const thenG = graphAttr('then_branch');
    const elseG = graphAttr('else_branch');
    const cond = record.inputs[0]?.value;
    const before = walk.layers.length;
    const costs: [number | null, number | null] = [null, null];
    const results: (TensorState | null)[][] = [[], []];
    for (const [i, label, g] of [[0, 'then_branch', thenG], [1, 'else_branch', elseG]] as const) {
      if (!g) continue;
      const start = walk.layers.length;
      const sub = new Scope(scope);
      walk.walkSubgraph(g, sub, `${name}/${label}/`, multiplier, opsets);
      costs[i] = walk.layers.slice(start).reduce((s, l) => s + (l.cost ? l.cost.macs + l.cost.flops : 0) * l.multiplier, 0);
      results[i] = g.outputs.map((o) => sub.get(o.name) ?? null);
    }
    // Only one branch runs.
    const { taken, why } = countedBranch(costs, cond, walk.askedBranch(name));
    const branchLayers = walk.layers.slice(before);
    const takenLabel = taken === 0 ? 'then_branch' : 'else_branch';
    for (const l of branchLayers) {
      if (!l.name.startsWith(`${name}/${takenLabel}/`)) l.multiplier = 0;
    }
    record.notes.push({ code: why, branch: takenLabel });
    const chosen = results[taken].length > 0 ? results[taken] : results[1 - taken];
    const other = results[1 - taken];
    record.outputs = node.outputs.map((_, i) => (chosen[i]?.shape ? chosen[i] : (other[i] ?? chosen[i] ?? null)));
    return;
  }
  const body = graphAttr('body');
  if (!body) {
    record.reason = { code: 'no-body', op: node.opType };
    return;
  }
  const sub = new Scope(scope);
  if (node.opType === 'Loop') {
    const trip = record.inputs[0]?.value;
    const carried = node.inputs.slice(2).map((n) => (n ? (scope.get(n) ?? UNKNOWN) : UNKNOWN));
    let times = 1;
    // Exporters write M = INT64_MAX for loops that end on their condition: that is no trip count.
    const bounded = trip && trip.length === 1 && node.inputs[0] !== '' && trip[0] < 2 ** 31;
    if (bounded) times = trip[0];
    else if (trip && trip.length === 1 && node.inputs[0]) record.notes.push({ code: 'loop-unbounded', tripCount: trip[0] });
    else record.notes.push({ code: 'loop-trip-unknown' });
    body.inputs.forEach((input, i) => {
      if (i === 0) sub.values.set(input.name, { dtype: DataType.INT64, shape: [] });
      else if (i === 1) sub.values.set(input.name, { dtype: DataType.BOOL, shape: [] });
      else sub.values.set(input.name, stripValue(carried[i - 2] ?? UNKNOWN));
    });
    walk.walkSubgraph(body, sub, `${name}/body/`, multiplier * Math.max(0, times), opsets);
    const outs = body.outputs.map((o) => sub.get(o.name) ?? null);
    const nCarried = node.inputs.length - 2;
    record.outputs = node.outputs.map((_, i) => {
      const s = outs[i + 1];
      if (i < nCarried) return s ? stripValue(s) : null;
      if (!s?.shape || !bounded) return null;
      return { dtype: s.dtype, shape: [times, ...s.shape] };
    });
    if (bounded) record.notes.push({ code: 'body-runs', times });
    return;
  }
  // Scan: N state variables then M scan inputs. Opset 8 adds a leading sequence_lens input and a batch axis 0 on
  // every input and output: the body then runs batch × length times, and scans along axis 1.
  const batched = record.opset < 9;
  const m = intAttr(node, 'num_scan_inputs', 0);
  const offset = batched ? 1 : 0;
  const nState = node.inputs.length - offset - m;
  const axes = batched ? new Array(m).fill(1) : (intsAttr(node, 'scan_input_axes') ?? new Array(m).fill(0));
  let length: number | null = null;
  let batch = 1;
  body.inputs.forEach((input, i) => {
    const name = node.inputs[i + offset];
    const outer = name ? scope.get(name) : undefined;
    if (!outer?.shape) {
      sub.values.set(input.name, outer ? stripValue(outer) : UNKNOWN);
      return;
    }
    if (batched) batch = outer.shape[0];
    if (i < nState) {
      sub.values.set(input.name, { dtype: outer.dtype, shape: batched ? outer.shape.slice(1) : outer.shape });
      return;
    }
    const axis = axes[i - nState] < 0 ? axes[i - nState] + outer.shape.length : axes[i - nState];
    length = outer.shape[axis];
    sub.values.set(input.name, { dtype: outer.dtype, shape: outer.shape.filter((_, j) => j !== axis && !(batched && j === 0)) });
  });
  const times = (length ?? 1) * batch;
  if (length === null) record.notes.push({ code: 'scan-length-unknown' });
  else record.notes.push({ code: 'body-runs', times });
  walk.walkSubgraph(body, sub, `${name}/body/`, multiplier * times, opsets);
  const outs = body.outputs.map((o) => sub.get(o.name) ?? null);
  const outAxes = batched ? null : intsAttr(node, 'scan_output_axes');
  record.outputs = node.outputs.map((_, i) => {
    const s = outs[i];
    if (!s?.shape) return null;
    if (i < nState) return { dtype: s.dtype, shape: batched ? [batch, ...s.shape] : s.shape };
    if (length === null) return null;
    const shape = s.shape.slice();
    let axis = batched ? 0 : (outAxes?.[i - nState] ?? 0);
    if (axis < 0) axis += shape.length + 1;
    shape.splice(axis, 0, length);
    return { dtype: s.dtype, shape: batched ? [batch, ...shape] : shape };
  });
}

/**
 * TFLite's WHILE and IF call other subgraphs with the node's inputs as theirs (IF: after its condition). WHILE's
 * trip count is decided by its cond subgraph at run time: cond and body are counted once per inference, with a
 * note. IF counts one branch as ONNX's If does (countedBranch).
 */
function walkTfliteControlFlow(walk: SubgraphWalk, record: LayerRecord, scope: Scope, name: string, multiplier: number, opsets: Map<string, number>): void {
  const node = record.node;
  const graphAttr = (n: string): Graph | null => graphAttribute(node, n);
  record.cost = { macs: 0, flops: 0 };
  const call = (g: Graph, label: string, states: readonly (TensorState | null)[]): { sub: Scope; cost: number; start: number } => {
    const sub = new Scope(scope);
    g.inputs.forEach((input, i) => sub.values.set(input.name, stripValue(states[i] ?? UNKNOWN)));
    const start = walk.layers.length;
    walk.walkSubgraph(g, sub, `${name}/${label}/`, multiplier, opsets);
    const cost = walk.layers.slice(start).reduce((c, l) => c + (l.cost ? l.cost.macs + l.cost.flops : 0) * l.multiplier, 0);
    return { sub, cost, start };
  };
  if (node.opType === 'WHILE') {
    const cond = graphAttr('cond');
    const body = graphAttr('body');
    if (cond) call(cond, 'cond', record.inputs);
    const walked = body ? call(body, 'body', record.inputs) : null;
    record.notes.push({ code: 'loop-trip-at-run-time' });
    record.outputs = node.outputs.map((_, i) => {
      const out = walked && body?.outputs[i] ? walked.sub.get(body.outputs[i].name) : undefined;
      return out?.shape ? stripValue(out) : record.inputs[i] ? stripValue(record.inputs[i]!) : null;
    });
    return;
  }
  const branches = (['then_branch', 'else_branch'] as const).map((label) => {
    const g = graphAttr(label);
    return g ? { label, g, ...call(g, label, record.inputs.slice(1)) } : null;
  });
  const cond = record.inputs[0]?.value;
  const { taken, why } = countedBranch([branches[0]?.cost ?? null, branches[1]?.cost ?? null], cond, walk.askedBranch(name));
  const chosen = branches[taken];
  for (const b of branches) {
    if (!b || b === chosen) continue;
    for (const l of walk.layers.slice(b.start)) if (l.name.startsWith(`${name}/${b.label}/`)) l.multiplier = 0;
  }
  if (chosen) {
    record.notes.push({ code: why, branch: chosen.label });
    record.outputs = node.outputs.map((_, i) => {
      const out = chosen.g.outputs[i] ? chosen.sub.get(chosen.g.outputs[i].name) : undefined;
      return out ? stripValue(out) : null;
    });
  }
}

/** A node's graph attribute (If branches, loop bodies, TFLite's called subgraphs), or null. */
function graphAttribute(node: Node, name: string): Graph | null {
  const a = attr(node, name);
  return a && a.data.type === 'graph' ? a.data.value : null;
}

function stripValue(s: TensorState): TensorState {
  return { dtype: s.dtype, shape: s.shape };
}

function intAttr(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a && a.data.type === 'int' ? a.data.value : fallback;
}

function intsAttr(node: Node, name: string): number[] | null {
  const a = attr(node, name);
  return a && a.data.type === 'ints' ? a.data.value : null;
}
