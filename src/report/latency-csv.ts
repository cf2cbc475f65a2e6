import type { LayerLatency } from '../latency/model.js';
import type { LayerReport } from '../contract/analyze.js';

/**
 * The latency columns of `mbn analyze --format csv --device PROFILE`, after the layer's own columns. Figures are
 * the JSON report's numbers as they are (ms, not rounded), so a spreadsheet sums them exactly. A cell stays empty
 * where the layer has no such figure: a layer fused into another kernel has no time of its own (its time is in
 * the `fused_into` layer's row), `latency_bound` is empty for a layer that runs no kernel (computed when the model
 * loads, or in an If branch not taken; its time is 0), and `sep_latency_after_ms` is empty except for standard convs.
 */
export const LATENCY_CSV_HEAD = ['latency_ms', 'latency_share', 'latency_bound', 'fused_into', 'sep_latency_after_ms'];

/** One layer's latency cells (raw values: the caller escapes them with csvField). `totalMs`: the model's predicted total. */
export function latencyCsvCells(l: LayerReport & Partial<LayerLatency>, totalMs: number | undefined): (string | number)[] {
  if (l.fusedInto) return ['', '', '', l.fusedInto, ''];
  if (l.latencyMs === undefined || !Number.isFinite(l.latencyMs)) return ['', '', '', '', ''];
  const share = totalMs !== undefined && totalMs > 0 ? (l.latencyMs / totalMs).toFixed(6) : '';
  return [l.latencyMs, share, l.bound ?? '', '', l.separation ? l.separation.afterMs : ''];
}
