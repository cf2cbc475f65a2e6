import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { renderCsv, renderJson } from '../src/report/analyze-report.js';
import { renderBenchTable } from '../src/report/bench-report.js';
import { makeStyle } from '../src/report/style.js';
import { bar, dimsText, shapeText } from '../src/report/units.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import type { Report } from '../src/contract/analyze.js';

/** Cells that read wrong on real models (issue 9, section 5): each case is a fixture or a model built here. */

function analyzeFile(path: string): Report {
  const model = readModel(path);
  try {
    return analyzeModel(model);
  } finally {
    model.source.close();
  }
}

const F = 1;
const UINT8 = 2;
const INT8 = 3;
const INT32 = 6;
const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('the Share bar', () => {
  it('a last cell that rounds up to 8/8 is a full cell, never `undefined`', () => {
    // 9.84% of 10 cells = 0.984 cells = 7.87 eighths: rounds to one full cell.
    expect(bar(0.0984, 10)).toBe(`█${' '.repeat(9)}`);
    expect(bar(0.1984, 10)).toBe(`██${' '.repeat(8)}`);
    expect(bar(0.999, 10)).toBe('█'.repeat(10));
    expect(bar(1, 10)).toBe('█'.repeat(10));
    expect(bar(0.05, 10)).toBe(`▌${' '.repeat(9)}`);
    expect(bar(0, 10)).toBe(' '.repeat(10));
    for (let i = 0; i <= 10_007; i++) {
      const b = bar(i / 10_007, 10);
      expect(b).toHaveLength(10);
      expect(b).not.toContain('undefined');
    }
    expect(bar(Number.NaN, 4)).toBe('    ');
  });

  it('AlexNet and Conv MobileNet tables have no `undefined` cell (they had 1 and 8)', () => {
    const alexnet = mbn(['analyze', fixture('graph-only/zoo/alexnet.onnx'), '--all']);
    expect(alexnet.status).toBe(0);
    expect(alexnet.stdout).not.toContain('undefined');
    // features.0: 70,276,800 of 714,188,480 MACs = 9.84% of a 10-cell bar.
    expect(alexnet.stdout).toMatch(/\/features\/features\.0\/Conv .*│ █ {11}9\.8% │/);
    const conv = mbn(['analyze', fixture('graph-only/conv_mobilenet_v1.onnx'), '--all']);
    expect(conv.status).toBe(0);
    expect(conv.stdout).not.toContain('undefined');
  });
});

describe('dtypes', () => {
  it('an output whose producer cannot be inferred keeps its declared type; an undeclared one reads "unknown"', () => {
    const model = buildAndRead({
      inputs: [{ name: 'x', dtype: F, shape: [1, 4] }],
      outputs: [{ name: 'y', dtype: F, shape: ['n', 4] }, 'z'],
      nodes: [
        { op: 'MyBlur', domain: 'com.example', inputs: ['x'], outputs: ['y'] },
        { op: 'MyBlur', domain: 'com.example', inputs: ['x'], outputs: ['z'] },
      ],
      opsets: { 'com.example': 1 },
    });
    const report = analyzeModel(model);
    expect(report.model.outputs).toEqual([
      { name: 'y', dtype: 'float32', shape: null },
      { name: 'z', dtype: 'unknown', shape: null },
    ]);
    expect(renderJson(report)).not.toContain('undefined');
  });
});

describe('shapes print [] for a scalar and ? when unknown', () => {
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dtype: F, shape: [2, 3] }],
    outputs: ['s', 'u'],
    nodes: [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { keepdims: 0 } },
      { op: 'MyOp', domain: 'com.example', inputs: ['x'], outputs: ['u'] },
    ],
    opsets: { 'com.example': 1 },
  };

  it('in the table, CSV and markdown', () => {
    const report = analyzeModel(buildAndRead(spec));
    const csv = renderCsv(report).trim().split('\n');
    const cell = (row: string) => row.split(',')[4];
    expect(csv.map(cell)).toEqual(['output_shapes', '[]', '?']);
    expect(report.layers.map((l) => l.outputShapes.map(shapeText).join(' '))).toEqual(['[]', '?']);
    expect([[], null, [1, 3]].map((s) => dimsText(s))).toEqual(['[]', '?', '1x3']);
  });

  it('in the bench table', () => {
    const record = {
      path: 'm.onnx',
      inputs: [{ name: 'sr', type: 'int64', dims: [] }, { name: 'x', type: 'float32', dims: [1, 512] }],
      macs: 0, flops: 0, params: 0, loadMs: 1,
      latencyMs: { median: 1, p10: 1, p90: 1, mean: 1, min: 1, max: 1 },
      timesMs: [1], warmupRuns: 1, latencyRatio: 1, macRatio: null,
    };
    const table = renderBenchTable([record], { warmup: 1, runs: 1, threads: 1, minTimeMs: { warmup: 0, timed: 0 } }, null, makeStyle({ isTTY: false }, false));
    expect(table).toContain('[], 1x512');
  });
});

describe('params of an If whose branches share a weight (fixtures/edge/conv_in_if.onnx)', () => {
  // then: Conv(X, W, B), else: Conv(X, W) dilated; W is 16×8×3×3 = 1152, B 16. Separating writes new depthwise
  // (8·9 = 72) and pointwise (16·8 = 128) weights into each branch and drops W: 1168 − 1152 + 2·200 = 416.
  it('analyze projects 416, as separate --dry-run says and the written model has', () => {
    const report = analyzeFile(fixture('edge/conv_in_if.onnx'));
    expect(report.totals.params).toBe(1168);
    expect(report.totals.paramsIfSeparated).toBe(416);
    const table = mbn(['analyze', fixture('edge/conv_in_if.onnx')]);
    expect(table.stdout).toContain('params 1.17K → 416 (−64.4%)');
    const dry = mbn(['separate', fixture('edge/conv_in_if.onnx'), '--dry-run', '--format', 'json']);
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout).totals.paramsAfter).toBe(416);
    const out = join(tempDir(), 'if.onnx');
    expect(mbn(['separate', fixture('edge/conv_in_if.onnx'), '-o', out]).status).toBe(0);
    expect(analyzeFile(out).totals.params).toBe(416);
  });

  it('convs sharing a weight in one graph share the new weights (fixtures/edge/shared_weights.onnx)', () => {
    // W 8×8×3×3 = 576, B 8: 584 − 576 + (8·9 + 8·8) = 144.
    const report = analyzeFile(fixture('edge/shared_weights.onnx'));
    expect(report.totals.paramsIfSeparated).toBe(144);
    const dry = mbn(['separate', fixture('edge/shared_weights.onnx'), '--dry-run', '--format', 'json']);
    expect(JSON.parse(dry.stdout).totals.paramsAfter).toBe(144);
  });

  it('a conv whose weight is computed at run time adds no parameters (fixtures/edge/runtime_weight.onnx)', () => {
    expect(analyzeFile(fixture('edge/runtime_weight.onnx')).totals.paramsIfSeparated).toBe(0);
  });
});

describe('what counts as a parameter', () => {
  it('single-element initializers (Clip bounds, a [1] scale) are settings, not parameters', () => {
    const report = analyzeModel(
      buildAndRead({
        inputs: [{ name: 'x', dtype: F, shape: [1, 4] }],
        outputs: ['y'],
        initializers: [
          { name: 'lo', dtype: F, dims: [], values: [0] },
          { name: 'hi', dtype: F, dims: [], values: [6] },
          { name: 'scale', dtype: F, dims: [1], values: [0.5] },
          { name: 'w', dtype: F, dims: [4, 3], values: seq(12, (i) => i) },
        ],
        nodes: [
          { op: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['c'] },
          { op: 'Mul', inputs: ['c', 'scale'], outputs: ['m'] },
          { op: 'MatMul', inputs: ['m', 'w'], outputs: ['y'] },
        ],
      }),
    );
    expect(report.layers.map((l) => [l.op, l.params])).toEqual([['Clip', 0], ['Mul', 0], ['MatMul', 12]]);
    expect(report.totals.params).toBe(12);
    // They are still bytes in the file.
    expect(report.totals.weightBytes).toBe(4 * (1 + 1 + 1 + 12));
  });

  it('a weight passed through Identity belongs to the layer that reads it, counted once', () => {
    const w = { dtype: F, dims: [2, 1, 3, 3], values: seq(18, (i) => i / 10) };
    const spec: ModelSpec = {
        inputs: [{ name: 'x', dtype: F, shape: [1, 1, 5, 5] }],
        outputs: ['y1', 'y2'],
        initializers: [{ name: 'W', ...w }, { name: 'B', dtype: F, dims: [2], values: [0, 0] }],
        nodes: [
          { op: 'Identity', inputs: ['B'], outputs: ['B1'], name: 'Identity_0' },
          { op: 'Identity', inputs: ['W'], outputs: ['W2'], name: 'Identity_1' },
          { op: 'Identity', inputs: ['B'], outputs: ['B2'], name: 'Identity_2' },
          { op: 'Conv', inputs: ['x', 'W', 'B1'], outputs: ['y1'], name: 'conv1' },
          { op: 'Conv', inputs: ['x', 'W2', 'B2'], outputs: ['y2'], name: 'conv2' },
        ],
    };
    const report = analyzeModel(buildAndRead(spec));
    expect(report.layers.map((l) => [l.name, l.params])).toEqual([
      ['Identity_0', 0], ['Identity_1', 0], ['Identity_2', 0], ['conv1', 20], ['conv2', 0],
    ]);
    expect(report.totals.params).toBe(20);
    // separate reads conv weights by name and leaves conv2 (weight through Identity) alone, so W stays:
    // 20 + (1·9 + 2·1) new weights for conv1.
    expect(report.totals.paramsIfSeparated).toBe(31);
    const path = join(tempDir(), 'identity.onnx');
    writeFileSync(path, buildModel(spec));
    const dry = mbn(['separate', path, '--dry-run', '--format', 'json']);
    expect(JSON.parse(dry.stdout).totals.paramsAfter).toBe(31);
  });

  it('torch exports: ResNet-50 (weights deduplicated through 47 Identity nodes) keeps its total; no Identity has params', () => {
    const report = analyzeFile(fixture('graph-only/zoo/resnet50.onnx'));
    expect(report.layers.filter((l) => l.op === 'Identity')).toHaveLength(47);
    expect(report.layers.filter((l) => l.op === 'Identity' && l.params > 0)).toEqual([]);
    // The sum of its 25,507,944 floating-point initializer elements (onnx), as before.
    expect(report.totals.params).toBe(25_507_944);
    const conv1 = report.layers.find((l) => l.name === '/conv1/Conv')!;
    expect(conv1.params).toBe(64 * 3 * 7 * 7 + 64);
    expect(conv1.params).toBe(conv1.separable!.params);
    const table = mbn(['analyze', fixture('graph-only/zoo/resnet50.onnx'), '--all']).stdout;
    // The table listed `Identity_0 … 2.05K` and `/conv1/Conv … 9.41K` (its bias went to an Identity).
    expect(table).toMatch(/│ Identity_0 +│ Identity +│ \[2048\] +│ +0 │ +│/);
    expect(table).toMatch(/│ \/conv1\/Conv +│ Conv +│ \[1×64×112×112\] +│ +118M │ +9\.47K │/);
  });

  // A small quantized model with every quantized op: the integer weights (and QLinearConv's int32 bias) are
  // parameters; scales and zero points are not, per channel or not.
  const quantized: ModelSpec = {
    inputs: [{ name: 'x', dtype: F, shape: [1, 2, 5, 5] }, { name: 'a', dtype: UINT8, shape: [2, 6] }],
    outputs: [
      { name: 'y1', dtype: UINT8, shape: [1, 4, 3, 3] },
      { name: 'y2', dtype: INT32, shape: [1, 3, 3, 3] },
      { name: 'y3', dtype: INT32, shape: [2, 5] },
      { name: 'y4', dtype: UINT8, shape: [2, 7] },
      { name: 'y5', dtype: F, shape: [1, 8, 3, 3] },
    ],
    initializers: [
      { name: 's', dtype: F, dims: [], values: [0.05] },
      { name: 'zp', dtype: UINT8, dims: [], values: [128] },
      { name: 'w1', dtype: INT8, dims: [4, 2, 3, 3], values: seq(72, (i) => (i % 11) - 5) },
      { name: 'w1s', dtype: F, dims: [4], values: [0.01, 0.02, 0.03, 0.04] },
      { name: 'w1zp', dtype: INT8, dims: [4], values: [0, 0, 0, 0] },
      { name: 'ys', dtype: F, dims: [], values: [0.1] },
      { name: 'yzp', dtype: UINT8, dims: [], values: [128] },
      { name: 'b1', dtype: INT32, dims: [4], values: [1, -2, 3, -4] },
      { name: 'w2', dtype: UINT8, dims: [3, 2, 3, 3], values: seq(54, (i) => 120 + (i % 17)) },
      { name: 'w2zp', dtype: UINT8, dims: [], values: [128] },
      { name: 'w3', dtype: INT8, dims: [6, 5], values: seq(30, (i) => (i % 7) - 3) },
      { name: 'bzp', dtype: INT8, dims: [], values: [0] },
      { name: 'w4', dtype: UINT8, dims: [6, 7], values: seq(42, (i) => 100 + i) },
      { name: 'w4s', dtype: F, dims: [], values: [0.02] },
      { name: 'w5', dtype: INT8, dims: [8, 2, 3, 3], values: seq(144, (i) => (i % 13) - 6) },
      { name: 'w5s', dtype: F, dims: [8], values: seq(8, (i) => 0.01 * (i + 1)) },
      { name: 'w5zp', dtype: INT8, dims: [8], values: seq(8, () => 0) },
      { name: 'b5', dtype: F, dims: [8], values: seq(8, (i) => i / 8) },
      { name: 'lo', dtype: F, dims: [], values: [0] },
      { name: 'hi', dtype: F, dims: [], values: [6] },
    ],
    nodes: [
      { op: 'QuantizeLinear', inputs: ['x', 's', 'zp'], outputs: ['q'], name: 'quant' },
      { op: 'QLinearConv', inputs: ['q', 's', 'zp', 'w1', 'w1s', 'w1zp', 'ys', 'yzp', 'b1'], outputs: ['y1'], name: 'qlinearconv' },
      { op: 'ConvInteger', inputs: ['q', 'w2', 'zp', 'w2zp'], outputs: ['y2'], name: 'convinteger' },
      { op: 'MatMulInteger', inputs: ['a', 'w3', 'zp', 'bzp'], outputs: ['y3'], name: 'matmulinteger' },
      { op: 'QLinearMatMul', inputs: ['a', 's', 'zp', 'w4', 'w4s', 'zp', 'ys', 'yzp'], outputs: ['y4'], name: 'qlinearmatmul' },
      { op: 'DequantizeLinear', inputs: ['w5', 'w5s', 'w5zp'], outputs: ['wd'], name: 'dequant', attrs: { axis: 0 } },
      { op: 'Conv', inputs: ['x', 'wd', 'b5'], outputs: ['c'], name: 'conv' },
      { op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['y5'], name: 'clip' },
    ],
  };

  it('quantized ops: integer weights count, scales and zero points do not (exact per layer)', () => {
    const report = analyzeModel(buildAndRead(quantized));
    expect(Object.fromEntries(report.layers.map((l) => [l.name, l.params]))).toEqual({
      quant: 0,
      qlinearconv: 72 + 4, // w1 4×2×3×3 and the int32 bias b1; not w1s [4], w1zp [4]
      convinteger: 54, // w2 3×2×3×3
      matmulinteger: 30, // w3 6×5
      qlinearmatmul: 42, // w4 6×7
      dequant: 144, // w5 8×2×3×3; not w5s [8], w5zp [8]
      conv: 8, // b5 (its weight is DequantizeLinear's output)
      clip: 0,
    });
    expect(report.totals.params).toBe(354);
    expect(report.totals.notCounted).toBe(0);
  });

  it('the quantized test model is a real one: ONNX Runtime loads and runs it', async (ctx) => {
    const ort = loadOrt();
    if (!ort) return ctx.skip('onnxruntime-node is not installed');
    const path = join(tempDir(), 'quantized.onnx');
    writeFileSync(path, buildModel(quantized));
    const session = await ort.InferenceSession.create(readFileSync(path), { graphOptimizationLevel: 'disabled' });
    const result = await session.run({
      x: new ort.Tensor('float32', Float32Array.from(seq(50, (i) => (i % 9) / 10 - 0.4)), [1, 2, 5, 5]),
      a: new ort.Tensor('uint8', Uint8Array.from(seq(12, (i) => 120 + i)), [2, 6]),
    });
    expect(Object.fromEntries(Object.entries(result).map(([k, t]) => [k, [...t.dims]]))).toEqual({
      y1: [1, 4, 3, 3], y2: [1, 3, 3, 3], y3: [2, 5], y4: [2, 7], y5: [1, 8, 3, 3],
    });
    await session.release();
  });
});
