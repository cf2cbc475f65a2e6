import type { ChalkInstance } from 'chalk';
import type { QuantizeSummary } from '../quantize/summary.js';
import { terminalText } from './safe-text.js';
import { shortMs, shortUs } from './units.js';
import { type Verdict, outputVerdict } from './separate-report.js';
import { QUANTIZE_SCHEMA, type QuantizeJson } from '../contract/quantize.js';
import { floatReasonText, notEqualizedText, quantizeNoteText } from './messages/quantize.js';


export function quantizeJson(s: QuantizeSummary): QuantizeJson {
  const verdict = verdictOf(s);
  return {
    schema: QUANTIZE_SCHEMA,
    input: s.input,
    output: s.output,
    opset: s.raise ? { from: s.raise.from, to: s.raise.to, nodesChanged: s.raise.changed } : null,
    settings: s.settings,
    calibration: s.calibration,
    layers: s.plan.layers.map((l) => {
      const r = l.precision === 'int8' || l.why?.code === 'kept-by-max-error' ? s.plan.ranges.get(l.input) : undefined;
      return {
        name: l.name,
        op: l.op,
        precision: l.precision,
        range: r ? [r.lo, r.hi] : null,
        ownError: l.ownError,
        why: l.why && floatReasonText(l.why),
        whyCode: l.why,
        equalizedWith: l.equalizedWith,
        biasCorrection: l.biasCorrection,
      };
    }),
    batchNormFolded: s.batchNormFolded,
    equalization: { pairs: s.plan.equalizedPairs, skipped: s.plan.notEqualized.map((p) => ({ first: p.first, second: p.second, why: notEqualizedText(p.why), whyCode: p.why })) },
    outputs: s.outputs,
    verdict: verdict?.text ?? null,
    verdictCode: verdict ? { code: verdict.code, error: verdict.error } : null,
    maxError: s.maxError,
    weightBytes: s.weightBytes,
    fileBytes: s.fileBytes,
    ...(s.latency ? { latency: s.latency } : {}),
    ...(s.measured ? { measured: s.measured } : {}),
    notes: s.notes.map((n) => quantizeNoteText(n)),
    noteCodes: s.notes,
  };
}

function verdictOf(s: QuantizeSummary): Verdict | null {
  if (!s.outputs?.length) return null;
  return outputVerdict(s.outputs, s.calibration, s.calibration.kind === 'random' ? 'give --calibrate DIR with real data, or --max-error to keep sensitive layers float' : 'give --max-error to keep the most sensitive layers float', '', 'the int8 model');
}

function fixed(x: number | null): string {
  return x === null ? '?' : x < 1e-3 && x > 0 ? x.toExponential(1) : x.toFixed(3);
}

function num(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(2);
}

function mb(bytes: number | null): string {
  return bytes === null ? '?' : `${(bytes / 1e6).toFixed(2)} MB`;
}

export function renderQuantize(s: QuantizeSummary, format: 'table' | 'json' | 'md', c: ChalkInstance): string {
  if (format === 'json') return JSON.stringify(quantizeJson(s), null, 2) + '\n';
  const j = quantizeJson(s);
  const md = format === 'md';
  const out: string[] = [];
  const int8 = j.layers.filter((l) => l.precision === 'int8').length;
  out.push(md ? `## mbn quantize: ${j.input}` : c.bold(`Quantized ${int8} of ${j.layers.length} layers to int8 (weights int8 per output channel, activations uint8 per tensor, ${j.settings.method} ranges)`));
  if (md) out.push('', `${int8} of ${j.layers.length} layers int8 (weights int8 per output channel, activations uint8 per tensor, ${j.settings.method} ranges)`, '');
  const rows = j.layers.map((l) => [
    terminalText(l.name),
    l.op,
    l.precision,
    l.range ? `[${num(l.range[0])}, ${num(l.range[1])}]` : '-',
    fixed(l.ownError),
    l.equalizedWith.length ? 'yes' : '',
    l.biasCorrection === null ? '' : num(l.biasCorrection),
    l.why ? terminalText(l.why) : '',
  ]);
  const head = ['layer', 'op', 'precision', 'input range', 'own error', 'CLE', 'bias corr.', 'why float'];
  if (md) {
    out.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`), '');
  } else {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]))).join('  ').trimEnd();
    out.push(c.dim(line(head)), ...rows.map(line));
  }
  if (j.opset) out.push(`opset ${j.opset.from} → ${j.opset.to} (per-channel QDQ needs 13; ${j.opset.nodesChanged} node${j.opset.nodesChanged === 1 ? '' : 's'} rewritten to their opset-13 form)`);
  out.push(`BatchNormalization folded into its conv: ${j.settings.foldBatchNorm ? j.batchNormFolded.length : 'off'}; cross-layer equalization: ${j.settings.equalize ? `${j.equalization.pairs.length} pair${j.equalization.pairs.length === 1 ? '' : 's'}${j.equalization.skipped.length ? `, ${j.equalization.skipped.length} skipped (a non-homogeneous activation between)` : ''}` : 'off'}; bias correction: ${j.settings.biasCorrection ? 'on' : 'off'}`);
  out.push(`weights ${mb(j.weightBytes.before)} → ${mb(j.weightBytes.after)}${j.weightBytes.after !== null && j.weightBytes.before ? ` (${(j.weightBytes.after / j.weightBytes.before).toFixed(2)}×)` : ''}; file ${mb(j.fileBytes.before)} → ${mb(j.fileBytes.after)}`);
  const k = j.calibration;
  out.push(`Calibration: ${terminalText(k.source)}, ${k.batches} batch${k.batches === 1 ? '' : 'es'} (${k.fitBatches} for the ranges, ${k.verifyBatches} ${k.heldBack ? 'held back for' : 'used for'} the check)`);
  if (j.maxError) out.push(`--max-error ${j.maxError.limit}: ${j.maxError.met ? 'met' : 'not met'} with ${j.layers.filter((l) => l.whyCode?.code === 'kept-by-max-error').length} layers float (${j.maxError.probes} probes)`);
  for (const o of j.outputs ?? []) {
    out.push(`  output ${terminalText(o.name)}: relative error ${fixed(o.relativeError)}, cosine ${o.cosine.toFixed(4)}${o.top1Agreement === null ? '' : `, top-1 agreement ${(100 * o.top1Agreement).toFixed(1)}%`}`);
  }
  out.push(...latencyLines(j));
  const v = verdictOf(s);
  if (v) out.push(md ? v.text : v.error <= 0.01 ? c.green(v.text) : v.error <= 0.1 ? c.yellow(v.text) : c.red(v.text));
  for (const n of j.notes) out.push(md ? `note: ${n}` : c.yellow(`note: ${n}`));
  out.push(`Wrote ${terminalText(j.output)}`);
  return out.join('\n') + '\n';
}

/** The latency lines: predicted on the device (float → int8) and measured in ONNX Runtime, where given. */
function latencyLines(j: QuantizeJson): string[] {
  const ms = (x: number) => (x < 0.1 ? shortUs(x) : shortMs(x));
  const ratio = (a: number, b: number) => `×${(b / a).toFixed(2)}`;
  const out: string[] = [];
  const l = j.latency;
  if (l) {
    const kept = l.keptFloat ? `; ${l.keptFloat} layer${l.keptFloat === 1 ? '' : 's'} kept float for it (all int8: ${ms(l.predictedAllInt8Ms)})` : '';
    const target = l.target ? `; --target-latency ${ms(l.target.ms)} ${l.target.met ? 'met' : 'not met'}` : '';
    out.push(`Latency predicted on ${terminalText(l.device)}${l.calibrated ? '' : ' (estimated profile)'}: float ${ms(l.predicted.floatMs)} → int8 ${ms(l.predicted.int8Ms)} (${ratio(l.predicted.floatMs, l.predicted.int8Ms)})${kept}${target}`);
  }
  const m = j.measured;
  if (m) out.push(`Latency measured in ONNX Runtime (median, 1 thread, as mbn bench): float ${ms(m.floatMs)} → int8 ${ms(m.int8Ms)} (${ratio(m.floatMs, m.int8Ms)})`);
  return out;
}
