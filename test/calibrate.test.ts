import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/calibrate/npy.js';
import { fixture, mbn, separateJson, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';

/**
 * `mbn separate --calibrate` on two pretrained PaddleOCR models with rendered-text inputs (fixtures/calibration, made
 * by scripts/make-calibration.py): the data-driven pointwise refit against the plain SVD rewrite, full rank, the
 * per-layer-rank plan against rank 1 on the costliest layers, and bad calibration files.
 */
const ort = loadOrt();
if (!ort) console.warn('skipping calibration runs: onnxruntime-node is not installed (npm install)');
const det = fixture('real/ppocr_v4_det.onnx');
const cls = fixture('real/ppocr_mobile_v2_cls.onnx');
const detData = fixture('calibration/ppocr_det');
const clsData = fixture('calibration/ppocr_cls');
const DET = ['--input', 'x:1x3x96x96'];

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-calibrate-');
});

interface Check {
  name: string;
  relativeError: number;
  cosine: number;
  top1Agreement: number | null;
}

const worst = (checks: Check[]) => Math.max(...checks.map((c) => c.relativeError));

describe.skipIf(!ort)('calibrated separation on pretrained models', () => {
  it('PaddleOCR cls at rank 1: the refit halves the output error of the plain SVD rewrite at the same MACs', () => {
    const r = separateJson([cls, '--dry-run', '--calibrate', clsData]);
    const k = r.calibration;
    expect([k.batches, k.fitBatches, k.verifyBatches, k.heldBack]).toEqual([8, 6, 2, true]);
    expect(r.layers.map((l: { multiplier: number }) => l.multiplier)).toEqual([1]);
    expect(worst(k.outputs)).toBeLessThanOrEqual(worst(k.svdOutputs) / 2);
    // The class scores ([N, 2] softmax: 0° or 180°) keep their arg-max on both held-back lines.
    expect(k.outputs[0].top1Agreement).toBe(1);
    expect(k.layers[0].refitError).toBeLessThan(k.layers[0].svdError);
  });

  it('PaddleOCR det at rank 2: the refit halves the output error of the plain SVD rewrite at the same MACs', () => {
    const r = separateJson([det, '--dry-run', ...DET, '--multiplier', '2', '--calibrate', detData]);
    const k = r.calibration;
    expect(r.layers).toHaveLength(6);
    expect(worst(k.outputs)).toBeLessThanOrEqual(worst(k.svdOutputs) / 2);
    for (const l of k.layers) expect(l.refitError).toBeLessThan(l.svdError);
    // A detection map ([1, 1, H, W]) is no class score: no top-1 figure.
    expect(k.outputs[0].top1Agreement).toBeNull();
  });

  it('PaddleOCR det at rank 1 with --refit-depthwise: filters refitted too, at most half the plain SVD error, as ONNX Runtime runs it', async () => {
    const pointwiseOnly = separateJson([det, '--dry-run', ...DET, '--calibrate', detData]).calibration;
    const out = join(dir, 'det.refit-depthwise.onnx');
    const r = separateJson([det, '-o', out, ...DET, '--calibrate', detData, '--refit-depthwise']);
    const k = r.calibration;
    expect(r.layers.map((l: { multiplier: number }) => l.multiplier)).toEqual([1, 1, 1, 1, 1, 1]);
    // Measured: plain SVD 1.000, pointwise refit 0.574 (not half), filters and pointwise alternated 0.446.
    expect(worst(pointwiseOnly.outputs)).toBeGreaterThan(worst(pointwiseOnly.svdOutputs) / 2);
    expect(worst(k.outputs)).toBeLessThanOrEqual(worst(k.svdOutputs) / 2);
    expect(worst(k.outputs)).toBeLessThan(worst(pointwiseOnly.outputs));
    // Rounds are kept only where they lowered the error on the batches they were not fitted on: the stem and Conv.58.
    expect(k.layers.map((l: { filterRounds: number }) => l.filterRounds > 0)).toEqual([true, false, false, false, true, false]);
    // The stem sees the model's own input in both runs: there the alternation can only lower the error on the data.
    expect(k.layers[0].refitError).toBeLessThan(pointwiseOnly.layers[0].refitError);
    expect(k.notes).toContain('--refit-depthwise: the depthwise filters of 2 of 6 layers were refitted (rounds fitted on half the batches and kept while they lowered the error on the other half)');
    // The written filters are the ones the statistics assumed: ONNX Runtime's run of the file on the held-back
    // images gives the reported error.
    let dd = 0;
    let xx = 0;
    for (const f of ['06.npy', '07.npy']) {
      const a = parseNpy(readFileSync(join(detData, f)), f);
      const feeds = { x: { type: 'float32', dims: a.shape, data: Float32Array.from(a.data) } };
      const x = Object.values((await runModel(det, feeds)).outputs)[0].data;
      const y = Object.values((await runModel(out, feeds)).outputs)[0].data;
      for (let i = 0; i < x.length; i++) {
        dd += (y[i] - x[i]) ** 2;
        xx += x[i] ** 2;
      }
    }
    expect(k.outputs[0].relativeError).toBeCloseTo(Math.sqrt(dd / xx), 5);
  });

  it('PaddleOCR cls at rank 2 with --refit-depthwise: a tenth of the pointwise refit\'s output error', () => {
    // Measured: plain SVD 0.643, pointwise refit 0.101, filters too 4.8e-5 (the stem's filters within its channels'
    // leading 3 singular directions, its BatchNormalization's scales weighting the 8 outputs).
    const pointwiseOnly = separateJson([cls, '--dry-run', '--multiplier', '2', '--calibrate', clsData]).calibration;
    const k = separateJson([cls, '--dry-run', '--multiplier', '2', '--calibrate', clsData, '--refit-depthwise']).calibration;
    expect(k.layers[0].filterRounds).toBeGreaterThan(0);
    expect(worst(k.outputs)).toBeLessThan(worst(pointwiseOnly.outputs) / 10);
    expect(k.outputs[0].top1Agreement).toBe(1);
  });

  it('--refit-depthwise at full rank has nothing to move and still reproduces the model', () => {
    const r = separateJson([cls, '--dry-run', '--multiplier', '1000', '--allow-costlier', '--calibrate', clsData, '--refit-depthwise']);
    expect(r.calibration.layers.map((l: { filterRounds: number }) => l.filterRounds)).toEqual([0]);
    expect(worst(r.calibration.outputs)).toBeLessThanOrEqual(1e-4);
  });

  it('full rank with calibration reproduces both models (≤ 1e-4)', () => {
    for (const [model, data, extra] of [[det, detData, DET], [cls, clsData, []]] as const) {
      const r = separateJson([model, '--dry-run', ...extra, '--multiplier', '1000', '--allow-costlier', '--calibrate', data]);
      expect(worst(r.calibration.outputs)).toBeLessThanOrEqual(1e-4);
      expect(r.calibration.verdict).toMatch(/the rewrite keeps the model's outputs$/);
    }
  });

  it('--target-macs with per-layer ranks beats rank 1 on the costliest layers at the same budget', () => {
    // 96×96: 51.9M MACs. Budget 40M: on the data the plan spreads ranks over four convs (39.98M, met); rank 1 on the
    // two costliest 96→24 convs is what a rank-1-only plan needs to meet it (31.66M).
    const plan = separateJson([det, '--dry-run', ...DET, '--target-macs', '40M', '--calibrate', detData]);
    expect(plan.layers.map((l: { name: string; multiplier: number }) => `${l.name} r${l.multiplier}`)).toEqual(['p2o.Conv.49 r3', 'p2o.Conv.55 r5', 'p2o.Conv.58 r4', 'p2o.Conv.61 r3']);
    // Each conv saves px·(24·96·9 − r·(96·9 + 24·96)), px = 9, 144, 576, 576 output pixels:
    // 51,902,784 − 11,232·9 − 4,896·144 − 8,064·576 − 11,232·576 = 39,982,176, as the rewritten model's analysis counts.
    expect(plan.target).toEqual({ macs: 39_982_176, met: true });
    expect(plan.totals.macsAfter).toBe(39_982_176);
    expect(plan.calibration.notes).toContain('--target-macs: ranks chosen by the refitted output error of each layer on the calibration data');
    const rank1 = separateJson([det, '--dry-run', ...DET, '--include', 'p2o.Conv.58', '--include', 'p2o.Conv.61', '--calibrate', detData]);
    expect(rank1.totals.macsAfter).toBe(31_664_448);
    expect(worst(plan.calibration.outputs)).toBeLessThan(worst(rank1.calibration.outputs));
    expect(worst(plan.calibration.svdOutputs)).toBeLessThan(worst(rank1.calibration.svdOutputs));
  });

  it('after writing, the reported output error is the one ONNX Runtime gives on the held-back batches', async () => {
    const out = join(dir, 'cls.separated.onnx');
    const r = separateJson([cls, '-o', out, '--calibrate', clsData]);
    let dd = 0;
    let xx = 0;
    for (const f of ['06.npy', '07.npy']) {
      const a = parseNpy(readFileSync(join(clsData, f)), f);
      const feeds = { x: { type: 'float32', dims: a.shape, data: Float32Array.from(a.data) } };
      const x = Object.values((await runModel(cls, feeds)).outputs)[0].data;
      const y = Object.values((await runModel(out, feeds)).outputs)[0].data;
      for (let i = 0; i < x.length; i++) {
        dd += (y[i] - x[i]) ** 2;
        xx += x[i] ** 2;
      }
    }
    expect(r.calibration.outputs[0].relativeError).toBeCloseTo(Math.sqrt(dd / xx), 5);
    const table = mbn(['separate', cls, '--dry-run', '--calibrate', clsData, '--no-color']);
    expect(table.stdout).toMatch(/^output error 0\.0\d\d on 2 held-back calibration batches: small; check the task metric before use$/m);
  });

  it('--max-error with data: each layer gets the rank whose refitted output error on the data is within it', () => {
    const byWeights = separateJson([det, '--dry-run', ...DET, '--max-error', '0.1']);
    // On the weights alone no rank that saves MACs gets within 0.1: nothing is separated.
    expect(byWeights.layers).toHaveLength(0);
    const onData = separateJson([det, '--dry-run', ...DET, '--max-error', '0.1', '--calibrate', detData]);
    expect(onData.layers).toHaveLength(6);
    for (const l of onData.calibration.layers) expect(l.refitError).toBeLessThanOrEqual(0.1);
    // The 96→24 conv right after the backbone needs only rank 1 on text images.
    expect(onData.layers.find((l: { name: string }) => l.name === 'p2o.Conv.49').multiplier).toBe(1);
    expect(onData.totals.macsAfter).toBeLessThan(onData.totals.macsBefore);
    expect(worst(onData.calibration.outputs)).toBeLessThan(worst(onData.calibration.svdOutputs));
  });

  it('--target-macs with --max-error on data: only ranks within the error, and it says when the budget is out of reach', () => {
    const r = separateJson([det, '--dry-run', ...DET, '--target-macs', '40M', '--max-error', '0.05', '--calibrate', detData]);
    expect(r.layers.map((l: { multiplier: number }) => l.multiplier)).toEqual([4, 2, 4, 4, 4, 4]);
    // Saved per conv: px·(full − r·pair): 2304·(432 − 4·75) + 9·(20,736 − 2·3168) + (36 + 144 + 576 + 576)·(20,736 − 4·3168)
    // = 304,128 + 129,600 + 10,741,248 = 11,174,976; 51,902,784 − 11,174,976 = 40,727,808 > 40M.
    expect(r.target).toEqual({ macs: 40_727_808, met: false });
    expect(r.notes).toEqual(['--target-macs cannot be met within --max-error 0.05: the best plan on the data gives 40727808 MACs']);
  });

  it('--init he: nothing is fitted, and the report says the weights are random', () => {
    const r = separateJson([cls, '--dry-run', '--init', 'he', '--calibrate', clsData]);
    expect(r.calibration.layers).toEqual([]);
    expect(r.calibration.notes.some((n: string) => n.startsWith('--init he: the new weights are random'))).toBe(true);
  });

  it('random:N feeds seeded Gaussian batches and says real data is better', () => {
    const r = separateJson([cls, '--dry-run', '--calibrate', 'random:3']);
    expect([r.calibration.kind, r.calibration.batches, r.calibration.heldBack]).toEqual(['random', 3, false]);
    expect(r.calibration.notes).toContain('random calibration data says little about a trained model: a folder of real inputs (.npy) gives figures you can trust');
    expect(r.calibration.verdict).toMatch(/on 3 calibration batches \(random data\)/);
  });
});

describe.skipIf(!ort)('several inputs: one subfolder per input', () => {
  /** Silero VAD v5 (input [1, 512] at 16 kHz, state [2, 1, 128], sr scalar int64): tones and chirps, zero state. */
  function vadFolder(name: string, files: string[]): string {
    const root = join(dir, name);
    for (const sub of ['input', 'state', 'sr']) mkdirSync(join(root, sub), { recursive: true });
    files.forEach((f, k) => {
      const tone = Float64Array.from({ length: 512 }, (_, t) => 0.5 * Math.sin(2 * Math.PI * (200 + 150 * k) * (t / 16000) * (1 + (k % 2) * t / 1024)));
      writeFileSync(join(root, 'input', f), encodeNpy([1, 512], tone));
      writeFileSync(join(root, 'state', f), encodeNpy([2, 1, 128], new Array(256).fill(0)));
      writeFileSync(join(root, 'sr', f), encodeNpy([], [16000], '<i8'));
    });
    return root;
  }

  it('Silero VAD: batches are read per input; convs in the If branch that runs are fitted there, the other branch says why not', () => {
    const data = vadFolder('vad', Array.from({ length: 8 }, (_, i) => `${String(i).padStart(2, '0')}.npy`));
    const r = separateJson([fixture('real/silero_vad_v5.onnx'), '--dry-run', '--input', 'input:1x512', '--calibrate', data]);
    expect([r.calibration.batches, r.calibration.fitBatches, r.calibration.verifyBatches]).toEqual([8, 6, 2]);
    // Every conv is in a branch of If_0: 16 kHz (then) runs on these batches, 8 kHz (else) never does.
    const layers = r.calibration.layers as { name: string; kept: string | null; refitError: number | null }[];
    const then = layers.filter((l) => l.name.startsWith('If_0/then_branch/'));
    const other = layers.filter((l) => l.name.startsWith('If_0/else_branch/'));
    expect(then.length).toBeGreaterThan(0);
    expect(then.length + other.length).toBe(layers.length);
    for (const l of then) {
      expect(l.kept).toBeNull();
      expect(l.refitError).not.toBeNull();
    }
    for (const l of other) expect([l.kept, l.refitError]).toEqual(['its If branch did not run on the calibration data', null]);
    // The STFT conv reads the model input: its fit sees exactly the original's inputs, and beats the SVD weights there.
    const stft = r.calibration.layers.find((l: { name: string }) => l.name.endsWith('/stft/Conv') && l.name.startsWith('If_0/then_branch/'));
    expect(stft.refitError).toBeLessThan(stft.svdError);
    expect(r.calibration.outputs.map((o: Check) => o.name).sort()).toEqual(['output', 'stateN']);
  });

  it('file names must match across the subfolders', () => {
    const data = vadFolder('vad-mismatch', ['a.npy', 'b.npy']);
    writeFileSync(join(data, 'sr', 'z.npy'), encodeNpy([], [16000], '<i8'));
    const r = mbn(['separate', fixture('real/silero_vad_v5.onnx'), '--dry-run', '--calibrate', data]);
    expect(r.stderr).toBe(`mbn: --calibrate '${data}': 'z.npy' is not in every input's subfolder (file names must match)\n`);
    expect(r.status).toBe(2);
  });
});

describe('bad calibration data', () => {
  it('is one clear line and exit 2', () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'a.npy'), 'not numpy at all');
    const cases: [string, string][] = [
      [bad, `mbn: '${join(bad, 'a.npy')}' is not a usable .npy file: no NumPy magic (\\x93NUMPY) at the start\n`],
      [join(dir, 'missing'), `mbn: --calibrate '${join(dir, 'missing')}' is not a folder (or random:N)\n`],
      ['random:x', "mbn: --calibrate 'random:x': write random:N with N a positive whole number of batches\n"],
    ];
    const shape = join(dir, 'shape');
    mkdirSync(shape, { recursive: true });
    writeFileSync(join(shape, 'a.npy'), encodeNpy([1, 3, 48], new Array(144).fill(0)));
    cases.push([shape, `mbn: '${join(shape, 'a.npy')}' has shape (1, 3, 48) but input 'x' is [p2o.DynamicDimension.0, 3, p2o.DynamicDimension.1, p2o.DynamicDimension.2]\n`]);
    const cut = join(dir, 'cut');
    mkdirSync(cut, { recursive: true });
    writeFileSync(join(cut, 'a.npy'), encodeNpy([1, 3, 4, 4], new Array(48).fill(0)).subarray(0, 150));
    cases.push([cut, `mbn: '${join(cut, 'a.npy')}' is not a usable .npy file: truncated data (shape (1, 3, 4, 4) needs 192 bytes, 22 present)\n`]);
    for (const [data, message] of cases) {
      const r = mbn(['separate', cls, '--dry-run', '--calibrate', data]);
      expect(r.stderr).toBe(message);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    }
  });

  it('--refit-depthwise without --calibrate is a usage error', () => {
    const r = mbn(['separate', cls, '--dry-run', '--refit-depthwise']);
    expect(r.stderr).toBe('mbn: --refit-depthwise needs --calibrate (the filters are fitted to data)\n');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
  });
});
