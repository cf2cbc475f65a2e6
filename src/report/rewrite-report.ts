import type { ChalkInstance } from 'chalk';
import type { HardSwishPlan } from '../rewrite/hard-swish.js';
import { mdEscape, terminalText } from './safe-text.js';
import { grouped } from './units.js';
import type { Reporter } from './formats.js';
import type { Report } from '../contract/analyze.js';
import type { Deviation } from '../contract/output-check.js';
import { type ActivationOp, type DeviationSkip, REWRITE_SCHEMA, type RewriteFigures, type RewriteJson, type RewriteNote } from '../contract/rewrite.js';
import { type Words, wordsOf } from './words.js';

/** The words of `mbn rewrite`, one entry per message code (contract/rewrite.ts): the only place they are written. */
const NOTE_TEXT: Words<RewriteNote> = {
  'non-float32-left': (m) => `${m.patterns} pattern(s) on a type other than float32 left as they are: ONNX Runtime's CPU provider runs HardSigmoid and HardSwish in float32 only`,
  'hard-sigmoid-form': (m) => `the model's opset is ${m.opset} (HardSwish needs 14): each swish became x·HardSigmoid(x) (alpha 1/6, beta 1/2), the same function as HardSwish, and the opset is left alone`,
  'swish-ops-left': (m) => `${m.ops} Swish/SiLU op(s) left as they are (${m.names.join(', ')}): only the Mul(x, Sigmoid(x)) form is rewritten`,
  'subgraphs-left': () => 'patterns inside If/Loop/Scan bodies and model-local functions are left alone: only the main graph is rewritten',
};

const DEVIATION_SKIP_TEXT: Words<DeviationSkip> = {
  'cannot-run': (m) => m.message,
  'input-shape-unknown': (m) => `input '${m.input}' has no known shape (give it with --input)`,
  'nothing-rewritten': () => 'nothing was rewritten',
  'external-data-dry-run': () => 'the model keeps weights in external data: the dry run does not run it',
};

export interface RewriteSummary {
  input: string;
  /** null for a dry run. */
  output: string | null;
  plan: HardSwishPlan;
  before: Report;
  after: Report;
  deviation: Deviation | null;
  /** Why the deviation was not measured (null when it was). */
  deviationSkipped: DeviationSkip | null;
}

const OPS = ['Sigmoid', 'HardSigmoid', 'HardSwish', 'Mul'] as const satisfies readonly ActivationOp[];

function opCounts(report: Report): Record<ActivationOp, number> {
  return Object.fromEntries(OPS.map((op) => [op, report.byOp.find((o) => o.op === op)?.count ?? 0])) as Record<ActivationOp, number>;
}

export function rewriteJson(s: RewriteSummary): RewriteJson {
  const figures = (r: Report): RewriteFigures => ({ macs: r.totals.macs, flops: r.totals.flops, otherFlops: r.totals.otherFlops, params: r.totals.params, ops: opCounts(r) });
  return {
    schema: REWRITE_SCHEMA,
    input: s.input,
    output: s.output,
    opset: s.plan.opset,
    changes: s.plan.changes,
    before: figures(s.before),
    after: figures(s.after),
    deviation: s.deviation,
    deviationSkipped: s.deviationSkipped && wordsOf(DEVIATION_SKIP_TEXT, s.deviationSkipped),
    deviationSkippedCode: s.deviationSkipped,
    notes: s.plan.notes.map((n) => wordsOf(NOTE_TEXT, n)),
    noteCodes: s.plan.notes,
  };
}

export function renderRewriteJson(s: RewriteSummary): string {
  return JSON.stringify(rewriteJson(s), null, 2) + '\n';
}

function lines(s: RewriteSummary, code: (t: string) => string): string[] {
  const out: string[] = [];
  const swish = s.plan.changes.filter((c) => c.kind === 'swish').length;
  const gates = s.plan.changes.filter((c) => c.kind === 'gate').length;
  out.push(`${swish} swish → ${s.plan.opset >= 14 ? 'HardSwish' : 'x·HardSigmoid(x)'}, ${gates} sigmoid gate${gates === 1 ? '' : 's'} → HardSigmoid`);
  const b = opCounts(s.before);
  const a = opCounts(s.after);
  out.push(`ops: ${OPS.map((op) => `${op} ${b[op]} → ${a[op]}`).join(', ')}`);
  out.push(`other FLOPs: ${grouped(s.before.totals.otherFlops)} → ${grouped(s.after.totals.otherFlops)}; MACs and params unchanged (${grouped(s.after.totals.macs)}, ${grouped(s.after.totals.params)})`);
  if (s.deviation) {
    out.push(`output deviation over ${s.deviation.samples} seeded random input${s.deviation.samples === 1 ? '' : 's'} (seed ${s.deviation.seed}, uniform in [-1, 1)):`);
    for (const o of s.deviation.outputs) {
      const top1 = o.top1Agreement === null ? '' : `, top-1 unchanged for ${(100 * o.top1Agreement).toFixed(1)}% of rows`;
      out.push(`  ${code(o.name)}: max |Δ| ${o.maxAbsDiff.toPrecision(4)} (${(100 * o.relative).toFixed(2)}% of max |y|), mean |Δ| ${o.meanAbsDiff.toPrecision(4)}${top1}`);
    }
  } else if (s.deviationSkipped) {
    out.push(`output deviation not measured: ${wordsOf(DEVIATION_SKIP_TEXT, s.deviationSkipped)}`);
  }
  for (const n of s.plan.notes) out.push(`note: ${terminalText(wordsOf(NOTE_TEXT, n))}`);
  out.push(s.output ? `wrote ${s.output}` : 'dry run: nothing written');
  return out;
}

export function renderRewriteTable(s: RewriteSummary, c: ChalkInstance): string {
  const out = lines(s, (t) => t);
  out[out.length - 1] = s.output ? c.green(out[out.length - 1]) : out[out.length - 1];
  return out.join('\n') + '\n';
}

export function renderRewriteMarkdown(s: RewriteSummary): string {
  return `### mbn rewrite: \`${s.input}\`\n\n${lines(s, (t) => `\`${t}\``).map((l) => `- ${l.startsWith('  ') ? l.trim() : mdEscape(l)}`).join('\n')}\n`;
}

/** `mbn rewrite --format …`. */
export const REWRITE_REPORTER: Reporter<'rewrite', RewriteSummary, { style: ChalkInstance }> = {
  table: (summary, { style }) => renderRewriteTable(summary, style),
  json: (summary) => renderRewriteJson(summary),
  md: (summary) => renderRewriteMarkdown(summary),
};
