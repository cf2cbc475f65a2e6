import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { BenchRecord } from './bench-report.js';
import { human, humanBytes } from './units.js';

/** Rendering of latency figures: `mbn bench --per-layer` tables. */

export function msText(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '?';
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toPrecision(3)} ms` : `${(value * 1000).toPrecision(3)} µs`;
}

export function renderPerLayerTable(record: BenchRecord, c: ChalkInstance): string {
  const layers = record.layers;
  const trace = record.trace;
  if (!layers || !trace) return '';
  const table = new Table({
    head: ['Layer', 'Op', 'MACs', 'Bytes moved', 'FLOP/B', 'Time', 'Share', 'GMAC/s', 'Fused'].map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true },
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  });
  for (const l of layers) {
    if (l.measuredMs === null) continue;
    const fused = layers.filter((m) => m.fusedInto === l.name).map((m) => m.op);
    table.push([
      l.name.length > 48 ? `…${l.name.slice(l.name.length - 47)}` : l.name,
      l.op,
      l.macs ? human(l.macs) : '',
      l.bytesMoved === null ? '?' : humanBytes(l.bytesMoved),
      l.intensity === null ? '?' : l.intensity.toFixed(1),
      msText(l.measuredMs),
      l.share === null ? '' : `${(100 * l.share).toFixed(1)}%`,
      l.gmacPerSecond === null ? '' : l.gmacPerSecond.toFixed(1),
      fused.length ? `+ ${fused.join(' + ')}` : '',
    ]);
  }
  const byOp = new Map<string, { count: number; ms: number }>();
  for (const n of trace.runtimeNodes) {
    const e = byOp.get(n.op) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += n.ms;
    byOp.set(n.op, e);
  }
  for (const [op, e] of byOp) {
    table.push([c.dim(`(onnxruntime's own ${op} ×${e.count})`), op, '', '', '', msText(e.ms), `${((100 * e.ms) / trace.nodeMs).toFixed(1)}%`, '', '']);
  }
  const missing = layers.filter((l) => l.measuredMs === null && l.fusedInto === null).length;
  const out = [c.bold(`${record.path}: per-layer time (ONNX Runtime profiler, mean of ${trace.runs} runs)`), table.toString()];
  out.push(
    c.dim(
      `node times sum to ${msText(trace.nodeMs)} per run, ${((100 * trace.nodeMs) / trace.traceRunMs).toFixed(1)}% of the profiled run (${msText(trace.traceRunMs)}); ` +
        `"Fused" lists layers ONNX Runtime ran inside that layer's node` +
        (missing ? `; ${missing} layer${missing === 1 ? ' is' : 's are'} not in the trace (folded into constants or removed)` : ''),
    ),
  );
  return out.join('\n') + '\n\n';
}
