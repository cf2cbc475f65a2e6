import type { ChalkInstance } from 'chalk';
import { SHAPE_FIGURES } from '../budget/completeness.js';
import { gapSummary } from './messages/analyze.js';
import { FIGURES } from '../budget/limits.js';
import { LINE_WIDTH, fmt, signed, signedPercent } from './budget-text.js';
import { MD_NAME_WIDTH, markdownCode, mdEscape, terminalCell, terminalText } from './safe-text.js';
import { boxTable } from './table.js';
import type { Reporter } from './formats.js';
import { type DiffHtmlOptions, renderDiffHtml } from './html-diff-report.js';
import { gapJson } from './analyze-report.js';
import type { DiffJson, DiffResult, DiffSideJson, LayerDiff } from '../contract/diff.js';
import type { FigureKey } from '../contract/check.js';

/** Rendering of `mbn diff`: table (terminal), json (stable contract), md (a pull-request comment). Pure. */

export interface DiffView {
  /** Include unchanged layers. */
  all: boolean;
}

/** By default, the layers whose MACs or params change (an added ReLU costs no MACs and is left out); --all shows every layer. */
function shownLayers(diff: DiffResult, view: DiffView): LayerDiff[] {
  // A layer not counted on either side has an unknown change: it is listed.
  return view.all ? diff.layers : diff.layers.filter((l) => l.macs.delta !== 0 || l.params.delta !== 0 || l.uncounted.base || l.uncounted.head);
}

/** A layer's MACs on its shown side, '?' where that side could not count it. */
function layerMacs(l: LayerDiff): string {
  return l.status === 'removed' ? (l.uncounted.base ? '?' : fmt('macs', l.macs.base)) : l.uncounted.head ? '?' : fmt('macs', l.macs.head);
}

function macsChange(l: LayerDiff): [string, string] {
  if (l.uncounted.base || l.uncounted.head) return ['?', l.status === 'added' || l.status === 'removed' ? '' : '?'];
  return [signed('macs', l.macs.delta), l.status === 'added' || l.status === 'removed' ? '' : signedPercent(l.macs.percent)];
}

/**
 * Base, head, change and percent of a total. On an incomplete side a figure that depends on shapes is what mbn
 * could count (≥), and its change is unknown.
 */
function totalCells(diff: DiffResult, key: FigureKey): [string, string, string, string] {
  const d = diff.totals[key];
  const partial = (side: 'base' | 'head') => !diff[side].complete && SHAPE_FIGURES.has(key);
  const show = (side: 'base' | 'head') => `${partial(side) ? '≥' : ''}${fmt(key, d[side])}`;
  if (partial('base') || partial('head')) return [show('base'), show('head'), '?', '?'];
  return [show('base'), show('head'), signed(key, d.delta), signedPercent(d.percent)];
}

/** One line per incomplete side: "head is incomplete: 48 layers that run are not counted; its totals leave them out". */
function incompleteSides(diff: DiffResult): string[] {
  return (['base', 'head'] as const)
    .filter((side) => !diff[side].complete)
    .map((side) => `⚠ ${side} (${diff[side].path ?? side}) is an incomplete analysis: ${gapSummary(diff[side].incomplete)}; its figures leave those out, and layers marked ? are not counted`);
}

function layerSummary(diff: DiffResult): string {
  const s = diff.summary;
  const parts = [`${s.added} added`, `${s.removed} removed`, `${s.changed} changed`, `${s.unchanged} unchanged`];
  return `Layers: ${parts.join(', ')}${s.renamed ? ` (${s.renamed} matched by op and position)` : ''}`;
}

function layerName(l: LayerDiff): string {
  return l.renamedFrom ? `${l.name} (was ${l.renamedFrom})` : l.name;
}

export function renderDiffTable(diff: DiffResult, view: DiffView, c: ChalkInstance): string {
  const out: string[] = [];
  out.push(`${c.bold(terminalCell(diff.base.path ?? 'base', LINE_WIDTH))} → ${c.bold(terminalCell(diff.head.path ?? 'head', LINE_WIDTH))}`);
  const totals = FIGURES.map((f) => {
    const d = diff.totals[f.key];
    const colour = d.delta > 0 ? c.red : d.delta < 0 ? c.green : (s: string) => s;
    const [base, head, change, pct] = totalCells(diff, f.key);
    return [f.label, base, head, change === '?' ? change : colour(change), pct === '?' ? pct : colour(pct)];
  });
  out.push(boxTable({ head: ['', 'Base', 'Head', 'Change', '%'].map((h) => c.bold(h)), rows: totals, aligns: ['left', 'right', 'right', 'right', 'right'] }));
  for (const line of incompleteSides(diff)) out.push(c.yellow.bold(terminalText(line)));
  const rows = shownLayers(diff, view);
  if (rows.length > 0) {
    const cells = rows.map((l) => {
      const mark = l.status === 'added' ? c.green('+') : l.status === 'removed' ? c.red('-') : l.status === 'changed' ? c.yellow('~') : ' ';
      const [change, pct] = macsChange(l);
      return [
        mark,
        terminalCell(layerName(l), 60),
        terminalCell(l.op, 32),
        layerMacs(l),
        change,
        pct,
        l.status === 'removed' ? fmt('params', l.params.base) : fmt('params', l.params.head),
        signed('params', l.params.delta),
      ];
    });
    out.push(
      boxTable({
        head: ['', 'Layer', 'Op', 'MACs', 'Change', '%', 'Params', 'Change'].map((h) => c.bold(h)),
        rows: cells,
        aligns: ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
        compact: true,
      }),
    );
  }
  const hidden = diff.layers.length - rows.length;
  out.push(c.dim(`${layerSummary(diff)}${hidden > 0 ? `; ${hidden} without a MACs or params change not listed (--all lists them)` : ''}`));
  return out.join('\n') + '\n';
}

export function diffJson(diff: DiffResult): DiffJson {
  const side = (s: DiffResult['base']): DiffSideJson => ({ ...s, incomplete: s.incomplete.map(gapJson) });
  return { ...diff, base: side(diff.base), head: side(diff.head) };
}

export function renderDiffJson(diff: DiffResult): string {
  return JSON.stringify(diffJson(diff), null, 2) + '\n';
}

export function renderDiffMarkdown(diff: DiffResult, view: DiffView): string {
  const t = diff.totals;
  const out: string[] = [];
  const arrow = t.macs.delta > 0 ? '📈' : t.macs.delta < 0 ? '📉' : '➖';
  out.push(`### mbn diff ${arrow} MACs ${signed('macs', t.macs.delta)} (${signedPercent(t.macs.percent)})`);
  out.push('');
  out.push(`Base ${markdownCode(diff.base.path ?? 'base', MD_NAME_WIDTH)} → head ${markdownCode(diff.head.path ?? 'head', MD_NAME_WIDTH)}`);
  out.push('');
  out.push('| | Base | Head | Change | % |');
  out.push('|---|---:|---:|---:|---:|');
  for (const f of FIGURES) {
    out.push(`| ${f.label} | ${totalCells(diff, f.key).join(' | ')} |`);
  }
  out.push('');
  for (const line of incompleteSides(diff)) out.push(`**${mdEscape(line)}**`, '');
  const rows = shownLayers(diff, view);
  out.push('<details>');
  const hidden = diff.layers.length - rows.length;
  out.push(`<summary>${layerSummary(diff)}${hidden > 0 ? ` (${rows.length} with a MACs or params change listed)` : ''}</summary>`);
  out.push('');
  if (rows.length > 0) {
    out.push('| | Layer | Op | MACs | Change | % | Params | Change |');
    out.push('|---|---|---|---:|---:|---:|---:|---:|');
    for (const l of rows) {
      const mark = l.status === 'added' ? '➕' : l.status === 'removed' ? '➖' : l.status === 'changed' ? '✏️' : '';
      const [change, pct] = macsChange(l);
      out.push(
        `| ${mark} | ${mdEscape(layerName(l))} | ${mdEscape(l.op)} | ${layerMacs(l)} | ${change} | ${pct} | ${l.status === 'removed' ? fmt('params', l.params.base) : fmt('params', l.params.head)} | ${signed('params', l.params.delta)} |`,
      );
    }
  } else out.push('No per-layer MACs or params changes.');
  out.push('');
  out.push('</details>');
  return out.join('\n') + '\n';
}

/** What `mbn diff` renders with besides the diff: the view, the style, and for html the module comparison (computed only then). */
export interface DiffReportView extends DiffView {
  style: ChalkInstance;
  version: string;
  modules: () => DiffHtmlOptions['modules'];
  /** The graph view's input (html-graph.ts's diffGraph), made only for html; null: none. */
  graph: () => DiffHtmlOptions['graph'];
}

/** `mbn diff --format …`. */
export const DIFF_REPORTER: Reporter<'diff', DiffResult, DiffReportView> = {
  table: (diff, view) => renderDiffTable(diff, view, view.style),
  json: (diff) => renderDiffJson(diff),
  md: (diff, view) => renderDiffMarkdown(diff, view),
  html: (diff, view) => renderDiffHtml(diff, { modules: view.modules(), all: view.all, version: view.version, graph: view.graph() }),
};
