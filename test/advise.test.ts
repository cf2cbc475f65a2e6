import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { withSyntheticWeights } from '../src/bench/models.js';
import { buildModel, type NodeSpec, type TensorSpec } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';
import { checkModel, pythonOnnx } from './helpers/python.js';
import { mulberry32 } from '../src/util/random.js';

const { onnx } = onnxProto;
const ort = loadOrt();
if (!ort) console.warn('skipping ONNX Runtime checks of mbn rewrite: onnxruntime-node is not installed (npm install)');
const hasChecker = pythonOnnx();

interface AdviseJson {
  schema: string;
  passed: boolean;
  findings: { rule: string; severity: string; layers: string[]; message: string; fix: { text: string; macsSaved: number | null; otherFlopsSaved: number | null } }[];
  blocks: { layers: string[]; input: number; expand: number; output: number; stride: number; residual: boolean; macs: number }[];
}

function advise(path: string, ...args: string[]): AdviseJson {
  const r = mbn(['advise', path, '--format', 'json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

const byRule = (j: AdviseJson, rule: string) => j.findings.filter((f) => f.rule === rule);

/**
 * torchvision's MobileNetV2 (mobilenetv2.py, `inverted_residual_setting`): t (expansion), c (output channels),
 * n (repeats), s (stride of the first repeat). The stem is a 3×3 conv to 32 channels.
 */
const MOBILENET_V2_SETTING = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

function mobilenetV2Blocks() {
  const rows: { input: number; expand: number; output: number; stride: number; residual: boolean }[] = [];
  let input = 32;
  for (const [t, c, n, s] of MOBILENET_V2_SETTING) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      rows.push({ input, expand: input * t, output: c, stride, residual: stride === 1 && input === c });
      input = c;
    }
  }
  return rows;
}

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-advise-');
});

describe('mbn advise on the torchvision exports', () => {
  it('MobileNetV2: 17 inverted residual blocks as torchvision defines them, no bottleneck non-linearity', () => {
    const expected = mobilenetV2Blocks();
    expect(expected).toHaveLength(17);
    const j = advise(fixture('graph-only/mobilenet_v2.onnx'));
    expect(j.schema).toBe('mbn.advise/1');
    expect(byRule(j, 'bottleneck-nonlinearity')).toHaveLength(0);
    expect(j.blocks.map(({ input, expand, output, stride, residual }) => ({ input, expand, output, stride, residual }))).toEqual(expected);
    // MACs: every conv of the model is in a block except the stem (3×3, 3→32, 112²), the last 1×1 (320→1280, 7²)
    // and the classifier (1280·1000); the model's total is torchvision's 300,774,272.
    const outside = 3 * 32 * 9 * 112 * 112 + 320 * 1280 * 7 * 7 + 1280 * 1000;
    expect(j.blocks.reduce((s, b) => s + b.macs, 0)).toBe(300_774_272 - outside);
    // Block 2 by hand: expand 16→96 at 112², depthwise 3×3 stride 2 to 56², project 96→24 at 56².
    expect(j.blocks[1].macs).toBe(16 * 96 * 112 * 112 + 96 * 9 * 56 * 56 + 96 * 24 * 56 * 56);
    expect(byRule(j, 'inverted-residual-summary')).toHaveLength(1);
    expect(byRule(j, 'inverted-residual-summary')[0].message).toContain('17 inverted residual blocks, expansion ratios 1, 6; 10 with a residual Add');
    // The stem (3×3 on the image's 3 channels) stays a full conv, as in MobileNet's Table 1: nothing else to separate.
    expect(byRule(j, 'separable-conv')).toHaveLength(0);
    expect(byRule(j, 'channel-alignment')).toHaveLength(0);
  });

  it('MobileNetV2 with a ReLU after every projection: one bottleneck-nonlinearity finding per block', () => {
    const model = onnx.ModelProto.decode(readFileSync(fixture('graph-only/mobilenet_v2.onnx')));
    const graph = model.graph!;
    // The projection is the last Conv of each torchvision block features.1 … features.17.
    const projections = new Map<string, onnxProto.onnx.INodeProto>();
    for (const n of graph.node!) {
      const m = /^\/features\/features\.(\d+)\/conv\//.exec(n.name ?? '');
      if (m && n.opType === 'Conv') projections.set(m[1], n);
    }
    expect(projections.size).toBe(17);
    const nodes: onnxProto.onnx.INodeProto[] = [];
    for (const n of graph.node!) {
      nodes.push(n);
      if (![...projections.values()].includes(n)) continue;
      const out = n.output![0];
      n.output = [`${out}_linear`];
      nodes.push({ name: `${n.name}_relu`, opType: 'Relu', input: [`${out}_linear`], output: [out] });
    }
    graph.node = nodes;
    const path = join(dir, 'mobilenet_v2_relu.onnx');
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
    const j = advise(path);
    const found = byRule(j, 'bottleneck-nonlinearity');
    expect(found).toHaveLength(17);
    expect(new Set(found.map((f) => f.layers[0]))).toEqual(new Set([...projections.values()].map((n) => n.name)));
    for (const f of found) expect(f.layers[1]).toBe(`${f.layers[0]}_relu`);
    // Errors where the activated bottleneck feeds the residual Add (10 blocks), warnings elsewhere.
    const residual = mobilenetV2Blocks().filter((b) => b.residual).length;
    expect(found.filter((f) => f.severity === 'error')).toHaveLength(residual);
    expect(found.filter((f) => f.severity === 'warning')).toHaveLength(17 - residual);
    expect(j.blocks).toHaveLength(17);
    expect(found[0].fix.text).toContain('retrain');
    expect(mbn(['advise', path, '--fail-on', 'error']).status).toBe(1);
  });

  it('EfficientNet-B0: a swish-to-hardswish finding per SiLU (49) and a gate finding per squeeze-and-excite (16)', () => {
    // torchvision efficientnet_b0: stem conv + SiLU, 16 MBConv blocks (SiLU after the depthwise conv and inside
    // squeeze-and-excite; 15 of them expand, with a SiLU), the head conv + SiLU: 1 + 16·2 + 15 + 1 = 49.
    const j = advise(fixture('graph-only/zoo/efficientnet_b0.onnx'));
    const swish = byRule(j, 'swish-to-hardswish');
    expect(swish).toHaveLength(1 + 16 * 2 + 15 + 1);
    expect(byRule(j, 'sigmoid-gate-to-hardsigmoid')).toHaveLength(16);
    expect(j.blocks).toHaveLength(16);
    expect(j.blocks.filter((b) => b.residual)).toHaveLength(9);
    // The stem's SiLU acts on 1×32×112×112: Sigmoid and Mul count 1 FLOP per element each, HardSwish 1.
    expect(swish[0].layers).toEqual(['/features/features.0/features.0.2/Sigmoid', '/features/features.0/features.0.2/Mul']);
    expect(swish[0].fix.otherFlopsSaved).toBe(32 * 112 * 112);
    expect(byRule(j, 'bottleneck-nonlinearity')).toHaveLength(0);
  });

  it('MobileNetV3-Large: no swish and no sigmoid-gate finding (it already uses hard-swish and hard-sigmoid)', () => {
    const j = advise(fixture('graph-only/zoo/mobilenet_v3_large.onnx'));
    expect(byRule(j, 'swish-to-hardswish')).toHaveLength(0);
    expect(byRule(j, 'sigmoid-gate-to-hardsigmoid')).toHaveLength(0);
    expect(byRule(j, 'bottleneck-nonlinearity')).toHaveLength(0);
    // torchvision's mobilenet_v3_large has 15 bneck blocks.
    expect(j.blocks).toHaveLength(15);
  });

  it('ResNet-18: separable-conv findings for its 3×3 convs, none for the 7×7 stem or the 1×1 downsamples', () => {
    const j = advise(fixture('graph-only/resnet18.onnx'));
    const found = byRule(j, 'separable-conv');
    const names = found.map((f) => f.layers[0]).sort();
    const threeByThree = [1, 2, 3, 4].flatMap((layer) => [0, 1].flatMap((block) => [1, 2].map((conv) => `/layer${layer}/layer${layer}.${block}/conv${conv}/Conv`)));
    expect(names).toEqual(threeByThree.sort());
    // layer1's 3×3 convs: 64→64 at 56²; separated, 9·64·56² + 64·64·56² MACs.
    const first = found.find((f) => f.layers[0] === '/layer1/layer1.0/conv1/Conv')!;
    expect(first.fix.macsSaved).toBe(9 * 64 * 64 * 56 * 56 - (9 * 64 * 56 * 56 + 64 * 64 * 56 * 56));
    expect(j.blocks).toHaveLength(0);
  });

  it('--min-saving raises the separable-conv threshold', () => {
    // ResNet-18's 3×3 convs: M→N at F×F saves 9·M·N·F² − (9·M·F² + M·N·F²) MACs of the model's 1,814,073,344.
    const convs: [string, number, number, number][] = [];
    for (let layer = 1; layer <= 4; layer++) {
      const width = 64 * 2 ** (layer - 1);
      const F = 56 / 2 ** (layer - 1);
      for (const block of [0, 1]) {
        for (const conv of [1, 2]) {
          const M = layer > 1 && block === 0 && conv === 1 ? width / 2 : width;
          convs.push([`/layer${layer}/layer${layer}.${block}/conv${conv}/Conv`, M, width, F]);
        }
      }
    }
    const saved = ([, M, N, F]: [string, number, number, number]) => 9 * M * N * F * F - (9 * M * F * F + M * N * F * F);
    const expected = convs.filter((c) => saved(c) >= 0.05 * 1_814_073_344).map(([name]) => name);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(16);
    const j = advise(fixture('graph-only/resnet18.onnx'), '--min-saving', '5%');
    expect(byRule(j, 'separable-conv').map((f) => f.layers[0])).toEqual(expected);
  });

  it('PaddleOCR cls (MobileNetV3-small, hard-swish written out as x·ReLU6(x+3)/6): 11 blocks, no swish finding', () => {
    const j = advise(fixture('real/ppocr_mobile_v2_cls.onnx'));
    expect(j.blocks).toHaveLength(11);
    expect(byRule(j, 'swish-to-hardswish')).toHaveLength(0);
    expect(byRule(j, 'sigmoid-gate-to-hardsigmoid')).toHaveLength(0);
    expect(byRule(j, 'bottleneck-nonlinearity')).toHaveLength(0);
    // Its SE squeeze convs have 22, 22, 10, 12, 26, 50 and 50 channels.
    expect(byRule(j, 'channel-alignment').map((f) => Number(/^(\d+) output channels/.exec(f.message)![1]))).toEqual([22, 22, 10, 12, 26, 50, 50]);
  });
});

describe('bottleneck-nonlinearity through what exporters emit', () => {
  it('an unfolded BatchNormalization then Clip(0, 6) after a narrowing projection that feeds a residual: an error', () => {
    const zeros = (name: string, n: number) => ({ name, dtype: 1, dims: [n], values: new Array(n).fill(0) });
    const ones = (name: string, n: number) => ({ name, dtype: 1, dims: [n], values: new Array(n).fill(1) });
    const w = (name: string, dims: number[]) => ({ name, dtype: 1, dims, values: new Array(dims.reduce((a, b) => a * b, 1)).fill(0.01) });
    const path = join(dir, 'bn_clip.onnx');
    writeFileSync(path, buildModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 8, 8] }],
      outputs: ['y'],
      initializers: [
        w('we', [48, 8, 1, 1]), w('wd', [48, 1, 3, 3]), w('wp', [8, 48, 1, 1]),
        ones('s', 8), zeros('b', 8), zeros('m', 8), ones('v', 8),
        { name: 'lo', dtype: 1, dims: [], values: [0] }, { name: 'hi', dtype: 1, dims: [], values: [6] },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'we'], outputs: ['e'], name: 'expand', attrs: { kernel_shape: [1, 1] } },
        { op: 'Clip', inputs: ['e', 'lo', 'hi'], outputs: ['e6'], name: 'expand_relu6' },
        { op: 'Conv', inputs: ['e6', 'wd'], outputs: ['d'], name: 'depthwise', attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 48 } },
        { op: 'Clip', inputs: ['d', 'lo', 'hi'], outputs: ['d6'], name: 'depthwise_relu6' },
        { op: 'Conv', inputs: ['d6', 'wp'], outputs: ['p'], name: 'project', attrs: { kernel_shape: [1, 1] } },
        { op: 'BatchNormalization', inputs: ['p', 's', 'b', 'm', 'v'], outputs: ['pn'], name: 'project_bn' },
        { op: 'Clip', inputs: ['pn', 'lo', 'hi'], outputs: ['p6'], name: 'project_relu6' },
        { op: 'Add', inputs: ['x', 'p6'], outputs: ['y'], name: 'residual' },
      ],
    }));
    const j = advise(path);
    expect(j.blocks).toEqual([{ layers: ['expand', 'depthwise', 'project'], input: 8, expand: 48, output: 8, stride: 1, residual: true, macs: 8 * 48 * 64 + 48 * 9 * 64 + 48 * 8 * 64 }]);
    const found = byRule(j, 'bottleneck-nonlinearity');
    expect(found).toHaveLength(1);
    expect(found[0].severity).toBe('error');
    expect(found[0].layers).toEqual(['project', 'project_relu6']);
    expect(found[0].message).toMatch(/^Clip on the output of the 1×1 projection 48→8/);
  });
});

describe('mbn advise: formats and exit codes', () => {
  it('--fail-on warning exits 1 on EfficientNet-B0, --fail-on error exits 0; no flag exits 0', () => {
    const eff = fixture('graph-only/zoo/efficientnet_b0.onnx');
    const warn = mbn(['advise', eff, '--fail-on', 'warning']);
    expect(warn.status).toBe(1);
    expect(warn.stdout).toContain('fails --fail-on warning');
    expect(mbn(['advise', eff, '--fail-on', 'error']).status).toBe(0);
    expect(mbn(['advise', eff]).status).toBe(0);
    // MobileNetV2 follows its own lessons: only the informational block summary.
    expect(mbn(['advise', fixture('graph-only/mobilenet_v2.onnx'), '--fail-on', 'warning']).status).toBe(0);
    const json = JSON.parse(mbn(['advise', eff, '--format', 'json', '--fail-on', 'warning']).stdout);
    expect(json.passed).toBe(false);
  });

  it('table and markdown carry the blocks table and the findings', () => {
    const table = mbn(['advise', fixture('graph-only/mobilenet_v2.onnx')]);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain('Inverted residual blocks (17)');
    expect(table.stdout).toContain('16 → 96 → 24');
    const md = mbn(['advise', fixture('graph-only/mobilenet_v2.onnx'), '--format', 'md']);
    expect(md.stdout).toContain('| 2 | 16 → 96 → 24 | 6 | 2 | no | 29,202,432 |');
  });

  it('bad input: one line, exit 2', () => {
    const bad = mbn(['advise', fixture('graph-only/mobilenet_v2.onnx'), '--fail-on', 'info']);
    expect(bad.status).toBe(2);
    const missing = mbn(['advise', join(dir, 'nope.onnx')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^mbn: .*\n$/);
    const truncated = join(dir, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(fixture('models/tiny_cnn.onnx')).subarray(0, 3000));
    for (const args of [['advise', truncated], ['rewrite', truncated, '--hard-swish']]) {
      const r = mbn(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^mbn: .*truncated or corrupt.*\n$/);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'truncated.hardswish.onnx'))).toBe(false);
  });
});

describe('mbn check: the advise key', () => {
  it('fails a model on findings of the configured severity', () => {
    const work = tempDir('mbn-advise-check-');
    writeFileSync(join(work, 'mbn.config.json'), JSON.stringify([
      { name: 'eff', model: fixture('graph-only/zoo/efficientnet_b0.onnx'), advise: 'warning' },
      { name: 'v3', model: fixture('graph-only/zoo/mobilenet_v3_large.onnx'), advise: 'error' },
    ]));
    const r = mbn(['check', '--format', 'json'], { cwd: work });
    expect(r.status).toBe(1);
    const checks = JSON.parse(r.stdout).checks as { name: string; kind: string; passed: boolean; message: string }[];
    expect(checks.map((c) => [c.name, c.kind, c.passed])).toEqual([['eff', 'advise', false], ['v3', 'advise', true]]);
    expect(checks[0].message).toContain('swish-to-hardswish ×49');
    writeFileSync(join(work, 'mbn.config.json'), JSON.stringify([{ model: 'x.onnx', advise: 'info' }]));
    const bad = mbn(['check'], { cwd: work });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('"advise" is \'info\', expected "warning" or "error"');
  });
});

// ─── mbn rewrite ─────────────────────────────────────────────────────────────────────────────────────────────────

/** A small EfficientNet-like model: stem conv + SiLU, one MBConv block (expand, depthwise, SE, project, residual), head. */
function siluModel(opset: number): Uint8Array {
  const next = mulberry32(11);
  const weight = (name: string, dims: number[]): TensorSpec & { name: string } => {
    const n = dims.reduce((a, b) => a * b, 1);
    const fanIn = dims.length > 1 ? dims.slice(1).reduce((a, b) => a * b, 1) : 1;
    return { name, dtype: 1, dims, values: Array.from({ length: n }, () => (2 * next() - 1) * Math.sqrt(3 / fanIn)) };
  };
  const nodes: NodeSpec[] = [];
  const silu = (x: string, name: string): string => {
    nodes.push({ op: 'Sigmoid', inputs: [x], outputs: [`${name}_sig`], name: `${name}/Sigmoid` });
    nodes.push({ op: 'Mul', inputs: [x, `${name}_sig`], outputs: [name], name: `${name}/Mul` });
    return name;
  };
  const conv = (x: string, w: string, b: string | null, out: string, attrs: NodeSpec['attrs'] = {}) => {
    nodes.push({ op: 'Conv', inputs: b ? [x, w, b] : [x, w], outputs: [out], name: `${out}/Conv`, attrs });
    return out;
  };
  const stem = silu(conv('x', 'w_stem', 'b_stem', 'stem', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }), 'stem_act');
  const expand = silu(conv(stem, 'w_exp', 'b_exp', 'exp', { kernel_shape: [1, 1] }), 'exp_act');
  const dw = silu(conv(expand, 'w_dw', 'b_dw', 'dw', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 32 }), 'dw_act');
  nodes.push({ op: 'GlobalAveragePool', inputs: [dw], outputs: ['se_pool'], name: 'se/pool' });
  const squeeze = silu(conv('se_pool', 'w_se1', 'b_se1', 'se1', { kernel_shape: [1, 1] }), 'se1_act');
  conv(squeeze, 'w_se2', 'b_se2', 'se2', { kernel_shape: [1, 1] });
  nodes.push({ op: 'Sigmoid', inputs: ['se2'], outputs: ['se_gate'], name: 'se/Sigmoid' });
  nodes.push({ op: 'Mul', inputs: [dw, 'se_gate'], outputs: ['se_out'], name: 'se/Mul' });
  conv('se_out', 'w_proj', 'b_proj', 'proj', { kernel_shape: [1, 1] });
  nodes.push({ op: 'Add', inputs: ['proj', stem], outputs: ['block'], name: 'block/Add' });
  nodes.push({ op: 'GlobalAveragePool', inputs: ['block'], outputs: ['pool'], name: 'head/pool' });
  nodes.push({ op: 'Flatten', inputs: ['pool'], outputs: ['flat'], name: 'head/Flatten' });
  nodes.push({ op: 'Gemm', inputs: ['flat', 'w_fc', 'b_fc'], outputs: ['y'], name: 'head/Gemm', attrs: { transB: 1 } });
  return buildModel({
    opset,
    inputs: [{ name: 'x', dtype: 1, shape: [2, 3, 16, 16] }],
    outputs: [{ name: 'y', dtype: 1, shape: [2, 10] }],
    initializers: [
      weight('w_stem', [8, 3, 3, 3]), weight('b_stem', [8]),
      weight('w_exp', [32, 8, 1, 1]), weight('b_exp', [32]),
      weight('w_dw', [32, 1, 3, 3]), weight('b_dw', [32]),
      weight('w_se1', [8, 32, 1, 1]), weight('b_se1', [8]),
      weight('w_se2', [32, 8, 1, 1]), weight('b_se2', [32]),
      weight('w_proj', [8, 32, 1, 1]), weight('b_proj', [8]),
      weight('w_fc', [10, 8]), weight('b_fc', [10]),
    ],
    nodes,
  });
}

const SILU_COUNT = 4; // stem, expand, depthwise, inside squeeze-and-excite

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function opCounts(path: string): Record<string, number> {
  const m = onnx.ModelProto.decode(readFileSync(path));
  const counts: Record<string, number> = {};
  for (const n of m.graph!.node!) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  return counts;
}

async function maxAbsDiff(a: string, b: string, seed: number): Promise<number> {
  const ra = await runModel(a, undefined, { seed });
  const rb = await runModel(b, ra.feeds);
  let worst = 0;
  for (const [name, out] of Object.entries(ra.outputs)) {
    expect(rb.outputs[name].dims).toEqual(out.dims);
    out.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - rb.outputs[name].data[i]))));
  }
  return worst;
}

describe('mbn rewrite --hard-swish', () => {
  it('the advice on the built model: 4 swish findings, 1 gate, 1 residual block', () => {
    const path = join(dir, 'silu_advice.onnx');
    writeFileSync(path, siluModel(14));
    const j = advise(path);
    expect(byRule(j, 'swish-to-hardswish')).toHaveLength(SILU_COUNT);
    expect(byRule(j, 'sigmoid-gate-to-hardsigmoid')).toHaveLength(1);
    expect(j.blocks.map(({ input, expand, output, stride, residual }) => ({ input, expand, output, stride, residual }))).toEqual([{ input: 8, expand: 32, output: 8, stride: 1, residual: true }]);
  });

  it.skipIf(!ort)('opset 14: HardSwish per SiLU, valid, runs in ONNX Runtime, reports how far outputs moved; input untouched', async () => {
    const input = join(dir, 'silu14.onnx');
    writeFileSync(input, siluModel(14));
    const before = sha(input);
    const output = join(dir, 'silu14.hs.onnx');
    const r = mbn(['rewrite', input, '--hard-swish', '--hard-sigmoid', '-o', output, '--format', 'json', '--samples', '1', '--seed', '5']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(sha(input)).toBe(before);
    const report = JSON.parse(r.stdout);
    expect(report.schema).toBe('mbn.rewrite/1');
    const counts = opCounts(output);
    expect(counts.HardSwish).toBe(SILU_COUNT);
    expect(counts.HardSigmoid).toBe(1);
    expect(counts.Sigmoid ?? 0).toBe(0);
    expect(counts.Mul).toBe(1); // the squeeze-and-excite scale
    expect(report.after.ops).toEqual({ Sigmoid: 0, HardSigmoid: 1, HardSwish: SILU_COUNT, Mul: 1 });
    if (hasChecker) expect(checkModel(output)).toBeNull();
    // The reported deviation is what ONNX Runtime gives on the same seeded input.
    const measured = await maxAbsDiff(input, output, 5);
    expect(measured).toBeGreaterThan(0);
    expect(report.deviation.outputs[0].maxAbsDiff).toBeCloseTo(measured, 5);
    expect(report.deviation.samples).toBe(1);
    // The written FLOPs agree with what advise predicted: 1 FLOP saved per SiLU element.
    const saved = byRule(advise(input), 'swish-to-hardswish').reduce((s, f) => s + f.fix.otherFlopsSaved!, 0);
    expect(report.before.otherFlops - report.after.otherFlops).toBe(saved);
    expect(saved).toBe(2 * (8 * 8 * 8 + 32 * 8 * 8 + 32 * 8 * 8 + 8));
  });

  it.skipIf(!ort)('opset 13: x·HardSigmoid(x) instead, the same function as the HardSwish rewrite, opset unchanged', async () => {
    const in13 = join(dir, 'silu13.onnx');
    const in14 = join(dir, 'silu14b.onnx');
    writeFileSync(in13, siluModel(13));
    writeFileSync(in14, siluModel(14));
    const out13 = join(dir, 'silu13.hs.onnx');
    const out14 = join(dir, 'silu14b.hs.onnx');
    const r13 = mbn(['rewrite', in13, '--hard-swish', '-o', out13, '--format', 'json']);
    expect(r13.status).toBe(0);
    expect(JSON.parse(r13.stdout).notes[0]).toContain('opset is 13');
    expect(mbn(['rewrite', in14, '--hard-swish', '-o', out14]).status).toBe(0);
    const counts = opCounts(out13);
    expect(counts.HardSigmoid).toBe(SILU_COUNT);
    expect(counts.HardSwish ?? 0).toBe(0);
    expect(counts.Sigmoid).toBe(1); // the gate, not asked for
    expect(Number(onnx.ModelProto.decode(readFileSync(out13)).opsetImport![0].version)).toBe(13);
    if (hasChecker) expect(checkModel(out13)).toBeNull();
    expect(await maxAbsDiff(out13, out14, 9)).toBeLessThan(1e-5);
  });

  it.skipIf(!ort)('EfficientNet-B0 (synthetic weights): 49 HardSwish, valid, runs, deviation reported', () => {
    const work = tempDir('mbn-hardswish-eff-');
    const input = withSyntheticWeights(fixture('graph-only/zoo/efficientnet_b0.onnx'), work);
    const before = sha(input);
    const r = mbn(['rewrite', input, '--hard-swish', '--format', 'json', '--samples', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const output = join(work, 'efficientnet_b0.hardswish.onnx');
    const report = JSON.parse(r.stdout);
    expect(report.output).toBe(output);
    expect(opCounts(output).HardSwish).toBe(49);
    expect(opCounts(output).Sigmoid).toBe(16);
    expect(sha(input)).toBe(before);
    if (hasChecker) expect(checkModel(output)).toBeNull();
    expect(report.deviation.outputs).toHaveLength(1);
    expect(report.deviation.outputs[0].maxAbsDiff).toBeGreaterThan(0);
    expect(report.deviationSkipped).toBeNull();
    expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses what it must: no pattern flag, an existing output, the input as output; dry run writes nothing', () => {
    const input = join(dir, 'silu_refuse.onnx');
    writeFileSync(input, siluModel(14));
    const none = mbn(['rewrite', input]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^mbn: mbn rewrite needs --hard-swish/);
    const same = mbn(['rewrite', input, '--hard-swish', '-o', input, '--force']);
    expect(same.status).toBe(2);
    writeFileSync(join(dir, 'exists.onnx'), 'x');
    const exists = mbn(['rewrite', input, '--hard-swish', '-o', join(dir, 'exists.onnx')]);
    expect(exists.status).toBe(2);
    expect(readFileSync(join(dir, 'exists.onnx'), 'utf8')).toBe('x');
    const dry = mbn(['rewrite', input, '--hard-swish', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing written');
    expect(existsSync(join(dir, 'silu_refuse.hardswish.onnx'))).toBe(false);
  });

  it('a model without swish is written back byte for byte', () => {
    const output = join(dir, 'resnet_small.hs.onnx');
    const r = mbn(['rewrite', fixture('models/resnet_small.onnx'), '--hard-swish', '--hard-sigmoid', '-o', output]);
    expect(r.status).toBe(0);
    expect(sha(output)).toBe(sha(fixture('models/resnet_small.onnx')));
    expect(r.stdout).toContain('output deviation not measured: nothing was rewritten');
  });
});

describe('runtime-conv-path: convs ONNX Runtime on x86 keeps off its blocked kernels', () => {
  /** 16 → dw16 → 1×1 to 6 → dw6 → 3×3 to 18 → 3×3 18 → 32 → 4 groups of 8 → 1×1 to 8, at 16×16. */
  function ladder(): string {
    const weights: (TensorSpec & { name: string })[] = [];
    const nodes: NodeSpec[] = [];
    let prev = 'x';
    const conv = (name: string, cin: number, cout: number, k: number, group = 1) => {
      const dims = [cout, cin / group, k, k];
      weights.push({ name: `${name}.w`, dtype: 1, dims, values: new Array(dims.reduce((a, b) => a * b, 1)).fill(0.01) });
      nodes.push({ op: 'Conv', name, inputs: [prev, `${name}.w`], outputs: [`${name}.y`], attrs: { kernel_shape: [k, k], pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0], group } });
      prev = `${name}.y`;
    };
    conv('dw16', 16, 16, 3, 16);
    conv('pw6', 16, 6, 1);
    conv('dw6', 6, 6, 3, 6);
    conv('c18', 6, 18, 3);
    conv('c32', 18, 32, 3);
    conv('g4', 32, 32, 3, 4);
    conv('out', 32, 8, 1);
    const path = join(dir, 'ladder.onnx');
    writeFileSync(path, buildModel({ opset: 13, inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 16, 16] }], outputs: [prev], initializers: weights, nodes }));
    return path;
  }

  it('flags a depthwise conv on 6 channels and a 3×3 conv on 18 everywhere, 8-channel groups on AVX-512; not the rest', () => {
    const j = advise(ladder());
    const found = byRule(j, 'runtime-conv-path');
    expect(found.map((f) => [f.layers[0], f.severity])).toEqual([['dw6', 'warning'], ['c32', 'warning'], ['g4', 'warning']]);
    expect(found[0].message).toBe('depthwise conv on 6 channels, not a multiple of 4: ONNX Runtime on x86 runs it as im2col + GEMM per channel, not in its depthwise kernel');
    expect(found[0].fix.text).toBe('use 8 channels (a multiple of 4) in this block, or measure with mbn bench --per-layer');
    expect(found[1].message).toBe('18 input channels, not a multiple of 4: ONNX Runtime on x86 cannot convert them to its blocked layout and runs im2col + GEMM');
    expect(found[2].message).toBe('4 groups of 8 → 8 channels: ONNX Runtime on AVX-512 CPUs blocks a grouped conv only with whole blocks of 16 channels per group, so it runs im2col + GEMM per group');
  });

  it.skipIf(!ort)('agrees with the graph ONNX Runtime optimizes on this machine', async () => {
    const path = ladder();
    const optimized = join(dir, 'ladder.optimized.onnx');
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, logSeverityLevel: 4 });
    await session.release();
    const { readModel } = await import('../src/onnx/read.js');
    const { detectNchwcBlock } = await import('../src/latency/measure.js');
    const block = await detectNchwcBlock(ort as never, dir);
    const nodes = readModel(optimized).graph.nodes;
    // ORT keeps the name of a conv it leaves alone; a blocked one becomes a com.microsoft.nchwc node named after its output.
    const plain = new Set(nodes.filter((n) => n.opType === 'Conv' && n.domain !== 'com.microsoft.nchwc').map((n) => n.name));
    if (block <= 1) return;
    expect(plain.has('dw6')).toBe(true);
    expect(plain.has('c32')).toBe(true);
    expect(plain.has('g4')).toBe(block === 16);
    for (const name of ['dw16', 'pw6', 'c18', 'out']) expect(plain.has(name)).toBe(false);
  });

  it('RegNet-Y 400MF: its sixteen 8-channel-group convs (AVX-512); ShuffleNetV2: four depthwise convs on 58 channels', () => {
    const regnet = byRule(advise(fixture('graph-only/zoo/regnet_y_400mf.onnx')), 'runtime-conv-path');
    expect(regnet).toHaveLength(16);
    expect(regnet.every((f) => / groups of 8 → 8 channels: ONNX Runtime on AVX-512 CPUs /.test(f.message))).toBe(true);
    const shuffle = byRule(advise(fixture('graph-only/zoo/shufflenet_v2_x1_0.onnx')), 'runtime-conv-path');
    expect(shuffle.map((f) => f.message.slice(0, 33))).toEqual(new Array(4).fill('depthwise conv on 58 channels, no'));
  });

  it('a depthwise conv on the model\'s 3-channel input: keep the first conv dense', () => {
    const path = join(dir, 'stem.onnx');
    const w = { name: 'w', dtype: 1, dims: [3, 1, 3, 3], values: new Array(27).fill(0.1) };
    writeFileSync(path, buildModel({ opset: 13, inputs: [{ name: 'img', dtype: 1, shape: [1, 3, 32, 32] }], outputs: ['y'], initializers: [w], nodes: [{ op: 'Conv', name: 'stem/Conv_depthwise', inputs: ['img', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 3 } }] }));
    const [f] = byRule(advise(path), 'runtime-conv-path');
    expect(f.fix.text).toBe("it reads the model's 3-channel input: keep the first conv dense, as MobileNet does (mbn separate --exclude 'stem/Conv')");
  });
});
