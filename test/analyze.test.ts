import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, ROOT, tempDir } from './helpers/cli.js';
import { parseCsv } from './helpers/csv.js';
import { noteText } from '../src/report/messages/analyze.js';

/**
 * Reference figures come from fixtures/reference.json, computed independently when the fixtures were made:
 * MACs with PyTorch forward hooks on Conv2d/Linear (and the attention matmuls), params from the exported
 * initializers, shapes from onnx.shape_inference. Published figures (torchvision, Howard et al.) are quoted too.
 */
const reference = JSON.parse(readFileSync(`${ROOT}/fixtures/reference.json`, 'utf8')).fixtures as Record<
  string,
  { convLinearMacs?: number; convMacs?: number | null; onnxParams: number; shapes: Record<string, (number | string)[]> }
>;

function analyze(path: string, options = {}) {
  const model = readModel(path);
  try {
    return analyzeModel(model, options);
  } finally {
    model.source.close();
  }
}

describe('MACs and params agree with independent references', () => {
  it('published figures: ResNet-18 1,814,073,344; MobileNetV2 300,774,272; MobileNet V1 568,740,352 (4.2M params)', () => {
    expect(analyze(fixture('graph-only/resnet18.onnx')).totals.macs).toBe(1_814_073_344);
    expect(analyze(fixture('graph-only/mobilenet_v2.onnx')).totals.macs).toBe(300_774_272);
    const v1 = analyze(fixture('graph-only/mobilenet_v1.onnx'));
    expect(v1.totals.macs).toBe(568_740_352);
    // The paper's 4.2M is rounded to two digits (BN folded into conv biases: 4,221,032 here).
    expect(Math.round(v1.totals.params / 1e5) / 10).toBe(4.2);
    // Conv MobileNet, Howard et al. Table 4: 4866M mult-adds, 29.3M params.
    const full = analyze(fixture('graph-only/conv_mobilenet_v1.onnx'));
    expect(Math.abs(full.totals.macs - 4866e6) / 4866e6).toBeLessThan(0.001);
    expect(Math.round(full.totals.params / 1e5) / 10).toBe(29.3);
  });

  const torchModels = Object.keys(reference).filter((k) => reference[k].convLinearMacs !== undefined);
  for (const key of torchModels) {
    it(`${key}: MACs equal the torch-hook count, params the exported initializers`, () => {
      const r = analyze(`${ROOT}/${key}`);
      expect(r.totals.macs).toBe(reference[key].convLinearMacs);
      expect(r.totals.params).toBe(reference[key].onnxParams);
      expect(r.totals.notCounted).toBe(0);
    });
  }

  const edge = Object.keys(reference).filter((k) => k.includes('/edge/') && typeof reference[k].convMacs === 'number');
  for (const key of edge) {
    it(`${key}: conv MACs`, () => {
      const r = analyze(`${ROOT}/${key}`);
      expect(r.totals.macs).toBe(reference[key].convMacs);
      // A Constant node's weight counts as parameters too; the reference summed initializers only.
      const constantWeight = key.endsWith('constant_weight.onnx') ? 16 * 8 * 9 : 0;
      expect(r.totals.params).toBe(reference[key].onnxParams + constantWeight);
    });
  }

  it('If: the costlier branch is counted, the other listed with ×0; Loop: the body × trip count', () => {
    const ifReport = analyze(fixture('edge/conv_in_if.onnx'));
    expect(ifReport.totals.macs).toBe(294_912);
    const branches = ifReport.layers.filter((l) => l.op === 'Conv');
    expect(branches.map((l) => l.executions).sort()).toEqual([0, 1]);
    const loop = analyze(fixture('edge/conv_in_loop.onnx'));
    const conv = loop.layers.find((l) => l.op === 'Conv')!;
    expect(conv.executions).toBe(3);
    expect(loop.totals.macs).toBe(3 * 8 * 8 * 9 * 16 * 16);
  });
});

describe('shapes agree with onnx.shape_inference', () => {
  for (const key of Object.keys(reference)) {
    it(key, () => {
      const model = readModel(`${ROOT}/${key}`);
      const inferred = inferModel(model);
      model.source.close();
      const mismatches: string[] = [];
      for (const [name, dims] of Object.entries(reference[key].shapes)) {
        const state = inferred.values.get(name);
        // Symbolic dims (the dynamic batch) are bound to 1 by default.
        const expected = dims.map((d) => (typeof d === 'string' ? 1 : d));
        if (!state?.shape || state.shape.join(',') !== expected.join(',')) {
          mismatches.push(`${name}: got ${state?.shape ? `[${state.shape}]` : 'unknown'}, expected [${expected}]`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('a dynamic batch fixed with --batch folds Shape→Gather→Unsqueeze→Concat→Reshape', () => {
    const r = analyze(fixture('models/dynamic_batch.onnx'), { batch: 8 });
    expect(r.model.outputs[0].shape).toEqual([8, 10]);
    expect(r.totals.macs).toBe(8 * 97_280);
    expect(r.notes.some((n) => n.code === 'input-dim-assumed')).toBe(false);
    const unfixed = analyze(fixture('models/dynamic_batch.onnx'));
    expect(unfixed.notes.map(noteText)).toContain("input 'input' dim 0 ('batch') is not fixed; assumed 1 (set it with --batch N or --input input:Nx3x16x16)");
  });
});

describe('separable projection', () => {
  it('every standard conv gets M, N, kernel and the 1/N + 1/K reduction; the totals project the separated model', () => {
    const r = analyze(fixture('graph-only/conv_mobilenet_v1.onnx'));
    const convs = r.layers.filter((l) => l.separable);
    expect(convs).toHaveLength(14);
    const first = convs[1].separable!;
    // Second layer: 3×3, 32 → 64 at 112×112.
    expect([first.M, first.N, first.kernel, first.featureMap]).toEqual([32, 64, [3, 3], [112, 112]]);
    expect(first.macs).toBe(112 * 112 * 32 * 64 * 9);
    expect(first.macsAfter).toBe(112 * 112 * 32 * 9 + 112 * 112 * 32 * 64);
    expect(first.reduction).toBeCloseTo(1 / 64 + 1 / 9, 15);
    const projected = r.totals.macs - convs.reduce((s, l) => s + l.separable!.macs - l.separable!.macsAfter, 0);
    expect(r.totals.macsIfSeparated).toBe(projected);
  });

  it('grouped convs use the per-group figure g/N + 1/K', () => {
    const r = analyze(fixture('edge/grouped.onnx'));
    const s = r.layers[0].separable!;
    expect([s.M, s.N, s.group]).toEqual([16, 32, 4]);
    expect(s.reduction).toBeCloseTo(4 / 32 + 1 / 9, 15);
  });
});

describe('the CLI', () => {
  it('--format json is the documented contract', () => {
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.schema).toBe('mbn.analyze/1');
    expect(Object.keys(json.totals)).toEqual(expect.arrayContaining(['macs', 'params', 'flops', 'otherFlops', 'weightBytes', 'peakActivationBytes']));
    expect(json.totals.flops).toBe(2 * json.totals.macs + json.totals.otherFlops);
    const conv = json.layers[0];
    expect(Object.keys(conv)).toEqual(expect.arrayContaining(['name', 'op', 'outputShapes', 'macs', 'params', 'separable']));
    expect(conv.outputShapes).toEqual([[1, 8, 32, 32]]);
    expect(conv.macs).toBe(32 * 32 * 8 * 3 * 9);
    expect(conv.separable).toMatchObject({ M: 3, N: 8, kernel: [3, 3], macsAfter: 32 * 32 * 3 * 9 + 32 * 32 * 3 * 8 });
  });

  it('--format csv has one row per layer; md a summary table', () => {
    const csv = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'csv']).stdout.trim().split('\n');
    const json = JSON.parse(mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'json']).stdout);
    expect(csv).toHaveLength(json.layers.length + 1);
    expect(csv[0].startsWith('name,op,domain,scope,output_shapes,macs')).toBe(true);
    const md = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'md']).stdout;
    expect(md).toContain('| MACs | FLOPs | Params |');
    expect(md).toContain('| 664K |');
  });

  it('table: --top N lists the costliest N; --flops switches the metric; no colour when piped', () => {
    const r = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--top', '3'], { env: { NO_COLOR: '' } });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/\u001b\[/);
    const layerTable = r.stdout.split('\n\n')[0];
    const rows = layerTable.split('\n').filter((l) => l.includes('│ Conv') || l.includes('│ Gemm'));
    expect(rows).toHaveLength(3);
    expect(r.stdout).toContain('1,814,073,344');
    const flops = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--flops', '--top', '1']);
    expect(flops.stdout).toMatch(/│ FLOPs/);
  });

  it('--input fixes a shape; a bad --input is one line and exit 2', () => {
    const r = mbn(['analyze', fixture('models/dynamic_batch.onnx'), '--input', 'input:2x3x16x16', '--format', 'json']);
    expect(JSON.parse(r.stdout).totals.macs).toBe(2 * 97_280);
    const bad = mbn(['analyze', fixture('models/dynamic_batch.onnx'), '--input', 'input:2x3x16']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("mbn: --input input:2x3x16 has rank 3, but the model declares rank 4\n");
    const wrong = mbn(['analyze', fixture('models/dynamic_batch.onnx'), '--input', 'nope:1x3x16x16']);
    expect(wrong.stderr).toBe("mbn: --input names 'nope', which is not a graph input (inputs: input)\n");
  });

  it('not an ONNX file: one line on stderr, exit 2', () => {
    const r = mbn(['analyze', `${ROOT}/package.json`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`mbn: '${ROOT}/package.json' is not an ONNX model: it looks like JSON\n`);
    const missing = mbn(['analyze', 'no-such.onnx']);
    expect(missing.stderr).toBe("mbn: cannot read 'no-such.onnx': no such file\n");
    expect(mbn(['analyze']).status).toBe(2);
    expect(mbn(['frobnicate']).status).toBe(2);
  });

  it('a graph-only model whose data file is missing is analyzed, with a note', () => {
    const r = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.notes).toContain("external data file 'resnet18.onnx.data' is missing: not needed for analysis");
  });
});

describe('Loop trip counts', () => {
  it('M = INT64_MAX (a loop that ends on its condition) counts the body once, with a note', async () => {
    const { default: onnxProto } = await import('onnx-proto');
    const o = onnxProto.onnx;
    const T = o.TensorProto.DataType;
    const vi = (name: string, type: number, dims: number[]) => ({
      name,
      type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
    });
    const body = {
      name: 'body',
      input: [vi('i', T.INT64, []), vi('c', T.BOOL, []), vi('x_in', T.FLOAT, [1, 4, 8])],
      output: [vi('c_out', T.BOOL, []), vi('x_out', T.FLOAT, [1, 4, 8])],
      node: [
        { opType: 'Identity', input: ['c'], output: ['c_out'] },
        { opType: 'MatMul', input: ['x_in', 'w'], output: ['x_out'], name: 'mm' },
      ],
    };
    const int64 = (name: string, value: bigint) => {
      const raw = new Uint8Array(8);
      new DataView(raw.buffer).setBigInt64(0, value, true);
      return { name, dataType: T.INT64, dims: [], rawData: raw };
    };
    const w = new Float32Array(64).fill(0.5);
    const model = o.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        input: [vi('x', T.FLOAT, [1, 4, 8])],
        output: [vi('y', T.FLOAT, [1, 4, 8])],
        initializer: [
          int64('M', 2n ** 63n - 1n),
          { name: 'cond', dataType: T.BOOL, dims: [], rawData: new Uint8Array([1]) },
          { name: 'w', dataType: T.FLOAT, dims: [8, 8], rawData: new Uint8Array(w.buffer) },
        ],
        node: [
          {
            opType: 'Loop',
            name: 'loop',
            input: ['M', 'cond', 'x'],
            output: ['y'],
            attribute: [{ name: 'g', type: o.AttributeProto.AttributeType.GRAPH, g: body }].map((a) => ({ ...a, name: 'body' })),
          },
        ],
      },
    });
    const { readModelBytes } = await import('../src/onnx/read.js');
    const report = analyzeModel(readModelBytes(o.ModelProto.encode(model).finish()));
    const mm = report.layers.find((l) => l.op === 'MatMul')!;
    expect(mm.executions).toBe(1);
    expect(report.totals.macs).toBe(4 * 8 * 8);
    const loop = report.layers.find((l) => l.op === 'Loop')!;
    expect(loop.notes[0]).toEqual({ code: 'loop-unbounded', tripCount: 9223372036854776000 });
    expect(noteText(loop.notes[0])).toMatch(/^trip count 9223372036854776000 is unbounded/);
    expect(report.model.outputs[0].shape).toEqual([1, 4, 8]);
  });
});

describe('model-local functions', () => {
  it('are expanded: their layers are counted under the calling node, attribute references resolved', async () => {
    const { default: onnxProto } = await import('onnx-proto');
    const o = onnxProto.onnx;
    const T = o.TensorProto.DataType;
    const A = o.AttributeProto.AttributeType;
    const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const w = new Float32Array(8 * 16).fill(0.1);
    const model = o.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }, { domain: 'custom', version: 1 }],
      graph: {
        name: 'g',
        input: [vi('x', [2, 8])],
        output: [vi('y', [2, 16])],
        initializer: [{ name: 'w', dataType: T.FLOAT, dims: [8, 16], rawData: new Uint8Array(w.buffer) }],
        node: [{ opType: 'LinearLeaky', domain: 'custom', name: 'block', input: ['x', 'w'], output: ['y'], attribute: [{ name: 'slope', type: A.FLOAT, f: 0.2 }] }],
      },
      functions: [
        {
          name: 'LinearLeaky',
          domain: 'custom',
          input: ['a', 'b'],
          output: ['c'],
          attribute: ['slope'],
          opsetImport: [{ domain: '', version: 13 }],
          node: [
            { opType: 'MatMul', name: 'mm', input: ['a', 'b'], output: ['t'] },
            { opType: 'LeakyRelu', name: 'act', input: ['t'], output: ['c'], attribute: [{ name: 'alpha', refAttrName: 'slope', type: A.FLOAT }] },
          ],
        },
      ],
    });
    const { readModelBytes } = await import('../src/onnx/read.js');
    const report = analyzeModel(readModelBytes(o.ModelProto.encode(model).finish()));
    expect(report.layers.map((l) => l.name)).toEqual(['block/mm', 'block/act', 'block']);
    expect(report.totals.macs).toBe(2 * 8 * 16);
    expect(report.totals.otherFlops).toBe(2 * 16);
    expect(report.totals.params).toBe(8 * 16);
    expect(report.totals.notCounted).toBe(0);
    expect(report.model.outputs[0].shape).toEqual([2, 16]);
  });
});

describe('node order', () => {
  it('a graph whose nodes are not in topological order is analyzed in dependency order', async () => {
    const { buildAndRead } = await import('./helpers/build-model.js');
    const model = buildAndRead({
      inputs: [{ name: 'x', dtype: 1, shape: [1, 4] }],
      outputs: ['z'],
      initializers: [{ name: 'w', dtype: 1, dims: [4, 3], values: new Array(12).fill(1) }],
      nodes: [
        { op: 'Relu', inputs: ['y'], outputs: ['z'], name: 'second' },
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], name: 'first' },
      ],
    });
    const report = analyzeModel(model);
    expect(report.layers.map((l) => l.name)).toEqual(['first', 'second']);
    expect(report.layers[1].outputShapes).toEqual([[1, 3]]);
    expect(report.totals.macs).toBe(12);
    expect(report.totals.notCounted).toBe(0);
  });
});

describe('--format csv --device: predicted latency columns', () => {
  const LAYER_HEAD =
    'name,op,domain,scope,output_shapes,macs,other_flops,flops,params,weight_bytes,activation_bytes,multiplier,counted,reason,sep_M,sep_N,sep_kernel,sep_reduction,sep_macs_after,sep_params_after,precision';
  const LATENCY_HEAD = ['latency_ms', 'latency_share', 'latency_bound', 'fused_into', 'sep_latency_after_ms'];
  interface TimedLayer {
    name: string;
    latencyMs: number;
    bound: string | null;
    fusedInto: string | null;
    separation: { afterMs: number } | null;
  }

  it.each(['resnet_small', 'conv_mobilenet_v1_w025'])('%s on rpi4: the JSON report\'s figures, exactly; fused layers empty; nothing else changes', (name) => {
    const model = fixture(`models/${name}.onnx`);
    const plain = mbn(['analyze', model, '--format', 'csv']);
    const timed = mbn(['analyze', model, '--format', 'csv', '--device', 'rpi4']);
    const json = JSON.parse(mbn(['analyze', model, '--format', 'json', '--device', 'rpi4']).stdout);
    expect([plain.status, timed.status]).toEqual([0, 0]);
    // Without --device: the layer columns only, as before.
    expect(plain.stdout.split('\n')[0]).toBe(LAYER_HEAD);
    const rows = parseCsv(timed.stdout);
    // Then the energy columns (test/energy.test.ts checks their figures).
    expect(rows[0]).toEqual([...LAYER_HEAD.split(','), ...LATENCY_HEAD, 'energy_mj_estimate', 'energy_precision', 'energy_dram_bytes', 'energy_onchip_bytes']);
    // The latency columns are appended: dropping them gives the CSV without --device, byte for byte.
    const width = LAYER_HEAD.split(',').length;
    expect(timed.stdout.split('\n').map((line) => (line ? line.split(',').slice(0, width).join(',') : line)).join('\n')).toBe(plain.stdout);
    const layers = json.layers as TimedLayer[];
    expect(rows.slice(1).map((r) => r[0])).toEqual(layers.map((l) => l.name));
    const total = json.totals.latencyMs as number;
    let fused = 0;
    let separated = 0;
    layers.forEach((l, i) => {
      const cells = rows[i + 1].slice(width, width + LATENCY_HEAD.length);
      if (l.fusedInto !== null) {
        fused++;
        // Runs inside another kernel: no time, share or bound of its own (never 0), only where it runs.
        expect(cells, l.name).toEqual(['', '', '', l.fusedInto, '']);
        return;
      }
      if (l.separation) separated++;
      expect(cells, l.name).toEqual([String(l.latencyMs), (l.latencyMs / total).toFixed(6), l.bound ?? '', '', l.separation ? String(l.separation.afterMs) : '']);
    });
    expect(fused).toBeGreaterThan(0);
    expect(separated).toBe(json.totals.separableLayers);
    if (name === 'conv_mobilenet_v1_w025') expect(rows.filter((r) => r[width + 2] === 'memory').length).toBeGreaterThan(0);
  });

  it('a hostile name in fused_into stays one RFC 4180 field, exactly', () => {
    const dir = tempDir('mbn-csv-');
    const path = join(dir, 'hostile.onnx');
    const conv = '=cmd(),"a"\nb';
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', shape: [1, 2, 8, 8] }],
        outputs: ['y'],
        initializers: [{ name: 'w', dtype: 1, dims: [4, 2, 3, 3], values: new Array(72).fill(0.25) }],
        nodes: [
          { op: 'Conv', name: conv, inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
          { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['y'] },
        ],
      }),
    );
    const r = mbn(['analyze', path, '--format', 'csv', '--device', 'rpi4']);
    expect(r.status).toBe(0);
    const rows = parseCsv(r.stdout);
    expect(rows).toHaveLength(3);
    // 21 layer columns (the last: precision), 5 latency and 4 energy columns; a hostile name stays one field.
    expect(rows.map((row) => row.length)).toEqual([30, 30, 30]);
    expect(rows[1][0]).toBe(conv);
    expect(rows[2].slice(0, 2)).toEqual(['relu', 'Relu']);
    expect(rows[2].slice(21, 26)).toEqual(['', '', '', conv, '']);
  });
});
