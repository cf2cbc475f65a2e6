import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matchName } from '../src/budget/glob.js';
import { closeCalibration, prepareCalibration, refineOnData } from '../src/calibrate/run.js';
import { DataType } from '../src/onnx/dtype.js';
import { readModel, readModelBytes } from '../src/onnx/read.js';
import type { Piece } from '../src/onnx/splice.js';
import type { Model } from '../src/ir/types.js';
import { skipText } from '../src/report/separate-report.js';
import { emitSeparation } from '../src/rewrite/emit.js';
import { type SeparateOptions, copyPlan, planSeparation, sharedWeightKey } from '../src/rewrite/plan.js';
import { buildModel } from './helpers/build-model.js';
import { fixture } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

const OPTIONS: SeparateOptions = {
  include: [], exclude: [], minReduction: null, maxError: null, targetMacs: null, multiplier: 1, allowCostlier: false, init: 'svd', seed: 0,
  matches: (name, pattern) => matchName(pattern, name),
};

/**
 * X [1,1,4,4] → conv_a (2×2 kernel, no pads: [1,2,3,3]) → conv_p (1×1) → Z. conv_a's one input channel has, as an
 * [N = 2, K = 4] matrix, rows (3,0,0,0) and (0,4,0,0): singular values 4 and 3, so its rank-1 factors keep 4 and
 * lose 3: relative weight error √(3²/(3² + 4²)) = 0.6, and they are exact in float32.
 */
function twoConvs(): Model {
  return readModelBytes(
    buildModel({
      inputs: [{ name: 'X', shape: [1, 1, 4, 4] }],
      outputs: [{ name: 'Z', shape: [1, 2, 3, 3] }],
      initializers: [
        { name: 'W', dtype: DataType.FLOAT, dims: [2, 1, 2, 2], values: [3, 0, 0, 0, 0, 4, 0, 0] },
        { name: 'P', dtype: DataType.FLOAT, dims: [2, 2, 1, 1], values: [1, 2, 3, 4] },
      ],
      nodes: [
        { op: 'Conv', name: 'conv_a', inputs: ['X', 'W'], outputs: ['Y'], attrs: { kernel_shape: [2, 2] } },
        { op: 'Conv', name: 'conv_p', inputs: ['Y', 'P'], outputs: ['Z'], attrs: { kernel_shape: [1, 1] } },
      ],
    }),
    'two-convs.onnx',
  );
}

function bytesOf(model: Model, pieces: Piece[]): Uint8Array {
  return Buffer.concat(pieces.map((p) => (p instanceof Uint8Array ? p : model.source.view(p.start, p.end))));
}

describe('rewrite/plan.ts: the plan is plain data', () => {
  it('says which convs, at which rank, with which figures and weights, and why not, as codes', () => {
    const model = twoConvs();
    const plan = planSeparation(model, { ...OPTIONS, include: ['conv_a', 'nothing*'] });
    const [a, p] = plan.layers;
    expect(plan.chosen).toEqual([a]);
    expect([a.name, a.position, a.skipped, a.eligible, a.executions, a.pixels]).toEqual(['conv_a', 0, null, true, 1, 9]);
    // 9 pixels: MACs 9·1·2·4 = 72 → 9·1·4 + 9·2 = 54; params 8 → 4 + 2 = 6; ratio 1/N + 1/K = 1/2 + 1/4.
    expect(a.info).toEqual({ M: 1, N: 2, group: 1, kernel: [2, 2], multiplier: 1, macs: 72, macsAfter: 54, params: 8, paramsAfter: 6, reduction: 0.75 });
    expect(a.relativeError).toBeCloseTo(0.6, 12);
    expect(a.weights!.depthwise.dims).toEqual([1, 1, 2, 2]);
    expect(a.weights!.pointwise.dims).toEqual([2, 1, 1, 1]);
    expect([p.name, p.position, p.skipped, p.eligible, p.weights]).toEqual(['conv_p', 1, { code: 'already-pointwise' }, false, null]);
    expect(skipText(p.skipped!)).toBe('1×1 conv: already pointwise');
    // conv_p: 9·2·2 = 36 MACs, 4 params; conv_a saves 18 MACs and 2 params.
    expect([plan.before.totals.macs, plan.macsAfter, plan.before.totals.params, plan.paramsAfter]).toEqual([108, 90, 12, 10]);
    expect([plan.macsKnown, plan.target]).toEqual([true, null]);
    expect(plan.notes).toEqual([{ code: 'include-matches-nothing', pattern: 'nothing*', convs: ['conv_a', 'conv_p'], total: 2 }]);
    // Nothing in it is a function or a byte edit: the plan survives a structured clone.
    expect(() => structuredClone({ layers: plan.layers.map(({ node: _n, graph: _g, weight: _w, ...rest }) => rest), notes: plan.notes })).not.toThrow();
  });

  it('each selection option leaves its own code', () => {
    const model = twoConvs();
    const skipped = (options: Partial<SeparateOptions>) => planSeparation(model, { ...OPTIONS, ...options }).layers[0].skipped;
    expect(skipped({ exclude: ['conv_*'] })).toEqual({ code: 'excluded' });
    expect(skipped({ include: ['other'] })).toEqual({ code: 'not-included' });
    expect(skipped({ minReduction: 0.3 })).toEqual({ code: 'below-min-reduction', saving: 0.25, minReduction: 0.3 });
    // --max-error tries every rank that saves MACs: only rank 1 here (rank 2 costs 2·(1/2 + 1/4) = 1.5 of the conv).
    expect(skipped({ maxError: 0.5 })).toEqual({ code: 'weight-error', error: expect.closeTo(0.6, 12), maxError: 0.5, rank: 1 });
    expect(skipped({ maxError: 0.5, init: 'he' })).toBeNull();
    expect(skipped({ multiplier: 2 })).toEqual({ code: 'costlier', ratio: 1.5 });
  });

  it('convs that share a weight have one key: their new weights and params count once', () => {
    const model = readModel(fixture('edge/shared_weights.onnx'));
    const plan = planSeparation(model, OPTIONS);
    const [a, b] = plan.chosen;
    expect(sharedWeightKey(a)).toBe(sharedWeightKey(b));
    // conv_a 584 params (576 + bias 8) → 8·9 + 8·8 + 8 = 144; conv_b's pair is the same tensors.
    expect([plan.before.totals.params, plan.paramsAfter]).toEqual([584, 144]);
    model.source.close();
  });
});

describe('rewrite/emit.ts: one emitter turns a plan into edits', () => {
  it('replaces each chosen conv by its pair, removes the old weight, declares the depthwise output, and leaves the plan as it was', () => {
    const model = twoConvs();
    const plan = planSeparation(model, OPTIONS);
    const before = JSON.stringify(plan.layers.map(({ node: _n, graph: _g, weight: _w, ...rest }) => rest));
    const emitted = emitSeparation(plan, { outputPath: 'out.onnx' });
    expect(JSON.stringify(plan.layers.map(({ node: _n, graph: _g, weight: _w, ...rest }) => rest))).toBe(before);
    const bytes = bytesOf(model, emitted.pieces);
    // Deterministic: the same plan gives the same bytes.
    expect(bytesOf(model, emitSeparation(plan, { outputPath: 'out.onnx' }).pieces)).toEqual(bytes);
    expect(emitted.externalData).toBeNull();
    expect([...emitted.newNodes.values()]).toEqual([{ depthwise: 'conv_a_depthwise', pointwise: 'conv_a_pointwise', rank: 1, depthwiseOutput: 'Y_dw' }]);
    const out = readModelBytes(bytes, 'out.onnx');
    const g = out.graph;
    expect(g.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs])).toEqual([
      ['conv_a_depthwise', 'Conv', ['X', 'conv_a_dw_weight'], ['Y_dw']],
      ['conv_a_pointwise', 'Conv', ['Y_dw', 'conv_a_pw_weight'], ['Y']],
      ['conv_p', 'Conv', ['Y', 'P'], ['Z']],
    ]);
    expect(g.initializers.map((t) => [t.name, t.dims])).toEqual([
      ['P', [2, 2, 1, 1]],
      ['conv_a_dw_weight', [1, 1, 2, 2]],
      ['conv_a_pw_weight', [2, 1, 1, 1]],
    ]);
    const group = (n: number) => out.graph.nodes[n].attributes.find((x) => x.name === 'group')!.data;
    expect(group(0)).toEqual({ type: 'int', value: 1 });
    // Y is not declared by the model: the depthwise output's batch and feature map are unknown, its channels C·r.
    const dw = g.valueInfo.find((v) => v.name === 'Y_dw')!.type;
    expect(dw).toMatchObject({ kind: 'tensor', elemType: DataType.FLOAT, shape: [null, 1, null, null] });
  });

  it('a plan that chooses nothing emits the model byte for byte; a shared weight is written once', () => {
    const model = twoConvs();
    const plan = planSeparation(model, { ...OPTIONS, exclude: ['*'] });
    expect(plan.chosen).toEqual([]);
    expect(bytesOf(model, emitSeparation(plan, { outputPath: 'out.onnx' }).pieces)).toEqual(model.source.view(0, model.size));
    const shared = readModel(fixture('edge/shared_weights.onnx'));
    const out = readModelBytes(bytesOf(shared, emitSeparation(planSeparation(shared, OPTIONS), { outputPath: 'out.onnx' }).pieces));
    expect(out.graph.initializers.map((t) => t.name)).toEqual(['B', 'conv_a_dw_weight', 'conv_a_pw_weight']);
    expect(out.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.inputs[1])).toEqual(['conv_a_dw_weight', 'conv_a_pw_weight', 'conv_a_dw_weight', 'conv_a_pw_weight']);
    shared.source.close();
  });
});

describe('calibration takes a plan and returns a refined one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mbn-plan-emit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(loadOrt() === null)('refineOnData changes a copy: the input plan keeps its SVD weights', async () => {
    const model = readModel(fixture('models/tiny_cnn.onnx'));
    const plan = planSeparation(model, OPTIONS);
    const copy = copyPlan(plan);
    const weights = plan.chosen.map((c) => c.weights);
    const run = prepareCalibration(model, plan, 'random:4', 0, join(dir, 'out.onnx'));
    try {
      const refined = await refineOnData(run, plan, OPTIONS);
      expect(refined).not.toBe(plan);
      expect(plan.chosen.map((c) => c.weights)).toEqual(weights);
      expect(plan.chosen.every((c, i) => c.weights === weights[i])).toBe(true);
      expect(refined.chosen.map((c) => c.name)).toEqual(plan.chosen.map((c) => c.name));
      // The refit brings a bias of its own and new pointwise weights.
      for (const c of refined.chosen) expect(c.weights!.bias).not.toBeNull();
      expect(plan.chosen.every((c) => !c.weights!.bias)).toBe(true);
      expect(run.summary.layers.map((l) => l.kept)).toEqual(plan.chosen.map(() => null));
      // copyPlan itself shares nothing a refinement changes.
      expect(copy.layers.every((c, i) => c !== plan.layers[i] && c.position === i)).toBe(true);
    } finally {
      closeCalibration(run);
      model.source.close();
    }
  });
});
