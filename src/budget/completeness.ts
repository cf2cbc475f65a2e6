import { quote } from '../errors.js';
import type { Gap, Report } from '../contract/analyze.js';

/**
 * The completeness rule of every gate (`--max-*`, `mbn check`, `--baseline`): a report with a gap — a layer that
 * runs but is not counted, or a non-batch input dim that nothing fixed — passes no gate, unless each of its
 * uncounted layers is of an op the user accepted (`--allow-uncounted OP`, config "allowUncounted"). Assumed dims
 * cannot be accepted: they are fixed with `--input`. Pure: gaps in, gaps and messages out.
 */

/** Reasons that only say an earlier gap left this layer without shapes. */
const DOWNSTREAM = new Set(['input shape unknown', 'output shape unknown']);

/** Figures that depend on shapes: lower bounds while a report is incomplete. Params and weight bytes come from the file. */
export const SHAPE_FIGURES = new Set(['macs', 'flops', 'peakActivationBytes']);

function opKey(gap: { op: string; domain: string }): string {
  return gap.domain ? `${gap.domain}::${gap.op}` : gap.op;
}

/** The gaps that block a gate: all but the uncounted layers of an allowed op (`Op` or `domain::Op`). */
export function blockingGaps(gaps: readonly Gap[], allow: readonly string[]): Gap[] {
  if (allow.length === 0) return gaps.slice();
  const allowed = new Set(allow);
  return gaps.filter((g) => g.kind !== 'uncounted' || !(allowed.has(g.op) || allowed.has(opKey(g))));
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** A dim name short and plain enough to stand in a --input example; else D<index>. */
function placeholder(name: string | null, dim: number): string {
  return name !== null && /^[A-Za-z_][A-Za-z0-9_]{0,11}$/.test(name) ? name : `D${dim}`;
}

/**
 * One line per gap group, each saying what is missing and how to fix it:
 *   input 'x' dims 2 ('H'), 3 ('W') are symbolic and were assumed 1: give them with --input x:1x3xHxW (config: "input")
 *   1 layer of op MyBlur (com.example) has no cost rule: accept it with --allow-uncounted MyBlur (config: "allowUncounted")
 */
export function describeGaps(gaps: readonly Gap[], inputs: Report['model']['inputs'], options: { configKeys?: boolean } = {}): string[] {
  // `mbn check` reads a config too: there the fix names its key as well (`separate` has no config).
  const config = (key: string) => (options.configKeys === false ? '' : ` (config: "${key}")`);
  const lines: string[] = [];
  const byInput = new Map<string, Extract<Gap, { kind: 'assumed-dim' }>[]>();
  for (const g of gaps) if (g.kind === 'assumed-dim') byInput.set(g.input, [...(byInput.get(g.input) ?? []), g]);
  for (const [name, dims] of byInput) {
    const input = inputs.find((i) => i.name === name);
    const assumed = new Map(dims.map((d) => [d.dim, d]));
    const example = (input?.shape ?? []).map((v, i) => (assumed.has(i) ? placeholder(assumed.get(i)!.name, i) : String(v))).join('x');
    const list = dims.map((d) => (d.name !== null ? `${d.dim} (${quote(d.name)})` : String(d.dim))).join(', ');
    const values = [...new Set(dims.map((d) => d.value))].join(', ');
    const what = dims.some((d) => d.name !== null) ? 'symbolic' : 'dynamic';
    lines.push(
      `input ${quote(name)} ${plural(dims.length, 'dim', 'dims')} ${list} ${plural(dims.length, 'is', 'are')} ${what} and ${plural(dims.length, 'was', 'were')} assumed ${values}: ` +
        `give ${plural(dims.length, 'it', 'them')} with --input ${name}:${example}${config('input')}`,
    );
  }
  const uncounted = gaps.filter((g): g is Extract<Gap, { kind: 'uncounted' }> => g.kind === 'uncounted');
  const noRule = new Map<string, typeof uncounted>();
  const shapeless: typeof uncounted = [];
  for (const g of uncounted) {
    if (g.reason.startsWith('no rule for')) noRule.set(opKey(g), [...(noRule.get(opKey(g)) ?? []), g]);
    else shapeless.push(g);
  }
  for (const group of noRule.values()) {
    const g = group[0];
    const n = group.length;
    lines.push(
      `${n} ${plural(n, 'layer', 'layers')} of op ${g.op}${g.domain ? ` (${g.domain})` : ''} ${plural(n, 'has', 'have')} no cost rule: ` +
        `accept ${plural(n, 'it', 'them')} with --allow-uncounted ${g.op}${config('allowUncounted')}`,
    );
  }
  if (shapeless.length > 0) {
    // Layers whose shapes could not be worked out: usually a consequence of the gaps above.
    const counts = new Map<string, number>();
    for (const g of shapeless) counts.set(g.op, (counts.get(g.op) ?? 0) + 1);
    const ops = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, k]) => `${k} ${op}`);
    const first = shapeless.find((g) => !DOWNSTREAM.has(g.reason)) ?? shapeless[0];
    const n = shapeless.length;
    const fix = byInput.size > 0
      ? 'give the input shapes first'
      : noRule.size > 0
        ? 'they follow the layers above; give their shapes in the model\'s value_info, or accept these ops too with --allow-uncounted'
        : 'give the input shapes with --input, or accept these ops with --allow-uncounted';
    lines.push(
      `${n} ${plural(n, 'layer is', 'layers are')} not counted because ${plural(n, 'its shapes are', 'their shapes are')} unknown ` +
        `(${ops.slice(0, 4).join(', ')}${ops.length > 4 ? ', …' : ''}; first: ${first.layer}: ${first.reason}): ${fix}`,
    );
  }
  return lines;
}

/** One line for a report header: "incomplete: 48 layers not counted, 2 input dims assumed". */
export function gapSummary(gaps: readonly Gap[]): string {
  const layers = gaps.filter((g) => g.kind === 'uncounted').length;
  const dims = gaps.length - layers;
  const parts: string[] = [];
  if (layers > 0) parts.push(`${layers} ${plural(layers, 'layer that runs is', 'layers that run are')} not counted`);
  if (dims > 0) parts.push(`${dims} input ${plural(dims, 'dim was', 'dims were')} assumed`);
  return parts.join(', ');
}
