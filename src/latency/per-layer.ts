import { totalFlops } from '../ops/define.js';
import type { LayerLink } from './graph.js';
import { quantile } from '../bench/run.js';
import { mapTrace, type TraceEvent } from './profile-map.js';
import type { Report } from '../contract/analyze.js';
import type { MeasuredLayer, PerLayerResult } from '../contract/bench.js';

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
