import { describe, expect, it } from 'vitest';
import { delta, diffReports, matchLayers } from '../src/budget/diff.js';
import { renderDiffMarkdown } from '../src/report/diff-report.js';
import type { LayerReport, Report } from '../src/contract/analyze.js';

function layer(name: string, op: string, macs: number, params = 0): LayerReport {
  return {
    name, op, domain: '', kind: null, scope: '', outputShapes: [], macs, otherFlops: 0, params, weightBytes: 4 * params, activationBytes: 0,
    executions: 1, counted: true, reason: null, notes: [], separable: null, precision: 'float32',
  };
}

function report(path: string, layers: LayerReport[]): Report {
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const params = layers.reduce((s, l) => s + l.params, 0);
  return {
    model: { path, irVersion: 7, producer: '', opsets: {}, inputs: [], outputs: [] },
    totals: {
      macs, flops: 2 * macs, otherFlops: 0, params, weightBytes: 4 * params, peakActivationBytes: 100, layers: layers.length, notCounted: 0,
      separableLayers: 0, macsIfSeparated: macs, paramsIfSeparated: params, complete: true,
    },
    incomplete: [], byOp: [], weightsByDtype: {}, byPrecision: [], layers, notes: [],
  };
}

describe('diff', () => {
  it('deltas and percentages', () => {
    expect(delta(200, 150)).toEqual({ base: 200, head: 150, delta: -50, percent: -25 });
    expect(delta(0, 5)).toEqual({ base: 0, head: 5, delta: 5, percent: null });
    expect(delta(0, 0)).toEqual({ base: 0, head: 0, delta: 0, percent: 0 });
  });

  it('matches by name, then by op and position when the leftover counts agree', () => {
    const base = [layer('a', 'Conv', 1), layer('b', 'Conv', 2), layer('c', 'Relu', 0), layer('d', 'Gemm', 3)];
    const head = [layer('a', 'Conv', 1), layer('b2', 'Conv', 2), layer('c2', 'Relu', 0), layer('c3', 'Relu', 0), layer('d', 'Gemm', 4)];
    // b→b2 (one leftover Conv each side); Relu: 1 vs 2 leftovers → not paired.
    expect(matchLayers(base, head)).toEqual([0, 1, -1, -1, 3]);
  });

  it('repeated names pair in order', () => {
    expect(matchLayers([layer('x', 'Relu', 0), layer('x', 'Relu', 0)], [layer('x', 'Relu', 0), layer('x', 'Relu', 0), layer('x', 'Relu', 0)])).toEqual([0, 1, -1]);
  });

  it('reports added, removed, changed and unchanged layers in graph order, and the totals', () => {
    const base = report('base.onnx', [layer('stem', 'Conv', 1000, 10), layer('block', 'Conv', 9000, 90), layer('act', 'Relu', 0), layer('fc', 'Gemm', 500, 50)]);
    const head = report('head.onnx', [
      layer('stem', 'Conv', 1000, 10),
      layer('block.dw', 'Conv', 1000, 10),
      layer('block.pw', 'Conv', 2000, 20),
      layer('act', 'Relu', 0),
      layer('fc', 'Gemm', 600, 60),
    ]);
    const d = diffReports(base, head);
    expect(d.schema).toBe('mbn.diff/1');
    expect(d.layers.map((l) => [l.status, l.name, l.macs.delta, l.params.delta])).toEqual([
      ['unchanged', 'stem', 0, 0],
      ['removed', 'block', -9000, -90],
      ['added', 'block.dw', 1000, 10],
      ['added', 'block.pw', 2000, 20],
      ['unchanged', 'act', 0, 0],
      ['changed', 'fc', 100, 10],
    ]);
    expect(d.summary).toEqual({ added: 2, removed: 1, changed: 1, unchanged: 2, renamed: 0 });
    expect(d.totals.macs).toEqual({ base: 10_500, head: 4_600, delta: -5_900, percent: (100 * -5_900) / 10_500 });
    expect(d.totals.params.delta).toBe(-50);
    expect(d.layers[5].macs.percent).toBe(20);

    const md = renderDiffMarkdown(d, { all: false });
    expect(md).toContain('### mbn diff 📉 MACs -5.9K (-56.2%)');
    expect(md).toContain('| MACs | 10.5K | 4.6K | -5.9K | -56.2% |');
    expect(md).toContain('<summary>Layers: 2 added, 1 removed, 1 changed, 2 unchanged (4 with a MACs or params change listed)</summary>');
    expect(md).toContain('| ➖ | block | Conv | 9K | -9K |  | 90 | -90 |');
    expect(md).toContain('| ✏️ | fc | Gemm | 600 | +100 | +20.0% | 60 | +10 |');
  });

  it('a renamed layer keeps its old name', () => {
    const d = diffReports(report('a', [layer('old', 'Conv', 5, 1)]), report('b', [layer('new', 'Conv', 5, 1)]));
    expect(d.layers).toEqual([
      { status: 'unchanged', name: 'new', renamedFrom: 'old', op: 'Conv', scope: '', macs: delta(5, 5), params: delta(1, 1), uncounted: { base: false, head: false } },
    ]);
    expect(d.summary.renamed).toBe(1);
  });
});
