import type { ChalkInstance } from 'chalk';
import { type CheckJson, type CheckRecord, FIGURES } from '../budget/check.js';
import { DIFF_FIGURES, type DiffFigure, type DiffJson, type LayerDiff } from '../budget/diff.js';
import { SHAPE_FIGURES, gapSummary } from '../budget/completeness.js';
import { type BudgetResult, metricOf } from '../budget/limits.js';
import { mdEscape } from './analyze-report.js';
import { clipEnd } from '../util/text.js';
import { MD_NAME_WIDTH, PATH_WIDTH, markdownCode, markdownText, terminalCell, terminalText, workflowData, workflowProperty } from './safe-text.js';
import { boxTable } from './table.js';
import { grouped, human, humanBytes } from './units.js';

/**
 * Rendering of `mbn check` and `mbn diff`: table (terminal), json (stable contract), md (a pull-request comment),
 * and GitHub Actions annotations. Pure: strings in, strings out.
 */

export type BudgetFormat = 'table' | 'json' | 'md';

const isBytes = (metric: string) => FIGURES.find((f) => f.key === metric)?.bytes ?? DIFF_FIGURES.find((f) => f.key === metric)?.bytes ?? false;
const labelOf = (metric: string) => FIGURES.find((f) => f.key === metric)?.label ?? DIFF_FIGURES.find((f) => f.key === metric)?.label ?? metric;

/** A figure with its unit: "569M", "16.9MB". */
export function fmt(metric: string, n: number): string {
  return isBytes(metric) ? humanBytes(n) : human(n);
}

/** A signed change: "+1.02M", "-3.5MB", "0". */
export function signed(metric: string, n: number): string {
  if (n === 0) return '0';
  const text = fmt(metric, Math.abs(n));
  return n > 0 ? `+${text}` : `-${text}`;
}

export function signedPercent(p: number | null): string {
  if (p === null) return 'new';
  if (p === 0) return '0%';
  // A tiny non-zero change keeps its sign: "+0.0%".
  return `${p > 0 ? '+' : '-'}${Math.abs(p).toFixed(1)}%`;
}

/** Two figures that read the same when rounded are shown exactly: "569M" vs "569M" becomes "568,740,352" vs "568,740,351". */
function pair(metric: string, a: number, b: number): [string, string] {
  const x = fmt(metric, a);
  const y = fmt(metric, b);
  if (x !== y || a === b) return [x, y];
  return isBytes(metric) ? [`${grouped(a)} B`, `${grouped(b)} B`] : [grouped(a), grouped(b)];
}

function who(r: Pick<CheckRecord, 'name' | 'model'>): string {
  return r.name === r.model ? r.model : `${r.name} (${r.model})`;
}

/** One line per failed check, e.g. "mobilenet (m.onnx): MACs 612M exceed the budget of 600M by 12M (2.0%)". */
export function describeCheck(r: CheckRecord): string {
  return `${who(r)}: ${describeOutcome(r)}`;
}

/**
 * `mbn analyze --max-*`: one line per failed budget, e.g. "MACs 612M exceed the budget of 600M by 12M (2.0%)", worded
 * by the same formatter as `mbn check` (there is no model name to prefix: the command analyzes one model).
 */
export function describeLimit(r: BudgetResult): string {
  const record: CheckRecord = {
    name: '',
    model: '',
    metric: metricOf(r.metric).total,
    kind: 'budget',
    passed: r.passed,
    value: r.value,
    limit: r.limit,
    margin: r.margin,
    marginPercent: null,
    baseline: null,
    message: null,
    complete: true,
  };
  return describeOutcome(record);
}

/** A check's outcome, without whose it is. A value and limit that round to the same text are shown exactly (`pair`). */
function describeOutcome(r: CheckRecord): string {
  if (r.kind === 'missing' || r.kind === 'no-baseline' || r.kind === 'advise' || r.kind === 'latency' || r.kind === 'energy') return `${r.message}`;
  if (r.kind === 'error') return `cannot check this model: ${r.message}`;
  if (r.kind === 'incomplete') return `incomplete analysis: ${r.message}`;
  const label = labelOf(r.metric);
  const [value, limit] = pair(r.metric, r.value!, r.limit!);
  if (!r.complete && r.value! <= r.limit!) {
    // A lower bound within the limit proves nothing.
    const against = r.kind === 'baseline' ? `the baseline allows up to ${limit}` : `the budget is ${limit}`;
    return `${label} unknown: the analysis is incomplete and counted ${value} so far; ${against}`;
  }
  if (r.kind === 'baseline') {
    const [base, now] = pair(r.metric, r.baseline!, r.value!);
    const growth = r.baseline! > 0 ? `${signedPercent((100 * (r.value! - r.baseline!)) / r.baseline!)}` : 'from 0';
    const verb = r.passed ? 'changed' : 'grew';
    return `${label} ${verb} ${growth} over the baseline (${base} → ${now}); allowed up to ${limit}${r.passed ? '' : `, over by ${fmt(r.metric, -r.margin!)}`}`;
  }
  if (r.passed) return `${label} ${value} within the budget of ${limit}`;
  const over = -r.margin!;
  const pct = r.limit! > 0 ? ` (${((100 * over) / r.limit!).toFixed(1)}%)` : '';
  return `${label} ${value} exceed the budget of ${limit} by ${fmt(r.metric, over)}${pct}`;
}

function checkName(r: CheckRecord, maxIncrease: number | null): string {
  if (r.kind === 'missing' || r.kind === 'error') return 'model';
  if (r.kind === 'incomplete') return 'complete analysis';
  if (r.kind === 'no-baseline') return 'baseline';
  if (r.kind === 'advise') return 'advise';
  if (r.kind === 'latency') return 'latency';
  if (r.kind === 'energy') return 'energy (estimate)';
  const label = labelOf(r.metric);
  return r.kind === 'baseline' ? `${label} vs baseline (+${maxIncrease ?? 0}%)` : label;
}

function marginText(r: CheckRecord): string {
  if (r.margin === null) return '';
  if (!r.complete && r.margin >= 0) return '?';
  const pct = r.marginPercent === null ? '' : ` (${signedPercent(r.marginPercent)})`;
  return `${signed(r.metric, r.margin)}${pct}`;
}

function limitText(r: CheckRecord): string {
  if (r.limit === null) return '';
  const [, limit] = pair(r.metric, r.value ?? r.limit, r.limit);
  return r.kind === 'baseline' ? `${limit} (base ${fmt(r.metric, r.baseline!)})` : limit;
}

function valueText(r: CheckRecord): string {
  if (r.value === null) return '';
  const text = pair(r.metric, r.value, r.limit ?? r.value)[0];
  // An incomplete analysis counted at least this much.
  return r.complete ? text : `≥${text}`;
}

function statusText(r: CheckRecord): string {
  if (r.kind === 'missing') return 'missing';
  if (r.kind === 'error') return 'error';
  if (r.kind === 'incomplete') return 'incomplete';
  if (!r.complete && r.value !== null && r.limit !== null && r.value <= r.limit) return 'unknown';
  if (r.kind === 'no-baseline') return 'new';
  return r.passed ? 'pass' : 'FAIL';
}

function summary(result: CheckJson): string {
  const failed = result.checks.filter((c) => !c.passed).length;
  const total = result.checks.length;
  if (total === 0) return 'no budgets to check';
  return failed === 0 ? `all ${total} check${total === 1 ? '' : 's'} passed` : `${failed} of ${total} check${total === 1 ? '' : 's'} failed`;
}

/** A check's one-line description for a terminal: data escaped, long names and paths clipped. */
export function checkLine(r: CheckRecord): string {
  return terminalText(describeCheck(clipped(r)));
}

/** The record with its name and model path clipped for a line of text. */
function clipped(r: CheckRecord): CheckRecord {
  return { ...r, name: clipEnd(r.name, LINE_WIDTH), model: clipEnd(r.model, LINE_WIDTH) };
}

/** Longest name or path in a line of text. */
const LINE_WIDTH = 200;

/** The records of one model (one config entry's file, or its missing pattern), in the order they were checked. */
interface ModelRow {
  name: string;
  model: string;
  records: CheckRecord[];
}

function modelRows(result: CheckJson): ModelRow[] {
  const rows = new Map<string, ModelRow>();
  for (const r of result.checks) {
    const key = `${r.name}\0${r.model}`;
    const row = rows.get(key) ?? { name: r.name, model: r.model, records: [] };
    row.records.push(r);
    rows.set(key, row);
  }
  return [...rows.values()];
}

/** A column of the compact table: a figure, the predicted latency or the advise rules. */
interface Column {
  label: string;
  holds: (r: CheckRecord) => boolean;
}

/**
 * The columns of the compact table: the figures that have a budget, and, with a baseline, those that changed (or
 * failed) for some model; then latency and advise when the config sets them.
 */
function columnsOf(result: CheckJson): Column[] {
  const shown = (key: string) =>
    result.checks.some((r) => r.metric === key && (r.kind === 'budget' || (r.kind === 'baseline' && (r.value !== r.baseline || !r.passed))));
  const columns: Column[] = FIGURES.filter((f) => shown(f.key)).map((f) => ({ label: f.label, holds: (r) => r.metric === f.key && (r.kind === 'budget' || r.kind === 'baseline') }));
  if (result.checks.some((r) => r.kind === 'latency')) columns.push({ label: 'Latency', holds: (r) => r.kind === 'latency' });
  if (result.checks.some((r) => r.kind === 'energy')) columns.push({ label: 'Energy (est.)', holds: (r) => r.kind === 'energy' });
  if (result.checks.some((r) => r.kind === 'advise')) columns.push({ label: 'Advise', holds: (r) => r.kind === 'advise' });
  return columns;
}

type Outcome = 'pass' | 'fail' | 'unknown';

function outcomeOf(r: CheckRecord): Outcome {
  if (statusText(r) === 'unknown') return 'unknown';
  return r.passed ? 'pass' : 'fail';
}

/** A cell's text for one record, without its mark: "569M / 600M", "3.4M (+2.1%)", "12.3 / 15 ms". */
function cellText(r: CheckRecord): string {
  if (r.kind === 'advise') return '';
  if (r.kind === 'latency') {
    const ms = (n: number) => `${Number(n.toPrecision(3))}`;
    return r.value === null ? `? / ${ms(r.limit!)} ms` : `${ms(r.value)} / ${ms(r.limit!)} ms`;
  }
  if (r.kind === 'energy') {
    const mj = (n: number) => `${Number(n.toPrecision(3))}`;
    return r.value === null ? `? / ${mj(r.limit!)} mJ` : `${mj(r.value)} / ${mj(r.limit!)} mJ`;
  }
  if (r.kind === 'baseline') {
    const growth = r.baseline! > 0 ? signedPercent((100 * (r.value! - r.baseline!)) / r.baseline!) : r.value === 0 ? '0%' : 'from 0';
    return `${valueText(r)} (${growth})`;
  }
  return `${valueText(r)} / ${limitText(r)}`;
}

/** The model's state: the first of error, missing, incomplete, failed, new (no baseline), passed. */
function rowStatus(row: ModelRow): { status: string; passed: boolean; isNew: boolean } {
  const has = (kind: CheckRecord['kind']) => row.records.some((r) => r.kind === kind);
  const passed = row.records.every((r) => r.passed);
  if (has('error')) return { status: 'error', passed, isNew: false };
  if (has('missing')) return { status: 'missing', passed, isNew: false };
  if (has('incomplete')) return { status: 'incomplete', passed, isNew: false };
  if (!passed) return { status: 'FAIL', passed, isNew: false };
  if (has('no-baseline')) return { status: 'new', passed, isNew: true };
  return { status: 'pass', passed, isNew: false };
}

/** A line under the table that says what the percentages in baseline cells are. */
function baselineNote(result: CheckJson): string | null {
  if (result.baseline === null) return null;
  return `(±%: change over the baseline ${result.baseline}, allowed up to +${result.maxIncreasePercent ?? 0}%)`;
}

/**
 * `mbn check` for a terminal, size-limit style: one row per model, one column per figure with a budget, each cell
 * "value / limit ✔"; below it one line per failed check and per model without a baseline, then the summary.
 */
export function renderCheckTable(result: CheckJson, c: ChalkInstance): string {
  const marks: Record<Outcome, string> = { pass: c.green('✔'), fail: c.red('✖'), unknown: c.red('?') };
  const columns = columnsOf(result);
  const rows = modelRows(result).map((row) => {
    const { status, passed, isNew } = rowStatus(row);
    const mark = isNew ? c.yellow('•') : passed ? c.green('✔') : c.red('✖');
    const word = isNew ? c.yellow(status) : passed ? c.green(status) : c.red.bold(status);
    const cells = columns.map((col) =>
      row.records
        .filter(col.holds)
        .map((r) => [cellText(r), marks[outcomeOf(r)]].filter(Boolean).join(' '))
        .join('\n'),
    );
    const model = row.name === row.model ? terminalCell(row.model, PATH_WIDTH) : `${terminalCell(row.name)}\n${c.dim(terminalCell(row.model, PATH_WIDTH))}`;
    return [`${mark} ${word}`, model, ...cells];
  });
  const out: string[] = [];
  if (rows.length > 0) {
    out.push(
      boxTable({
        head: ['', 'Model', ...columns.map((col) => col.label)].map((h) => c.bold(h)),
        rows,
        aligns: ['left', 'left', ...columns.map(() => 'right' as const)],
      }),
    );
  }
  const note = baselineNote(result);
  if (note && rows.length > 0) out.push(c.dim(terminalText(note)));
  const failed = result.checks.filter((r) => !r.passed);
  for (const r of failed) out.push(`${c.red('✖')} ${checkLine(r)}`);
  for (const r of result.checks.filter((x) => x.kind === 'no-baseline')) out.push(`${c.yellow('•')} ${checkLine(r)}`);
  out.push(result.passed ? c.green(`✔ ${summary(result)}`) : c.red.bold(`✖ ${summary(result)}`));
  return out.join('\n') + '\n';
}

export function renderCheckJson(result: CheckJson): string {
  return JSON.stringify(result, null, 2) + '\n';
}

/**
 * `mbn check` for a pull-request comment: the compact table (model × figures with a budget), one line per failed
 * check, and every check with its value, limit and margin folded in `<details>`.
 */
export function renderCheckMarkdown(result: CheckJson): string {
  const marks: Record<Outcome, string> = { pass: '✅', fail: '❌', unknown: '❔' };
  const out: string[] = [];
  out.push(`### mbn check: ${result.passed ? '✅' : '❌'} ${summary(result)}`);
  out.push('');
  const whose = (r: Pick<CheckRecord, 'name' | 'model'>) => (r.name === r.model ? markdownCode(r.model, MD_NAME_WIDTH) : `${mdEscape(r.name)} (${markdownCode(r.model, MD_NAME_WIDTH)})`);
  const rows = modelRows(result);
  if (rows.length > 0) {
    const columns = columnsOf(result);
    out.push(`| | Model |${columns.map((col) => ` ${col.label} |`).join('')}`);
    out.push(`|---|---|${columns.map(() => '---:|').join('')}`);
    for (const row of rows) {
      const { status, passed, isNew } = rowStatus(row);
      const mark = isNew ? '🆕' : passed ? '✅' : '❌';
      const cells = columns.map((col) =>
        row.records
          .filter(col.holds)
          .map((r) => [mdEscape(cellText(r)), marks[outcomeOf(r)]].filter(Boolean).join(' '))
          .join('<br>'),
      );
      out.push(`| ${mark} ${status} | ${whose(row)} |${cells.map((cell) => ` ${cell} |`).join('')}`);
    }
    const note = baselineNote(result);
    if (note) out.push('', mdEscape(note));
  }
  const failed = result.checks.filter((r) => !r.passed);
  if (failed.length > 0) {
    out.push('');
    for (const r of failed) out.push(`- ${markdownText(describeCheck(clipped(r)))}`);
  }
  if (result.checks.length > 0) {
    out.push('');
    out.push('<details>');
    out.push(`<summary>All ${result.checks.length} check${result.checks.length === 1 ? '' : 's'}</summary>`);
    out.push('');
    out.push('| | Model | Check | Value | Limit | Margin |');
    out.push('|---|---|---|---:|---:|---:|');
    for (const r of result.checks) {
      const mark = r.kind === 'no-baseline' ? '🆕' : r.passed ? '✅' : '❌';
      out.push(`| ${mark} | ${whose(r)} | ${mdEscape(checkName(r, result.maxIncreasePercent))} | ${valueText(r)} | ${limitText(r)} | ${marginText(r) || statusText(r)} |`);
    }
    out.push('');
    out.push('</details>');
  }
  return out.join('\n') + '\n';
}

/** Escapes GitHub Actions workflow-command data ('%', CR, LF) and, for properties, also ':' and ','. */
export const escapeData = workflowData;
export const escapeProperty = workflowProperty;

/** `::error file=…,title=mbn budget::…` for every failed check. `configFile` is used for missing models. */
export function renderAnnotations(result: CheckJson, configFile: string | null): string {
  return result.checks
    .filter((r) => !r.passed)
    .map((r) => {
      const file = r.kind === 'missing' ? configFile : r.model;
      const props = [file ? `file=${workflowProperty(file)}` : null, `title=${workflowProperty('mbn budget')}`].filter(Boolean).join(',');
      return `::error ${props}::${workflowData(describeCheck(clipped(r)))}\n`;
    })
    .join('');
}

// ─── diff ────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface DiffView {
  /** Include unchanged layers. */
  all: boolean;
}

/** By default, the layers whose MACs or params change (an added ReLU costs no MACs and is left out); --all shows every layer. */
function shownLayers(diff: DiffJson, view: DiffView): LayerDiff[] {
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
function totalCells(diff: DiffJson, key: DiffFigure): [string, string, string, string] {
  const d = diff.totals[key];
  const partial = (side: 'base' | 'head') => !diff[side].complete && SHAPE_FIGURES.has(key);
  const show = (side: 'base' | 'head') => `${partial(side) ? '≥' : ''}${fmt(key, d[side])}`;
  if (partial('base') || partial('head')) return [show('base'), show('head'), '?', '?'];
  return [show('base'), show('head'), signed(key, d.delta), signedPercent(d.percent)];
}

/** One line per incomplete side: "head is incomplete: 48 layers that run are not counted; its totals leave them out". */
function incompleteSides(diff: DiffJson): string[] {
  return (['base', 'head'] as const)
    .filter((side) => !diff[side].complete)
    .map((side) => `⚠ ${side} (${diff[side].path ?? side}) is an incomplete analysis: ${gapSummary(diff[side].incomplete)}; its figures leave those out, and layers marked ? are not counted`);
}

function layerSummary(diff: DiffJson): string {
  const s = diff.summary;
  const parts = [`${s.added} added`, `${s.removed} removed`, `${s.changed} changed`, `${s.unchanged} unchanged`];
  return `Layers: ${parts.join(', ')}${s.renamed ? ` (${s.renamed} matched by op and position)` : ''}`;
}

function layerName(l: LayerDiff): string {
  return l.renamedFrom ? `${l.name} (was ${l.renamedFrom})` : l.name;
}

export function renderDiffTable(diff: DiffJson, view: DiffView, c: ChalkInstance): string {
  const out: string[] = [];
  out.push(`${c.bold(terminalCell(diff.base.path ?? 'base', LINE_WIDTH))} → ${c.bold(terminalCell(diff.head.path ?? 'head', LINE_WIDTH))}`);
  const totals = DIFF_FIGURES.map((f) => {
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

export function renderDiffJson(diff: DiffJson): string {
  return JSON.stringify(diff, null, 2) + '\n';
}

export function renderDiffMarkdown(diff: DiffJson, view: DiffView): string {
  const t = diff.totals;
  const out: string[] = [];
  const arrow = t.macs.delta > 0 ? '📈' : t.macs.delta < 0 ? '📉' : '➖';
  out.push(`### mbn diff ${arrow} MACs ${signed('macs', t.macs.delta)} (${signedPercent(t.macs.percent)})`);
  out.push('');
  out.push(`Base ${markdownCode(diff.base.path ?? 'base', MD_NAME_WIDTH)} → head ${markdownCode(diff.head.path ?? 'head', MD_NAME_WIDTH)}`);
  out.push('');
  out.push('| | Base | Head | Change | % |');
  out.push('|---|---:|---:|---:|---:|');
  for (const f of DIFF_FIGURES) {
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

