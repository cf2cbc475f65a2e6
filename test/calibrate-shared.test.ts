import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/calibrate/npy.js';
import { mulberry32 } from '../src/util/random.js';
import { buildModel } from './helpers/build-model.js';
import { separateJson, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';

/**
 * Convs that share a weight share their separated weights in the rewrite, so `--calibrate` fits them once, on all
 * their uses together (the summed least squares), when the uses are parallel (a detector head applied to every
 * pyramid level); when one use feeds another they keep their SVD weights and say why. Convs inside If branches are
 * read as extra outputs of their branch and If node, and fitted on the batches that run their branch.
 */

const { onnx } = onnxProto;
const ort = loadOrt();
const FLOAT = 1;

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-calibrate-shared-');
});

function gaussian(next: () => number, n: number): number[] {
  return Array.from({ length: n }, () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  });
}

/**
 * x [1, 4, 8, 8]: a = Conv(x, W, Ba) and b = Conv(MaxPool(x), W, Bb), one 3×3 weight W [6, 4, 3, 3] at two scales,
 * each with its own bias; `chained`: c = Conv(Relu(Conv(x, V)), V), one 4 → 4 weight used twice in a row.
 */
function sharedModel(chained: boolean): Uint8Array {
  const next = mulberry32(7);
  const conv = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
  if (chained) {
    return buildModel({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 4, 8, 8] }],
      outputs: [{ name: 'c', dtype: FLOAT, shape: [1, 4, 8, 8] }],
      initializers: [{ name: 'V', dtype: FLOAT, dims: [4, 4, 3, 3], values: gaussian(next, 144).map((v) => v / 6) }],
      nodes: [
        { op: 'Conv', inputs: ['x', 'V'], outputs: ['h'], attrs: conv, name: 'first' },
        { op: 'Relu', inputs: ['h'], outputs: ['r'], name: 'relu' },
        { op: 'Conv', inputs: ['r', 'V'], outputs: ['c'], attrs: conv, name: 'second' },
      ],
    });
  }
  return buildModel({
    inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 4, 8, 8] }],
    outputs: [
      { name: 'a', dtype: FLOAT, shape: [1, 6, 8, 8] },
      { name: 'b', dtype: FLOAT, shape: [1, 6, 4, 4] },
    ],
    initializers: [
      { name: 'W', dtype: FLOAT, dims: [6, 4, 3, 3], values: gaussian(next, 216).map((v) => v / 6) },
      { name: 'Ba', dtype: FLOAT, dims: [6], values: gaussian(next, 6) },
      { name: 'Bb', dtype: FLOAT, dims: [6], values: gaussian(next, 6) },
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'W', 'Ba'], outputs: ['a'], attrs: conv, name: 'level3' },
      { op: 'MaxPool', inputs: ['x'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, name: 'pool' },
      { op: 'Conv', inputs: ['p', 'W', 'Bb'], outputs: ['b'], attrs: conv, name: 'level4' },
    ],
  });
}

/** 8 batches of x with some spatial structure (smooth ramps plus noise): 6 fitted, 2 held back. */
function batches(folder: string): string[] {
  mkdirSync(folder, { recursive: true });
  const next = mulberry32(11);
  const names: string[] = [];
  for (let k = 0; k < 8; k++) {
    const noise = gaussian(next, 256);
    const values = noise.map((v, i) => {
      const c = Math.floor(i / 64);
      const y = Math.floor((i % 64) / 8);
      const x = i % 8;
      return Math.sin((x + 2 * y) / (c + 2) + k) + 0.3 * v;
    });
    const name = `${k}.npy`;
    writeFileSync(join(folder, name), encodeNpy([1, 4, 8, 8], values));
    names.push(name);
  }
  return names;
}

describe.skipIf(!ort)('--calibrate with convs that share a weight', () => {
  it('two parallel uses with biases of their own: one fit of the tied weights on both uses, whose error is the one ONNX Runtime gives over both outputs', async () => {
    const work = join(dir, 'parallel');
    mkdirSync(work);
    const model = join(work, 'shared.onnx');
    writeFileSync(model, sharedModel(false));
    const data = join(work, 'data');
    const files = batches(data);
    const out = join(work, 'out.onnx');
    const r = separateJson([model, '-o', out, '--calibrate', data]);
    const layers = r.calibration.layers;
    expect(layers.map((l: { name: string }) => l.name)).toEqual(['level3', 'level4']);
    for (const l of layers) {
      expect(l.kept).toBeNull();
      expect(l.uses).toBe(2);
    }
    // One fit: the same figures for both uses.
    expect(layers[1].refitError).toBe(layers[0].refitError);
    expect(layers[1].svdError).toBe(layers[0].svdError);
    expect(layers[0].refitError).toBeLessThan(layers[0].svdError * 0.7);
    expect(r.calibration.notes).toContain('2 convs share their weights with others: each shared weight was fitted once, on all its uses together (their errors are over all the uses)');
    // The rewrite keeps the weight shared: one depthwise and one pointwise tensor, read by both pairs.
    const m = onnx.ModelProto.decode(readFileSync(out));
    const weights = m.graph!.initializer!.map((t) => t.name).filter((n) => /_(dw|pw)_weight/.test(n!));
    expect(weights).toHaveLength(2);
    const pointwise = m.graph!.node!.filter((n) => n.name!.endsWith('_pointwise'));
    expect(pointwise).toHaveLength(2);
    expect(pointwise[0].input![1]).toBe(pointwise[1].input![1]);
    // The error reported for the fit is ‖Ŷ − Y‖/‖Y‖ over both convs' outputs on the 6 fitting batches, as ONNX
    // Runtime computes it from the original and the written model (float32 there, float64 in the fit).
    let dd = 0;
    let yy = 0;
    for (const f of files.slice(0, 6)) {
      const x = Float32Array.from(parseNpy(readFileSync(join(data, f)), f).data);
      const feeds = { x: { type: 'float32', dims: [1, 4, 8, 8], data: x } };
      const y = (await runModel(model, feeds)).outputs;
      const yHat = (await runModel(out, feeds)).outputs;
      for (const name of ['a', 'b']) {
        for (let i = 0; i < y[name].data.length; i++) {
          dd += (yHat[name].data[i] - y[name].data[i]) ** 2;
          yy += y[name].data[i] ** 2;
        }
      }
    }
    expect(Math.abs(Math.sqrt(dd / yy) - layers[0].refitError)).toBeLessThan(1e-5);
    // Held back: the written model is better than the plain SVD rewrite on both outputs.
    for (const [i, o] of r.calibration.outputs.entries()) expect(o.relativeError).toBeLessThan(r.calibration.svdOutputs[i].relativeError);
  });

  it('a use that feeds another: both keep their SVD weights and say why', () => {
    const work = join(dir, 'chained');
    mkdirSync(work);
    const model = join(work, 'chained.onnx');
    writeFileSync(model, sharedModel(true));
    const r = separateJson([model, '--dry-run', '--calibrate', 'random:4']);
    expect(r.calibration.layers.map((l: { name: string; kept: string; refitError: number | null }) => [l.name, l.kept, l.refitError])).toEqual([
      ['first', 'shares its weight with a conv upstream of it (a use feeds another): not fitted', null],
      ['second', 'shares its weight with a conv upstream of it (a use feeds another): not fitted', null],
    ]);
    // Nothing refitted: the check compares the SVD rewrite, and both figures are the same.
    expect(r.calibration.outputs[0].relativeError).toBe(r.calibration.svdOutputs[0].relativeError);
  });
});

/**
 * y = If(c, then: Conv(x, Wt, Bt), else: Conv(Relu(x), We)): each branch holds its conv's weights as initializers
 * of its own, x [1, 4, 8, 8] comes from the main graph, and c picks the branch per batch.
 */
function ifModel(): Uint8Array {
  const next = mulberry32(5);
  const T = onnx.AttributeProto.AttributeType;
  const tensor = (name: string, dims: number[], values: number[]) => ({ name, dataType: FLOAT, dims, floatData: values });
  const conv = (inputs: string[], output: string, name: string) => ({
    name,
    opType: 'Conv',
    input: inputs,
    output: [output],
    attribute: [
      { name: 'kernel_shape', type: T.INTS, ints: [3, 3] },
      { name: 'pads', type: T.INTS, ints: [1, 1, 1, 1] },
    ],
  });
  const out = (name: string) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: [1, 6, 8, 8].map((d) => ({ dimValue: d })) } } } });
  const thenBranch = {
    name: 'then',
    initializer: [tensor('Wt', [6, 4, 3, 3], gaussian(next, 216).map((v) => v / 6)), tensor('Bt', [6], gaussian(next, 6))],
    node: [conv(['x', 'Wt', 'Bt'], 'yt', 'then_conv')],
    output: [out('yt')],
  };
  const elseBranch = {
    name: 'else',
    initializer: [tensor('We', [6, 4, 3, 3], gaussian(next, 216).map((v) => v / 6))],
    node: [{ name: 'relu', opType: 'Relu', input: ['x'], output: ['r'] }, conv(['r', 'We'], 'ye', 'else_conv')],
    output: [out('ye')],
  };
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'branches',
      input: [
        { name: 'x', type: { tensorType: { elemType: FLOAT, shape: { dim: [1, 4, 8, 8].map((d) => ({ dimValue: d })) } } } },
        { name: 'c', type: { tensorType: { elemType: 9, shape: { dim: [] } } } },
      ],
      output: [out('y')],
      node: [
        {
          name: 'branch',
          opType: 'If',
          input: ['c'],
          output: ['y'],
          attribute: [
            { name: 'then_branch', type: T.GRAPH, g: thenBranch },
            { name: 'else_branch', type: T.GRAPH, g: elseBranch },
          ],
        },
      ],
    },
  }).finish();
}

describe.skipIf(!ort)('--calibrate with convs inside If branches', () => {
  /** 8 batches: x as in `batches`, c true on even batches (then) and false on odd ones (else). */
  function branchData(folder: string): void {
    batches(join(folder, 'x'));
    mkdirSync(join(folder, 'c'));
    for (let k = 0; k < 8; k++) writeFileSync(join(folder, 'c', `${k}.npy`), encodeNpy([], [k % 2 === 0 ? 1 : 0], '<i8'));
  }

  it('each branch is fitted on the batches that run it, and the check covers both', () => {
    const work = join(dir, 'if');
    mkdirSync(work);
    const model = join(work, 'if.onnx');
    writeFileSync(model, ifModel());
    const data = join(work, 'data');
    branchData(data);
    const r = separateJson([model, '--dry-run', '--calibrate', data]);
    const layers = r.calibration.layers;
    expect(layers.map((l: { name: string }) => l.name)).toEqual(['branch/then_branch/then_conv', 'branch/else_branch/else_conv']);
    for (const l of layers) {
      expect(l.kept).toBeNull();
      expect(l.refitError).toBeLessThan(l.svdError);
    }
    expect(r.calibration.outputs[0].relativeError).toBeLessThan(r.calibration.svdOutputs[0].relativeError);
    // At full rank the fitted pairs reproduce both branches (float32).
    const full = separateJson([model, '--dry-run', '--calibrate', data, '--multiplier', '6', '--allow-costlier']);
    expect(full.calibration.layers.map((l: { kept: string | null }) => l.kept)).toEqual([null, null]);
    expect(full.calibration.outputs[0].relativeError).toBeLessThan(1e-4);
  });

  it('a branch that never runs on the data keeps its SVD weights and says why', () => {
    const work = join(dir, 'if-one');
    mkdirSync(work);
    const model = join(work, 'if.onnx');
    writeFileSync(model, ifModel());
    const data = join(work, 'data');
    branchData(data);
    for (let k = 0; k < 8; k++) writeFileSync(join(data, 'c', `${k}.npy`), encodeNpy([], [1], '<i8'));
    const r = separateJson([model, '--dry-run', '--calibrate', data]);
    expect(r.calibration.layers.map((l: { kept: string | null }) => l.kept)).toEqual([null, 'its If branch did not run on the calibration data']);
  });
});
