import type { Gap, Report } from '../contract/analyze.js';
import type { GapMessage, LayerReason } from '../contract/messages.js';

/**
 * The completeness rule of every gate (`mbn analyze`'s budgets, `mbn check`, `mbn advise`'s failOn): a report with a gap — a layer that
 * runs but is not counted, or a non-batch input dim that nothing fixed — passes no gate, unless each of its
 * uncounted layers is of an op the user accepted (allowUncounted). Assumed dims
 * cannot be accepted: they are fixed by giving the input's shape. Pure: gaps in, gaps and messages (as data) out.
 */

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

/** A dim name short and plain enough to stand in an example shape; else D<index>. */
function placeholder(name: string | null, dim: number): string {
  return name !== null && /^[A-Za-z_][A-Za-z0-9_]{0,11}$/.test(name) ? name : `D${dim}`;
}

/** A reason that says only that an earlier gap left this layer without shapes. */
const downstream = (reason: LayerReason) => reason.code === 'input-shape-unknown' || reason.code === 'output-shape-unknown';

/**
 * The gaps grouped as every gate reports them, one message each (worded in src/report/messages/analyze.ts): the
 * assumed dims of each input, the layers of each op without a cost rule, and the layers whose shapes are unknown.
 */
export function gapMessages(gaps: readonly Gap[], inputs: Report['model']['inputs']): GapMessage[] {
  const messages: GapMessage[] = [];
  const byInput = new Map<string, Extract<Gap, { kind: 'assumed-dim' }>[]>();
  for (const g of gaps) if (g.kind === 'assumed-dim') byInput.set(g.input, [...(byInput.get(g.input) ?? []), g]);
  for (const [name, dims] of byInput) {
    const input = inputs.find((i) => i.name === name);
    const assumed = new Map(dims.map((d) => [d.dim, d]));
    const example = (input?.shape ?? []).map((v, i) => (assumed.has(i) ? placeholder(assumed.get(i)!.name, i) : v));
    messages.push({ code: 'gap-assumed-dims', input: name, dims: dims.map((d) => ({ dim: d.dim, name: d.name, value: d.value })), example });
  }
  const uncounted = gaps.filter((g): g is Extract<Gap, { kind: 'uncounted' }> => g.kind === 'uncounted');
  const noRule = new Map<string, typeof uncounted>();
  const shapeless: typeof uncounted = [];
  for (const g of uncounted) {
    if (g.reason.code === 'no-rule') noRule.set(opKey(g), [...(noRule.get(opKey(g)) ?? []), g]);
    else shapeless.push(g);
  }
  for (const group of noRule.values()) messages.push({ code: 'gap-no-rule', op: group[0].op, domain: group[0].domain, layers: group.length });
  if (shapeless.length > 0) {
    // Layers whose shapes could not be worked out: usually a consequence of the gaps above.
    const counts = new Map<string, number>();
    for (const g of shapeless) counts.set(g.op, (counts.get(g.op) ?? 0) + 1);
    const ops = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, layers]) => ({ op, layers }));
    const first = shapeless.find((g) => !downstream(g.reason)) ?? shapeless[0];
    messages.push({
      code: 'gap-shapes-unknown',
      layers: shapeless.length,
      ops,
      first: { layer: first.layer, reason: first.reason },
      after: byInput.size > 0 ? 'assumed-dims' : noRule.size > 0 ? 'no-rule' : null,
    });
  }
  return messages;
}
