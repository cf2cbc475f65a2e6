import { describe, expect, it } from 'vitest';
import { DEFAULT_ROWS, selectLayers } from '../src/report/analyze-report.js';
import type { LayerReport, Report } from '../src/contract/analyze.js';

/** Layers named by index, with the given MACs (and other FLOPs); counted, no params. */
function report(costs: [number, number][]): Report {
  const layers = costs.map(([macs, otherFlops], i) => ({ name: `l${i}`, macs, otherFlops, params: 0, counted: true }) as LayerReport);
  return { layers } as Report;
}
const names = (rows: LayerReport[]) => rows.map((l) => l.name);
const options = { flops: false, top: null, all: false };

describe('selectLayers: the rows of the default table', () => {
  it('the 25 costliest in layer order; among equal costs the earlier layers', () => {
    // 40 layers: l0..l39 with MACs i % 10 (four layers of each cost): the four of each cost 9 down to 4 (24), then
    // of the 3s (layers 3, 13, 23, 33) only the first, as a stable sort keeps them.
    const r = report(Array.from({ length: 40 }, (_, i) => [i % 10, 0]));
    const { rows, hidden } = selectLayers(r, options);
    expect(rows).toHaveLength(DEFAULT_ROWS);
    expect(hidden).toBe(15);
    const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 10 >= 4 || i === 3);
    expect(expected).toHaveLength(DEFAULT_ROWS);
    expect(names(rows)).toEqual(expected.map((i) => `l${i}`));
  });

  it('MACs first, then other FLOPs; a model of activations alone shows its costliest by other FLOPs', () => {
    const ties = report(Array.from({ length: 30 }, (_, i) => [1, i === 29 ? 5 : 0]));
    expect(names(selectLayers(ties, options).rows)).toEqual([...Array.from({ length: 24 }, (_, i) => `l${i}`), 'l29']);
    const activations = report(Array.from({ length: 30 }, (_, i) => [0, i < 3 ? 0 : 30 - i]));
    expect(names(selectLayers(activations, options).rows)).toEqual(Array.from({ length: 25 }, (_, i) => `l${i + 3}`));
  });

  it('no more than there are, in layer order; --top N: the N costliest, costliest first', () => {
    const r = report([[1, 0], [3, 0], [0, 0], [2, 0]]);
    expect(names(selectLayers(r, options).rows)).toEqual(['l0', 'l1', 'l3']);
    expect(selectLayers(r, options).hidden).toBe(1);
    expect(names(selectLayers(r, { ...options, top: 2 }).rows)).toEqual(['l1', 'l3']);
  });
});
