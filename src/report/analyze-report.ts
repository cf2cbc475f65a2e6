import type { ChalkInstance } from 'chalk';
import { showsPrecision } from '../cost/precision.js';
import { energyBasisText, gapSummary, notesText, noteText, reasonText } from './messages/analyze.js';
import type { EnergyBasis } from '../contract/messages.js';
import { rollUpModules } from '../cost/modules.js';
import { totalFlops } from '../ops/define.js';
import type { LatencyReport } from '../latency/model.js';
import { ENERGY_CSV_HEAD, energyCsvCells, renderEnergy } from './energy-report.js';
import { LATENCY_CSV_HEAD, latencyCsvCells } from './latency-csv.js';
import type { Reporter } from './formats.js';
import type { Dataflow, MainGraphNodes } from '../cost/dataflow.js';
import { renderModelExplorer } from './model-explorer.js';
import { renderHtml } from './html-report.js';
import { renderLatency } from './latency-report.js';
import { renderModuleMarkdown, renderModuleTable } from './modules-report.js';
import { clipEnd, clipStart } from '../text.js';
import { csvField, MD_NAME_WIDTH, markdownText, mdEscape, NAME_WIDTH, terminalCell, terminalCellMiddle, terminalText } from './safe-text.js';
import { streamJson } from './json-stream.js';
import { type Align, boxTable, displayWidth } from './table.js';
import { bar, dimsText, formatText, grouped, human, humanBytes, percent, shapeText } from './units.js';
import { ANALYZE_SCHEMA, type AnalyzeJson, type Gap, type GapJson, type LayerJson, type LayerReport, type ModuleCost, type Report } from '../contract/analyze.js';
import type { DeviceProfile } from '../contract/device.js';

export interface RenderOptions {
  /** Show FLOPs (2·MACs + other) instead of MACs. */
  flops: boolean;
  /** Costliest N layers, sorted by cost. */
  top: number | null;
  all: boolean;
  style: ChalkInstance;
  /** `--depth N`: the module roll-up to show after the layers. */
  modules?: { depth: number; rows: ModuleCost[] } | null;
  /** Terminal columns the layer table must fit (stdout's width on a terminal); absent or null: full width (pipes). */
  width?: number | null;
}

/** Narrowest layer name a fitted table shortens to before it drops another column. */
const MIN_NAME_WIDTH = 20;
/** Columns a narrow terminal loses first, by index in the layer table: Output, Separable, Share, Params. */
const DROP_ORDER = [2, 6, 5, 4];

/** A layer table's width in terminal columns: `│ cell │ cell │`, one space each side of every cell. */
function tableWidth(widths: readonly number[]): number {
  return 1 + widths.reduce((sum, w) => sum + w + 3, 0);
}

/**
 * Which columns of the layer table fit in `width` terminal columns, and how wide the names may be: names are
 * shortened (in the middle) down to MIN_NAME_WIDTH, then the low-value columns go one by one (DROP_ORDER).
 */
export function fitLayerColumns(widths: readonly number[], width: number): { keep: number[]; nameWidth: number } {
  let keep = widths.map((_, j) => j);
  for (let drop = 0; ; drop++) {
    const others = tableWidth(keep.filter((j) => j !== 0).map((j) => widths[j])) + 3;
    const room = width - others;
    if (room >= Math.min(widths[0], MIN_NAME_WIDTH) || drop === DROP_ORDER.length) {
      return { keep, nameWidth: Math.max(Math.min(widths[0], room), Math.min(widths[0], MIN_NAME_WIDTH)) };
    }
    keep = keep.filter((j) => j !== DROP_ORDER[drop]);
  }
}

/** Layers shown by default when neither --top nor --all is given. */
export const DEFAULT_ROWS = 25;

export const JSON_SCHEMA = ANALYZE_SCHEMA;

/** Widest op type cell (op types come from the model, so they are data too). */
const OP_WIDTH = 32;
/** Longest data in a text line (a path, a reason, a note). */
const LINE_WIDTH = 200;

function layerCost(l: LayerReport, flops: boolean): number {
  return flops ? totalFlops(l.macs, l.otherFlops) : l.macs;
}

/** Which layers a view shows, in which order, and how many it leaves out. */
export function selectLayers(report: Report, options: Pick<RenderOptions, 'flops' | 'top' | 'all'>): { rows: LayerReport[]; hidden: number } {
  const layers = report.layers;
  if (options.all) return { rows: layers, hidden: 0 };
  // Costliest first by the metric shown, then by other FLOPs: a model of activations alone still shows its layers.
  const costlier = (a: LayerReport, b: LayerReport) => layerCost(b, options.flops) - layerCost(a, options.flops) || b.otherFlops - a.otherFlops;
  const costly = (l: LayerReport) => layerCost(l, options.flops) > 0 || l.params > 0 || !l.counted;
  // A model of activations alone (no MACs, no weights) still shows its costliest layers.
  const shown = layers.some(costly) ? costly : (l: LayerReport) => l.otherFlops > 0;
  if (options.top !== null) {
    const rows = layers.filter(shown).sort(costlier).slice(0, options.top);
    return { rows, hidden: layers.length - rows.length };
  }
  const rows = costliest(layers, shown, DEFAULT_ROWS, costlier);
  return { rows, hidden: layers.length - rows.length };
}

/**
 * The `n` costliest layers that `shown` selects (ties: the earlier layer), in layer order: what sorting them all
 * and keeping the first `n` gives, in one pass holding `n` layers rather than a sorted copy of a million.
 */
function costliest(layers: readonly LayerReport[], shown: (l: LayerReport) => boolean, n: number, costlier: (a: LayerReport, b: LayerReport) => number): LayerReport[] {
  const top: { layer: LayerReport; index: number }[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (!shown(layer) || (top.length === n && costlier(layer, top[n - 1].layer) >= 0)) continue;
    let at = top.length;
    while (at > 0 && costlier(layer, top[at - 1].layer) < 0) at--;
    top.splice(at, 0, { layer, index: i });
    if (top.length > n) top.pop();
  }
  return top.sort((a, b) => a.index - b.index).map((t) => t.layer);
}

function separableText(l: LayerReport): string {
  const s = l.separable;
  if (!s) return '';
  return `×${s.reduction.toFixed(3)} (${(1 / s.reduction).toFixed(1)}× less)`;
}

export function renderTable(report: Report, options: RenderOptions): string {
  const c = options.style;
  const metric = options.flops ? 'FLOPs' : 'MACs';
  const total = options.flops ? report.totals.flops : report.totals.macs;
  const { rows, hidden } = selectLayers(report, options);
  const cells: string[][] = new Array(rows.length);
  const nameCell = (l: LayerReport, width: number, clip: (text: string, max: number) => string) => {
    const name = clip(l.name, l.executions !== 1 ? width - 1 - `×${l.executions}`.length : width);
    return l.executions !== 1 ? `${name} ${c.dim(`×${l.executions}`)}` : name;
  };
  for (let i = 0; i < rows.length; i++) {
    const l = rows[i];
    const cost = layerCost(l, options.flops);
    cells[i] = [
      nameCell(l, NAME_WIDTH, terminalCell),
      terminalCell(l.op, OP_WIDTH),
      terminalText(clipEnd(l.outputShapes.map(shapeText).join(' '), NAME_WIDTH)),
      l.counted ? human(cost) : c.yellow('not counted'),
      l.params ? human(l.params) : '',
      l.counted ? `${c.cyan(bar(total ? cost / total : 0, 10))} ${percent(cost, total).padStart(5)}` : '',
      separableText(l),
    ];
  }
  const out: string[] = [];
  const inputs = clipEnd(report.model.inputs.map((i) => `${i.name} ${shapeText(i.shape)}`).join(', '), LINE_WIDTH);
  const about = `${formatText(report.model, clipEnd(report.model.producer, NAME_WIDTH))} · input ${inputs || 'none'}`;
  out.push(`${c.bold(terminalCell(report.model.path ?? 'model', LINE_WIDTH))}  ${c.dim(terminalText(about))}`);
  let head = ['Layer', 'Op', 'Output', metric, 'Params', 'Share', 'Separable'];
  let aligns: Align[] = ['left', 'left', 'left', 'right', 'right', 'left', 'left'];
  let body = cells;
  let dropped: string[] = [];
  if (options.width) {
    const widths = head.map((h, j) => cells.reduce((w, row) => Math.max(w, displayWidth(row[j])), h.length));
    if (tableWidth(widths) > options.width) {
      const { keep, nameWidth } = fitLayerColumns(widths, options.width);
      dropped = head.filter((_, j) => !keep.includes(j));
      body = cells.map((row, i) => keep.map((j) => (j === 0 && nameWidth < widths[0] ? nameCell(rows[i], nameWidth, terminalCellMiddle) : row[j])));
      head = keep.map((j) => head[j]);
      aligns = keep.map((j) => aligns[j]);
    }
  }
  out.push(boxTable({ head: head.map((h) => c.bold(h)), rows: body, aligns, compact: true }));
  if (dropped.length) out.push(c.dim(`(${dropped.join(', ')} left out to fit the terminal; piped, all columns show)`));
  if (hidden > 0) out.push(c.dim(`… ${hidden} more layer${hidden === 1 ? '' : 's'} (--all shows every layer, --top N the costliest N)`));
  out.push('');
  if (options.modules) {
    out.push(renderModuleTable(options.modules.rows, options.modules.depth, total, options.flops, c));
    out.push('');
  }
  if (!report.totals.complete) out.push(c.yellow.bold(terminalText(incompleteLine(report))));
  out.push(renderTotals(report, c));
  out.push('');
  out.push(renderByOp(report, c, options.flops));
  if (showsPrecision(report.byPrecision)) {
    out.push('');
    out.push(renderByPrecision(report, c));
  }
  const notCounted = report.layers.filter((l) => !l.counted);
  if (notCounted.length > 0) {
    out.push('');
    out.push(c.yellow.bold(`Not counted: ${notCounted.length} layer${notCounted.length === 1 ? '' : 's'}`));
    for (const l of notCounted.slice(0, 20)) out.push(`  ${terminalCell(l.name, LINE_WIDTH)} (${terminalCell(l.op, OP_WIDTH)}): ${terminalText(clipEnd(l.reason ? reasonText(l.reason) : '', LINE_WIDTH))}`);
    if (notCounted.length > 20) out.push(`  … and ${notCounted.length - 20} more (--format json lists all)`);
  }
  const notes = [...report.notes.map(noteText), ...report.layers.flatMap((l) => l.notes.map((n) => `${clipStart(l.name, LINE_WIDTH)}: ${noteText(n)}`))];
  if (notes.length > 0) {
    out.push('');
    out.push(c.bold('Notes'));
    for (const n of notes.slice(0, 20)) out.push(`  • ${terminalText(clipEnd(n, 2 * LINE_WIDTH))}`);
    if (notes.length > 20) out.push(`  … and ${notes.length - 20} more`);
  }
  return out.join('\n') + '\n';
}

/** The line above the totals of an incomplete report. */
export function incompleteLine(report: Report): string {
  return `⚠ Incomplete analysis: ${gapSummary(report.incomplete)}; no budget gate passes it (see --input, --allow-uncounted)`;
}

function renderTotals(report: Report, c: ChalkInstance): string {
  const t = report.totals;
  const lines = [
    `${c.bold('MACs')}        ${human(t.macs).padStart(8)}  ${c.dim(grouped(t.macs))}`,
    `${c.bold('FLOPs')}       ${human(t.flops).padStart(8)}  ${c.dim(`2·MACs + ${human(t.otherFlops)} other`)}`,
    `${c.bold('Params')}      ${human(t.params).padStart(8)}  ${c.dim(grouped(t.params))}`,
    `${c.bold('Weights')}     ${humanBytes(t.weightBytes).padStart(8)}`,
    `${c.bold('Peak act.')}   ${humanBytes(t.peakActivationBytes).padStart(8)}`,
    `${c.bold('Layers')}      ${String(t.layers).padStart(8)}  ${t.notCounted ? c.yellow(`${t.notCounted} not counted`) : c.dim('all counted')}`,
  ];
  if (t.separableLayers > 0) {
    const macsCut = 1 - t.macsIfSeparated / t.macs;
    const paramsCut = t.params ? 1 - t.paramsIfSeparated / t.params : 0;
    lines.push('');
    lines.push(
      c.green(
        `Separating ${t.separableLayers} standard conv${t.separableLayers === 1 ? '' : 's'}: MACs ${human(t.macs)} → ${human(t.macsIfSeparated)} (−${(100 * macsCut).toFixed(1)}%), params ${human(t.params)} → ${human(t.paramsIfSeparated)} (−${(100 * paramsCut).toFixed(1)}%)`,
      ),
    );
  }
  return lines.join('\n');
}

function renderByOp(report: Report, c: ChalkInstance, flops: boolean): string {
  return boxTable({
    head: ['Op', 'Count', flops ? 'FLOPs' : 'MACs', 'Other FLOPs', 'Params'].map((h) => c.bold(h)),
    rows: report.byOp.map((o) => [terminalCell(o.op, OP_WIDTH), String(o.count), human(flops ? totalFlops(o.macs, o.otherFlops) : o.macs), human(o.otherFlops), human(o.params)]),
    aligns: ['left', 'right', 'right', 'right', 'right'],
    compact: true,
  });
}

function renderByPrecision(report: Report, c: ChalkInstance): string {
  return boxTable({
    head: ['Precision', 'Layers', 'MACs', 'Params', 'Weight bytes'].map((h) => c.bold(h)),
    rows: report.byPrecision.map((p) => [terminalCell(p.precision, OP_WIDTH), String(p.layers), human(p.macs), human(p.params), humanBytes(p.weightBytes)]),
    aligns: ['left', 'right', 'right', 'right', 'right'],
    compact: true,
  });
}

/**
 * A layer as the JSON contract of version 1 names its fields: `executions` (per inference) is written `multiplier`,
 * in the same place. See the README, "JSON report".
 */
export function layerJson(l: LayerReport): LayerJson {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(l)) {
    if (key === 'executions') out.multiplier = value;
    else if (key === 'reason') {
      // Messages as data (src/contract/messages.ts): the English for readers, the code beside it for programs.
      out.reason = l.reason ? reasonText(l.reason) : null;
      out.reasonCode = l.reason;
    } else if (key === 'notes') {
      out.notes = notesText(l.notes);
      out.noteCodes = l.notes;
    } else out[key] = value;
  }
  return out as unknown as LayerJson;
}

export function gapJson(g: Gap): GapJson {
  return g.kind === 'uncounted' ? { ...g, reason: reasonText(g.reason), reasonCode: g.reason } : g;
}

/** The report's members as the document has them, in order: messages in English with their codes beside them. */
function documentOf(report: Report): Record<string, unknown> {
  return { schema: JSON_SCHEMA, ...report, totals: totalsJson(report.totals), incomplete: report.incomplete.map(gapJson), notes: report.notes.map(noteText), noteCodes: report.notes };
}

/** The totals as the document has them: with `--device`, the energy basis in English and, beside it, as a code. */
function totalsJson(totals: Report['totals'] & { energyBasis?: EnergyBasis }): Record<string, unknown> {
  if (!totals.energyBasis) return totals as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(totals)) {
    out[key] = key === 'energyBasis' ? energyBasisText(totals.energyBasis) : value;
    if (key === 'energyBasis') out.energyBasisCode = totals.energyBasis;
  }
  return out;
}

/** The `mbn.analyze/1` document as one object: the same members, in the same order, as streamAnalyzeJson writes. */
export function analyzeJson(report: Report, extra: { modules?: ModuleCost[] } = {}): AnalyzeJson {
  return { ...documentOf(report), layers: report.layers.map(layerJson), ...extra } as AnalyzeJson;
}

/**
 * The `mbn.analyze/1` document, handed to `sink` in pieces (report/json-stream.ts), so a million-layer report is
 * never one string. Extra top-level members (`modules` with --depth) follow the report's own.
 */
export function streamAnalyzeJson(report: Report, sink: (text: string) => void, extra: Record<string, unknown> = {}): void {
  streamJson({ ...documentOf(report), ...extra }, sink, { map: { layers: layerJson } });
}

export function renderJson(report: Report, extra: Record<string, unknown> = {}): string {
  const pieces: string[] = [];
  streamAnalyzeJson(report, (text) => pieces.push(text), extra);
  return pieces.join('');
}

const CSV_HEAD = [
  'name', 'op', 'domain', 'scope', 'output_shapes', 'macs', 'other_flops', 'flops', 'params', 'weight_bytes',
  'activation_bytes', 'multiplier', 'counted', 'reason', 'sep_M', 'sep_N', 'sep_kernel', 'sep_reduction',
  'sep_macs_after', 'sep_params_after', 'precision',
];

/** One row per layer; with `latency` (the report has been through addLatency and addEnergy, `--device`), the latency and energy columns too. */
export function renderCsv(report: Report, options: { latency?: boolean } = {}): string {
  const timed = options.latency ? (report as LatencyReport) : null;
  const lines = [(timed ? [...CSV_HEAD, ...LATENCY_CSV_HEAD, ...ENERGY_CSV_HEAD] : CSV_HEAD).join(',')];
  for (const l of report.layers) {
    const s = l.separable;
    const latency = timed ? [...latencyCsvCells(l, timed.totals.latencyMs), ...energyCsvCells(l)] : [];
    lines.push(
      [
        l.name, l.op, l.domain, l.scope, l.outputShapes.map(dimsText).join(' '), l.macs, l.otherFlops,
        totalFlops(l.macs, l.otherFlops), l.params, l.weightBytes, l.activationBytes, l.executions, l.counted, l.reason ? reasonText(l.reason) : '',
        s?.M ?? '', s?.N ?? '', s ? s.kernel.join('x') : '', s ? s.reduction.toFixed(6) : '', s?.macsAfter ?? '', s?.paramsAfter ?? '',
        l.precision, ...latency,
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

export function renderMarkdown(report: Report, options: Pick<RenderOptions, 'flops' | 'top' | 'all' | 'modules'>): string {
  const t = report.totals;
  const out: string[] = [];
  out.push(`### mbn: ${markdownText(report.model.path ?? 'model', MD_NAME_WIDTH)}`);
  out.push('');
  out.push('| MACs | FLOPs | Params | Weights | Peak activations | Layers not counted |');
  out.push('|---:|---:|---:|---:|---:|---:|');
  out.push(`| ${human(t.macs)} | ${human(t.flops)} | ${human(t.params)} | ${humanBytes(t.weightBytes)} | ${humanBytes(t.peakActivationBytes)} | ${t.notCounted} |`);
  out.push('');
  if (!t.complete) out.push(`**${mdEscape(incompleteLine(report))}**`, '');
  const { rows, hidden } = selectLayers(report, options);
  const metric = options.flops ? 'FLOPs' : 'MACs';
  const total = options.flops ? t.flops : t.macs;
  out.push(`| Layer | Op | Output | ${metric} | Params | Share | Separable |`);
  out.push('|---|---|---|---:|---:|---:|---|');
  for (const l of rows) {
    const cost = layerCost(l, options.flops);
    out.push(
      `| ${mdEscape(l.name)} | ${mdEscape(l.op)} | ${clipEnd(l.outputShapes.map(shapeText).join(' '), MD_NAME_WIDTH)} | ${l.counted ? human(cost) : 'not counted'} | ${l.params ? human(l.params) : ''} | ${percent(cost, total)} | ${separableText(l)} |`,
    );
  }
  if (hidden > 0) out.push(`\n_${hidden} more layers not shown._`);
  if (options.modules) {
    out.push('');
    out.push(renderModuleMarkdown(options.modules.rows, options.modules.depth, total, options.flops));
  }
  if (showsPrecision(report.byPrecision)) {
    out.push('');
    out.push('| Precision | Layers | MACs | Params | Weight bytes |');
    out.push('|---|---:|---:|---:|---:|');
    for (const p of report.byPrecision) out.push(`| ${mdEscape(p.precision)} | ${p.layers} | ${human(p.macs)} | ${human(p.params)} | ${humanBytes(p.weightBytes)} |`);
  }
  if (t.separableLayers > 0) {
    out.push('');
    out.push(`Separating ${t.separableLayers} standard convs: MACs ${human(t.macs)} → ${human(t.macsIfSeparated)}, params ${human(t.params)} → ${human(t.paramsIfSeparated)}.`);
  }
  if (report.notes.length) {
    out.push('');
    for (const n of report.notes) out.push(`- ${markdownText(clipEnd(noteText(n), 2 * LINE_WIDTH))}`);
  }
  return out.join('\n') + '\n';
}

/** Module depth of the HTML report's treemap when --depth is not given: top-level modules and their children. */
const HTML_DEFAULT_DEPTH = 2;

/** What `mbn analyze` renders with besides the report: the table's options, and with --device the profile. */
export interface AnalyzeView extends RenderOptions {
  profile: DeviceProfile | null;
  /** The dataflow between layers, for the HTML report's graph view; null: no graph. */
  dataflow: Dataflow | null;
  /** Each layer's main-graph node, for `--format model-explorer`. */
  nodes: MainGraphNodes | null;
  /** mbn's version, for the HTML report's footer. */
  version: string;
}

/** With --device, the "Predicted latency" section after the table or the markdown. */
function latencyText(report: Report, view: AnalyzeView, markdown: boolean): string {
  return view.profile ? renderLatency(report as LatencyReport, view.profile, { ...view, markdown }) + renderEnergy(report as LatencyReport, view.profile, { ...view, markdown }) : '';
}

/** `mbn analyze --format …` (json on stdout is streamed instead: streamAnalyzeJson, the same bytes). */
export const ANALYZE_REPORTER: Reporter<'analyze', Report, AnalyzeView> = {
  table: (report, view) => renderTable(report, view) + latencyText(report, view, false),
  json: (report, view) => renderJson(report, view.modules ? { modules: view.modules.rows } : {}),
  csv: (report, view) => renderCsv(report, { latency: view.profile !== null }),
  md: (report, view) => renderMarkdown(report, view) + latencyText(report, view, true),
  html: (report, view) =>
    renderHtml(report, {
      flops: view.flops,
      modules: view.modules ?? { depth: HTML_DEFAULT_DEPTH, rows: rollUpModules(report.layers, HTML_DEFAULT_DEPTH) },
      version: view.version,
      latency: view.profile ? { profile: view.profile, top: view.top, all: view.all } : null,
      dataflow: view.dataflow,
    }),
  'model-explorer': (report, view) => {
    if (!view.nodes) throw new Error('model-explorer needs the layers\' nodes (analyzeFile with nodes: true)');
    return renderModelExplorer(report as LatencyReport, view.nodes, view.profile ? 'latency' : view.flops ? 'flops' : 'macs');
  },
};
