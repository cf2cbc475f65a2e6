import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Graph } from '../src/ir/types.js';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, separateJson, tempDir } from './helpers/cli.js';
import { loadOrt, makeInputs, relativeError, runModel } from './helpers/ort.js';
import { pythonOnnx } from './helpers/python.js';

/**
 * `mbn separate` on pretrained third-party models (fixtures/real, licences in fixtures/README.md) and on the cases
 * they brought up: If branches run with other shapes than the ones mbn infers, symbolic feature-map sizes, convs
 * whose pair costs more, float16 weights. Every written model is loaded and run in ONNX Runtime next to the original.
 */

const ort = loadOrt();
if (!ort) console.warn('skipping ONNX Runtime runs: onnxruntime-node is not installed (npm install)');
const FULL_RANK = ['--multiplier', '1000', '--allow-costlier'];
type Feeds = Parameters<typeof runModel>[1];

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-separate-real-');
});

/** Runs both models on the same feeds: output dims must agree; returns the worst relative error over outputs. */
async function compareOn(original: string, separated: string, feeds: NonNullable<Feeds>): Promise<number> {
  const a = await runModel(original, feeds);
  const b = await runModel(separated, feeds);
  let worst = 0;
  for (const [name, out] of Object.entries(a.outputs)) {
    expect(b.outputs[name].dims).toEqual(out.dims);
    worst = Math.max(worst, relativeError(b.outputs[name].data, out.data));
  }
  return worst;
}

/** All graphs of a model, If/Loop bodies included. */
function graphsOf(g: Graph): Graph[] {
  const out = [g];
  for (const n of g.nodes) {
    for (const a of n.attributes) {
      if (a.data.type === 'graph') out.push(...graphsOf(a.data.value));
      if (a.data.type === 'graphs') for (const sub of a.data.value) out.push(...graphsOf(sub));
    }
  }
  return out;
}

describe('Silero VAD v5: an If on the sample rate, with 16 kHz and 8 kHz branches of different shapes', () => {
  const vad = fixture('real/silero_vad_v5.onnx');

  /** Silero's inputs: `input` [1, samples] float, `state` [2, 1, 128] float, `sr` an int64 scalar. */
  function vadFeeds(sr: number, samples: number): NonNullable<Feeds> {
    const [input, state] = Object.values(makeInputs([{ name: 'input', shape: [1, samples] }, { name: 'state', shape: [2, 1, 128] }], sr));
    return { input, state, sr: { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(sr)) as never } };
  }
  const RATES: [number, number][] = [
    [16000, 512],
    [8000, 256],
  ];

  for (const args of [['--input', 'input:1x512'], []]) {
    const label = args.length ? args.join(' ') : 'no --input';
    it(`${label}: both branches are rewritten, the ×0 branch apart, and the model loads and runs at both rates`, async () => {
      const out = join(dir, `vad-r1${args.length ? '-in' : ''}.onnx`);
      const r = separateJson([vad, '-o', out, ...args]);
      // 5 convs per branch: the STFT conv (1→258, k 256 / 1→130, k 128) and four 3-tap encoder convs.
      expect(r.layers.map((l: { executions: number }) => l.executions)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
      expect(r.layers.map((l: { M: number; N: number }) => `${l.M}→${l.N}`)).toEqual([
        '1→258', '129→128', '128→64', '64→64', '64→128', '1→130', '65→128', '128→64', '64→64', '64→128',
      ]);
      for (const l of r.layers.slice(5)) expect(l.measuredRatio).toBeNull();
      // The decoder's 1×1 conv in each branch stays: the 8 kHz one too, though mbn cannot size it at 512 samples.
      expect(r.skipped.map((s: { reason: string }) => s.reason)).toEqual(['1×1 conv: already pointwise', '1×1 conv: already pointwise']);
      if (args.length) {
        // `state` [2, ?, 128] has an unnamed dim nobody gave: the MACs are unknown, not computed from an assumed 1.
        expect(r.totals.macsBefore).toBeNull();
        expect(r.notes).toContain("MACs are unknown: input 'state' dim 1 is dynamic and was assumed 1: give it with --input state:2xD1x128");
      }
      if (!ort) return;
      for (const [sr, samples] of RATES) {
        const feeds = vadFeeds(sr, samples);
        const a = await runModel(vad, feeds);
        const b = await runModel(out, feeds);
        expect(b.outputs.output.dims).toEqual([1, 1]);
        expect(b.outputs.stateN.dims).toEqual(a.outputs.stateN.dims);
      }
    });

    it(`${label}: at full rank the rewritten model reproduces Silero at 16 kHz and 8 kHz`, async () => {
      const out = join(dir, `vad-full${args.length ? '-in' : ''}.onnx`);
      const r = separateJson([vad, '-o', out, ...FULL_RANK, ...args]);
      expect(r.layers).toHaveLength(10);
      // Full rank is min(N, K): 256 and 128 for the STFT convs, 3 for the encoder convs.
      expect(r.layers.map((l: { multiplier: number }) => l.multiplier)).toEqual([256, 3, 3, 3, 3, 128, 3, 3, 3, 3]);
      if (!ort) return;
      for (const [sr, samples] of RATES) expect(await compareOn(vad, out, vadFeeds(sr, samples))).toBeLessThan(1e-4);
    });
  }

  it('declares for each new value only what holds in every run: its channels and rank, no time dim', () => {
    const out = join(dir, 'vad-vi.onnx');
    separateJson([vad, '-o', out, '--input', 'input:1x512', '--input', 'state:2x1x128']);
    const model = readModel(out);
    try {
      const declared = graphsOf(model.graph).flatMap((g) => g.valueInfo.filter((v) => v.name.endsWith('_dw')).map((v) => v.type?.shape));
      // Depthwise outputs carry C·r channels (r = 1): 1, 65, 128, 64, 64 (8 kHz, listed first) and 1, 129, 128, 64, 64 (16 kHz); batch and time stay unknown.
      expect(declared).toEqual([1, 65, 128, 64, 64, 1, 129, 128, 64, 64].map((c) => [null, c, null]));
    } finally {
      model.source.close();
    }
  });
});

describe('value_info of the new values', () => {
  it("copies the batch and feature-map dims the model declares for the conv's output, symbolic names included", async () => {
    const path = join(dir, 'declared.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: 1, shape: ['batch', 4, 8, 8] }],
        outputs: [{ name: 'y', dtype: 1, shape: ['batch', 6, 4, 4] }],
        initializers: [{ name: 'w', dtype: 1, dims: [6, 4, 3, 3], values: Array.from({ length: 6 * 4 * 9 }, (_, i) => Math.sin(i)) }],
        nodes: [{ op: 'Conv', name: 'c', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } }],
      }),
    );
    const out = join(dir, 'declared.sep.onnx');
    separateJson([path, '-o', out, '--multiplier', '2']);
    const model = readModel(out);
    expect(model.graph.valueInfo.map((v) => [v.name, v.type?.shape])).toEqual([['y_dw', ['batch', 8, 4, 4]]]);
    model.source.close();
    if (ort) {
      // A batch of 3: the symbolic dim stays symbolic.
      const feeds = makeInputs([{ name: 'x', shape: [3, 4, 8, 8] }]);
      expect((await runModel(out, feeds)).outputs.y.dims).toEqual([3, 6, 4, 4]);
    }
  });
});

describe('PaddleOCR det v4: symbolic H and W, no --input', () => {
  const det = fixture('real/ppocr_v4_det.onnx');
  const feedsAt = (h: number, w: number): NonNullable<Feeds> => makeInputs([{ name: 'x', shape: [1, 3, h, w] }], h + w);

  it('rewrites from the weights alone; MACs are unknown, params exact; the model runs at any size', async () => {
    const out = join(dir, 'det.onnx');
    const r = separateJson([det, '-o', out]);
    expect(r.layers.map((l: { name: string }) => l.name)).toEqual(['p2o.Conv.0', 'p2o.Conv.49', 'p2o.Conv.52', 'p2o.Conv.55', 'p2o.Conv.58', 'p2o.Conv.61']);
    for (const l of r.layers) expect([l.macs, l.macsAfter, l.measuredRatio]).toEqual([null, null, null]);
    expect([r.totals.macsBefore, r.totals.macsAfter]).toEqual([null, null]);
    expect(r.notes).toEqual([
      "MACs are unknown: input 'x' dims 2 ('p2o.DynamicDimension.1'), 3 ('p2o.DynamicDimension.2') are symbolic and were assumed 1: give them with --input x:1x3xD2xD3",
    ]);
    // Params: 3→16 3×3 goes 432 → 3·9 + 16·3 = 75; each 96→24 3×3 goes 20736 → 96·9 + 24·96 = 3168.
    expect(r.totals.paramsBefore - r.totals.paramsAfter).toBe(432 - 75 + 5 * (20736 - 3168));
    const written = readModel(out);
    expect(analyzeModel(written).totals.params).toBe(r.totals.paramsAfter);
    written.source.close();
    if (!ort) return;
    for (const [h, w] of [[64, 64], [96, 160]]) {
      const feeds = feedsAt(h, w);
      const b = await runModel(out, feeds);
      expect(b.outputs['sigmoid_0.tmp_0'].dims).toEqual([1, 1, h, w]);
    }
  });

  /**
   * The detector's output is a probability map that noise drives to 0 (most pixels exactly 0.0 in float32), so its
   * relative error says nothing. The logits before the final Sigmoid do: this copy lists them as an output too.
   */
  function withLogits(path: string): string {
    const script = [
      'import onnx, sys',
      'm = onnx.load(sys.argv[1])',
      'sig = [n for n in m.graph.node if n.op_type == "Sigmoid"][-1]',
      'm.graph.output.append(onnx.helper.make_empty_tensor_value_info(sig.input[0]))',
      'onnx.save(m, sys.argv[2])',
    ].join('\n');
    // Always into the temporary folder: the fixture's own folder is never written to.
    const out = join(dir, basename(path).replace(/\.onnx$/, '.logits.onnx'));
    const r = spawnSync('/usr/bin/python3', ['-c', script, path, out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return out;
  }

  it('at full rank, written without shapes, it reproduces the original logits at two sizes (rank 1 does not)', async () => {
    const full = join(dir, 'det-full.onnx');
    const rank1 = join(dir, 'det-r1.onnx');
    separateJson([det, '-o', full, ...FULL_RANK]);
    separateJson([det, '-o', rank1]);
    if (!ort || !pythonOnnx()) return;
    const [original, fullLogits, rank1Logits] = [det, full, rank1].map(withLogits);
    const logitsError = async (separated: string, feeds: NonNullable<Feeds>) => {
      const a = await runModel(original, feeds);
      const b = await runModel(separated, feeds);
      expect(Object.keys(b.outputs).sort()).toEqual(['p2o.Add.281', 'sigmoid_0.tmp_0']);
      for (const name of Object.keys(a.outputs)) expect(b.outputs[name].dims).toEqual(a.outputs[name].dims);
      return relativeError(b.outputs['p2o.Add.281'].data, a.outputs['p2o.Add.281'].data);
    };
    for (const [h, w] of [[64, 64], [96, 160]]) expect(await logitsError(fullLogits, feedsAt(h, w))).toBeLessThan(1e-5);
    // The rank-1 approximation changes the logits by a quarter of their range: the comparison can tell.
    expect(await logitsError(rank1Logits, feedsAt(64, 64))).toBeGreaterThan(0.1);
  });

  it('--target-macs needs the MACs: a clear error (exit 2) without shapes, a plan with them', () => {
    const r = mbn(['separate', det, '--dry-run', '--target-macs', '15M']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      "mbn: --target-macs needs the model's MACs, but input 'x' dims 2 ('p2o.DynamicDimension.1'), 3 ('p2o.DynamicDimension.2') are symbolic and were assumed 1: give them with --input x:1x3xD2xD3\n",
    );
    const ok = separateJson([det, '--dry-run', '--target-macs', '15M', '--input', 'x:1x3x64x64']);
    // At 64×64: 23,129,984 MACs. Per-layer ranks: Conv.61 (96→24 at 16×16) at rank 1 saves
    // 256·(24·96·9 − 96·9 − 24·96) = 4,497,408, Conv.58 at rank 2 saves 256·(24·96·9 − 2·(96·9 + 24·96)) = 3,686,400;
    // 23,129,984 − 8,183,808 = 14,946,176 ≤ 15M.
    expect(ok.totals.macsBefore).toBe(23_129_984);
    expect(ok.target).toEqual({ macs: 14_946_176, met: true });
    expect(ok.layers.map((l: { name: string; multiplier: number }) => `${l.name} r${l.multiplier}`).sort()).toEqual(['p2o.Conv.58 r2', 'p2o.Conv.61 r1']);
  });

  it('--min-reduction needs no shapes: the share saved is 1 − (1/N + 1/K)', () => {
    const r = separateJson([det, '--dry-run', '--min-reduction', '84%']);
    // 3→16: 1 − (1/16 + 1/9) = 82.6% < 84%; 96→24: 1 − (1/24 + 1/9) = 84.7%.
    expect(r.layers.map((l: { N: number }) => l.N)).toEqual([24, 24, 24, 24, 24]);
    expect(r.skipped.find((s: { name: string }) => s.name === 'p2o.Conv.0').reason).toBe('saves 82.6% of its MACs, below --min-reduction 84.0%');
  });
});

describe('never make things worse by default', () => {
  it('ResNet-18 at --multiplier 9: the 3×3 convs would cost more and stay; only the 7×7 stem is separated', () => {
    const r = separateJson([fixture('graph-only/resnet18.onnx'), '--dry-run', '--init', 'he', '--multiplier', '9']);
    expect(r.layers.map((l: { name: string }) => l.name)).toEqual(['/conv1/Conv']);
    const reasons = r.skipped.map((s: { reason: string }) => s.reason);
    // 9·(1/N + 1/9) = 1 + 9/N for N = 64, 128, 256, 512: ×1.14, ×1.07, ×1.04, ×1.02, four convs each.
    for (const [x, n] of [['1.14', 4], ['1.07', 4], ['1.04', 4], ['1.02', 4]] as const) {
      expect(reasons.filter((s: string) => s === `would cost more (×${x})`)).toHaveLength(n);
    }
    // torchvision: 1,814,073,344 MACs at 224. The stem (3→64, 7×7, 112×112 out) goes from 12544·64·3·49 =
    // 118,013,952 to 12544·(3·9·49 + 64·3·9) = 38,271,744.
    expect(r.totals.macsBefore).toBe(1_814_073_344);
    expect(r.totals.macsAfter).toBe(1_814_073_344 - 118_013_952 + 38_271_744);
  });

  it('a conv with one output channel is left alone (×1.11), listed with its reason; --allow-costlier rewrites it', async () => {
    const path = join(dir, 'one-out.onnx');
    const w = (n: number, c: number) => Array.from({ length: n * c * 9 }, (_, i) => ((i * 37) % 17) / 8 - 1);
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: 1, shape: [1, 4, 8, 8] }],
        outputs: [{ name: 'y', dtype: 1, shape: [1, 1, 8, 8] }],
        initializers: [
          { name: 'w1', dtype: 1, dims: [8, 4, 3, 3], values: w(8, 4) },
          { name: 'w2', dtype: 1, dims: [1, 8, 3, 3], values: w(1, 8) },
        ],
        nodes: [
          { op: 'Conv', name: 'wide', inputs: ['x', 'w1'], outputs: ['h'], attrs: { pads: [1, 1, 1, 1] } },
          { op: 'Conv', name: 'head', inputs: ['h', 'w2'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } },
        ],
      }),
    );
    const r = separateJson([path, '--dry-run']);
    expect(r.layers.map((l: { name: string }) => l.name)).toEqual(['wide']);
    // 1/N + 1/K = 1/1 + 1/9 = 1.111…
    expect(r.skipped).toEqual([{ name: 'head', op: 'Conv', reason: 'would cost more (×1.11)', reasonCode: { code: 'costlier', ratio: 1 + 1 / 9 } }]);
    // wide: 64·8·4·9 = 18432 → 64·(4·9 + 8·4) = 4352; head stays 64·8·9 = 4608.
    expect([r.totals.macsBefore, r.totals.macsAfter]).toEqual([18432 + 4608, 4352 + 4608]);
    const table = mbn(['separate', path, '--dry-run']).stdout;
    expect(table).toContain('  head (Conv): would cost more (×1.11)\n');
    // analyze projects the same rewrite: wide 288 → 4·9 + 8·4 = 68 params, head's 72 stay.
    const model = readModel(path);
    const projected = analyzeModel(model).totals;
    model.source.close();
    expect([projected.params, projected.paramsIfSeparated, projected.macsIfSeparated]).toEqual([360, 68 + 72, 4352 + 4608]);
    const forced = join(dir, 'one-out.sep.onnx');
    const f = separateJson([path, '-o', forced, '--allow-costlier']);
    expect(f.layers.map((l: { name: string }) => l.name)).toEqual(['wide', 'head']);
    expect(f.notes).toEqual(['1 rewritten conv costs more than before (--allow-costlier): ratio ≥ 1']);
    if (ort) {
      const b = await runModel(forced);
      expect(b.outputs.y.dims).toEqual([1, 1, 8, 8]);
    }
  });

  it('a pair that costs exactly as much (N = 2, 1×2 kernel: 1/2 + 1/2) is left alone too', () => {
    const path = join(dir, 'even.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', dtype: 1, shape: [1, 3, 4, 4] }],
        outputs: [{ name: 'y', dtype: 1, shape: [1, 2, 4, 3] }],
        initializers: [{ name: 'w', dtype: 1, dims: [2, 3, 1, 2], values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }],
        nodes: [{ op: 'Conv', name: 'even', inputs: ['x', 'w'], outputs: ['y'] }],
      }),
    );
    const r = separateJson([path, '--dry-run']);
    expect(r.layers).toEqual([]);
    expect(r.skipped).toEqual([{ name: 'even', op: 'Conv', reason: 'would save nothing (×1.00)', reasonCode: { code: 'costlier', ratio: 1 } }]);
  });

  it("a conv in an If branch that is not counted: listed apart, never in 'Separating N', never NaN", async () => {
    const ifModel = fixture('edge/conv_in_if.onnx');
    const table = mbn(['separate', ifModel, '--dry-run']).stdout;
    expect(table).not.toContain('NaN');
    expect(table).toContain('Also rewritten, in an If branch that is not counted (×0, not in the MACs totals): 1\n');
    const r = separateJson([ifModel, '--dry-run']);
    expect(r.layers.map((l: { name: string; executions: number }) => [l.name, l.executions])).toEqual([
      ['if/then_branch/then_conv', 1],
      ['if/else_branch/else_conv', 0],
    ]);
    expect(r.layers[1].measuredRatio).toBeNull();
    const analyzed = mbn(['analyze', ifModel]).stdout;
    expect(analyzed).toContain('Separating 1 standard conv:');
  });
});

describe('the Error column and the ratio header', () => {
  it('float16 at full rank: the error of the factors as stored in float16 (numpy on the written file), not 0', () => {
    const out = join(dir, 'f16.onnx');
    const r = separateJson([fixture('edge/float16.onnx'), '-o', out, ...FULL_RANK]);
    const reported = r.layers[0].relativeError;
    if (!pythonOnnx()) return;
    const script = [
      'import onnx, sys, numpy as np',
      'from onnx import numpy_helper as nh',
      'a = {t.name: nh.to_array(t).astype(np.float64) for t in onnx.load(sys.argv[1]).graph.initializer}',
      'b = {t.name: nh.to_array(t).astype(np.float64) for t in onnx.load(sys.argv[2]).graph.initializer}',
      'W = a["W"]; D = b["conv_dw_weight"]; P = b["conv_pw_weight"]',
      'N, C = W.shape[0], W.shape[1]; r = D.shape[0] // C',
      'Wp = np.einsum("nct,ctk->nck", P[:, :, 0, 0].reshape(N, C, r), D[:, 0].reshape(C, r, -1)).reshape(W.shape)',
      'print(repr(np.linalg.norm(Wp - W) / np.linalg.norm(W)))',
    ].join('\n');
    const py = spawnSync('/usr/bin/python3', ['-c', script, fixture('edge/float16.onnx'), out], { encoding: 'utf8' });
    expect(py.status).toBe(0);
    const measured = Number(py.stdout.trim());
    expect(reported).toBeCloseTo(measured, 12);
    // float16 keeps 11 significant bits: the stored pair is off by a few 1e-4, which the table shows.
    expect(measured).toBeGreaterThan(1e-4);
    expect(measured).toBeLessThan(1e-3);
    expect(mbn(['separate', fixture('edge/float16.onnx'), '--dry-run', ...FULL_RANK]).stdout).toMatch(/│ 0\.0003 │\n/);
  });

  it('the header says r·(1/N+1/K) when a multiplier above 1 is used', () => {
    const at1 = mbn(['separate', fixture('models/tiny_cnn.onnx'), '--dry-run']).stdout;
    expect(at1).toMatch(/│ 1\/N\+1\/K │/);
    const at2 = mbn(['separate', fixture('models/tiny_cnn.onnx'), '--dry-run', '--multiplier', '2']).stdout;
    expect(at2).toMatch(/│ r·\(1\/N\+1\/K\) │/);
    // /conv1/Conv: 3→8, 3×3 at r = 2: 2·(1/8 + 1/9) = 0.4722.
    expect(at2).toMatch(/│ \/conv1\/Conv │ 3→8 r2 +│ 3×3 +│ .* │ 0\.4722 +│ /);
  });
});
