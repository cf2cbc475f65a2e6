import { quantile } from '../bench/run.js';
import type { LayerLink } from './graph.js';
import type { TraceNote } from '../contract/messages.js';

/**
 * ONNX Runtime's profiling trace (Chrome trace JSON) mapped back to mbn's layers. ORT names a node it kept after
 * the layer's node name; a node it created by fusion or layout conversion after one of the tensors it writes,
 * often with a suffix (`/conv1/Relu_output_0_nchwc` is a Conv that absorbed the Relu writing
 * `/conv1/Relu_output_0`); nodes it inserted on its own (ReorderInput, ReorderOutput, …) match no layer. A
 * fused node's time goes to the layer of its own op type (the Conv of a Conv+Relu); the layers folded into it are
 * marked `fusedInto` that layer.
 */
export interface TraceEvent {
  cat?: string;
  name?: string;
  ph?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string };
}

export interface MeasuredNode {
  /** ORT's node name (without `_kernel_time`). */
  ortName: string;
  /** ORT's op type (Conv for an NCHWc conv, FusedConv, ReorderOutput, …). */
  ortOp: string;
  /** Median time per run, milliseconds: the kernel and the executor's dispatch gap before it. */
  ms: number;
  /** Median kernel time alone per run, milliseconds. */
  kernelMs: number;
  /** mbn layers this node computes (report indices), the one it is charged to first; empty for ORT's own nodes. */
  layers: number[];
}

export interface LayerTime {
  /** Median time per run charged to this layer, ms; null when it ran inside another layer's node or not at all. */
  ms: number | null;
  /** The layer whose ORT node computed this one (a fused activation, add or normalization). */
  fusedInto: number | null;
  /** ORT node name this layer's time comes from. */
  ortNode: string | null;
  /** Why there is no time: fused, or not in the trace at all (constant-folded, removed); what else its node computed. */
  note: TraceNote | null;
}

export interface TraceMapping {
  runs: number;
  /** Median `model_run` duration in the trace, ms. */
  runMs: number;
  nodes: MeasuredNode[];
  /** One per report layer. */
  layers: LayerTime[];
  /** Sum of all node times per run, ms (layers + ORT's own nodes, kernels + dispatch gaps). */
  nodeMs: number;
  /** Each timed run's `model_run` duration, ms, in order. */
  runDurationsMs: number[];
}

/** Median of per-run times: robust to the runs another process interrupted (the sum of the medians of the nodes
 * is close to the median run). */
function median(values: number[]): number {
  return values.length === 0 ? 0 : quantile([...values].sort((a, b) => a - b), 0.5);
}

/** ORT op types that stand for an ONNX op after fusion. */
const FUSED_OP: Record<string, string> = { FusedConv: 'Conv', FusedGemm: 'Gemm', FusedMatMul: 'MatMul', NhwcConv: 'Conv' };

/** Ops ORT folds into the node that produces their input (activation, residual add, batch-norm). */
const FOLDABLE = new Set(['Relu', 'Clip', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Sigmoid', 'Tanh', 'Add', 'Sum', 'BatchNormalization', 'Identity', 'Dropout', 'Mul']);

function baseOp(op: string): string {
  return FUSED_OP[op] ?? op;
}

/**
 * Maps a trace onto layers. `skipRuns` leading `model_run`s (the warm-up) are left out; each node's time is its
 * median over the remaining runs.
 */
export function mapTrace(events: readonly TraceEvent[], links: readonly LayerLink[], skipRuns: number): TraceMapping {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && typeof e.ts === 'number' && typeof e.dur === 'number')
    .sort((a, b) => a.ts! - b.ts!)
    .slice(skipRuns);
  const windows = runs.map((r) => [r.ts!, r.ts! + r.dur!] as const);
  // A node's time is its kernel plus the dispatch gap since the previous kernel of the same run ended (the
  // sequential executor does nothing else in between); the gap before a run's first kernel and after its last
  // (feeding inputs, returning outputs) belongs to the session, not to a layer.
  const perNode = new Map<string, { op: string; us: number[]; kernelUs: number[] }>();
  const kernels = events
    .filter((e) => e.cat === 'Node' && typeof e.name === 'string' && e.name.endsWith('_kernel_time') && typeof e.ts === 'number' && typeof e.dur === 'number')
    .sort((a, b) => a.ts! - b.ts!);
  windows.forEach(([start, end], run) => {
    let previousEnd: number | null = null;
    for (const e of kernels) {
      if (e.ts! < start || e.ts! > end) continue;
      const name = e.name!.slice(0, -'_kernel_time'.length);
      let entry = perNode.get(name);
      if (!entry) {
        entry = { op: e.args?.op_name ?? '?', us: windows.map(() => 0), kernelUs: windows.map(() => 0) };
        perNode.set(name, entry);
      }
      entry.kernelUs[run] += e.dur!;
      entry.us[run] += e.dur! + (previousEnd === null ? 0 : Math.max(0, e.ts! - previousEnd));
      previousEnd = e.ts! + e.dur!;
    }
  });
  const byName = new Map<string, number>();
  const producer = new Map<string, number>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    byName.set(l.name, i);
    for (const o of l.outputs) if (o) producer.set(o, i);
  });
  const readers = new Map<string, number>();
  links.forEach((l) => {
    if (l.scope === '') for (const x of l.inputs) if (x) readers.set(x, (readers.get(x) ?? 0) + 1);
  });
  const exclusiveFeeders = (i: number): number[] =>
    links[i].inputs.flatMap((name) => {
      const p = name ? producer.get(name) : undefined;
      return p !== undefined && readers.get(name) === 1 && FOLDABLE.has(links[p].op) ? [p] : [];
    });
  const firstActivation = (i: number): number | undefined => {
    const l = links[i];
    for (const name of l.inputs) {
      if (!name || l.weightInputs.includes(name)) continue;
      const p = producer.get(name);
      if (p !== undefined) return p;
    }
    return undefined;
  };
  const claimed = new Map<number, number>(); // layer → node index
  const nodes: MeasuredNode[] = [];
  for (const [ortName, { op, us, kernelUs }] of perNode) {
    const node: MeasuredNode = { ortName, ortOp: op, ms: median(us) / 1000, kernelMs: median(kernelUs) / 1000, layers: [] };
    nodes.push(node);
    // A graph-level fusion names its node after the last node it replaces (`/blk/Mul/QuickGeluFusion/`); a Gemm
    // fused with its activation is the Gemm's name after `fused ` (`fused /classifier/classifier.1/Gemm`).
    const bare = ortName.replace(/^fused /, '');
    let anchor = byName.get(bare) ?? byName.get(bare.replace(/\/[A-Za-z0-9]+Fusion\/?$/, ''));
    if (anchor === undefined) {
      let tensor = ortName;
      while (anchor === undefined) {
        anchor = producer.get(tensor);
        const stripped = tensor.replace(/_(nchwc|token_\d+)$/, '');
        if (stripped === tensor) break;
        tensor = stripped;
      }
    }
    if (anchor === undefined || claimed.has(anchor)) continue;
    // Walk back from the layer writing the node's output to the layer of the node's own op type.
    const chain = [anchor];
    let primary = links[anchor].op === baseOp(op) ? anchor : undefined;
    for (let cur = anchor, step = 0; primary === undefined && step < 4; step++) {
      const prev = firstActivation(cur);
      if (prev === undefined || claimed.has(prev) || !FOLDABLE.has(links[cur].op)) break;
      chain.push(prev);
      if (links[prev].op === baseOp(op)) primary = prev;
      cur = prev;
    }
    // No layer of the node's op type (QuickGelu for x·Sigmoid(x)): the node also computes the activations that
    // feed only the anchor.
    const members = primary === undefined ? [anchor, ...exclusiveFeeders(anchor).filter((m) => !claimed.has(m))] : primary === anchor ? [anchor] : chain;
    const head = primary ?? anchor;
    node.layers = [head, ...members.filter((m) => m !== head)];
    for (const m of node.layers) claimed.set(m, nodes.length - 1);
  }
  // Layers with no node of their own whose input comes from a measured node were folded into it (an Add and Relu
  // after an NCHWc Conv); in report order, so that a chain Add → Relu follows its head.
  links.forEach((l, i) => {
    if (claimed.has(i) || l.scope !== '' || !FOLDABLE.has(l.op)) return;
    // Only the end of a node's chain can take more; a residual add goes to the conv on its own side, not to the
    // block before it whose output it also reads.
    let best: { at: number; head: boolean } | undefined;
    for (const name of l.inputs) {
      const p = name ? producer.get(name) : undefined;
      const at = p === undefined ? undefined : claimed.get(p);
      if (at === undefined || nodes[at].layers[nodes[at].layers.length - 1] !== p) continue;
      const head = nodes[at].layers[0] === p;
      if (!best || (head && !best.head)) best = { at, head };
    }
    if (!best) return;
    nodes[best.at].layers.push(i);
    claimed.set(i, best.at);
  });
  const layers: LayerTime[] = links.map((_, i) => {
    const at = claimed.get(i);
    if (at === undefined) return { ms: null, fusedInto: null, ortNode: null, note: { code: 'not-in-trace' } };
    const node = nodes[at];
    if (node.layers[0] === i) return { ms: node.ms, fusedInto: null, ortNode: node.ortName, note: node.layers.length > 1 ? { code: 'ort-node-also-computes', layers: node.layers.slice(1).map((m) => links[m].name) } : null };
    return { ms: null, fusedInto: node.layers[0], ortNode: node.ortName, note: { code: 'fused-by-ort', into: links[node.layers[0]].name } };
  });
  const runMs = median(runs.map((r) => r.dur!)) / 1000;
  const nodeMs = nodes.reduce((s, x) => s + x.ms, 0);
  return { runs: runs.length, runMs, nodes, layers, nodeMs, runDurationsMs: runs.map((r) => r.dur! / 1000) };
}
