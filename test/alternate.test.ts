import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { outputImportance } from '../src/calibrate/importance.js';
import { readModel } from '../src/onnx/read.js';
import { alternateRefit, mixFilters } from '../src/rewrite/alternate.js';
import type { CandidateLayer } from '../src/rewrite/plan.js';
import { PointwiseStats } from '../src/rewrite/refit.js';
import { mulberry32 } from '../src/util/random.js';
import { fixture } from './helpers/cli.js';
import { pythonOnnx } from './helpers/python.js';

/**
 * The alternating refit works on statistics only (rewrite/alternate.ts): these tests check its algebra against
 * residuals computed directly on the data it summarises.
 */

const rng = mulberry32(11);
const gauss = () => {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
};

/** Zq [channels·q, pixels] as one batch (NCHW flattened with one pixel row per channel). */
function randomZ(rows: number, pixels: number): Float64Array {
  return Float64Array.from({ length: rows * pixels }, gauss);
}

/** Z = Â·Zq for mix [C, r, q]. */
function applyMix(zq: Float64Array, mix: Float64Array, channels: number, r: number, q: number, pixels: number): Float64Array {
  const z = new Float64Array(channels * r * pixels);
  for (let c = 0; c < channels; c++) {
    for (let u = 0; u < r; u++) {
      for (let j = 0; j < q; j++) {
        const w = mix[(c * r + u) * q + j];
        for (let p = 0; p < pixels; p++) z[(c * r + u) * pixels + p] += w * zq[(c * q + j) * pixels + p];
      }
    }
  }
  return z;
}

/** ‖P·Z + b − Y‖/‖Y‖ with one group, computed pixel by pixel. */
function directError(z: Float64Array, y: Float64Array, weights: Float64Array, bias: Float64Array, zRows: number, n: number, pixels: number): number {
  let e = 0;
  let yy = 0;
  for (let o = 0; o < n; o++) {
    for (let p = 0; p < pixels; p++) {
      let v = bias[o];
      for (let i = 0; i < zRows; i++) v += weights[o * zRows + i] * z[i * pixels + p];
      e += (v - y[o * pixels + p]) ** 2;
      yy += y[o * pixels + p] ** 2;
    }
  }
  return Math.sqrt(e / yy);
}

describe('PointwiseStats.mixed', () => {
  it('gives the statistics of Â·Zq exactly, per group', () => {
    // 2 groups of 2 input channels, q = 3 collected filters each, r = 2 mixed, 3 outputs per group, 40 pixels.
    const [groups, cg, q, r, ng, pixels] = [2, 2, 3, 2, 3, 40];
    const zq = randomZ(groups * cg * q, pixels);
    const y = randomZ(groups * ng, pixels);
    const mix = Float64Array.from({ length: groups * cg * r * q }, gauss);
    const collected = new PointwiseStats(groups, cg * q, ng);
    collected.add(zq, y, 1, pixels);
    const direct = new PointwiseStats(groups, cg * r, ng);
    direct.add(applyMix(zq, mix, groups * cg, r, q, pixels), y, 1, pixels);
    const mixed = collected.mixed(mix, r, q);
    const d = cg * r + 1;
    for (let G = 0; G < groups; G++) {
      for (let i = 0; i < d; i++) for (let j = i; j < d; j++) expect(mixed.gram[G][i * d + j]).toBeCloseTo(direct.gram[G][i * d + j], 9);
      direct.cross[G].forEach((v, i) => expect(mixed.cross[G][i]).toBeCloseTo(v, 9));
    }
    expect(mixed.yy).toBeCloseTo(direct.yy, 9);
  });
});

describe('alternateRefit', () => {
  it('finds a rank-1 pair whose filters are not the leading singular ones, and its error is the residual on the data', () => {
    // 3 input channels, q = 2 directions each, 4 outputs, 300 pixels. The truth: filter (cos θ_c, sin θ_c) in each
    // channel's 2-dimensional span, then a pointwise conv and bias: y is exactly a rank-1 pair, but not one whose
    // filters are the first direction, so the pointwise fit alone cannot reach it.
    const [C, q, r, N, pixels] = [3, 2, 1, 4, 300];
    const zq = randomZ(C * q, pixels);
    const angles = [0.9, -1.2, 2.1];
    const truth = Float64Array.from(angles.flatMap((t) => [Math.cos(t), Math.sin(t)]));
    const P = Float64Array.from({ length: N * C }, gauss);
    const b = Float64Array.from([0.5, -1, 2, 0]);
    const zTrue = applyMix(zq, truth, C, r, q, pixels);
    const y = new Float64Array(N * pixels);
    for (let o = 0; o < N; o++) for (let p = 0; p < pixels; p++) {
      let v = b[o];
      for (let c = 0; c < C; c++) v += P[o * C + c] * zTrue[c * pixels + p];
      y[o * pixels + p] = v;
    }
    const stats = new PointwiseStats(1, C * q, N);
    stats.add(zq, y, 1, pixels);
    // The pointwise fit on the first direction of each channel (what --calibrate does without --refit-depthwise).
    const first = stats.solve(0, [0, 2, 4]);
    const start = { weights: Float64Array.from([0, 1, 2, 3].flatMap((o) => [0, 2, 4].map((i) => first.weights[o * C * q + i]))), bias: first.bias, error: first.error };
    expect(start.error).toBeGreaterThan(0.1);
    const fit = alternateRefit(stats, r, q, start, { ridge: 1e-12, filterRidge: 1e-12, maxRounds: 500, tolerance: 0 });
    expect(fit.rounds).toBeGreaterThan(0);
    expect(fit.error).toBeLessThan(1e-4);
    // The statistics' error is the residual of the refitted pair on the data itself (near 0 the statistics' form
    // Σy² − 2xᵀh + xᵀGx cancels to about 1e-8, hence 6 digits here and 9 in the next test).
    const z = applyMix(zq, fit.mix, C, r, q, pixels);
    expect(directError(z, y, fit.weights, fit.bias, C * r, N, pixels)).toBeCloseTo(fit.error, 6);
    // Each filter is the true one up to scale (unit norm, sign free).
    for (let c = 0; c < C; c++) expect(Math.abs(fit.mix[c * 2] * truth[c * 2] + fit.mix[c * 2 + 1] * truth[c * 2 + 1])).toBeCloseTo(1, 4);
  });

  it('never ends above its start, and keeps the start when there is no freedom (r = q)', () => {
    const [C, q, N, pixels] = [4, 2, 3, 120];
    const zq = randomZ(C * q, pixels);
    const y = randomZ(N, pixels);
    const stats = new PointwiseStats(1, C * q, N);
    stats.add(zq, y, 1, pixels);
    const keep = [0, 2, 4, 6];
    const first = stats.solve(1e-2, keep);
    const start = { weights: Float64Array.from([0, 1, 2].flatMap((o) => keep.map((i) => first.weights[o * C * q + i]))), bias: first.bias, error: first.error };
    const fit = alternateRefit(stats, 1, q, start, { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3 });
    expect(fit.error).toBeLessThanOrEqual(start.error);
    const z = applyMix(zq, fit.mix, C, 1, q, pixels);
    expect(directError(z, y, fit.weights, fit.bias, C, N, pixels)).toBeCloseTo(fit.error, 9);
    // Measured on the data it was fitted on, every round is better: the last one is the best.
    const checked = alternateRefit(stats, 1, q, start, { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3, validation: stats });
    expect(checked.rounds).toBeGreaterThan(0);
    expect(checked.bestValidated).toBe(checked.rounds);
    // On unrelated data (the same inputs, other outputs) fitting these outputs better does not help.
    const other = new PointwiseStats(1, C * q, N);
    other.add(zq, randomZ(N, pixels), 1, pixels);
    const unrelated = alternateRefit(stats, 1, q, start, { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3, validation: other });
    expect(unrelated.bestValidated).toBeLessThan(unrelated.rounds);
    const full = stats.solve(1e-2);
    const same = alternateRefit(stats, q, q, { weights: full.weights, bias: full.bias, error: full.error }, { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3 });
    expect([same.rounds, same.error]).toEqual([0, full.error]);
  });
});

describe('mixFilters', () => {
  it('combines each channel\'s q filters into its r', () => {
    // 2 channels, q = 2 filters of 3 taps, r = 1: channel 0 takes 2·f0 − f1, channel 1 takes f1 only.
    const filters = Float64Array.from([1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 2]);
    const mix = Float64Array.from([2, -1, 0, 1]);
    expect([...mixFilters(filters, mix, 2, 1, 2)]).toEqual([2, -1, 0, 0, 0, 2]);
  });
});

describe('PointwiseStats.samplePixels', () => {
  it('keeps every pixel of a small map, and about want/total of a large one, spread over the map', () => {
    const s = new PointwiseStats(1, 96, 24);
    // 2¹⁵ samples wanted (128·97 is less): 96×96 maps over 6 batches (55,296 pixels) are used whole.
    expect(s.samplePixels(9216, 6 * 9216, 0)).toBeNull();
    // 160×160 over 6 batches (153,600): one pixel in 4, by hash.
    const picked = s.samplePixels(25600, 6 * 25600, 3)!;
    expect(Math.abs(picked.length - 6400)).toBeLessThan(400);
    expect([...picked].every((p, i) => p >= 0 && p < 25600 && (i === 0 || p > picked[i - 1]))).toBe(true);
    // Every row of the map and every column of it is sampled.
    expect(new Set([...picked].map((p) => Math.floor(p / 160))).size).toBe(160);
    expect(new Set([...picked].map((p) => p % 160)).size).toBe(160);
    // Another batch (salt) picks other pixels.
    const other = new Set(s.samplePixels(25600, 6 * 25600, 4)!);
    expect([...picked].filter((p) => other.has(p)).length).toBeLessThan(picked.length / 2);
  });
});

describe('alternateRefit with output weights', () => {
  it('fits the filters to the output channels that count (as a BatchNormalization after the conv scales them)', () => {
    // 2 input channels, q = 2, rank 1, 2 outputs. Output 0 is exactly a rank-1 pair with filter angles (0.4, 1.9),
    // output 1 one with angles (−1, 2.6): no single set of filters serves both. Weighting one output (1 against
    // 1e-9) makes the refit find that output's filters and fit it exactly.
    const [C, q, N, pixels] = [2, 2, 2, 200];
    const zq = randomZ(C * q, pixels);
    const anglesOf = [[0.4, 1.9], [-1, 2.6]];
    const y = new Float64Array(N * pixels);
    anglesOf.forEach((angles, o) => {
      const z = applyMix(zq, Float64Array.from(angles.flatMap((t) => [Math.cos(t), Math.sin(t)])), C, 1, q, pixels);
      for (let p = 0; p < pixels; p++) y[o * pixels + p] = 1.5 * z[p] - 0.7 * z[pixels + p] + o;
    });
    const stats = new PointwiseStats(1, C * q, N);
    stats.add(zq, y, 1, pixels);
    const first = stats.solve(0, [0, 2]);
    const start = { weights: Float64Array.from([first.weights[0], first.weights[2], first.weights[4], first.weights[6]]), bias: first.bias, error: first.error };
    for (const [o, outputWeights] of [[0, Float64Array.from([1, 1e-9])], [1, Float64Array.from([1e-9, 1])]] as const) {
      const fit = alternateRefit(stats, 1, q, start, { ridge: 1e-12, filterRidge: 1e-12, maxRounds: 500, tolerance: 0, outputWeights });
      const residuals = stats.mixed(fit.mix, 1, q).residuals(fit.weights, fit.bias);
      expect(Math.sqrt(residuals[o] / stats.yyOut[o])).toBeLessThan(1e-3);
      expect(Math.sqrt(residuals[1 - o] / stats.yyOut[1 - o])).toBeGreaterThan(0.05);
    }
  });
});

describe('outputImportance', () => {
  it("is (γ/√(σ² + ε))² of the BatchNormalization after PaddleOCR cls's stem, as onnx's numpy_helper reads it", () => {
    const path = fixture('real/ppocr_mobile_v2_cls.onnx');
    const model = readModel(path);
    const conv = model.graph.nodes.find((n) => n.name === 'p2o.Conv.0')!;
    const layer = { node: conv, graph: model.graph, conv: { outChannels: 8 } } as unknown as CandidateLayer;
    const w = outputImportance(model, layer)!;
    expect(w).toHaveLength(8);
    if (!pythonOnnx()) return;
    const script = [
      'import onnx, sys, json',
      'from onnx import numpy_helper',
      'm = onnx.load(sys.argv[1])',
      'conv = next(n for n in m.graph.node if n.name == "p2o.Conv.0")',
      'bn = next(n for n in m.graph.node if conv.output[0] in n.input)',
      'init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}',
      'init.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node if n.op_type == "Constant"})',
      'eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)',
      'g, v = init[bn.input[1]].astype("float64"), init[bn.input[4]].astype("float64")',
      'print(json.dumps([bn.op_type] + list(g * g / (v + eps))))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
    const [op, ...expected] = JSON.parse(r.stdout);
    expect(op).toBe('BatchNormalization');
    expected.forEach((e: number, i: number) => expect(w[i]).toBeCloseTo(e, 4));
    // A conv that feeds anything but a BatchNormalization alone gets no weights (all channels alike).
    const det = readModel(fixture('real/ppocr_v4_det.onnx'));
    const se = det.graph.nodes.find((n) => n.name === 'p2o.Conv.58')!;
    expect(outputImportance(det, { node: se, graph: det.graph, conv: { outChannels: 24 } } as unknown as CandidateLayer)).toBeNull();
  });
});
