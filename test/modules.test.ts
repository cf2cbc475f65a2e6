import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { diffModules, hasModuleScopes, rollUpModules, scopeOf } from '../src/cost/modules.js';
import { readModel } from '../src/onnx/read.js';
import { buildAndRead } from './helpers/build-model.js';
import { fixture, mbn } from './helpers/cli.js';
import type { ModuleCost, Report } from '../src/contract/analyze.js';

function analyze(path: string, options = {}): Report {
  const model = readModel(path);
  try {
    return analyzeModel(model, options);
  } finally {
    model.source.close();
  }
}

const byName = (rows: ModuleCost[]) => new Map(rows.map((r) => [r.name, r]));

// ResNet-18 at 224×224 (torch.onnx.export names: /layer1/layer1.0/conv1/Conv). Convs, by hand:
const conv3x3 = (cin: number, cout: number, hw: number) => 3 * 3 * cin * cout * hw * hw;
const LAYER1 = 4 * conv3x3(64, 64, 56); // 4 × 115,605,504
const LAYER2_0 = conv3x3(64, 128, 28) + conv3x3(128, 128, 28) + 64 * 128 * 28 * 28; // stride-2 conv, conv, 1×1 downsample
const LAYER2_1 = 2 * conv3x3(128, 128, 28);

describe('module roll-up (--depth)', () => {
  const resnet = analyze(fixture('graph-only/resnet18.onnx'));

  it('scope is every /-separated segment but the last; names without / have none', () => {
    expect(scopeOf('/layer1/layer1.0/conv1/Conv')).toEqual(['layer1', 'layer1.0', 'conv1']);
    expect(scopeOf('/Flatten')).toEqual([]);
    expect(scopeOf('p2o.Conv.0')).toEqual([]);
    expect(scopeOf('model//conv2d/Conv2D')).toEqual(['model', 'conv2d']);
    expect(scopeOf('')).toEqual([]);
  });

  it('ResNet-18 depth 1: layer1 is its four 3×3 convs, 462,422,016 MACs; rows add up to the totals', () => {
    const rows = rollUpModules(resnet.layers, 1);
    expect(rows.map((r) => r.name)).toEqual(['conv1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4', 'avgpool', '', 'fc']);
    const m = byName(rows);
    expect(LAYER1).toBe(462_422_016);
    expect(m.get('layer1')!.macs).toBe(LAYER1);
    // 4 convs of 64·64·9 weights + 64 biases (BatchNorm folded).
    expect(m.get('layer1')!.params).toBe(4 * (64 * 64 * 9 + 64));
    // 4 ReLUs and 2 Adds over 64×56×56.
    expect(m.get('layer1')!.otherFlops).toBe(6 * 64 * 56 * 56);
    expect(m.get('layer1')!.layers).toBe(10);
    expect(m.get('layer2')!.macs).toBe(LAYER2_0 + LAYER2_1);
    expect(m.get('conv1')!.macs).toBe(7 * 7 * 3 * 64 * 112 * 112);
    expect(m.get('fc')!.macs).toBe(512 * 1000);
    // /Flatten: an op of the top-level forward, no module.
    expect(m.get('')!.layers).toBe(1);
    for (const key of ['macs', 'otherFlops', 'params', 'weightBytes', 'layers'] as const) {
      const sum = rows.reduce((s, r) => s + r[key], 0);
      expect(sum).toBe(key === 'layers' ? resnet.totals.layers : resnet.totals[key]);
    }
    expect(rows.reduce((s, r) => s + r.macsIfSeparated, 0)).toBe(resnet.totals.macsIfSeparated);
  });

  it('ResNet-18 depth 2: children in model order under their parent, summing to it', () => {
    const rows = rollUpModules(resnet.layers, 2);
    const names = rows.map((r) => r.name);
    expect(names.slice(3, 9)).toEqual(['layer1', 'layer1/layer1.0', 'layer1/layer1.1', 'layer2', 'layer2/layer2.0', 'layer2/layer2.1']);
    const m = byName(rows);
    expect(m.get('layer1/layer1.0')!.macs).toBe(2 * conv3x3(64, 64, 56));
    expect(m.get('layer2/layer2.0')!.macs).toBe(LAYER2_0);
    expect(m.get('layer2/layer2.0')!.macs).toBe(179_830_784);
    expect(m.get('layer2/layer2.1')!).toMatchObject({ depth: 2, parent: 'layer2', macs: LAYER2_1 });
    for (const parent of rows.filter((r) => r.depth === 1 && rows.some((c) => c.parent === r.name))) {
      const kids = rows.filter((c) => c.parent === parent.name);
      expect(kids.reduce((s, k) => s + k.macs, 0)).toBe(parent.macs);
      expect(kids.reduce((s, k) => s + k.params, 0)).toBe(parent.params);
    }
    // A module shallower than the depth keeps its layers: /conv1/Conv is in conv1 at every depth.
    expect(m.get('conv1')!.macs).toBe(118_013_952);
  });

  it('deeper scopes: the downsample conv at depth 3 and 4', () => {
    const d4 = byName(rollUpModules(resnet.layers, 4));
    expect(d4.get('layer2/layer2.0/downsample')!.macs).toBe(64 * 128 * 28 * 28);
    expect(d4.get('layer2/layer2.0/downsample/downsample.0')!.macs).toBe(6_422_528);
    expect(d4.get('layer2/layer2.0/conv1')!.macs).toBe(conv3x3(64, 128, 28));
  });

  it('PaddleOCR names (p2o.Conv.0) have no / scope: one top-level row holding every layer', () => {
    const ocr = analyze(fixture('real/ppocr_mobile_v2_cls.onnx'), { inputShapes: new Map([['x', [1, 3, 48, 192]]]) });
    expect(hasModuleScopes(ocr.layers)).toBe(false);
    expect(hasModuleScopes(resnet.layers)).toBe(true);
    const rows = rollUpModules(ocr.layers, 3);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: '', depth: 1, parent: null, layers: 471, macs: ocr.totals.macs, params: ocr.totals.params, notCounted: 0 });
    expect(rows[0].macs).toBe(16_315_376);
  });

  it('not-counted layers are counted per module, never hidden', () => {
    const ocr = analyze(fixture('real/ppocr_mobile_v2_cls.onnx'));
    const rows = rollUpModules(ocr.layers, 1);
    expect(rows[0].notCounted).toBe(ocr.totals.notCounted);
    expect(rows[0].notCounted).toBeGreaterThan(0);
  });

  it('diffModules pairs modules by name: head order, then modules only in the base', () => {
    const row = (name: string, macs: number): ModuleCost => ({
      name, depth: 1, parent: null, layers: 1, macs, otherFlops: 0, flops: 2 * macs, params: 0, weightBytes: 0,
      activationBytes: 0, notCounted: 0, separableLayers: 0, macsIfSeparated: macs,
    });
    const rows = diffModules([row('a', 1), row('gone', 2), row('b', 3)], [row('b', 4), row('new', 5), row('a', 1)]);
    expect(rows.map((r) => [r.name, r.base?.macs ?? null, r.head?.macs ?? null])).toEqual([
      ['b', 3, 4],
      ['new', null, 5],
      ['a', 1, 1],
      ['gone', 2, null],
    ]);
  });

  it('rejects a depth below 1', () => {
    expect(() => rollUpModules(resnet.layers, 0)).toThrow(RangeError);
  });
});

/** Every .onnx under fixtures/. */
function fixtureModels(dir = fixture('.')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? fixtureModels(path) : e.name.endsWith('.onnx') ? [path] : [];
  });
}

const sumOf = (rows: ModuleCost[], key: keyof ModuleCost) => rows.reduce((s, r) => s + (r[key] as number), 0);

describe('one home per figure: module rows and totals come from the same per-layer figures', () => {
  const models = fixtureModels();

  it('finds the fixtures', () => {
    expect(models.length).toBeGreaterThanOrEqual(53);
  });

  it('on every fixture, the depth-1 rows add up to the totals, the separation projections included', () => {
    const mismatches: string[] = [];
    for (const path of models) {
      const report = analyze(path);
      const t = report.totals;
      const rows = rollUpModules(report.layers, 1);
      const expected: Partial<Record<keyof ModuleCost, number>> = {
        layers: t.layers, macs: t.macs, otherFlops: t.otherFlops, flops: t.flops, params: t.params, weightBytes: t.weightBytes,
        notCounted: t.notCounted, separableLayers: t.separableLayers, macsIfSeparated: t.macsIfSeparated,
      };
      for (const [key, value] of Object.entries(expected)) {
        const sum = sumOf(rows, key as keyof ModuleCost);
        if (sum !== value) mismatches.push(`${path}: ${key} rows ${sum}, totals ${value}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('a conv in an If branch not counted (×0) is no separable layer of its module, as in the totals', () => {
    // fixtures/edge/conv_in_if.onnx: a 3×3 conv 8→16 in each branch, the then branch taken. It counted 2 before.
    const report = analyze(fixture('edge/conv_in_if.onnx'));
    const ifRow = rollUpModules(report.layers, 1).find((r) => r.name === 'if')!;
    expect(ifRow).toMatchObject({ separableLayers: 1, macs: 294912, macsIfSeparated: 51200 });
    expect(report.totals).toMatchObject({ separableLayers: 1, macs: 294912, macsIfSeparated: 51200 });
  });

  it('a conv whose pair would cost more keeps its MACs in its module, as in the totals', () => {
    // /blk/wide: 3×3, 8 → 1 channel on 6×6 (pads 1): r·(1/N + 1/K) = 1 + 1/9 ≥ 1, left alone.
    // /blk/std: 3×3, 8 → 16 on 6×6: 36·16·8·9 = 41,472 MACs → 36·8·9 + 36·16·8 = 2,592 + 4,608 = 7,200.
    const ones = (n: number) => new Array(n).fill(0.5);
    const report = analyzeModel(buildAndRead({
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 6, 6] }],
      outputs: ['a', 'b'],
      initializers: [
        { name: 'w1', dtype: 1, dims: [1, 8, 3, 3], values: ones(72) },
        { name: 'w2', dtype: 1, dims: [16, 8, 3, 3], values: ones(1152) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1'], outputs: ['a'], name: '/blk/wide/Conv', attrs: { pads: [1, 1, 1, 1] } },
        { op: 'Conv', inputs: ['x', 'w2'], outputs: ['b'], name: '/blk/std/Conv', attrs: { pads: [1, 1, 1, 1] } },
      ],
    }));
    expect(report.layers[0].separable!.reduction).toBeCloseTo(1 + 1 / 9, 12);
    const blk = rollUpModules(report.layers, 1)[0];
    expect(blk).toMatchObject({ name: 'blk', separableLayers: 1, macs: 36 * 8 * 9 + 41472, macsIfSeparated: 36 * 8 * 9 + 7200 });
    expect(report.totals).toMatchObject({ separableLayers: 1, macsIfSeparated: 36 * 8 * 9 + 7200 });
  });
});

describe('mbn analyze --depth', () => {
  it('JSON gets a modules array; the table a "By module" section', () => {
    const json = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--depth', '1', '--format', 'json']);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.modules.find((m: ModuleCost) => m.name === 'layer1').macs).toBe(462_422_016);
    const table = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--depth', '2']);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain('By module (depth 2)');
    expect(table.stdout).toMatch(/│ {3}layer1\.0 +│ +5 │ 231M │/);
    const md = mbn(['analyze', fixture('real/ppocr_mobile_v2_cls.onnx'), '--depth', '1', '--format', 'md']);
    expect(md.stdout).toContain('every layer is top level');
    expect(md.stdout).toContain('| (top level) | 471 |');
  });

  it('without --depth the JSON has no modules (the contract is unchanged)', () => {
    const r = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'json']);
    expect(JSON.parse(r.stdout).modules).toBeUndefined();
  });

  it('bad uses are one-line usage errors (exit 2)', () => {
    const zero = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--depth', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain("--depth '0' is not a positive integer");
    const csv = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--depth', '1', '--format', 'csv']);
    expect(csv.status).toBe(2);
    expect(csv.stderr).toMatch(/^mbn: --depth works with --format table, md, json and html, not csv/);
    expect(csv.stdout).toBe('');
  });
});
