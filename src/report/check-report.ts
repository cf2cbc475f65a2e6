import type { ChalkInstance } from 'chalk';
import { gapJson } from './analyze-report.js';
import { checkMessageText } from './messages/check.js';
import { type BudgetResult, FIGURES, metricOf } from '../budget/limits.js';
import { clipEnd } from '../text.js';
import { LINE_WIDTH, fmt, isBytes, labelOf, signed, signedPercent } from './budget-text.js';
import { MD_NAME_WIDTH, PATH_WIDTH, markdownCode, markdownText, mdEscape, terminalCell, terminalText, workflowData, workflowProperty } from './safe-text.js';
import { boxTable } from './table.js';
import { grouped } from './units.js';
import type { Reporter } from './formats.js';
import type { CheckJson, CheckRecord, CheckRecordJson, CheckResult } from '../contract/check.js';

/**
 * Rendering of `mbn check` (and of `mbn analyze --max-*` failures): table (terminal), json (stable contract), md (a
 * pull-request comment), and GitHub Actions annotations. Pure: strings in, strings out.
 */

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
  if (r.kind === 'missing' || r.kind === 'no-baseline' || r.kind === 'advise' || r.kind === 'latency' || r.kind === 'energy') return checkMessageText(r.message!);
  if (r.kind === 'error') return `cannot check this model: ${checkMessageText(r.message!)}`;
  if (r.kind === 'incomplete') return `incomplete analysis: ${checkMessageText(r.message!)}`;
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

function summary(result: CheckResult): string {
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

/** The records of one model (one config entry's file, or its missing pattern), in the order they were checked. */
interface ModelRow {
  name: string;
  model: string;
  records: CheckRecord[];
}

function modelRows(result: CheckResult): ModelRow[] {
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
function columnsOf(result: CheckResult): Column[] {
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
function baselineNote(result: CheckResult): string | null {
  if (result.baseline === null) return null;
  return `(±%: change over the baseline ${result.baseline}, allowed up to +${result.maxIncreasePercent ?? 0}%)`;
}

/**
 * `mbn check` for a terminal, size-limit style: one row per model, one column per figure with a budget, each cell
 * "value / limit ✔"; below it one line per failed check and per model without a baseline, then the summary.
 */
export function renderCheckTable(result: CheckResult, c: ChalkInstance): string {
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

function recordJson(r: CheckRecord): CheckRecordJson {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r)) {
    if (key !== 'message') out[key] = value;
    else {
      out.message = r.message ? checkMessageText(r.message) : null;
      out.messageCode = r.message;
    }
  }
  return out as CheckRecordJson;
}

/** The `mbn.check/1` document: the result with its messages in English and, beside them, as codes. */
export function checkJson(result: CheckResult): CheckJson {
  return { ...result, models: result.models.map((m) => ({ ...m, incomplete: m.incomplete.map(gapJson) })), checks: result.checks.map(recordJson) };
}

export function renderCheckJson(result: CheckResult): string {
  return JSON.stringify(checkJson(result), null, 2) + '\n';
}

/**
 * `mbn check` for a pull-request comment: the compact table (model × figures with a budget), one line per failed
 * check, and every check with its value, limit and margin folded in `<details>`.
 */
export function renderCheckMarkdown(result: CheckResult): string {
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
export function renderAnnotations(result: CheckResult, configFile: string | null): string {
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

/** `mbn check --format …`. */
export const CHECK_REPORTER: Reporter<'check', CheckResult, { style: ChalkInstance }> = {
  table: (result, { style }) => renderCheckTable(result, style),
  json: (result) => renderCheckJson(result),
  md: (result) => renderCheckMarkdown(result),
};
