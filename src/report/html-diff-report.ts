import { FIGURES } from '../budget/limits.js';
import type { ModuleChange } from '../cost/modules.js';
import { num, pageEnd, pageStart } from './html-page.js';
import { type GraphInput, graphData, graphScript, graphShown, renderGraphSection } from './html-graph.js';
import { pairedBarChart, escapeHtml } from './svg-charts.js';
import { human, humanBytes } from './units.js';
import type { Delta, DiffResult } from '../contract/diff.js';

/**
 * `mbn diff base head --format html`: the totals before and after, MACs per module before and after (a paired bar
 * chart and a table, from diffModules), and the changed layers (sortable, filterable). Same page shell, escaping and
 * script as the analyze report (html-report.ts).
 */

export interface DiffHtmlOptions {
  modules: { depth: number; rows: ModuleChange[] };
  /** List unchanged layers too. */
  all: boolean;
  version: string;
  /** The graph view's input (html-graph.ts's diffGraph); without it, none. */
  graph?: GraphInput | null;
}

function signed(value: number, bytes: boolean): string {
  const text = bytes ? humanBytes(Math.abs(value)) : human(Math.abs(value));
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : '0';
}

function pct(d: Delta): string {
  if (d.percent === null) return 'new';
  return `${d.percent > 0 ? '+' : d.percent < 0 ? '−' : ''}${Math.abs(d.percent).toFixed(1)}%`;
}

export function renderDiffHtml(diff: DiffResult, options: DiffHtmlOptions): string {
  const e = escapeHtml;
  const base = diff.base.path ?? 'base';
  const head = diff.head.path ?? 'head';
  const out: string[] = [pageStart(`mbn diff: ${base} → ${head}`)];
  out.push(`<header><h1>${e(base)} → ${e(head)}</h1><div class="meta">mbn diff · ${diff.summary.changed} changed, ${diff.summary.added} added, ${diff.summary.removed} removed, ${diff.summary.unchanged} unchanged layers${diff.summary.renamed ? ` (${diff.summary.renamed} renamed)` : ''}</div></header>`);
  out.push('<main>');

  out.push('<section id="totals"><h2>Totals</h2><div class="cards wide">');
  for (const f of FIGURES) {
    const d = diff.totals[f.key];
    const fmt = (v: number) => (f.bytes ? humanBytes(v) : human(v));
    const cls = d.delta > 0 ? 'warn' : d.delta < 0 ? 'good' : '';
    out.push(`<div class="card" id="total-${f.key}"><div class="k">${f.label}</div><div class="v">${fmt(d.base)} → ${fmt(d.head)}</div><div class="x ${cls}">${signed(d.delta, f.bytes)} (${pct(d)}) · ${d.base.toLocaleString('en-US')} → ${d.head.toLocaleString('en-US')}</div></div>`);
  }
  out.push('</div></section>');

  if (options.graph) out.push(renderGraphSection(options.graph, true));

  const { depth, rows } = options.modules;
  out.push(`<section id="modules"><h2>MACs by module, before and after (depth ${depth})</h2>`);
  if (rows.length === 1 && rows[0].name === '') {
    out.push('<p class="note">No layer name has a <code>/</code> module scope: the whole model is one top-level row.</p>');
  }
  const top = rows.filter((r) => r.depth === 1);
  out.push('<p class="legend"><span><i style="background:var(--other2)"></i>base</span><span><i style="background:var(--conv)"></i>head</span></p>');
  out.push(
    pairedBarChart(
      top.map((r) => {
        const b = r.base?.macs ?? 0;
        const h = r.head?.macs ?? 0;
        return { label: r.name === '' ? '(top level)' : r.name, base: b, head: h, text: `${human(b)} → ${human(h)}${b !== h ? ` (${signed(h - b, false)})` : ''}` };
      }),
      'MACs by module, base and head',
    ),
  );
  out.push('<div class="scroll"><table id="module-table"><thead><tr><th>Module</th><th class="n" data-sort="num">Base MACs</th><th class="n" data-sort="num">Head MACs</th><th class="n" data-sort="num">Change</th><th class="n" data-sort="num">Base params</th><th class="n" data-sort="num">Head params</th></tr></thead><tbody>');
  for (const r of rows) {
    const b = r.base?.macs ?? 0;
    const h = r.head?.macs ?? 0;
    const label = `${'&nbsp;&nbsp;'.repeat(r.depth - 1)}${e(r.name === '' ? '(top level)' : r.name)}${r.base === null ? ' <span class="warn">new</span>' : r.head === null ? ' <span class="warn">removed</span>' : ''}`;
    out.push(`<tr><td class="name">${label}</td>${num(b, r.base ? human(b) : '')}${num(h, r.head ? human(h) : '')}${num(h - b, signed(h - b, false))}${num(r.base?.params ?? 0, r.base ? human(r.base.params) : '')}${num(r.head?.params ?? 0, r.head ? human(r.head.params) : '')}</tr>`);
  }
  out.push('</tbody></table></div></section>');

  const layers = options.all ? diff.layers : diff.layers.filter((l) => l.status !== 'unchanged');
  out.push(`<section id="layer-table"><h2>Layers${options.all ? '' : ' that changed'}</h2><div class="controls"><input type="search" id="filter" placeholder="filter by name or op" aria-label="filter layers"><span class="note"><span id="shown">${layers.length}</span> of ${layers.length} rows · click a column to sort</span></div>`);
  out.push('<div class="scroll"><table id="layers"><thead><tr><th class="n" data-sort="num">#</th><th data-sort="text">Layer</th><th data-sort="text">Op</th><th data-sort="text">Change</th><th class="n" data-sort="num">Base MACs</th><th class="n" data-sort="num">Head MACs</th><th class="n" data-sort="num">ΔMACs</th><th class="n" data-sort="num">ΔParams</th></tr></thead><tbody>');
  layers.forEach((l, i) => {
    const renamed = l.renamedFrom !== null ? ` <span class="note">(was ${e(l.renamedFrom)})</span>` : '';
    out.push(`<tr>${num(i + 1, String(i + 1))}<td class="name">${e(l.name)}${renamed}</td><td>${e(l.op)}</td><td>${l.status}</td>${num(l.macs.base, human(l.macs.base))}${num(l.macs.head, human(l.macs.head))}${num(l.macs.delta, `${signed(l.macs.delta, false)} (${pct(l.macs)})`)}${num(l.params.delta, signed(l.params.delta, false))}</tr>`);
  });
  out.push('</tbody></table></div></section>');
  const data = { totals: diff.totals, summary: diff.summary };
  const drawn = options.graph && graphShown(options.graph);
  out.push(pageEnd(drawn ? { ...data, graph: graphData(options.graph!) } : data, options.version, drawn ? graphScript() : ''));
  return out.join('\n') + '\n';
}
