import type { ChalkInstance } from 'chalk';
import type { LatencyReport } from '../latency/model.js';
import { markdownText, terminalCell, terminalText } from './safe-text.js';
import { boxTable } from './table.js';
import { human, humanBytes, lowerBoundText } from './units.js';
import type { BenchRecordJson } from '../contract/bench.js';
import type { DeviceProfile } from '../contract/device.js';

/** Rendering of latency figures: `mbn bench --per-layer` and `mbn analyze --device`. */

export function msText(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '?';
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toPrecision(3)} ms` : `${(value * 1000).toPrecision(3)} µs`;
}

export function renderPerLayerTable(record: BenchRecordJson, c: ChalkInstance): string {
  const layers = record.layers;
  const trace = record.trace;
  if (!layers || !trace) return '';
  const rows: string[][] = [];
  for (const l of layers) {
    if (l.measuredMs === null) continue;
    const fused = layers.filter((m) => m.fusedInto === l.name).map((m) => m.op);
    rows.push([
      terminalCell(l.name),
      terminalCell(l.op),
      l.macs ? human(l.macs) : '',
      l.bytesMoved === null ? '?' : humanBytes(l.bytesMoved),
      l.intensity === null ? '?' : l.intensity.toFixed(1),
      msText(l.measuredMs),
      l.share === null ? '' : `${(100 * l.share).toFixed(1)}%`,
      l.gmacPerSecond === null ? '' : l.gmacPerSecond.toFixed(1),
      fused.length ? terminalCell(`+ ${fused.join(' + ')}`) : '',
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
    rows.push([c.dim(terminalCell(`(onnxruntime's own ${op} ×${e.count})`)), terminalCell(op), '', '', '', msText(e.ms), `${((100 * e.ms) / trace.nodeMs).toFixed(1)}%`, '', '']);
  }
  const missing = layers.filter((l) => l.measuredMs === null && l.fusedInto === null).length;
  const table = boxTable({
    head: ['Layer', 'Op', 'MACs', 'Bytes moved', 'FLOP/B', 'Time', 'Share', 'GMAC/s', 'Fused'].map((h) => c.bold(h)),
    rows,
    aligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    compact: true,
  });
  const out = [c.bold(`${terminalText(record.path)}: per-layer time (ONNX Runtime profiler, median of ${trace.runs} runs)`), table];
  const layerMs = layers.reduce((s, l) => s + (l.measuredMs ?? 0), 0);
  const runtimeMs = trace.nodeMs - layerMs;
  const setupMs = Math.max(0, trace.traceRunMs - trace.nodeMs);
  // Where a run's time goes: each part measured, so that the rows account for the whole call from Node.
  const accounting =
    trace.outsideMs === null
      ? ''
      : `per run: layers ${msText(layerMs)} + onnxruntime's own nodes ${msText(runtimeMs)} + its run set-up ${msText(setupMs)} + the Node binding (inputs in, outputs out) ${msText(trace.outsideMs)} = ${msText(trace.nodeMs + setupMs + trace.outsideMs)}, beside the median call ${msText(record.latencyMs.median)}; `;
  out.push(
    c.dim(
      accounting +
        `node times sum to ${msText(trace.nodeMs)} per run: ${((100 * trace.nodeMs) / trace.traceRunMs).toFixed(1)}% of ONNX Runtime's run (${msText(trace.traceRunMs)}), ` +
        `${((100 * trace.nodeMs) / record.latencyMs.median).toFixed(1)}% of the median call from Node (${msText(record.latencyMs.median)}, which adds passing inputs and outputs); ` +
        `"Fused" lists layers ONNX Runtime ran inside that layer's node` +
        (missing ? `; ${missing} layer${missing === 1 ? ' is' : 's are'} not in the trace (folded into constants or removed)` : ''),
    ),
  );
  return out.join('\n') + '\n\n';
}

/** `mbn analyze --device`: predicted time per layer, what bounds it, and separation before/after. */
export function renderLatency(report: LatencyReport, profile: DeviceProfile, view: { top: number | null; all: boolean; style: ChalkInstance; markdown: boolean }): string {
  const c = view.style;
  const total = report.totals.latencyMs ?? 0;
  const timed = report.layers.filter((l) => (l.latencyMs ?? 0) > 0);
  const limit = view.all ? timed.length : (view.top ?? 25);
  const rows = timed.slice().sort((a, b) => b.latencyMs! - a.latencyMs!).slice(0, limit);
  // With ONNX Runtime's blocked layout in the profile: which convs miss the blocked kernels, and the layout
  // conversions a layer costs.
  const layout = (profile.nchwcBlock ?? 1) > 1;
  const head = ['Layer', 'Op', 'MACs', 'Time', 'Share', 'Bound', ...(layout ? ['Layout'] : []), 'Separated: time (MACs)'];
  const layoutNote = (l: LatencyReport['layers'][number]) =>
    [l.convPath === 'generic' ? 'generic conv (im2col)' : l.convPath === 'nchw-input' ? 'NCHW input' : '', l.layoutMs ? `+${msText(l.layoutMs)} conversions` : ''].filter(Boolean).join(', ');
  const cells = rows.map((l) => {
    const s = l.separation;
    const bound = l.bound === 'memory' ? (view.markdown ? '**memory**' : c.yellow('memory')) : (l.bound ?? '');
    return [
      view.markdown ? markdownText(l.name) : terminalCell(l.name),
      view.markdown ? markdownText(l.op) : terminalCell(l.op),
      l.macs ? human(l.macs) : '',
      msText(l.latencyMs ?? null) + (l.latencySource === 'measured' ? ' *' : ''),
      total ? `${((100 * l.latencyMs!) / total).toFixed(1)}%` : '',
      bound,
      ...(layout ? [layoutNote(l)] : []),
      s ? `${msText(s.beforeMs)} → ${msText(s.afterMs)} ×${s.timeRatio.toFixed(2)} (MACs ×${s.macRatio.toFixed(2)})` : '',
    ];
  });
  const device = view.markdown ? markdownText(profile.name) : terminalText(profile.name);
  // An incomplete analysis times only the layers it counted: its total is a lower bound, and says so.
  const title = `Predicted latency on ${device}${profile.calibrated ? '' : ' (uncalibrated estimate)'}: ${lowerBoundText(report, msText(total))}`;
  const sepLine =
    report.totals.separableLayers > 0 && report.totals.latencyIfSeparatedMs !== undefined
      ? `Separating ${report.totals.separableLayers} standard conv${report.totals.separableLayers === 1 ? '' : 's'}: ${msText(total)} → ${msText(report.totals.latencyIfSeparatedMs)} (×${(report.totals.latencyIfSeparatedMs / total).toFixed(2)}; MACs ×${(report.totals.macsIfSeparated / report.totals.macs).toFixed(2)})`
      : null;
  const hidden = timed.length - rows.length;
  const footnote = `time = max(FLOPs / class rate, bytes moved / bandwidth (${profile.cacheGBps} GB/s up to ${profile.cacheBytes / 1024} KiB, else ${profile.memoryGBps} GB/s)) + per-op overhead (conv ${profile.overheadUs.conv}, 1×1 conv ${profile.overheadUs.pointwise}, depthwise ${profile.overheadUs.depthwise}, GEMM ${profile.overheadUs.gemm}, other ${profile.overheadUs.elementwise} µs); layers fused into a conv take no time of their own${layout ? `; convs run in ONNX Runtime's ${profile.nchwcBlock}-channel blocked layout (padded channels) unless marked generic` : ''}`;
  const measured = report.layers.filter((l) => l.latencySource === 'measured').length;
  const lutLine = profile.lut
    ? `* measured: ${measured} of ${report.layers.filter((l) => l.latencySource !== undefined).length} timed layers have a shape in the profile's lookup table (mbn calibrate --lut), their kernel time as ONNX Runtime ran it; the rest from the model below`
    : null;
  if (view.markdown) {
    const out = ['', `#### ${title}`, '', `| ${head.join(' | ')} |`, `|---|---|---:|---:|---:|---|---|${layout ? '---|' : ''}`];
    for (const r of cells) out.push(`| ${r.join(' | ')} |`);
    if (hidden > 0) out.push('', `_${hidden} more timed layers not shown._`);
    if (sepLine) out.push('', sepLine + '.');
    if (lutLine) out.push('', `_${lutLine.replace(/^\*/, '\\*')}._`);
    out.push('', `_${footnote}._`);
    return out.join('\n') + '\n';
  }
  const table = boxTable({ head: head.map((h) => c.bold(h)), rows: cells, aligns: ['left', 'left', 'right', 'right', 'right', 'left', ...(layout ? (['left'] as const) : []), 'left'], compact: true });
  const out = ['', c.bold(title), table];
  if (hidden > 0) out.push(c.dim(`… ${hidden} more timed layer${hidden === 1 ? '' : 's'} (--all shows every layer)`));
  if (sepLine) out.push(c.green(sepLine));
  if (lutLine) out.push(c.dim(lutLine));
  out.push(c.dim(footnote));
  return out.join('\n') + '\n';
}

/** "Predicted latency 12.3 ms on rpi4 exceeds the budget of 10 ms by 2.3 ms (23.0%)", or null when it holds. */
export function latencyBudgetFailure(latencyMs: number | null, limitMs: number, name: string): string | null {
  const device = terminalText(name);
  if (latencyMs === null) return `Predicted latency on ${device} is unknown, so the budget of ${msText(limitMs)} cannot pass`;
  if (latencyMs <= limitMs) return null;
  const over = latencyMs - limitMs;
  return `Predicted latency ${msText(latencyMs)} on ${device} exceeds the budget of ${msText(limitMs)} by ${msText(over)} (${((100 * over) / limitMs).toFixed(1)}%)`;
}
