import type { ChalkInstance } from 'chalk';
import type { EmittedSeparation } from '../rewrite/emit.js';
import type { SeparationPlan } from '../rewrite/plan.js';
import type { CalibrationSummary } from '../calibrate/run.js';
import { clipEnd, clipMiddle } from '../text.js';
import { gateLines, reasonText } from './messages/analyze.js';
import { quote } from '../errors.js';
import { type Words, wordsOf } from './words.js';
import { markdownText, mdEscape, terminalCell, terminalText } from './safe-text.js';
import { boxTable } from './table.js';
import { human } from './units.js';
import type { FormatOf, Reporter } from './formats.js';
import type { Report } from '../contract/analyze.js';
import { type CalibrationJson, type CalibrationNote, type KeptReason, SEPARATE_SCHEMA, type SeparatedLayerRow, type SeparateJson, type SeparationNote, type SkipReason, type VerdictCode } from '../contract/separate.js';
import type { TorchPlanJson } from '../contract/torch-plan.js';

export interface SeparationSummary {
  input: string;
  output: string | null;
  plan: SeparationPlan;
  built: EmittedSeparation;
  /** Analysis of the rewritten model (written file, or in memory for a dry run). */
  after: Report | null;
  /** With --calibrate: the fit and the output check on data. */
  calibration?: CalibrationSummary | null;
  /** With --torch-plan: the folder written and its plan. */
  torchPlan?: { dir: string; plan: TorchPlanJson } | null;
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
    // Measured on the rewritten model's own analysis; a branch that is not counted (×0) has no MACs to measure.
    const measured =
      dw && pw && dw.counted && pw.counted && dw.executions > 0 && pw.executions > 0 && info.macs
        ? (dw.macs / dw.executions + pw.macs / pw.executions) / info.macs
        : null;
    return {
      name: c.name,
      depthwise: names.depthwise,
      pointwise: names.pointwise,
      M: info.M,
      N: info.N,
      group: info.group,
      kernel: info.kernel,
      multiplier: names.rank,
      executions: c.executions,
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

/**
 * The words of `mbn separate` (and of its calibration), one entry per message code (contract/separate.ts): the
 * only place they, and the CLI flags they name, are written.
 */
const SKIP_TEXT: Words<SkipReason> = {
  'quantized-conv': (m) => `quantized ${m.opType} (dequantize, separate, then quantize again)`,
  'qdq-conv': () => 'QDQ conv: its weight is dequantized at run time (separate the float model, then quantize it)',
  'in-function': () => 'inside a model-local function',
  'weight-shape-unknown': (m) => `weight shape unknown (${m.why ? reasonText(m.why) : 'no shape'})`,
  'already-pointwise': () => '1×1 conv: already pointwise',
  'already-depthwise': () => 'already depthwise',
  'weight-not-constant': () => 'weight is computed at run time (not a constant)',
  'weight-dtype': (m) => `weight dtype ${m.dtype} is not float32/float16/bfloat16/float64`,
  'not-included': () => 'not matched by --include',
  excluded: () => 'matched by --exclude',
  costlier: (m) => `would ${m.ratio > 1 ? 'cost more' : 'save nothing'} (×${m.ratio.toFixed(2)})`,
  'below-min-reduction': (m) => `saves ${(100 * m.saving).toFixed(1)}% of its MACs, below --min-reduction ${(100 * m.minReduction).toFixed(1)}%`,
  'weight-error': (m) => `weight error ${m.error.toFixed(4)} exceeds --max-error ${m.maxError}${m.rank === null ? '' : ` even at rank ${m.rank}`}`,
  'output-error': (m) => `output error on data${m.error === null ? '' : ` ${m.error.toFixed(4)}`} exceeds --max-error ${m.maxError} even at rank ${m.rank}`,
  'not-needed-for-target-macs': () => 'not needed to meet --target-macs',
  'no-predicted-saving': (m) => `separation is not predicted to save time on ${m.device}`,
  'not-needed-for-target-latency': () => 'not needed to meet --target-latency',
  'not-selected': () => 'not selected',
};

/** How a conv name is shown in the note about an --include that matches nothing. */
const shownConv = (name: string) => quote(clipMiddle(name, 22), 40);
const shownMs = (x: number) => `${Number(x.toPrecision(3))} ms`;

/** `inputs`: the model's inputs, which the words of a gap name (the MACs-unknown note). */
const NOTE_TEXT: Words<SeparationNote, [inputs: Report['model']['inputs']]> = {
  // torch.onnx.export names nodes `/layer1/layer1.0/conv1/Conv`: the usual reason a pattern such as `layer1*` matches nothing.
  'include-matches-nothing': (m) => {
    const more = m.total > m.convs.length ? `, … (${m.total} in all)` : '';
    const listing = m.total ? `convs: ${m.convs.map(shownConv).join(', ')}${more}` : 'the model has no conv';
    return `--include ${quote(m.pattern)} matches no conv (torch.onnx.export names start with '/': --include '/layer1/*'); ${listing}`;
  },
  'target-latency-met': (m) => `--target-latency: predicted latency on ${m.device} ${shownMs(m.fromMs)} → ${shownMs(m.toMs)} (${m.convs} conv${m.convs === 1 ? '' : 's'}, by predicted time saved)`,
  'target-latency-unmet': (m) => `--target-latency cannot be met: separating every conv predicted to save time gives ${shownMs(m.ms)} on ${m.device}`,
  'target-macs-unmet': (m) =>
    m.onData
      ? `--target-macs cannot be met${m.maxError !== null ? ` within --max-error ${m.maxError}` : ''}: the best plan on the data gives ${m.macs} MACs`
      : `--target-macs cannot be met: separating every eligible conv gives ${m.macs} MACs`,
  'costlier-rewritten': (m) => `${m.convs} rewritten conv${m.convs === 1 ? ' costs' : 's cost'} more than before (--allow-costlier): ratio ≥ 1`,
  'macs-unknown': (m, inputs) => `MACs are unknown: ${macsUnknownText(m, inputs)}`,
};

const CALIBRATION_NOTE_TEXT: Words<CalibrationNote> = {
  'random-data': () => 'random calibration data says little about a trained model: a folder of real inputs (.npy) gives figures you can trust',
  'check-on-fit-batches': () => 'fewer than 4 calibration batches: the output check ran on the batches the fit used',
  'no-onnxruntime': () => 'onnxruntime-node is not installed, so nothing was fitted or verified on data (npm install onnxruntime-node); the rewrite uses the SVD weights',
  'random-init-not-fitted': () => '--init he: the new weights are random (for training from scratch), so nothing was fitted; expect a large output error until trained',
  'shared-weights-fitted-together': (m) => `${m.convs} convs share their weights with others: each shared weight was fitted once, on all its uses together (their errors are over all the uses)`,
  'depthwise-refitted': (m) =>
    `--refit-depthwise: the depthwise filters of ${m.refitted} of ${m.layers} layer${m.layers === 1 ? '' : 's'} were refitted (rounds fitted on half the batches and kept while they lowered the error on the other half)`,
  'ranks-chosen-on-data': () => '--target-macs: ranks chosen by the refitted output error of each layer on the calibration data',
};

const KEPT_TEXT: { [K in KeptReason['code']]: string } = {
  'in-loop-body': 'inside a Loop/Scan body: its activations cannot be read',
  'shares-weight-with-loop-body': 'shares its weight with a conv inside a Loop/Scan body',
  'shared-weight-one-rank': 'shares its weight with another conv',
  'shared-weight-chained': 'shares its weight with a conv upstream of it (a use feeds another): not fitted',
  'branch-not-run': 'its If branch did not run on the calibration data',
};

export const skipText = (m: SkipReason): string => wordsOf(SKIP_TEXT, m);
export const separationNoteText = (m: SeparationNote, inputs: Report['model']['inputs']): string => wordsOf(NOTE_TEXT, m, inputs);
export const calibrationNoteText = (m: CalibrationNote): string => wordsOf(CALIBRATION_NOTE_TEXT, m);
export const keptText = (m: KeptReason): string => KEPT_TEXT[m.code];

/** Longest name, path or reason in a line of text. */
const LINE_WIDTH = 200;

function ratio(x: number | null): string {
  return x === null ? '?' : x.toFixed(4);
}

function calibrationJson(s: SeparationSummary): CalibrationJson {
  const k = s.calibration!;
  const v = verdict(s);
  return {
    ...k,
    layers: k.layers.map((l) => {
      const { kept, ...rest } = l;
      const figures = { name: rest.name, svdError: rest.svdError, refitError: rest.refitError };
      return { ...figures, kept: kept && keptText(kept), keptCode: kept, ...rest };
    }),
    notes: k.notes.map(calibrationNoteText),
    noteCodes: k.notes,
    verdict: v?.text ?? null,
    verdictCode: v ? { code: v.code, error: v.error } : null,
  };
}

export function separateJson(s: SeparationSummary): SeparateJson {
  const before = s.plan.before.totals;
  const after = s.after?.totals ?? null;
  return {
    schema: SEPARATE_SCHEMA,
    input: s.input,
    output: s.output,
    dryRun: s.output === null,
    totals: {
      macsBefore: s.plan.macsKnown ? before.macs : null,
      macsAfter: s.plan.macsKnown ? (after?.macs ?? s.plan.macsAfter) : null,
      paramsBefore: before.params,
      paramsAfter: after?.params ?? s.plan.paramsAfter,
    },
    target: s.plan.target,
    layers: separatedRows(s),
    skipped: skippedLayers(s),
    notes: noteTexts(s),
    noteCodes: s.plan.notes,
    ...(s.calibration ? { calibration: calibrationJson(s) } : {}),
    ...(s.torchPlan ? { torchPlan: torchPlanRow(s.torchPlan) } : {}),
  };
}

function torchPlanRow(t: NonNullable<SeparationSummary['torchPlan']>): NonNullable<SeparateJson['torchPlan']> {
  return { dir: t.dir, convs: t.plan.convs.length, unmapped: t.plan.convs.filter((c) => c.module === null).map((c) => c.onnxNode) };
}

/** The --torch-plan lines: where the plan is, how to apply it, and which convs it cannot place. */
function torchPlanLines(s: SeparationSummary): string[] {
  if (!s.torchPlan) return [];
  const t = torchPlanRow(s.torchPlan);
  const out = [`Wrote the PyTorch plan to ${t.dir} (${t.convs} conv${t.convs === 1 ? '' : 's'}): mbn_torch.apply(model, '${t.dir}')`];
  if (t.unmapped.length) {
    const n = t.unmapped.length;
    out.push(`note: ${n} conv${n === 1 ? ' has' : 's have'} no PyTorch module path (node and weight names not from torch.onnx.export; mbn_torch.apply refuses ${n === 1 ? 'it' : 'them'}): ${clipEnd(t.unmapped.join(', '), 160)}`);
  }
  return out;
}

function skippedLayers(s: SeparationSummary): SeparateJson['skipped'] {
  return s.plan.layers.filter((l) => l.skipped).map((l) => ({ name: l.name, op: l.node.opType, reason: skipText(l.skipped!), reasonCode: l.skipped! }));
}

function noteTexts(s: SeparationSummary): string[] {
  return s.plan.notes.map((n) => separationNoteText(n, s.plan.before.model.inputs));
}

export function renderSeparation(s: SeparationSummary, format: FormatOf<'separate'>, c: ChalkInstance): string {
  const rows = separatedRows(s);
  const skipped = skippedLayers(s);
  const before = s.plan.before.totals;
  const after = s.after?.totals ?? null;
  if (format === 'json') return JSON.stringify(separateJson(s), null, 2) + '\n';
  // The ratio is r·(g/N + 1/K): with a multiplier above 1 the header says so.
  const ratioHead = rows.some((r) => r.multiplier > 1) ? 'r·(1/N+1/K)' : '1/N+1/K';
  const head = ['Layer', 'M→N', 'Kernel', 'MACs', 'Params', 'Ratio', ratioHead, 'Error'];
  const cellsOf = (r: SeparatedLayerRow) => [
    r.name,
    `${r.M}→${r.N}${r.group > 1 ? ` g${r.group}` : ''}${r.multiplier > 1 ? ` r${r.multiplier}` : ''}`,
    r.kernel.join('×'),
    r.macs === null || r.macsAfter === null ? '?' : `${human(r.macs)} → ${human(r.macsAfter)}`,
    `${human(r.params)} → ${human(r.paramsAfter)}`,
    ratio(r.measuredRatio),
    r.theoreticalRatio.toFixed(4),
    r.relativeError === null ? 'n/a' : r.relativeError.toFixed(4),
  ];
  const cells = rows.filter((r) => r.executions > 0).map(cellsOf);
  // Convs in an If branch that is not counted are rewritten too, but run instead of the counted ones: listed apart.
  const branchHead = ['Layer', 'M→N', 'Kernel', 'Params', ratioHead, 'Error'];
  const branchCells = rows.filter((r) => r.executions === 0).map((r) => cellsOf(r).filter((_, i) => i !== 3 && i !== 5));
  const branchTitle = `Also rewritten, in an If branch that is not counted (×0, not in the MACs totals): ${branchCells.length}`;
  const macsAfter = after?.macs ?? s.plan.macsAfter;
  const paramsAfter = after?.params ?? s.plan.paramsAfter;
  const macsTotal = s.plan.macsKnown ? `MACs ${human(before.macs)} → ${human(macsAfter)} (${pct(macsAfter, before.macs)})` : 'MACs ? → ? (unknown, see the note)';
  const total = `${macsTotal}, params ${human(before.params)} → ${human(paramsAfter)} (${pct(paramsAfter, before.params)})`;
  if (format === 'md') {
    const out = [`### mbn separate: ${mdEscape(s.input)}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const r of cells) out.push(`| ${r.map(mdEscape).join(' | ')} |`);
    if (branchCells.length) {
      out.push('', branchTitle, '', `| ${branchHead.join(' | ')} |`, `|${branchHead.map(() => '---').join('|')}|`);
      for (const r of branchCells) out.push(`| ${r.map(mdEscape).join(' | ')} |`);
    }
    out.push('', total);
    for (const n of noteTexts(s)) out.push('', `note: ${mdEscape(n)}`);
    if (s.calibration) out.push('', ...calibrationLines(s, null).map((l) => mdEscape(l) + '  '));
    if (skipped.length) out.push('', ...skipped.map((k) => `- ${mdEscape(k.name)}: ${markdownText(clipEnd(k.reason, LINE_WIDTH))}`));
    for (const l of torchPlanLines(s)) out.push('', mdEscape(l));
    return out.join('\n') + '\n';
  }
  const out: string[] = [];
  if (cells.length) {
    const shown = rows.filter((r) => r.executions > 0);
    const painted = cells.map((r, i) => [terminalCell(r[0]), ...r.slice(1, -1), paint(c, shown[i].relativeError, r[r.length - 1])]);
    out.push(boxTable({ head: head.map((h) => c.bold(h)), rows: painted, compact: true }));
  } else if (!branchCells.length) {
    out.push(c.yellow('No conv was separated.'));
  }
  if (branchCells.length) {
    const table = boxTable({ head: branchHead.map((h) => c.bold(h)), rows: branchCells.map(([name, ...figures]) => [terminalCell(name), ...figures]), compact: true });
    out.push(...(cells.length ? [''] : []), c.bold(branchTitle), table);
  }
  if (skipped.length) {
    out.push('', c.bold(`Left alone: ${skipped.length}`));
    for (const k of skipped.slice(0, 30)) out.push(`  ${terminalCell(k.name, LINE_WIDTH)} (${terminalCell(k.op, 32)}): ${terminalText(clipEnd(k.reason, LINE_WIDTH))}`);
    if (skipped.length > 30) out.push(`  … and ${skipped.length - 30} more (--format json lists all)`);
  }
  out.push('', c.green(total));
  for (const n of noteTexts(s)) out.push(c.yellow(`note: ${terminalText(clipEnd(n, LINE_WIDTH))}`));
  if (s.calibration) out.push('', ...calibrationLines(s, c));
  else if (rows.length) out.push(c.yellow(`note: ${uncheckedNote(rows)}`));
  out.push(s.output ? `Wrote ${terminalText(s.output)}` : c.dim('Dry run: nothing written.'));
  for (const l of torchPlanLines(s)) out.push(l.startsWith('note: ') ? c.yellow(terminalText(l)) : terminalText(l));
  return out.join('\n') + '\n';
}

function pct(after: number, before: number): string {
  if (before === 0) return '0%';
  const d = (100 * (after - before)) / before;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

/** Relative errors: green below 0.1 (small), yellow below 0.3, red from 0.3 (the model changes visibly). */
function paint(c: ChalkInstance, error: number | null, text: string): string {
  if (error === null || Number.isNaN(error)) return text;
  return error < 0.1 ? c.green(text) : error < 0.3 ? c.yellow(text) : c.red(text);
}

function fixed(x: number | null): string {
  return x === null ? '?' : x < 1e-3 && x > 0 ? x.toExponential(1) : x.toFixed(3);
}

/** One line saying what the worst output error means for the user, with its colour. */
export function verdict(s: SeparationSummary): Verdict | null {
  const k = s.calibration;
  if (!k?.outputs?.length) return null;
  return outputVerdict(k.outputs, k, k.kind === 'random' ? 'give --calibrate DIR with real data / --max-error' : 'raise the ranks (--max-error / --multiplier)', 'fine-tune before use, or ');
}

/**
 * The verdict line of a check on held-back batches (separate and quantize): the worst output's relative error, where
 * it was measured, and what it means; `remedy` is what to try when it is large.
 */
export function outputVerdict(
  outputs: readonly { relativeError: number }[],
  k: { verifyBatches: number; heldBack: boolean; kind: 'folder' | 'random' },
  remedy: string,
  prefix = '',
  subject = 'the rewrite',
): Verdict {
  const worst = outputs.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
  const where = `on ${k.verifyBatches} ${k.heldBack ? 'held-back ' : ''}calibration batch${k.verifyBatches === 1 ? '' : 'es'}${k.kind === 'random' ? ' (random data)' : ''}`;
  const e = worst.relativeError;
  const code: VerdictCode = e <= 0.01 ? 'outputs-kept' : e <= 0.1 ? 'small-error' : 'large-error';
  const what = { 'outputs-kept': `${subject} keeps the model's outputs`, 'small-error': 'small; check the task metric before use', 'large-error': `${prefix}${remedy}` }[code];
  return { text: `output error ${fixed(e)} ${where}: ${what}`, error: e, code };
}

export interface Verdict {
  text: string;
  error: number;
  code: VerdictCode;
}

function calibrationLines(s: SeparationSummary, c: ChalkInstance | null): string[] {
  const k = s.calibration!;
  const bold = (t: string) => (c ? c.bold(t) : t);
  const out = [bold(`Calibration: ${k.source}, ${k.batches} batch${k.batches === 1 ? '' : 'es'} (${k.fitBatches} fitted, ${k.verifyBatches} ${k.heldBack ? 'held back for' : 'used for'} the check)`)];
  for (const l of k.layers) {
    const svd = c ? paint(c, l.svdError, fixed(l.svdError)) : fixed(l.svdError);
    const after = l.refitError === null ? (l.kept ? keptText(l.kept) : 'kept') : c ? paint(c, l.refitError, fixed(l.refitError)) : fixed(l.refitError);
    out.push(`  ${l.name}: conv output error on data ${svd} (SVD) → ${after}${l.refitError === null ? '' : ' (refitted)'}`);
  }
  for (const o of k.outputs ?? []) {
    const svd = k.svdOutputs?.find((x) => x.name === o.name);
    out.push(`  output ${o.name}: relative error ${svd ? `${fixed(svd.relativeError)} (SVD) → ` : ''}${fixed(o.relativeError)}, cosine ${o.cosine.toFixed(4)}${o.top1Agreement === null ? '' : `, top-1 agreement ${(100 * o.top1Agreement).toFixed(1)}%`}`);
  }
  const v = verdict(s);
  if (v) out.push(c ? paint(c, v.error, v.text) : v.text);
  for (const n of k.notes.map(calibrationNoteText)) out.push(c ? c.yellow(`note: ${n}`) : `note: ${n}`);
  return out;
}

/** Without --calibrate only the weights were compared: say what that leaves open, and that --init he is random. */
function uncheckedNote(rows: SeparatedLayerRow[]): string {
  const errors = rows.map((r) => r.relativeError).filter((e): e is number => e !== null);
  if (!errors.length) return '--init he: the new weights are random (for training from scratch); the model must be trained before use';
  return `weight error up to ${Math.max(...errors).toFixed(2)}; the outputs were not checked: --calibrate DIR (real inputs as .npy) or random:N measures them and fits the pointwise weights to the data`;
}

/** `mbn separate --format …`. */
export const SEPARATE_REPORTER: Reporter<'separate', SeparationSummary, { style: ChalkInstance }> = {
  table: (summary, { style }) => renderSeparation(summary, 'table', style),
  json: (summary, { style }) => renderSeparation(summary, 'json', style),
  md: (summary, { style }) => renderSeparation(summary, 'md', style),
};

/** Why the model's MACs are unknown: the analysis's gaps as every gate words them, or the convs of unknown shape. */
export function macsUnknownText(m: Extract<SeparationNote, { code: 'macs-unknown' }>, inputs: Report['model']['inputs']): string {
  if (m.gaps.length) return gateLines(m.gaps, inputs, { configKeys: false }).join('; ');
  const n = m.unknownConvs;
  return `${n} conv${n === 1 ? ' has an' : 's have'} unknown output shape${n === 1 ? '' : 's'} (give the input shapes with --input NAME:…)`;
}
