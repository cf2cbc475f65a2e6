import type { ChalkInstance } from 'chalk';
import { MD_NAME_WIDTH, markdownCode, markdownText, mdEscape, terminalCell, terminalText } from './safe-text.js';
import { boxTable } from './table.js';
import type { AdviseResult } from '../advise/index.js';
import { gapJson } from './analyze-report.js';
import { gapSummary } from './messages/analyze.js';
import { findingText, fixText } from './messages/advise.js';
import { grouped, human } from './units.js';
import type { Reporter } from './formats.js';
import type { Gap } from '../contract/analyze.js';
import { ADVISE_SCHEMA, type AdviseJson, type BlockRow, type Finding, type FindingJson, type Severity } from '../contract/advise.js';

export interface AdviseView {
  path: string;
  result: AdviseResult;
  /** --fail-on: the severity from which findings fail (null: never). */
  failOn: Severity | null;
  /** The gaps that keep --fail-on from passing: the report's, less the uncounted layers of --allow-uncounted ops. */
  blocking: Gap[];
  /** --fail-on failed: a finding at or above it, or an incomplete analysis (`blocking`). */
  failed: boolean;
}

/** A finding in `mbn.advise/1`: its evidence and fix in English, and beside them as codes. */
export function findingJson(f: Finding): FindingJson {
  const { text, ...saved } = f.fix;
  return { rule: f.rule, severity: f.severity, layers: f.layers, message: findingText(f.message), messageCode: f.message, fix: { text: fixText(text), textCode: text, ...saved } };
}

export function adviseJson(view: AdviseView): AdviseJson {
  const { result } = view;
  const totals = result.report.totals;
  const known = result.totalsKnown;
  return {
    schema: ADVISE_SCHEMA,
    model: { path: view.path, macs: known ? totals.macs : null, flops: known ? totals.flops : null, params: totals.params },
    counts: counts(result.findings),
    failOn: view.failOn,
    passed: !view.failed,
    complete: totals.complete,
    incomplete: result.report.incomplete.map(gapJson),
    findings: result.findings.map(findingJson),
    blocks: result.blocks,
  };
}

export function renderAdviseJson(view: AdviseView): string {
  return JSON.stringify(adviseJson(view), null, 2) + '\n';
}

function counts(findings: Finding[]): Record<Severity, number> {
  const c: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) c[f.severity]++;
  return c;
}

function summary(view: AdviseView): string {
  const c = counts(view.result.findings);
  const parts = [`${c.error} error${c.error === 1 ? '' : 's'}`, `${c.warning} warning${c.warning === 1 ? '' : 's'}`, `${c.info} info`];
  const incomplete = view.blocking.length > 0 ? ': the analysis is incomplete' : '';
  const gate = view.failOn ? (view.failed ? ` — fails --fail-on ${view.failOn}${incomplete}` : ` — passes --fail-on ${view.failOn}`) : '';
  return `${parts.join(', ')}${gate}`;
}

/** The line above the findings of an incomplete analysis (as `mbn analyze` has above its totals). */
function incompleteLine(view: AdviseView): string | null {
  const { report } = view.result;
  if (report.totals.complete) return null;
  const unknown = report.incomplete.some((g) => g.kind === 'assumed-dim') ? 'MACs and FLOPs counted on an assumed dim show as ?, and ' : '';
  return `⚠ Incomplete analysis: ${gapSummary(report.incomplete)}; ${unknown}--fail-on cannot pass it (see --input, --allow-uncounted)`;
}

const macsCell = (macs: number | null, format: (n: number) => string) => (macs === null ? '?' : format(macs));

function ratio(b: BlockRow): string {
  const t = b.expand / b.input;
  return Number.isInteger(t) ? `${t}` : t.toFixed(2);
}

const MARK: Record<Severity, string> = { error: '✖', warning: '⚠', info: 'ℹ' };

export function renderAdviseTable(view: AdviseView, c: ChalkInstance): string {
  const out: string[] = [];
  const { blocks, findings } = view.result;
  const warning = incompleteLine(view);
  if (warning) out.push(c.yellow.bold(terminalText(warning)), '');
  if (blocks.length > 0) {
    const rows = blocks.map((b, i) => {
      const dw = b.layers[b.layers.length - 2] ?? '';
      return [String(i + 1), `${b.input} → ${b.expand} → ${b.output}`, ratio(b), String(b.stride), b.residual ? 'yes' : 'no', macsCell(b.macs, human), terminalCell(dw)];
    });
    out.push(c.bold(`Inverted residual blocks (${blocks.length})`));
    out.push(
      boxTable({
        head: ['#', 'in → expand → out', 't', 'stride', 'residual', 'MACs', 'depthwise layer'].map((h) => c.bold(h)),
        rows,
        aligns: ['right', 'right', 'right', 'right', 'left', 'right', 'left'],
        compact: true,
      }),
    );
    out.push('');
  }
  if (findings.length === 0) out.push(c.green('No findings.'));
  for (const f of findings) {
    const paint = f.severity === 'error' ? c.red.bold : f.severity === 'warning' ? c.yellow : c.cyan;
    const names = f.layers.slice(0, 3).map((n) => terminalCell(n)).join(', ');
    const layers = f.layers.length > 3 ? `${names}, … (${f.layers.length} layers)` : names;
    out.push(`${paint(`${MARK[f.severity]} ${f.severity}`)} ${c.bold(f.rule)} ${c.dim(layers)}`);
    out.push(`    ${terminalText(findingText(f.message))}`);
    out.push(`    ${c.dim('fix:')} ${terminalText(fixText(f.fix.text))}`);
  }
  out.push('');
  out.push(view.failed ? c.red.bold(`✖ ${summary(view)}`) : `${summary(view)}`);
  return out.join('\n') + '\n';
}

export function renderAdviseMarkdown(view: AdviseView): string {
  const out: string[] = [];
  const { blocks, findings } = view.result;
  out.push(`### mbn advise: ${markdownCode(view.path, MD_NAME_WIDTH)}`);
  out.push('');
  out.push(summary(view));
  const warning = incompleteLine(view);
  if (warning) out.push('', `**${markdownText(warning)}**`);
  if (blocks.length > 0) {
    out.push('');
    out.push(`**Inverted residual blocks (${blocks.length})**`);
    out.push('');
    out.push('| # | in → expand → out | t | stride | residual | MACs |');
    out.push('|---:|---:|---:|---:|---|---:|');
    blocks.forEach((b, i) => out.push(`| ${i + 1} | ${b.input} → ${b.expand} → ${b.output} | ${ratio(b)} | ${b.stride} | ${b.residual ? 'yes' : 'no'} | ${macsCell(b.macs, grouped)} |`));
  }
  if (findings.length > 0) {
    out.push('');
    out.push('| severity | rule | layers | finding | fix |');
    out.push('|---|---|---|---|---|');
    for (const f of findings) {
      const layers = f.layers.length > 3 ? `${f.layers.slice(0, 3).map((l) => `\`${l}\``).join(', ')}, … (${f.layers.length})` : f.layers.map((l) => `\`${l}\``).join(', ');
      out.push(`| ${f.severity} | ${f.rule} | ${layers} | ${mdEscape(findingText(f.message))} | ${mdEscape(fixText(f.fix.text))} |`);
    }
  }
  return out.join('\n') + '\n';
}

/** `mbn advise --format …`. */
export const ADVISE_REPORTER: Reporter<'advise', AdviseView, { style: ChalkInstance }> = {
  table: (view, { style }) => renderAdviseTable(view, style),
  json: (view) => renderAdviseJson(view),
  md: (view) => renderAdviseMarkdown(view),
};
