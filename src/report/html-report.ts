import type { Dataflow } from '../cost/dataflow.js';
import { hasModuleScopes } from '../cost/modules.js';
import { totalFlops } from '../ops/define.js';
import type { LatencyReport } from '../latency/model.js';
import { renderEnergySection } from './energy-report.js';
import { type HtmlLatencyOptions, renderLatencySection } from './html-latency.js';
import { num, pageEnd, pageStart } from './html-page.js';
import { analyzeGraph, graphData, graphScript, graphShown, renderGraphSection } from './html-graph.js';
import { moduleLabel } from './modules-report.js';
import { showsPrecision } from '../cost/precision.js';
import { type Bar, type TreeNode, escapeHtml, horizontalBarChart, layerBarChart, treemap } from './svg-charts.js';
import { formatText, grouped, human, humanBytes, percent, shapeText } from './units.js';
import { noteText, reasonText } from './messages/analyze.js';
import type { LayerReport, ModuleCost, Report } from '../contract/analyze.js';

/**
 * `mbn analyze --format html`: one self-contained page (no network, no external reference) with the totals, a
 * per-layer cost chart, cost by op type, the module roll-up as a treemap, the separable candidates and the layer
 * table. Everything is rendered here as static HTML and SVG; the inline script (html-assets.ts) only switches chart
 * variants, shows tooltips and sorts/filters the table. Model-derived strings are escaped with `escapeHtml`, and
 * the embedded data is JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped, so no name can end the script block.
 */

export interface HtmlOptions {
  /** Show FLOPs instead of MACs by default. */
  flops: boolean;
  /** The module roll-up (rollUpModules) and its depth. */
  modules: { depth: number; rows: ModuleCost[] };
  /** mbn's version, for the footer. */
  version: string;
  /** `--device`: the report has been through addLatency and addEnergy; "Predicted latency" and "Estimated energy" sections follow the totals. */
  latency?: HtmlLatencyOptions | null;
  /** The dataflow between layers (cost/dataflow.ts): a graph view follows the totals (html-graph.ts); without it, none. */
  dataflow?: Dataflow | null;
}

/** The chart colour of a layer: convs, products (matmul, recurrent, attention), the rest. */
function kindOf(kind: LayerReport['kind'] | undefined): string {
  return kind === 'conv' ? 'k-conv' : kind === 'matmul' || kind === 'recurrent' || kind === 'attention' ? 'k-mm' : 'k-other';
}

const flopsOf = (l: LayerReport) => totalFlops(l.macs, l.otherFlops);

const METRICS = [
  { key: 'macs', label: 'MACs', value: (l: LayerReport) => l.macs, axis: human },
  { key: 'flops', label: 'FLOPs', value: flopsOf, axis: human },
  { key: 'params', label: 'Params', value: (l: LayerReport) => l.params, axis: human },
  { key: 'activations', label: 'Activation bytes', value: (l: LayerReport) => l.activationBytes, axis: humanBytes },
] as const;

export function renderHtml(report: Report, options: HtmlOptions): string {
  const t = report.totals;
  const title = report.model.path ?? 'model';
  const e = escapeHtml;
  const out: string[] = [pageStart(`mbn: ${title}`)];
  const inputs = report.model.inputs.map((i) => `${i.name} ${shapeText(i.shape)}`).join(', ');
  out.push(`<header><h1>${e(title)}</h1><div class="meta">${e(formatText(report.model, report.model.producer))} · input ${e(inputs || 'none')}</div></header>`);
  out.push('<main>');

  // Totals.
  out.push('<section id="totals"><h2>Totals</h2><div class="cards">');
  const card = (k: string, v: string, x: string, id = '') => out.push(`<div class="card"${id ? ` id="${id}"` : ''}><div class="k">${k}</div><div class="v">${v}</div><div class="x">${x}</div></div>`);
  card('MACs', human(t.macs), grouped(t.macs), 'total-macs');
  card('FLOPs', human(t.flops), `2·MACs + ${human(t.otherFlops)} other`);
  card('Params', human(t.params), grouped(t.params));
  card('Weights', humanBytes(t.weightBytes), `${grouped(t.weightBytes)} bytes`);
  card('Peak activations', humanBytes(t.peakActivationBytes), `${grouped(t.peakActivationBytes)} bytes`);
  card('Layers', String(t.layers), t.notCounted ? `<span class="warn">${t.notCounted} not counted: totals leave them out</span>` : 'all counted');
  out.push('</div>');
  if (t.separableLayers > 0) {
    out.push(
      `<p class="good">Separating ${t.separableLayers} standard conv${t.separableLayers === 1 ? '' : 's'}: MACs ${human(t.macs)} → ${human(t.macsIfSeparated)} (−${percent(t.macs - t.macsIfSeparated, t.macs)}), params ${human(t.params)} → ${human(t.paramsIfSeparated)} (−${percent(t.params - t.paramsIfSeparated, t.params)})</p>`,
    );
  }
  out.push('</section>');
  if (options.latency) {
    out.push(renderLatencySection(report as LatencyReport, options.latency));
    out.push(renderEnergySection(report as LatencyReport, options.latency));
  }
  const graph = options.dataflow ? analyzeGraph(report, options.dataflow, options.flops) : null;
  if (graph) out.push(renderGraphSection(graph, false));

  // Per-layer chart: one SVG per metric and scale.
  const initial = options.flops ? 'flops' : 'macs';
  out.push('<section id="per-layer"><h2>Cost per layer, in model order</h2>');
  out.push('<div class="controls" id="chart-controls">');
  for (const m of METRICS) {
    out.push(`<label><input type="radio" name="metric" value="${m.key}"${m.key === initial ? ' checked' : ''}> ${m.label}</label>`);
  }
  out.push('<label><input type="checkbox" id="log"> log scale</label>');
  out.push('<span class="legend"><span><i class="k" style="background:var(--conv)"></i>conv</span><span><i style="background:var(--mm)"></i>matmul / gemm / recurrent</span><span><i style="background:var(--other)"></i>other</span></span>');
  out.push('</div><div id="layer-chart">');
  // Constant layers (a Constant, an Identity of a weight: cost/dataflow.ts) have nothing to show; left out, they no
  // longer take the first fifth of a torch-exported MobileNetV2's axis.
  const constant = new Set(options.dataflow?.constant ?? []);
  const charted = report.layers.flatMap((l, index) => (constant.has(index) ? [] : [{ l, index }]));
  for (const m of METRICS) {
    const bars: Bar[] = charted.map(({ l, index }, slot) => ({ value: m.value(l), cls: kindOf(l.kind), index, slot }));
    for (const log of [false, true]) {
      const on = m.key === initial && !log;
      out.push(`<div class="variant${on ? ' on' : ''}" data-metric="${m.key}" data-scale="${log ? 'log' : 'linear'}">`);
      out.push(layerBarChart(bars, charted.length, log, m.axis, `${m.label} per layer${log ? ', log scale' : ''}`));
      out.push('</div>');
    }
  }
  out.push('</div>');
  if (constant.size > 0) out.push(`<p class="note">${constant.size} constant layer${constant.size === 1 ? '' : 's'} (Constant, Identity of a weight, arithmetic on constants) left out of the chart: ${charted.length} of ${report.layers.length} layers shown.</p>`);
  out.push('</section>');

  // Modules.
  out.push(renderModulesSection(report, options));

  // By op type.
  out.push('<section id="by-op"><h2>Cost by op type</h2>');
  const ops = report.byOp.filter((o) => totalFlops(o.macs, o.otherFlops) > 0 || o.params > 0).slice(0, 24);
  // An op type's kind is its layers' (an Einsum that contracts is a product, one that only transposes is not).
  const kindByOp = new Map<string, LayerReport['kind']>();
  for (const l of report.layers) {
    const key = l.domain ? `${l.domain}::${l.op}` : l.op;
    if (l.kind || !kindByOp.has(key)) kindByOp.set(key, kindByOp.get(key) ?? l.kind);
  }
  out.push(
    horizontalBarChart(
      ops.map((o) => ({
        label: o.op,
        segments: [
          { value: totalFlops(o.macs, 0), cls: kindOf(kindByOp.get(o.op)) },
          { value: o.otherFlops, cls: 'k-other2' },
        ],
        text: `${human(totalFlops(o.macs, o.otherFlops))} FLOPs · ${percent(totalFlops(o.macs, o.otherFlops), t.flops)}`,
      })),
      'FLOPs by op type',
    ),
  );
  out.push('<div class="scroll"><table id="ops"><thead><tr><th data-sort="text">Op</th><th class="n" data-sort="num">Count</th><th class="n" data-sort="num">MACs</th><th class="n" data-sort="num">Other FLOPs</th><th class="n" data-sort="num">Params</th></tr></thead><tbody>');
  for (const o of report.byOp) {
    out.push(`<tr><td>${e(o.op)}</td>${num(o.count, String(o.count))}${num(o.macs, human(o.macs))}${num(o.otherFlops, human(o.otherFlops))}${num(o.params, human(o.params))}</tr>`);
  }
  out.push('</tbody></table></div></section>');

  // By precision (a quantized or half-precision model).
  if (showsPrecision(report.byPrecision)) {
    out.push('<section id="by-precision"><h2>Cost by precision</h2>');
    out.push('<div class="scroll"><table id="precisions"><thead><tr><th data-sort="text">Precision</th><th class="n" data-sort="num">Layers</th><th class="n" data-sort="num">MACs</th><th class="n" data-sort="num">Params</th><th class="n" data-sort="num">Weight bytes</th></tr></thead><tbody>');
    for (const p of report.byPrecision) {
      out.push(`<tr><td>${e(p.precision)}</td>${num(p.layers, String(p.layers))}${num(p.macs, human(p.macs))}${num(p.params, human(p.params))}${num(p.weightBytes, humanBytes(p.weightBytes))}</tr>`);
    }
    out.push('</tbody></table></div></section>');
  }

  // Separable candidates.
  const candidates = report.layers.filter((l) => l.separable);
  out.push(`<section id="separable"><h2>Separable candidates (${candidates.length})</h2>`);
  if (candidates.length === 0) out.push('<p class="note">No standard conv with a kernel larger than 1×1: nothing to separate.</p>');
  else {
    out.push('<div class="scroll"><table id="candidates"><thead><tr><th data-sort="text">Layer</th><th class="n" data-sort="num">M → N</th><th>Kernel</th><th class="n" data-sort="num">MACs</th><th class="n" data-sort="num">After</th><th class="n" data-sort="num">Saved</th><th class="n" data-sort="num">Reduction</th></tr></thead><tbody>');
    for (const l of candidates) {
      const s = l.separable!;
      const after = s.macsAfter * l.executions;
      out.push(
        `<tr><td class="name">${e(l.name)}</td>${num(s.N, `${s.M} → ${s.N}`)}<td>${s.kernel.join('×')}</td>${num(l.macs, human(l.macs))}${num(after, human(after))}${num(l.macs - after, human(l.macs - after))}${num(s.reduction, `×${s.reduction.toFixed(3)} (${(1 / s.reduction).toFixed(1)}× less)`)}</tr>`,
      );
    }
    out.push('</tbody></table></div>');
  }
  out.push('</section>');

  // Layer table.
  out.push(`<section id="layer-table"><h2>Layers</h2><div class="controls"><input type="search" id="filter" placeholder="filter by name or op" aria-label="filter layers"><span class="note"><span id="shown">${report.layers.length}</span> of ${report.layers.length} layers · click a column to sort</span></div>`);
  out.push('<div class="scroll"><table id="layers"><thead><tr><th class="n" data-sort="num">#</th><th data-sort="text">Layer</th><th data-sort="text">Op</th><th>Output</th><th class="n" data-sort="num">MACs</th><th class="n" data-sort="num">FLOPs</th><th class="n" data-sort="num">Params</th><th class="n" data-sort="num">Activations</th><th class="n" data-sort="num">Share</th></tr></thead><tbody>');
  const total = options.flops ? t.flops : t.macs;
  report.layers.forEach((l, i) => {
    const cost = options.flops ? flopsOf(l) : l.macs;
    const name = l.executions !== 1 ? `${e(l.name)} <span class="note">×${l.executions}</span>` : e(l.name);
    const counted = l.counted ? '' : ` <span class="warn">not counted: ${e(l.reason ? reasonText(l.reason) : '')}</span>`;
    out.push(
      `<tr>${num(i + 1, String(i + 1))}<td class="name">${name}${counted}</td><td>${e(l.domain ? `${l.domain}::${l.op}` : l.op)}</td><td>${e(l.outputShapes.map(shapeText).join(' '))}</td>${num(l.macs, l.counted ? human(l.macs) : '?')}${num(flopsOf(l), l.counted ? human(flopsOf(l)) : '?')}${num(l.params, l.params ? human(l.params) : '')}${num(l.activationBytes, humanBytes(l.activationBytes))}${num(cost, l.counted ? percent(cost, total) : '')}</tr>`,
    );
  });
  out.push('</tbody></table></div></section>');

  const notes = [...report.notes.map(noteText), ...report.layers.flatMap((l) => l.notes.map((n) => `${l.name}: ${noteText(n)}`))];
  if (notes.length) {
    out.push('<section id="notes"><h2>Notes</h2><ul>');
    for (const n of notes) out.push(`<li>${e(n)}</li>`);
    out.push('</ul></section>');
  }
  const drawn = graph && graphShown(graph);
  out.push(pageEnd(drawn ? { ...pageData(report), graph: graphData(graph) } : pageData(report), options.version, drawn ? graphScript() : ''));
  return out.join('\n') + '\n';
}

/** The figures the script needs (tooltips), in the JSON report's own field names. */
function pageData(report: Report) {
  return {
    totals: report.totals,
    layers: report.layers.map((l) => ({ name: l.name, op: l.op, macs: l.macs, flops: flopsOf(l), params: l.params, activationBytes: l.activationBytes })),
  };
}

function renderModulesSection(report: Report, options: HtmlOptions): string {
  const { depth, rows } = options.modules;
  const out = [`<section id="modules"><h2>Cost by module (name scopes, depth ${depth})</h2>`];
  const metric = options.flops ? 'FLOPs' : 'MACs';
  const value = (m: ModuleCost) => (options.flops ? m.flops : m.macs);
  const total = options.flops ? report.totals.flops : report.totals.macs;
  if (!hasModuleScopes(report.layers)) {
    out.push('<p class="note">No layer name has a <code>/</code> module scope (torch.onnx.export and tf2onnx write <code>/layer1/layer1.0/conv1/Conv</code>), so there is nothing to roll up: every layer is top level. The op-type breakdown above is the grouping this model has.</p></section>');
    return out.join('');
  }
  const children = (parent: string): TreeNode[] =>
    rows
      .filter((m) => m.parent === parent)
      .map((m) => ({ label: `${moduleLabel(m).slice(moduleLabel(m).lastIndexOf('/') + 1)} · ${human(value(m))}`, value: value(m), detail: `${moduleLabel(m)}: ${human(value(m))} ${metric} (${percent(value(m), total)}), ${human(m.params)} params`, children: [] }));
  const top: TreeNode[] = rows
    .filter((m) => m.depth === 1)
    .map((m) => ({ label: `${moduleLabel(m)} · ${human(value(m))}`, value: value(m), detail: `${moduleLabel(m)}: ${human(value(m))} ${metric} (${percent(value(m), total)}), ${human(m.params)} params`, children: m.name === '' ? [] : children(m.name) }));
  out.push(`<p class="note">Area: ${metric}. Top-level modules, with their children inside. Hover for figures.</p>`);
  out.push(treemap(top, `${metric} by module`));
  out.push(`<div class="scroll"><table id="module-table"><thead><tr><th>Module</th><th class="n">Layers</th><th class="n">${metric}</th><th class="n">Params</th><th class="n">Activations</th><th class="n">Share</th></tr></thead><tbody>`);
  for (const m of rows) {
    const indent = '&nbsp;&nbsp;'.repeat(m.depth - 1);
    const incomplete = m.notCounted > 0 ? ` <span class="warn">+${m.notCounted} not counted</span>` : '';
    out.push(`<tr><td class="name">${indent}${escapeHtml(moduleLabel(m))}</td>${num(m.layers, String(m.layers))}<td class="n" data-v="${value(m)}">${escapeHtml(human(value(m)))}${incomplete}</td>${num(m.params, human(m.params))}${num(m.activationBytes, humanBytes(m.activationBytes))}${num(value(m), percent(value(m), total))}</tr>`);
  }
  out.push('</tbody></table></div></section>');
  return out.join('');
}
