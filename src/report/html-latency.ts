import type { LatencyReport } from '../latency/model.js';
import { msText } from './latency-report.js';
import { num } from './html-page.js';
import { escapeHtml, horizontalBarChart } from './svg-charts.js';
import { human, lowerBoundText } from './units.js';
import type { DeviceProfile } from '../contract/device.js';

/**
 * The "Predicted latency" section of the HTML report (`mbn analyze --format html --device PROFILE`): the total, the
 * costliest layers by predicted time with what bounds each and, for standard convs, the time after separation
 * beside the MAC ratio, and a bar chart of the top layers. Figures come from the report as addLatency left it; the
 * device's name and description and the layer names are data, escaped with escapeHtml.
 */

export interface HtmlLatencyOptions {
  profile: DeviceProfile;
  /** Layers in the table (`--top N`), costliest first; null: 25. */
  top: number | null;
  /** `--all`: every timed layer in the table. */
  all: boolean;
}

/** Rows of the table when neither --top nor --all is given, as in the terminal's latency table. */
const DEFAULT_LATENCY_ROWS = 25;
/** Bars in the chart: the costliest layers by predicted time. */
const CHART_BARS = 15;

const LATENCY_CSS = ':root { --mem: #cf222e; } .k-mem { fill: var(--mem); } td.mem { color: var(--mem); }';

/** Bar colour by what bounds the layer: the report's CSS classes, and k-mem from LATENCY_CSS. */
const BOUND_CLASS = { compute: 'k-conv', memory: 'k-mem', overhead: 'k-other' } as const;

function shareText(ms: number, total: number): string {
  return total > 0 ? `${((100 * ms) / total).toFixed(1)}%` : '';
}

export function renderLatencySection(report: LatencyReport, options: HtmlLatencyOptions): string {
  const { profile } = options;
  const e = escapeHtml;
  const t = report.totals;
  const total = t.latencyMs ?? 0;
  // Layers with a kernel of their own and a time; fused layers run inside the kernel they are fused into.
  const timed = report.layers.filter((l) => l.fusedInto == null && (l.latencyMs ?? 0) > 0);
  const ranked = timed.slice().sort((a, b) => b.latencyMs! - a.latencyMs!);
  const rows = options.all ? ranked : ranked.slice(0, options.top ?? DEFAULT_LATENCY_ROWS);
  const fused = report.layers.filter((l) => l.fusedInto != null).length;
  const memory = timed.filter((l) => l.bound === 'memory');
  const memoryMs = memory.reduce((s, l) => s + l.latencyMs!, 0);

  // Its own style, so that a page without --device stays byte for byte what it was (the CSP allows inline style).
  const out: string[] = [`<section id="latency"><style>${LATENCY_CSS}</style><h2>Predicted latency on ${e(profile.name)}</h2>`];
  out.push('<div class="cards">');
  const estimate = profile.calibrated
    ? `calibrated profile, ${profile.threads} thread${profile.threads === 1 ? '' : 's'}`
    : '<span class="warn" id="uncalibrated">uncalibrated estimate</span>: mbn calibrate on the device replaces it';
  out.push(`<div class="card" id="latency-total"><div class="k">Predicted latency</div><div class="v">${e(lowerBoundText(report, msText(total)))}</div><div class="x">${estimate}</div></div>`);
  if (t.separableLayers > 0 && t.latencyIfSeparatedMs !== undefined && total > 0) {
    out.push(
      `<div class="card" id="latency-separated"><div class="k">If separated</div><div class="v">${e(msText(t.latencyIfSeparatedMs))}</div><div class="x">${t.separableLayers} standard conv${t.separableLayers === 1 ? '' : 's'}: time ×${(t.latencyIfSeparatedMs / total).toFixed(2)}, MACs ×${t.macs ? (t.macsIfSeparated / t.macs).toFixed(2) : '?'}</div></div>`,
    );
  }
  out.push(
    `<div class="card" id="latency-memory"><div class="k">Memory-bound layers</div><div class="v">${memory.length}</div><div class="x">${e(msText(memoryMs))}, ${shareText(memoryMs, total) || '0%'} of the time</div></div>`,
  );
  out.push('</div>');
  if (profile.description) out.push(`<p class="note">${e(profile.description)}</p>`);

  if (rows.length === 0) {
    out.push('<p class="note">No layer has a predicted time of its own.</p></section>');
    return out.join('\n');
  }
  const bars = ranked.slice(0, CHART_BARS);
  out.push(`<p class="note">The ${bars.length} costliest layers by predicted time. <span class="legend"><span><i style="background:var(--conv)"></i>compute-bound</span><span><i style="background:var(--mem)"></i>memory-bound</span><span><i style="background:var(--other)"></i>overhead-bound</span></span></p>`);
  out.push(
    horizontalBarChart(
      bars.map((l) => ({
        label: l.name,
        segments: [{ value: l.latencyMs!, cls: l.bound ? BOUND_CLASS[l.bound] : 'k-other' }],
        text: `${msText(l.latencyMs!)} · ${shareText(l.latencyMs!, total)}${l.bound ? ` · ${l.bound}` : ''}`,
      })),
      'Predicted time per layer (the costliest)',
    ),
  );
  out.push(
    '<div class="scroll"><table id="latency-layers"><thead><tr><th data-sort="text">Layer</th><th data-sort="text">Op</th><th class="n" data-sort="num">MACs</th><th class="n" data-sort="num">Time</th><th class="n" data-sort="num">Share</th><th data-sort="text">Bound</th><th class="n" data-sort="num">Separated</th><th class="n" data-sort="num">Time ratio</th><th class="n" data-sort="num">MAC ratio</th></tr></thead><tbody>',
  );
  for (const l of rows) {
    const s = l.separation;
    const bound = l.bound === 'memory' ? '<td class="mem"><strong>memory</strong></td>' : `<td>${e(l.bound ?? '')}</td>`;
    const separated = s ? `${num(s.afterMs, msText(s.afterMs))}${num(s.timeRatio, `×${s.timeRatio.toFixed(2)}`)}${num(s.macRatio, `×${s.macRatio.toFixed(2)}`)}` : '<td></td><td></td><td></td>';
    out.push(
      `<tr${l.bound === 'memory' ? ' class="memory-bound"' : ''}><td class="name">${e(l.name)}</td><td>${e(l.op)}</td>${num(l.macs, l.macs ? human(l.macs) : '')}${num(l.latencyMs!, msText(l.latencyMs!))}${num(total > 0 ? l.latencyMs! / total : 0, shareText(l.latencyMs!, total))}${bound}${separated}</tr>`,
    );
  }
  out.push('</tbody></table></div>');
  const hidden = ranked.length - rows.length;
  const notes = [
    hidden > 0 ? `${hidden} more timed layer${hidden === 1 ? '' : 's'} not shown (--all shows every one).` : '',
    fused > 0 ? `${fused} layer${fused === 1 ? ' runs' : 's run'} fused inside another layer's kernel (an activation, batch-norm or residual add after a conv): ${fused === 1 ? 'its' : 'their'} time is in that layer's.` : '',
    `Time = max(FLOPs / the op class's rate, bytes moved / bandwidth) + per-op overhead; "Separated" is the predicted time of the depthwise and pointwise convs that would replace a standard conv, beside its MAC ratio.`,
  ].filter((x) => x);
  out.push(`<p class="note">${notes.map(e).join(' ')}</p>`);
  out.push('</section>');
  return out.join('\n');
}
