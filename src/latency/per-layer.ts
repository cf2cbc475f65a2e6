import { totalFlops } from '../ops/define.js';
import type { LayerLink } from './graph.js';
import { quantile } from '../bench/run.js';
import { mapTrace, type TraceEvent } from './profile-map.js';
import type { Report } from '../contract/analyze.js';

/** `mbn bench --per-layer`: one entry per mbn layer with its measured time and roofline figures. */
export interface MeasuredLayer {
  name: string;
  op: string;
  macs: number;
  flops: number;
  /** Inputs (activations and weights) read once plus outputs written once; null when a shape is unknown. */
  bytesMoved: number | null;
  /** FLOPs per byte moved; null when bytes are unknown or zero. */
  intensity: number | null;
  /** Median time per run, ms; null when the layer ran inside another's node (fusedInto) or not at all. */
  measuredMs: number | null;
  /** measuredMs over the sum of all node times of a run. */
  share: number | null;
  /** Achieved 10⁹ MACs per second. */
  gmacPerSecond: number | null;
  /** ONNX Runtime node the time comes from. */
  ortNode: string | null;
  fusedInto: string | null;
  note: string | null;
}

export interface PerLayerResult {
  runs: number;
  /** Median `model_run` duration in the trace, ms. */
  traceRunMs: number;
  /** Sum of every node's kernel time per run, ms; the layers' times plus ORT's own nodes. */
  nodeMs: number;
  layers: MeasuredLayer[];
  /** Nodes ONNX Runtime inserted itself (layout reorders, copies) that match no layer. */
  runtimeNodes: { name: string; op: string; ms: number }[];
  /**
   * Median over the timed runs of the call from Node less ORT's own `model_run`: the binding passing inputs in and
   * outputs out, outside every node. Null when the call times and the trace's runs do not pair up.
   */
  outsideMs: number | null;
}

export function measuredLayers(report: Report, links: readonly LayerLink[], trace: readonly unknown[], warmup: number, callTimesMs: readonly number[] = []): PerLayerResult {
  const mapping = mapTrace(trace as TraceEvent[], links, warmup);
  const paired = callTimesMs.length > 0 && callTimesMs.length === mapping.runDurationsMs.length;
  const outside = paired ? callTimesMs.map((t, i) => t - mapping.runDurationsMs[i]).sort((a, b) => a - b) : [];
  const outsideMs = paired ? quantile(outside, 0.5) : null;
  const layers = report.layers.map((l, i): MeasuredLayer => {
    const link = links[i];
    const t = mapping.layers[i];
    const flops = totalFlops(l.macs, l.otherFlops);
    const bytesMoved = link.inputBytes === null || link.outputBytes === null ? null : link.inputBytes + link.outputBytes;
    return {
      name: l.name,
      op: l.op,
      macs: l.macs,
      flops,
      bytesMoved,
      intensity: bytesMoved ? flops / bytesMoved : null,
      measuredMs: t.ms,
      share: t.ms === null || mapping.nodeMs === 0 ? null : t.ms / mapping.nodeMs,
      gmacPerSecond: t.ms && l.macs ? l.macs / (t.ms * 1e6) : null,
      ortNode: t.ortNode,
      fusedInto: t.fusedInto === null ? null : report.layers[t.fusedInto].name,
      note: t.note,
    };
  });
  const runtimeNodes = mapping.nodes.filter((n) => n.layers.length === 0).map((n) => ({ name: n.ortName, op: n.ortOp, ms: n.ms }));
  return { runs: mapping.runs, traceRunMs: mapping.runMs, nodeMs: mapping.nodeMs, layers, runtimeNodes, outsideMs };
}
