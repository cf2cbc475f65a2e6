import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { fixture, mbn, separateJson, tempDir } from './helpers/cli.js';
import { withSyntheticWeights } from '../src/bench/models.js';
import { loadOrt, relativeError, runModel } from './helpers/ort.js';
import { checkModel, pythonOnnx } from './helpers/python.js';

const ort = loadOrt();
if (!ort) console.warn('skipping ONNX Runtime comparisons: onnxruntime-node is not installed (npm install)');
const hasChecker = pythonOnnx();

function analyze(path: string) {
  const model = readModel(path);
  try {
    return analyzeModel(model);
  } finally {
    model.source.close();
  }
}

/** Full rank: r = min(N/g, K) makes the pair exact, and costlier than the conv, so it must be asked for. */
const FULL_RANK = ['--multiplier', '1000', '--allow-costlier'];

/**
 * Runs both models on the same seeded inputs; returns the worst relative output error and checks shapes. A scalar
 * bool input (an If condition) is run both ways, so that every branch of the rewritten model runs.
 */
async function compare(original: string, separated: string, seed = 3): Promise<number> {
  const first = await runModel(original, undefined, { seed });
  const conditions = Object.entries(first.feeds).filter(([, v]) => v.type === 'bool' && v.dims.length === 0);
  const variants = conditions.length ? [0, 1].map((c) => ({ ...first.feeds, ...Object.fromEntries(conditions.map(([k, v]) => [k, { ...v, data: Uint8Array.of(c) }])) })) : [first.feeds];
  let worst = 0;
  for (const feeds of variants) {
    const a = await runModel(original, feeds);
    const b = await runModel(separated, feeds);
    for (const [name, out] of Object.entries(a.outputs)) {
      expect(b.outputs[name].dims).toEqual(out.dims);
      worst = Math.max(worst, relativeError(b.outputs[name].data, out.data));
    }
  }
  return worst;
}

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-separate-');
});

// Each edge fixture holds one kind of conv; at full rank (r = min(N/g, K)) the pair is exact.
const EXACT_EDGE = [
  'strided', 'dilated', 'asym_pads', 'auto_pad_same_upper', 'auto_pad_same_lower', 'auto_pad_valid', 'grouped',
  'conv1d', 'conv3d', 'no_bias', 'nonsquare', 'conv_in_if', 'conv_in_loop', 'shared_weights', 'constant_weight',
  'metadata',
];

describe('full-rank separation reproduces the original conv', () => {
  for (const name of EXACT_EDGE) {
    it(`${name}: valid ONNX, same outputs in ONNX Runtime`, async () => {
      const out = join(dir, `${name}.full.onnx`);
      const report = separateJson([fixture(`edge/${name}.onnx`), '-o', out, ...FULL_RANK]);
      expect(report.layers.length).toBeGreaterThan(0);
      for (const l of report.layers) expect(l.relativeError).toBeLessThan(1e-6);
      if (hasChecker) expect(checkModel(out)).toBeNull();
      if (ort) expect(await compare(fixture(`edge/${name}.onnx`), out)).toBeLessThan(1e-4);
    });
  }

  it('float16 weights stay float16 and agree within half precision', async () => {
    const out = join(dir, 'float16.full.onnx');
    separateJson([fixture('edge/float16.onnx'), '-o', out, ...FULL_RANK]);
    const model = readModel(out);
    const dtypes = model.graph.initializers.filter((t) => t.name.includes('_weight')).map((t) => t.dtype);
    model.source.close();
    expect(dtypes).toEqual([10, 10]);
    if (hasChecker) expect(checkModel(out)).toBeNull();
    if (ort) expect(await compare(fixture('edge/float16.onnx'), out)).toBeLessThan(1e-2);
  });

  it('float64 weights stay float64 (ONNX Runtime has no float64 Conv kernel on CPU: checker only)', () => {
    const out = join(dir, 'float64.full.onnx');
    separateJson([fixture('edge/float64.onnx'), '-o', out, ...FULL_RANK]);
    const model = readModel(out);
    expect(model.graph.initializers.filter((t) => t.name.includes('_weight')).map((t) => t.dtype)).toEqual([11, 11]);
    model.source.close();
    if (hasChecker) expect(checkModel(out)).toBeNull();
  });

  for (const name of ['tiny_cnn', 'resnet_small', 'mobilenet_v2_w035', 'conv_mobilenet_v1_w025']) {
    it(`${name} (torch export) at full rank: outputs equal the original`, async () => {
      const out = join(dir, `${name}.full.onnx`);
      separateJson([fixture(`models/${name}.onnx`), '-o', out, ...FULL_RANK]);
      if (hasChecker) expect(checkModel(out)).toBeNull();
      if (ort) expect(await compare(fixture(`models/${name}.onnx`), out)).toBeLessThan(1e-4);
    });
  }
});

describe('rank-1 and He-initialised rewrites load and run in ONNX Runtime, with the original output shapes', () => {
  const models = [...EXACT_EDGE.map((n) => `edge/${n}.onnx`), 'models/tiny_cnn.onnx', 'models/resnet_small.onnx', 'models/mobilenet_v2_w035.onnx'];
  for (const name of models) {
    for (const init of ['svd', 'he']) {
      it(`${name} (--init ${init})`, async (ctx) => {
        if (!ort) ctx.skip();
        const out = join(dir, `${name.replace('/', '-')}.r1-${init}.onnx`);
        const report = separateJson([fixture(name), '-o', out, '--init', init]);
        expect(report.layers.length).toBeGreaterThan(0);
        for (const l of report.layers) expect(l.multiplier).toBe(1);
        // Same output dims (checked by compare, both ways of an If); the values differ at rank 1, but are numbers.
        expect(Number.isFinite(await compare(fixture(name), out, 4))).toBe(true);
      });
    }
  }
});

const FIRST_CONV = '/features/features.0/*';

describe('rank-1 separation (MobileNet)', () => {
  it('conv_mobilenet_v1_w025 becomes mobilenet_v1_w025: MACs equal exactly, params differ by the depthwise biases', async () => {
    const out = join(dir, 'cmn025.sep.onnx');
    // The paper's MobileNet keeps its first layer a full conv: separate the other 13.
    const report = separateJson([fixture('models/conv_mobilenet_v1_w025.onnx'), '-o', out, '--exclude', FIRST_CONV]);
    expect(report.layers.length).toBe(13);
    const after = analyze(out);
    const reference = analyze(fixture('models/mobilenet_v1_w025.onnx'));
    // Same geometry as the real depthwise separable net: 3,331,072 conv+linear MACs (torch hooks, reference.json).
    expect(after.totals.macs).toBe(3_331_072);
    expect(after.totals.macs).toBe(reference.totals.macs);
    // The exported MobileNet folds BN into a bias on every depthwise conv too; ours carry the bias on the pointwise only.
    const dwChannels = [8, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256];
    expect(after.totals.params).toBe(reference.totals.params - dwChannels.reduce((a, b) => a + b, 0));
    for (const l of report.layers) expect(l.measuredRatio).toBeCloseTo(1 / l.N + 1 / 9, 12);
    if (hasChecker) expect(checkModel(out)).toBeNull();
    if (ort) {
      const r = await runModel(out);
      expect(r.outputs.output.dims).toEqual([1, 10]);
    }
  });

  it('Conv MobileNet at 224 (Howard et al. Table 4: 4866M → 569M mult-adds, 29.3M → 4.2M params)', async () => {
    const work = tempDir('mbn-cmn-');
    const model = withSyntheticWeights(fixture('graph-only/conv_mobilenet_v1.onnx'), work);
    const before = analyze(model);
    expect(before.totals.macs).toBe(4_867_293_184);
    const out = join(work, 'separated.onnx');
    const report = separateJson([model, '-o', out, '--exclude', FIRST_CONV]);
    expect(report.layers.length).toBe(13);
    const after = analyze(out);
    expect(after.totals.macs).toBe(568_740_352);
    expect(after.totals.macs).toBe(analyze(fixture('graph-only/mobilenet_v1.onnx')).totals.macs);
    expect(Math.abs(after.totals.params - 4.2e6) / 4.2e6).toBeLessThan(0.01);
    // New weights went to an external data file beside the output; the original data file is untouched.
    expect(existsSync(`${out}.data`)).toBe(true);
    if (ort) {
      // Synthetic weights give no meaningful class scores: ONNX Runtime must load both files and run.
      const r = await runModel(out);
      expect(r.outputs.output.dims).toEqual([1, 1000]);
      expect(r.outputs.output.data.every(Number.isFinite)).toBe(true);
    }
  });
});

describe('writes nothing it should not', () => {
  it('a rewrite that changes nothing writes a byte-identical file', () => {
    for (const name of ['edge/pointwise.onnx', 'edge/depthwise.onnx', 'edge/runtime_weight.onnx']) {
      const out = join(dir, `same-${name.replace('/', '-')}`);
      const report = separateJson([fixture(name), '-o', out]);
      expect(report.layers).toEqual([]);
      expect(readFileSync(out).equals(readFileSync(fixture(name)))).toBe(true);
    }
    const out = join(dir, 'same-tiny.onnx');
    separateJson([fixture('models/tiny_cnn.onnx'), '-o', out, '--include', 'no-such-node*']);
    expect(readFileSync(out).equals(readFileSync(fixture('models/tiny_cnn.onnx')))).toBe(true);
  });

  it('runtime weights and depthwise/1×1 convs are listed with a reason', () => {
    const r = separateJson([fixture('edge/runtime_weight.onnx'), '--dry-run']);
    expect(r.skipped.map((s: { reason: string }) => s.reason)).toEqual(['weight is computed at run time (not a constant)']);
    expect(separateJson([fixture('edge/depthwise.onnx'), '--dry-run']).skipped[0].reason).toBe('already depthwise');
    expect(separateJson([fixture('edge/pointwise.onnx'), '--dry-run']).skipped[0].reason).toBe('1×1 conv: already pointwise');
  });

  it('--dry-run writes nothing; an existing output needs --force; the input is never the output', () => {
    const work = tempDir();
    const input = join(work, 'm.onnx');
    copyFileSync(fixture('edge/strided.onnx'), input);
    const original = readFileSync(input);
    separateJson([input, '--dry-run']);
    expect(existsSync(join(work, 'm.separated.onnx'))).toBe(false);
    separateJson([input]);
    expect(existsSync(join(work, 'm.separated.onnx'))).toBe(true);
    const again = mbn(['separate', input]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/^mbn: .*already exists; use --force to overwrite it\n$/);
    const self = mbn(['separate', input, '-o', input, '--force']);
    expect(self.status).toBe(2);
    expect(self.stderr).toMatch(/^mbn: refusing to write .* it is the input/);
    expect(readFileSync(input).equals(original)).toBe(true);
  });

  it('a full disk leaves no partial output (a 64 KiB tmpfs; needs root to mount)', (ctx) => {
    const mountPoint = tempDir('mbn-tinyfs-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]).status === 0;
    if (!mounted) {
      console.warn('skipping the full-disk test: cannot mount a tmpfs here (needs root)');
      ctx.skip();
    }
    try {
      const r = mbn(['separate', fixture('models/conv_mobilenet_v1_w025.onnx'), '-o', join(mountPoint, 'out.onnx')]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`mbn: cannot write '${join(mountPoint, 'out.onnx')}': no space left on device; nothing was written\n`);
      expect(readdirSync(mountPoint)).toEqual([]);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });

  it('weights in a missing data file: a clear error when svd needs them, none with --init he', () => {
    const r = mbn(['separate', fixture('graph-only/resnet18.onnx'), '--dry-run']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mbn: external data of tensor 'onnx::Conv_193': data file 'resnet18.onnx.data' not found beside the model\n");
    const he = mbn(['separate', fixture('graph-only/resnet18.onnx'), '--dry-run', '--init', 'he', '--format', 'json']);
    expect(he.status).toBe(0);
    // ResNet-18 has 16 3×3 convs after the 7×7 stem: all 17 are standard convs.
    expect(JSON.parse(he.stdout).layers).toHaveLength(17);
  });

  it('a write that fails leaves no file behind and says why', () => {
    const r = mbn(['separate', fixture('edge/strided.onnx'), '-o', '/proc/mbn-cannot-write.onnx']);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^mbn: cannot write '\/proc\/mbn-cannot-write.onnx': .*nothing was written/);
  });
});

describe('selection options', () => {
  const model = fixture('models/conv_mobilenet_v1_w025.onnx');

  it('--include and --exclude select by node name glob', () => {
    const all = separateJson([model, '--dry-run']).layers.map((l: { name: string }) => l.name);
    expect(all).toHaveLength(14);
    const included = separateJson([model, '--dry-run', '--include', all[2]]).layers.map((l: { name: string }) => l.name);
    expect(included).toEqual([all[2]]);
    const excluded = separateJson([model, '--dry-run', '--exclude', all[2], '--exclude', all[3]]).layers.map((l: { name: string }) => l.name);
    expect(excluded).toEqual(all.filter((n: string) => n !== all[2] && n !== all[3]));
  });

  it('--min-reduction skips layers whose saving is smaller', () => {
    const r = separateJson([model, '--dry-run', '--min-reduction', '85%']);
    // Saving is 1 − (1/N + 1/9): above 85% needs 1/N < 0.0389, i.e. N ≥ 26.
    for (const l of r.layers) expect(1 - (1 / l.N + 1 / 9)).toBeGreaterThanOrEqual(0.85);
    const small = r.skipped.filter((s: { reason: string }) => s.reason.includes('--min-reduction'));
    expect(small.length).toBeGreaterThan(0);
    expect(r.layers.length + small.length).toBe(14);
  });

  it('--max-error gives each layer the smallest rank whose weight error is within it', () => {
    const all = separateJson([model, '--dry-run']).layers as { name: string; relativeError: number }[];
    const cut = all.map((l) => l.relativeError).sort((a, b) => a - b)[6];
    const r = separateJson([model, '--dry-run', '--max-error', String(cut)]);
    const tooFar = r.skipped.filter((s: { reason: string }) => / even at rank \d+$/.test(s.reason));
    expect(r.layers.length + tooFar.length).toBe(14);
    const raised = r.layers.filter((l: { multiplier: number }) => l.multiplier > 1);
    expect(raised.length).toBeGreaterThan(0);
    // Within float32 rounding of the stored weights.
    for (const l of r.layers) expect(l.relativeError).toBeLessThanOrEqual(cut * (1 + 1e-6));
    // Independently: one rank lower (a plain --multiplier run) the same layer is beyond the limit.
    for (const l of raised) {
      const lower = separateJson([model, '--dry-run', '--multiplier', String(l.multiplier - 1), '--include', l.name]).layers[0];
      expect(lower.relativeError).toBeGreaterThan(cut);
    }
  });

  it('--target-macs separates greedily until the budget is met, and says when it cannot be', () => {
    const before = analyze(model).totals.macs;
    const target = Math.round(before * 0.6);
    const r = separateJson([model, '--dry-run', '--target-macs', String(target)]);
    expect(r.totals.macsAfter).toBeLessThanOrEqual(target);
    expect(r.layers.length).toBeLessThan(14);
    expect(r.target.met).toBe(true);
    const impossible = separateJson([model, '--dry-run', '--target-macs', '1000']);
    expect(impossible.target.met).toBe(false);
    expect(impossible.layers.length).toBe(14);
    expect(impossible.notes[0]).toMatch(/cannot be met/);
  });

  it('--init he draws seeded fresh weights: same seed, same bytes', () => {
    const a = join(dir, 'he-a.onnx');
    const b = join(dir, 'he-b.onnx');
    const c = join(dir, 'he-c.onnx');
    separateJson([fixture('edge/strided.onnx'), '-o', a, '--init', 'he', '--seed', '5']);
    separateJson([fixture('edge/strided.onnx'), '-o', b, '--init', 'he', '--seed', '5']);
    separateJson([fixture('edge/strided.onnx'), '-o', c, '--init', 'he', '--seed', '6']);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    expect(statSync(a).size).toBe(statSync(c).size);
  });

  it('external data: new weights go to a data file beside the output', async () => {
    const work = tempDir();
    copyFileSync(fixture('edge/external_data.onnx'), join(work, 'external_data.onnx'));
    copyFileSync(fixture('edge/external_data.onnx.data'), join(work, 'external_data.onnx.data'));
    const before = readFileSync(join(work, 'external_data.onnx.data'));
    const out = join(work, 'out.onnx');
    separateJson([join(work, 'external_data.onnx'), '-o', out, ...FULL_RANK]);
    expect(existsSync(join(work, 'out.onnx.data'))).toBe(true);
    expect(readFileSync(join(work, 'external_data.onnx.data')).equals(before)).toBe(true);
    if (hasChecker) expect(checkModel(out)).toBeNull();
    if (ort) expect(await compare(join(work, 'external_data.onnx'), out)).toBeLessThan(1e-4);
    writeFileSync(join(work, 'note.txt'), 'ok');
  });
});

describe('bfloat16 weights', () => {
  it('stay bfloat16, and at full rank compose back to the original within bfloat16 precision (ONNX Runtime has no bfloat16 Conv on CPU)', async () => {
    const { default: onnxProto } = await import('onnx-proto');
    const { composeSeparated } = await import('../src/rewrite/decompose.js');
    const { decodeFloats, encodeFloats } = await import('../src/tensor/float.js');
    const { readTensorBytes } = await import('../src/onnx/tensor-data.js');
    const o = onnxProto.onnx;
    const T = o.TensorProto.DataType;
    const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: T.BFLOAT16, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    // A weight of 4 output channels, 2 input channels, 3×3, exactly representable in bfloat16.
    const values = Float64Array.from({ length: 4 * 2 * 9 }, (_, i) => ((i * 7) % 11) / 8 - 0.5);
    // Conv accepts bfloat16 from opset 22 on; Debian's onnx 1.12 checker predates that, so it is not consulted here.
    const model = o.ModelProto.create({
      irVersion: 10,
      opsetImport: [{ domain: '', version: 22 }],
      graph: {
        name: 'g',
        input: [vi('x', [1, 2, 8, 8])],
        output: [vi('y', [1, 4, 8, 8])],
        initializer: [{ name: 'w', dataType: T.BFLOAT16, dims: [4, 2, 3, 3], rawData: encodeFloats(values, 'bfloat16') }],
        node: [{ opType: 'Conv', name: 'conv', input: ['x', 'w'], output: ['y'], attribute: [{ name: 'pads', type: o.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }] }],
      },
    });
    const input = join(dir, 'bf16.onnx');
    writeFileSync(input, o.ModelProto.encode(model).finish());
    const out = join(dir, 'bf16.sep.onnx');
    separateJson([input, '-o', out, ...FULL_RANK]);
    const sep = readModel(out);
    const [dw, pw] = ['conv_dw_weight', 'conv_pw_weight'].map((n) => sep.graph.initializers.find((t) => t.name === n)!);
    expect([dw.dtype, pw.dtype]).toEqual([T.BFLOAT16, T.BFLOAT16]);
    expect(dw.dims).toEqual([2 * 4, 1, 3, 3]);
    expect(pw.dims).toEqual([4, 2 * 4, 1, 1]);
    const composed = composeSeparated(
      {
        depthwise: { dims: dw.dims, data: decodeFloats(readTensorBytes(sep, dw), 'bfloat16') },
        pointwise: { dims: pw.dims, data: decodeFloats(readTensorBytes(sep, pw), 'bfloat16') },
        relativeError: 0,
        rank: 4,
      },
      1,
      2,
    );
    sep.source.close();
    let err = 0;
    let norm = 0;
    values.forEach((v, i) => {
      err += (composed.data[i] - v) ** 2;
      norm += v * v;
    });
    // bfloat16 keeps 8 significant bits: each factor is within 2^-8 relative, so the product within about 1%.
    expect(Math.sqrt(err / norm)).toBeLessThan(0.01);
  });
});
