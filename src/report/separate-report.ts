import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { Report } from '../cost/analyze.js';
import type { BuiltRewrite, SeparatePlan } from '../rewrite/separate.js';
import { mdEscape } from './analyze-report.js';
import { human } from './units.js';

export interface SeparationSummary {
  input: string;
  output: string | null;
  plan: SeparatePlan;
  built: BuiltRewrite;
  /** Analysis of the rewritten model (written file, or in memory for a dry run). */
  after: Report | null;
}

export interface SeparatedLayerRow {
  name: string;
  depthwise: string;
  pointwise: string;
  M: number;
  N: number;
  group: number;
  kernel: number[];
  multiplier: number;
  macs: number;
  macsAfter: number;
  params: number;
  paramsAfter: number;
  /** (depthwise + pointwise MACs) / original MACs, measured by analyzing the rewritten model. */
  measuredRatio: number | null;
  /** r·(g/N + 1/K): MobileNet's 1/N + 1/D_K² for r = 1, g = 1. */
  theoreticalRatio: number;
  relativeError: number | null;
}

export function separatedRows(s: SeparationSummary): SeparatedLayerRow[] {
  // Only the new layers are looked up: no map of every layer of a large model.
  const wanted = new Set<string>();
  for (const c of s.plan.chosen) {
    const names = s.built.newNodes.get(c)!;
    const prefix = c.name.slice(0, c.name.length - (c.node.name || '').length);
    wanted.add(prefix + names.depthwise).add(prefix + names.pointwise);
  }
  const byName = new Map((s.after?.layers ?? []).filter((l) => wanted.has(l.name)).map((l) => [l.name, l]));
  return s.plan.chosen.map((c) => {
    const info = c.info!;
    const names = s.built.newNodes.get(c)!;
    const prefix = c.name.slice(0, c.name.length - (c.node.name || '').length);
    const dw = byName.get(prefix + names.depthwise);
    const pw = byName.get(prefix + names.pointwise);
    const measured = dw && pw && info.macs > 0 ? (dw.macs / dw.multiplier + pw.macs / pw.multiplier) / info.macs : null;
    return {
      name: c.name,
      depthwise: names.depthwise,
      pointwise: names.pointwise,
      M: info.M,
      N: info.N,
      group: info.group,
      kernel: info.kernel,
      multiplier: names.rank,
      macs: info.macs,
      macsAfter: info.macsAfter,
      params: info.params,
      paramsAfter: info.paramsAfter,
      measuredRatio: measured,
      theoreticalRatio: info.reduction,
      relativeError: c.relativeError,
    };
  });
}

function ratio(x: number | null): string {
  return x === null ? '?' : x.toFixed(4);
}

export function renderSeparation(s: SeparationSummary, format: 'table' | 'json' | 'md', c: ChalkInstance): string {
  const rows = separatedRows(s);
  const skipped = s.plan.layers.filter((l) => l.skipped).map((l) => ({ name: l.name, op: l.node.opType, reason: l.skipped! }));
  const before = s.plan.before.totals;
  const after = s.after?.totals ?? null;
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          schema: 'mbn.separate/1',
          input: s.input,
          output: s.output,
          dryRun: s.output === null,
          totals: {
            macsBefore: before.macs,
            macsAfter: after?.macs ?? s.plan.macsAfter,
            paramsBefore: before.params,
            paramsAfter: after?.params ?? s.plan.paramsAfter,
          },
          target: s.plan.target,
          layers: rows,
          skipped,
          notes: s.plan.notes,
        },
        null,
        2,
      ) + '\n'
    );
  }
  const head = ['Layer', 'M→N', 'Kernel', 'MACs', 'Params', 'Ratio', '1/N+1/K', 'Error'];
  const cells = rows.map((r) => [
    r.name,
    `${r.M}→${r.N}${r.group > 1 ? ` g${r.group}` : ''}${r.multiplier > 1 ? ` r${r.multiplier}` : ''}`,
    r.kernel.join('×'),
    `${human(r.macs)} → ${human(r.macsAfter)}`,
    `${human(r.params)} → ${human(r.paramsAfter)}`,
    ratio(r.measuredRatio),
    r.theoreticalRatio.toFixed(4),
    r.relativeError === null ? 'n/a' : r.relativeError.toFixed(4),
  ]);
  const macsAfter = after?.macs ?? s.plan.macsAfter;
  const paramsAfter = after?.params ?? s.plan.paramsAfter;
  const total = `MACs ${human(before.macs)} → ${human(macsAfter)} (${pct(macsAfter, before.macs)}), params ${human(before.params)} → ${human(paramsAfter)} (${pct(paramsAfter, before.params)})`;
  if (format === 'md') {
    const out = [`### mbn separate: ${mdEscape(s.input)}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const r of cells) out.push(`| ${r.map(mdEscape).join(' | ')} |`);
    out.push('', total);
    if (skipped.length) out.push('', ...skipped.map((k) => `- ${mdEscape(k.name)}: ${mdEscape(k.reason)}`));
    return out.join('\n') + '\n';
  }
  const out: string[] = [];
  if (rows.length) {
    const table = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [], compact: true } });
    for (const r of cells) table.push(r);
    out.push(table.toString());
  } else {
    out.push(c.yellow('No conv was separated.'));
  }
  if (skipped.length) {
    out.push('', c.bold(`Left alone: ${skipped.length}`));
    for (const k of skipped.slice(0, 30)) out.push(`  ${k.name} (${k.op}): ${k.reason}`);
    if (skipped.length > 30) out.push(`  … and ${skipped.length - 30} more (--format json lists all)`);
  }
  out.push('', c.green(total));
  for (const n of s.plan.notes) out.push(c.yellow(`note: ${n}`));
  out.push(s.output ? `Wrote ${s.output}` : c.dim('Dry run: nothing written.'));
  return out.join('\n') + '\n';
}

function pct(after: number, before: number): string {
  if (before === 0) return '0%';
  const d = (100 * (after - before)) / before;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}
