import { FIGURES } from './limits.js';
import type { LayerReport, Report } from '../contract/analyze.js';
import type { FigureKey } from '../contract/check.js';
import { type Delta, DIFF_SCHEMA, type DiffResult, type LayerDiff, type LayerStatus } from '../contract/diff.js';

/**
 * `mbn diff base head` as data. Pure: two cost reports in, the differences out; rendering lives in
 * report/diff-report.ts. The JSON contract (schema 'mbn.diff/1') is `DiffJson` (contract/diff.ts), rendered from
 * `DiffResult` by report/diff-report.ts.
 *
 * Layers are matched by name (within their scope; the k-th layer of a repeated name pairs with the k-th). Layers
 * left over are then paired by op and position, but only when base and head have the same number of leftover
 * layers of that op (a renamed but otherwise same-shaped graph); otherwise they are reported as removed and added.
 */


/** A layer that runs (not in an If branch left out) but has no count. */
function uncounted(l: LayerReport): boolean {
  return !l.counted && l.executions > 0;
}

export function delta(base: number, head: number): Delta {
  const d = head - base;
  return { base, head, delta: d, percent: base !== 0 ? (100 * d) / base : d === 0 ? 0 : null };
}

/** Pairs base and head layers: for each head layer, the index of its base layer or -1. */
export function matchLayers(base: LayerReport[], head: LayerReport[]): number[] {
  // scope → name → base index, or the indices in order when a name repeats. Graphs have up to millions of layers:
  // no key string and no list per layer, only for the rare repeated name.
  const byName = new Map<string, Map<string, number | number[]>>();
  base.forEach((l, i) => {
    let names = byName.get(l.scope);
    if (!names) byName.set(l.scope, (names = new Map()));
    const seen = names.get(l.name);
    if (seen === undefined) names.set(l.name, i);
    else if (typeof seen === 'number') names.set(l.name, [seen, i]);
    else seen.push(i);
  });
  // Repeated names pair in order: reversed once, each list hands out its first index with pop().
  for (const names of byName.values()) for (const seen of names.values()) if (typeof seen !== 'number') seen.reverse();
  const usedBase = new Uint8Array(base.length);
  const result = head.map((l) => {
    const names = byName.get(l.scope);
    const seen = names?.get(l.name);
    let i: number | undefined;
    if (typeof seen === 'number') {
      i = seen;
      names!.delete(l.name);
    } else i = seen?.pop();
    if (i === undefined) return -1;
    usedBase[i] = 1;
    return i;
  });
  // Leftovers, paired by op and position when the counts agree.
  const leftBase = new Map<string, number[]>();
  base.forEach((l, i) => {
    if (usedBase[i]) return;
    const k = `${l.scope}\u0000${l.domain}\u0000${l.op}`;
    const list = leftBase.get(k);
    if (list) list.push(i);
    else leftBase.set(k, [i]);
  });
  const leftHead = new Map<string, number[]>();
  head.forEach((l, j) => {
    if (result[j] >= 0) return;
    const k = `${l.scope}\u0000${l.domain}\u0000${l.op}`;
    const list = leftHead.get(k);
    if (list) list.push(j);
    else leftHead.set(k, [j]);
  });
  for (const [k, js] of leftHead) {
    const is = leftBase.get(k);
    if (!is || is.length !== js.length) continue;
    js.forEach((j, n) => (result[j] = is[n]));
  }
  return result;
}

export function diffReports(base: Report, head: Report): DiffResult {
  const match = matchLayers(base.layers, head.layers);
  const matchedBase = new Uint8Array(base.layers.length);
  for (const i of match) if (i >= 0) matchedBase[i] = 1;
  const layers: LayerDiff[] = [];
  const removed = (b: LayerReport): LayerDiff => ({
    status: 'removed', name: b.name, renamedFrom: null, op: b.op, scope: b.scope, macs: delta(b.macs, 0), params: delta(b.params, 0),
    uncounted: { base: uncounted(b), head: false },
  });
  const added = (h: LayerReport): LayerDiff => ({
    status: 'added', name: h.name, renamedFrom: null, op: h.op, scope: h.scope, macs: delta(0, h.macs), params: delta(0, h.params),
    uncounted: { base: false, head: uncounted(h) },
  });
  // Like the hunks of a text diff: between two matched layers, the removed base layers and the added head layers
  // are interleaved by their relative position in the hunk (removed first on ties).
  let nextBase = 0;
  let pending: LayerReport[] = [];
  const flush = (end: number) => {
    const gone: LayerReport[] = [];
    for (; nextBase < end; nextBase++) if (!matchedBase[nextBase]) gone.push(base.layers[nextBase]);
    const merged = [
      ...gone.map((b, k) => ({ at: k / gone.length, tie: 0, row: removed(b) })),
      ...pending.map((h, k) => ({ at: k / pending.length, tie: 1, row: added(h) })),
    ].sort((x, y) => x.at - y.at || x.tie - y.tie);
    for (const m of merged) layers.push(m.row);
    pending = [];
  };
  head.layers.forEach((h, j) => {
    const i = match[j];
    if (i < 0) {
      pending.push(h);
      return;
    }
    flush(Math.max(i, nextBase));
    if (i >= nextBase) nextBase = i + 1;
    const b = base.layers[i];
    const macs = delta(b.macs, h.macs);
    const params = delta(b.params, h.params);
    const same = macs.delta === 0 && params.delta === 0 && b.counted === h.counted;
    layers.push({
      status: same ? 'unchanged' : 'changed',
      name: h.name,
      renamedFrom: b.name !== h.name ? b.name : null,
      op: h.op,
      scope: h.scope,
      macs,
      params,
      uncounted: { base: uncounted(b), head: uncounted(h) },
    });
  });
  flush(base.layers.length);
  const count = (s: LayerStatus) => layers.filter((l) => l.status === s).length;
  const totals = Object.fromEntries(FIGURES.map((f) => [f.key, delta(base.totals[f.key], head.totals[f.key])])) as Record<FigureKey, Delta>;
  return {
    schema: DIFF_SCHEMA,
    base: { path: base.model.path, complete: base.totals.complete, incomplete: base.incomplete },
    head: { path: head.model.path, complete: head.totals.complete, incomplete: head.incomplete },
    totals,
    summary: {
      added: count('added'),
      removed: count('removed'),
      changed: count('changed'),
      unchanged: count('unchanged'),
      renamed: layers.filter((l) => l.renamedFrom !== null).length,
    },
    layers,
  };
}
