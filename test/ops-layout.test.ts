import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModel } from '../src/onnx/read.js';
import { type InferResult, inferModel } from '../src/shape/infer.js';
import { type ModelSpec, type NodeSpec, type TensorSpec, buildAndRead, buildModel, inferSpec as run, layerMaking as layer, stateOf as st } from './helpers/build-model.js';
import { reasonText } from '../src/report/messages/analyze.js';

const FLOAT = 1;
const UINT8 = 2;
const INT32 = 6;
const INT64 = 7;
const BOOL = 9;
const INT64_MAX = 2 ** 63; // saturated to 2^63 − 1 by the model builder
const INT64_MIN = -(2 ** 63);

type Init = TensorSpec & { name: string };


const iota = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);
const i64 = (name: string, values: number[], dims = [values.length]): Init => ({ name, dtype: INT64, dims, values });
const f32 = (name: string, values: number[], dims = [values.length]): Init => ({ name, dtype: FLOAT, dims, values });

/** One node over initializers (and optional graph inputs); returns the result. */
function one(node: NodeSpec, initializers: Init[], opset = 13, inputs: ModelSpec['inputs'] = []): InferResult {
  return run({ nodes: [node], initializers, opset, inputs });
}

describe('dynamic-batch shape chain folds', () => {
  const chain = (opset: number): ModelSpec => ({
    opset,
    inputs: [{ name: 'x', dtype: FLOAT, shape: ['batch', 8, 8, 8] }],
    initializers: [i64('zero', [0], []), i64('minus1', [-1]), ...(opset >= 13 ? [i64('axes', [0])] : [])],
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Gather', inputs: ['s', 'zero'], outputs: ['b'], attrs: { axis: 0 } },
      opset >= 13
        ? { op: 'Unsqueeze', inputs: ['b', 'axes'], outputs: ['b1'] }
        : { op: 'Unsqueeze', inputs: ['b'], outputs: ['b1'], attrs: { axes: [0] } },
      { op: 'Concat', inputs: ['b1', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
    ],
    outputs: ['y'],
  });

  it('Shape → Gather → Unsqueeze → Concat → Reshape gives [4, 512] with --batch 4 (opset 13)', () => {
    const res = run(chain(13), { batch: 4 });
    expect(st(res, 's')).toEqual({ dtype: INT64, shape: [4], value: [4, 8, 8, 8] });
    expect(st(res, 'b')).toEqual({ dtype: INT64, shape: [], value: [4] });
    expect(st(res, 'b1')).toEqual({ dtype: INT64, shape: [1], value: [4] });
    expect(st(res, 'target')).toEqual({ dtype: INT64, shape: [2], value: [4, -1] });
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [4, 512] });
    for (const l of res.layers) expect(l.cost).toEqual({ macs: 0, flops: 0 });
    expect(res.outputs[0].state?.shape).toEqual([4, 512]);
  });

  it('works the same with Unsqueeze axes as an attribute (opset 11)', () => {
    const res = run(chain(11), { batch: 4 });
    expect(st(res, 'y').shape).toEqual([4, 512]);
  });

  it.skipIf(!existsSync('fixtures/models/dynamic_batch.onnx'))('folds the torch export fixtures/models/dynamic_batch.onnx', () => {
    const res = inferModel(readModel('fixtures/models/dynamic_batch.onnx'), { batch: 4 });
    const reshape = res.layers.find((l) => l.node.opType === 'Reshape')!;
    expect(reshape.outputs[0]?.shape).toEqual([4, 512]);
    expect(reshape.inputs[1]?.value).toEqual([4, -1]);
    expect(reshape.cost).toEqual({ macs: 0, flops: 0 });
  });
});

describe('Cast', () => {
  it('takes the dtype from `to` and converts known values (truncate, wrap, bool)', () => {
    const init = [f32('a', [1.7, -1.7, 300])];
    expect(st(one({ op: 'Cast', inputs: ['a'], outputs: ['y'], attrs: { to: INT64 } }, init), 'y')).toEqual({ dtype: INT64, shape: [3], value: [1, -1, 300] });
    expect(st(one({ op: 'Cast', inputs: ['a'], outputs: ['y'], attrs: { to: UINT8 } }, init), 'y').value).toEqual([1, 255, 44]);
    expect(st(one({ op: 'Cast', inputs: ['a'], outputs: ['y'], attrs: { to: BOOL } }, init), 'y')).toEqual({ dtype: BOOL, shape: [3], value: [1, 1, 1] });
  });

  it('CastLike takes the dtype of its second input', () => {
    const res = one({ op: 'CastLike', inputs: ['a', 'like'], outputs: ['y'] }, [i64('a', [3, 4]), f32('like', [0])], 15);
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [2], value: [3, 4] });
  });
});

describe('Reshape, Flatten, Squeeze, Unsqueeze', () => {
  const x = [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }];

  it('Reshape copies 0 dims and infers -1', () => {
    const res = one({ op: 'Reshape', inputs: ['x', 't'], outputs: ['y'] }, [i64('t', [0, -1])], 13, x);
    expect(st(res, 'y').shape).toEqual([2, 12]);
    const res2 = one({ op: 'Reshape', inputs: ['x', 't'], outputs: ['y'] }, [i64('t', [-1, 0, 2])], 13, x);
    expect(st(res2, 'y').shape).toEqual([4, 3, 2]);
  });

  it('Reshape allowzero (opset 14) keeps a literal 0', () => {
    const z: Init = { name: 'z', dtype: FLOAT, dims: [0, 3], values: [] };
    const res = one({ op: 'Reshape', inputs: ['z', 't'], outputs: ['y'], attrs: { allowzero: 1 } }, [z, i64('t', [3, 0])], 14);
    expect(st(res, 'y').shape).toEqual([3, 0]);
    // Without allowzero, 0 copies dim 1 (3): 9 elements from 0 is an error.
    const bad = one({ op: 'Reshape', inputs: ['z', 't'], outputs: ['y'] }, [z, i64('t', [3, 0])], 14);
    expect(reasonText(layer(bad, 'y').reason!)).toMatch(/element count/);
  });

  it('Reshape reports two -1s and uses the shape attribute before opset 5', () => {
    const bad = one({ op: 'Reshape', inputs: ['x', 't'], outputs: ['y'] }, [i64('t', [-1, -1])], 13, x);
    expect(reasonText(layer(bad, 'y').reason!)).toMatch(/more than one -1/);
    const old = one({ op: 'Reshape', inputs: ['x'], outputs: ['y'], attrs: { shape: [6, 4] } }, [], 1, x);
    expect(st(old, 'y').shape).toEqual([6, 4]);
  });

  it('Reshape keeps known values (row-major order unchanged)', () => {
    const res = one({ op: 'Reshape', inputs: ['a', 't'], outputs: ['y'] }, [i64('a', iota(6)), i64('t', [3, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [3, 2], value: iota(6) });
  });

  it('Flatten splits at axis (0, negative, rank)', () => {
    const flat = (axis: number) => st(one({ op: 'Flatten', inputs: ['x'], outputs: ['y'], attrs: { axis } }, [], 13, x), 'y').shape;
    expect(flat(0)).toEqual([1, 24]);
    expect(flat(1)).toEqual([2, 12]);
    expect(flat(-1)).toEqual([6, 4]);
    expect(flat(3)).toEqual([24, 1]);
  });

  it('Squeeze: axes attribute before 13, input from 13, all 1-dims without axes', () => {
    const x1 = [{ name: 'x', dtype: FLOAT, shape: [2, 1, 3, 1] }];
    expect(st(one({ op: 'Squeeze', inputs: ['x'], outputs: ['y'], attrs: { axes: [1] } }, [], 11, x1), 'y').shape).toEqual([2, 3, 1]);
    expect(st(one({ op: 'Squeeze', inputs: ['x'], outputs: ['y'] }, [], 13, x1), 'y').shape).toEqual([2, 3]);
    expect(st(one({ op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['y'] }, [i64('ax', [-1])], 13, x1), 'y').shape).toEqual([2, 1, 3]);
    expect(st(one({ op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['y'] }, [i64('ax', [])], 13, x1), 'y').shape).toEqual([2, 3]);
    const bad = one({ op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['y'] }, [i64('ax', [0])], 13, x1);
    expect(reasonText(layer(bad, 'y').reason!)).toMatch(/not 1/);
  });

  it('Unsqueeze normalizes axes against the output rank', () => {
    const x2 = [{ name: 'x', dtype: FLOAT, shape: [3, 4] }];
    expect(st(one({ op: 'Unsqueeze', inputs: ['x', 'ax'], outputs: ['y'] }, [i64('ax', [0, -1])], 13, x2), 'y').shape).toEqual([1, 3, 4, 1]);
    expect(st(one({ op: 'Unsqueeze', inputs: ['x'], outputs: ['y'], attrs: { axes: [1] } }, [], 11, x2), 'y').shape).toEqual([3, 1, 4]);
    expect(st(one({ op: 'Unsqueeze', inputs: ['x', 'ax'], outputs: ['y'] }, [i64('ax', [2, 0])], 13, x2), 'y').shape).toEqual([1, 3, 1, 4]);
  });
});

describe('Transpose', () => {
  it('reverses dims by default and permutes known values', () => {
    const res = one({ op: 'Transpose', inputs: ['x'], outputs: ['y'] }, [], 13, [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }]);
    expect(st(res, 'y').shape).toEqual([4, 3, 2]);
    const v = one({ op: 'Transpose', inputs: ['a'], outputs: ['y'], attrs: { perm: [1, 0] } }, [i64('a', iota(6), [2, 3])]);
    expect(st(v, 'y')).toEqual({ dtype: INT64, shape: [3, 2], value: [0, 3, 1, 4, 2, 5] });
  });
});

describe('Concat and Split', () => {
  it('Concat joins along the axis, with values', () => {
    const res = one({ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: 1 } }, [i64('a', [1, 2, 3, 4], [2, 2]), i64('b', [5, 6], [2, 1])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [2, 3], value: [1, 2, 5, 3, 4, 6] });
    const neg = one({ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: -1 } }, [i64('a', [1, 2]), i64('b', [3])]);
    expect(st(neg, 'y').value).toEqual([1, 2, 3]);
  });

  it('Concat rejects mismatched dims', () => {
    const res = one({ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: 0 } }, [i64('a', [1, 2, 3, 4], [2, 2]), i64('b', [5, 6, 7], [1, 3])]);
    expect(reasonText(layer(res, 'y').reason!)).toMatch(/cannot join/);
  });

  it('Split: equal parts, split input (13), split attribute (11), num_outputs (18)', () => {
    const a = i64('a', iota(6));
    const eq = one({ op: 'Split', inputs: ['a'], outputs: ['p', 'q', 'r'] }, [a]);
    expect([st(eq, 'p').value, st(eq, 'q').value, st(eq, 'r').value]).toEqual([[0, 1], [2, 3], [4, 5]]);
    const sized = one({ op: 'Split', inputs: ['a', 's'], outputs: ['p', 'q', 'r'] }, [a, i64('s', [1, 2, 3])]);
    expect([st(sized, 'p').value, st(sized, 'q').value, st(sized, 'r').value]).toEqual([[0], [1, 2], [3, 4, 5]]);
    const attr = one({ op: 'Split', inputs: ['a'], outputs: ['p', 'q'], attrs: { split: [4, 2] } }, [a], 11);
    expect([st(attr, 'p').shape, st(attr, 'q').shape]).toEqual([[4], [2]]);
    const x = [{ name: 'x', dtype: FLOAT, shape: [2, 10] }];
    const n18 = one({ op: 'Split', inputs: ['x'], outputs: ['p', 'q', 'r', 's'], attrs: { axis: 1, num_outputs: 4 } }, [], 18, x);
    expect(['p', 'q', 'r', 's'].map((o) => st(n18, o).shape)).toEqual([[2, 3], [2, 3], [2, 3], [2, 1]]);
    const uneven = one({ op: 'Split', inputs: ['x'], outputs: ['p', 'q', 'r'], attrs: { axis: 1 } }, [], 13, x);
    expect(reasonText(layer(uneven, 'p').reason!)).toMatch(/equal parts/);
  });
});

describe('Slice', () => {
  const data = i64('d', iota(10));
  const slice = (starts: number[], ends: number[], steps?: number[]) => {
    const inits = [data, i64('s', starts), i64('e', ends), i64('ax', [0]), ...(steps ? [i64('st', steps)] : [])];
    return st(one({ op: 'Slice', inputs: ['d', 's', 'e', 'ax', ...(steps ? ['st'] : [])], outputs: ['y'] }, inits), 'y');
  };

  it('handles negative starts and INT64_MAX ends', () => {
    expect(slice([-3], [INT64_MAX])).toEqual({ dtype: INT64, shape: [3], value: [7, 8, 9] });
  });

  it('handles steps both ways and INT64_MIN ends', () => {
    expect(slice([1], [8], [2]).value).toEqual([1, 3, 5, 7]);
    expect(slice([8], [1], [-2]).value).toEqual([8, 6, 4, 2]);
    expect(slice([-1], [INT64_MIN], [-1]).value).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('clamps out-of-range starts to an empty slice', () => {
    expect(slice([20], [30]).shape).toEqual([0]);
    expect(slice([5], [2]).shape).toEqual([0]);
  });

  it('reads starts/ends/axes attributes before opset 10', () => {
    const res = one(
      { op: 'Slice', inputs: ['x'], outputs: ['y'], attrs: { starts: [0, 1], ends: [1, 1000], axes: [0, 2] } },
      [],
      9,
      [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }],
    );
    expect(st(res, 'y').shape).toEqual([1, 3, 3]);
  });

  it('stays unknown when starts are not known', () => {
    const res = one({ op: 'Slice', inputs: ['d', 's', 'e'], outputs: ['y'] }, [data, i64('e', [3])], 13, [{ name: 's', dtype: INT64, shape: [1] }]);
    expect(layer(res, 'y').reason).toEqual({ code: 'shape-unknown', detail: 'the value of input 1 is only known at run time' });
  });
});

describe('Gather family', () => {
  const data = i64('d', iota(12), [3, 4]);

  it('Gather: indices shape replaces the axis, negative indices wrap', () => {
    const a0 = one({ op: 'Gather', inputs: ['d', 'i'], outputs: ['y'] }, [data, i64('i', [2, 0])]);
    expect(st(a0, 'y')).toEqual({ dtype: INT64, shape: [2, 4], value: [8, 9, 10, 11, 0, 1, 2, 3] });
    const a1 = one({ op: 'Gather', inputs: ['d', 'i'], outputs: ['y'], attrs: { axis: 1 } }, [data, i64('i', [-1], [1, 1])]);
    expect(st(a1, 'y')).toEqual({ dtype: INT64, shape: [3, 1, 1], value: [3, 7, 11] });
  });

  it('Gather gives the shape alone when values are unknown, and rejects out-of-range folded indices', () => {
    const res = one({ op: 'Gather', inputs: ['x', 'i'], outputs: ['y'], attrs: { axis: 1 } }, [i64('i', [0, 1, 2], [3])], 13, [{ name: 'x', dtype: FLOAT, shape: [2, 5, 7] }]);
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [2, 3, 7] });
    const bad = one({ op: 'Gather', inputs: ['d', 'i'], outputs: ['y'] }, [data, i64('i', [3])]);
    expect(reasonText(layer(bad, 'y').reason!)).toMatch(/out of range/);
  });

  it('GatherElements (spec example)', () => {
    const res = one({ op: 'GatherElements', inputs: ['d', 'i'], outputs: ['y'], attrs: { axis: 1 } }, [i64('d', [1, 2, 3, 4], [2, 2]), i64('i', [0, 0, 1, 0], [2, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [2, 2], value: [1, 1, 4, 3] });
  });

  it('GatherND with and without batch_dims (spec examples)', () => {
    const d = i64('d', [0, 1, 2, 3], [2, 2]);
    expect(st(one({ op: 'GatherND', inputs: ['d', 'i'], outputs: ['y'] }, [d, i64('i', [0, 0, 1, 1], [2, 2])]), 'y')).toEqual({ dtype: INT64, shape: [2], value: [0, 3] });
    expect(st(one({ op: 'GatherND', inputs: ['d', 'i'], outputs: ['y'] }, [d, i64('i', [1, 0], [2, 1])]), 'y')).toEqual({ dtype: INT64, shape: [2, 2], value: [2, 3, 0, 1] });
    const d3 = i64('d', iota(8), [2, 2, 2]);
    const b1 = one({ op: 'GatherND', inputs: ['d', 'i'], outputs: ['y'], attrs: { batch_dims: 1 } }, [d3, i64('i', [1, 0], [2, 1])]);
    expect(st(b1, 'y')).toEqual({ dtype: INT64, shape: [2, 2], value: [2, 3, 4, 5] });
  });
});

describe('Scatter family', () => {
  it('ScatterND (spec example 1)', () => {
    const res = one({ op: 'ScatterND', inputs: ['d', 'i', 'u'], outputs: ['y'] }, [i64('d', iota(8, 1)), i64('i', [4, 3, 1, 7], [4, 1]), i64('u', [9, 10, 11, 12])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [8], value: [1, 11, 3, 10, 9, 6, 7, 12] });
  });

  it('ScatterElements replaces, and adds with reduction=add (opset 16)', () => {
    const inits = [i64('d', [1, 2, 3, 4, 5], [1, 5]), i64('i', [1, 3], [1, 2]), i64('u', [11, 21], [1, 2])];
    const res = one({ op: 'ScatterElements', inputs: ['d', 'i', 'u'], outputs: ['y'], attrs: { axis: 1 } }, inits);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [1, 5], value: [1, 11, 3, 21, 5] });
    const add = one(
      { op: 'ScatterElements', inputs: ['d', 'i', 'u'], outputs: ['y'], attrs: { axis: 1, reduction: 'add' } },
      [i64('d', [1, 2, 3, 4, 5], [1, 5]), i64('i', [1, 1], [1, 2]), i64('u', [10, 20], [1, 2])],
      16,
    );
    expect(st(add, 'y').value).toEqual([1, 32, 3, 4, 5]);
  });

  it('Scatter (opset 9) keeps the data shape', () => {
    const res = one({ op: 'Scatter', inputs: ['x', 'i', 'u'], outputs: ['y'], attrs: { axis: 0 } }, [i64('i', [0, 1], [1, 2])], 9, [
      { name: 'x', dtype: FLOAT, shape: [3, 2] },
      { name: 'u', dtype: FLOAT, shape: [1, 2] },
    ]);
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [3, 2] });
  });
});

describe('Expand and Tile', () => {
  it('Expand broadcasts both ways', () => {
    const res = one({ op: 'Expand', inputs: ['a', 's'], outputs: ['y'] }, [i64('a', [1, 2, 3], [3, 1]), i64('s', [3, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [3, 2], value: [1, 1, 2, 2, 3, 3] });
    const big = one({ op: 'Expand', inputs: ['a', 's'], outputs: ['y'] }, [i64('a', [1, 2, 3], [3, 1]), i64('s', [2, 1, 6])]);
    expect(st(big, 'y').shape).toEqual([2, 3, 6]);
    const keep = one({ op: 'Expand', inputs: ['a', 's'], outputs: ['y'] }, [i64('a', [1, 2, 3]), i64('s', [1])]);
    expect(st(keep, 'y').shape).toEqual([3]);
  });

  it('Tile repeats along every axis', () => {
    const res = one({ op: 'Tile', inputs: ['a', 'r'], outputs: ['y'] }, [i64('a', [1, 2, 3, 4], [2, 2]), i64('r', [1, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [2, 4], value: [1, 2, 1, 2, 3, 4, 3, 4] });
  });
});

describe('Pad', () => {
  it('constant mode (opset 11 inputs), begin pads then end pads', () => {
    const res = one({ op: 'Pad', inputs: ['a', 'p'], outputs: ['y'] }, [i64('a', [1, 2, 3, 4], [2, 2]), i64('p', [0, 1, 1, 0])], 11);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [3, 3], value: [0, 1, 2, 0, 3, 4, 0, 0, 0] });
    const withValue = one({ op: 'Pad', inputs: ['a', 'p', 'c'], outputs: ['y'] }, [i64('a', [1]), i64('p', [1, 1]), i64('c', [9], [])], 11);
    expect(st(withValue, 'y').value).toEqual([9, 1, 9]);
  });

  it('reflect, edge and wrap (opset 19) modes', () => {
    const pad = (mode: string, opset = 13) =>
      st(one({ op: 'Pad', inputs: ['a', 'p'], outputs: ['y'], attrs: { mode } }, [i64('a', [1, 2, 3]), i64('p', [2, 2])], opset), 'y').value;
    expect(pad('reflect')).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(pad('edge')).toEqual([1, 1, 1, 2, 3, 3, 3]);
    expect(pad('wrap', 19)).toEqual([2, 3, 1, 2, 3, 1, 2]);
  });

  it('pads attribute (opset 2), negative pads crop, axes input (opset 18)', () => {
    const x = [{ name: 'x', dtype: FLOAT, shape: [2, 3] }];
    expect(st(one({ op: 'Pad', inputs: ['x'], outputs: ['y'], attrs: { pads: [0, 1, 1, 1] } }, [], 2, x), 'y').shape).toEqual([3, 5]);
    expect(st(one({ op: 'Pad', inputs: ['x', 'p'], outputs: ['y'] }, [i64('p', [0, -1, 0, 0])], 13, x), 'y').shape).toEqual([2, 2]);
    expect(st(one({ op: 'Pad', inputs: ['x', 'p', '', 'ax'], outputs: ['y'] }, [i64('p', [1, 1]), i64('ax', [-1])], 18, x), 'y').shape).toEqual([2, 5]);
  });
});

describe('DepthToSpace and SpaceToDepth', () => {
  const d = i64('d', iota(8), [1, 8, 1, 1]);
  it('DCR and CRD orders', () => {
    const dcr = one({ op: 'DepthToSpace', inputs: ['d'], outputs: ['y'], attrs: { blocksize: 2 } }, [d], 11);
    expect(st(dcr, 'y')).toEqual({ dtype: INT64, shape: [1, 2, 2, 2], value: [0, 2, 4, 6, 1, 3, 5, 7] });
    const crd = one({ op: 'DepthToSpace', inputs: ['d'], outputs: ['y'], attrs: { blocksize: 2, mode: 'CRD' } }, [d], 11);
    expect(st(crd, 'y').value).toEqual(iota(8));
  });

  it('SpaceToDepth inverts DCR', () => {
    const res = one({ op: 'SpaceToDepth', inputs: ['s'], outputs: ['y'], attrs: { blocksize: 2 } }, [i64('s', [0, 2, 4, 6, 1, 3, 5, 7], [1, 2, 2, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [1, 8, 1, 1], value: iota(8) });
    const x = one({ op: 'SpaceToDepth', inputs: ['x'], outputs: ['y'], attrs: { blocksize: 4 } }, [], 13, [{ name: 'x', dtype: FLOAT, shape: [1, 3, 32, 16] }]);
    expect(st(x, 'y').shape).toEqual([1, 48, 8, 4]);
  });
});

describe('OneHot, Trilu, ReverseSequence', () => {
  it('OneHot inserts depth at axis; negative indices count from depth', () => {
    const res = one({ op: 'OneHot', inputs: ['i', 'n', 'v'], outputs: ['y'] }, [i64('i', [0, 2, -1]), i64('n', [3], []), f32('v', [0, 1])], 11);
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [3, 3], value: [1, 0, 0, 0, 0, 1, 0, 0, 1] });
    const ax = one({ op: 'OneHot', inputs: ['i', 'n', 'v'], outputs: ['y'], attrs: { axis: 0 } }, [i64('n', [3], []), f32('v', [0, 1])], 11, [
      { name: 'i', dtype: INT64, shape: [2, 4] },
    ]);
    expect(st(ax, 'y')).toEqual({ dtype: FLOAT, shape: [3, 2, 4] });
  });

  it('Trilu upper/lower with k', () => {
    const a = i64('a', iota(9, 1), [3, 3]);
    expect(st(one({ op: 'Trilu', inputs: ['a'], outputs: ['y'] }, [a], 14), 'y').value).toEqual([1, 2, 3, 0, 5, 6, 0, 0, 9]);
    const lower = one({ op: 'Trilu', inputs: ['a', 'k'], outputs: ['y'], attrs: { upper: 0 } }, [a, i64('k', [-1], [])], 14);
    expect(st(lower, 'y').value).toEqual([0, 0, 0, 4, 0, 0, 7, 8, 0]);
  });

  it('ReverseSequence (spec example, time_axis 0)', () => {
    const res = one(
      { op: 'ReverseSequence', inputs: ['x', 'l'], outputs: ['y'], attrs: { time_axis: 0, batch_axis: 1 } },
      [i64('x', iota(16), [4, 4]), i64('l', [4, 3, 2, 1])],
      10,
    );
    expect(st(res, 'y').value).toEqual([12, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15]);
  });
});

describe('data-dependent shapes: Compress, NonZero, Unique', () => {
  it('Compress along an axis and flattened', () => {
    const a = i64('a', iota(6, 1), [3, 2]);
    const ax = one({ op: 'Compress', inputs: ['a', 'c'], outputs: ['y'], attrs: { axis: 0 } }, [a, { name: 'c', dtype: BOOL, dims: [3], values: [0, 1, 1] }], 11);
    expect(st(ax, 'y')).toEqual({ dtype: INT64, shape: [2, 2], value: [3, 4, 5, 6] });
    const flat = one({ op: 'Compress', inputs: ['a', 'c'], outputs: ['y'] }, [a, { name: 'c', dtype: BOOL, dims: [5], values: [0, 1, 0, 0, 1] }], 11);
    expect(st(flat, 'y')).toEqual({ dtype: INT64, shape: [2], value: [2, 5] });
  });

  it('Compress with an unknown condition stays unknown', () => {
    const res = one({ op: 'Compress', inputs: ['x', 'c'], outputs: ['y'], attrs: { axis: 0 } }, [], 11, [
      { name: 'x', dtype: FLOAT, shape: [3, 2] },
      { name: 'c', dtype: BOOL, shape: [3] },
    ]);
    expect(layer(res, 'y').reason).toEqual({ code: 'shape-unknown', detail: 'the value of input 1 is only known at run time' });
    expect(st(res, 'y').shape).toBeNull();
  });

  it('NonZero folds known values and is unknown otherwise', () => {
    const res = one({ op: 'NonZero', inputs: ['a'], outputs: ['y'] }, [i64('a', [1, 0, 1, 1], [2, 2])]);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [2, 3], value: [0, 1, 1, 0, 0, 1] });
    const unknown = one({ op: 'NonZero', inputs: ['x'], outputs: ['y'] }, [], 13, [{ name: 'x', dtype: FLOAT, shape: [4] }]);
    expect(st(unknown, 'y').shape).toBeNull();
  });

  it('Unique: flattened, sorted and unsorted (spec examples)', () => {
    const x = i64('x', [2, 1, 1, 3, 4, 3]);
    const uns = one({ op: 'Unique', inputs: ['x'], outputs: ['y', 'i', 'inv', 'c'], attrs: { sorted: 0 } }, [x], 11);
    expect(['y', 'i', 'inv', 'c'].map((o) => st(uns, o).value)).toEqual([[2, 1, 3, 4], [0, 1, 3, 4], [0, 1, 1, 2, 3, 2], [1, 2, 2, 1]]);
    const srt = one({ op: 'Unique', inputs: ['x'], outputs: ['y', 'i', 'inv', 'c'] }, [x], 11);
    expect(['y', 'i', 'inv', 'c'].map((o) => st(srt, o).value)).toEqual([[1, 2, 3, 4], [1, 0, 3, 4], [1, 0, 0, 2, 3, 2], [2, 1, 2, 1]]);
  });

  it('Unique along axis 0 (spec example)', () => {
    const res = one({ op: 'Unique', inputs: ['x'], outputs: ['y', 'i', 'inv', 'c'], attrs: { axis: 0 } }, [i64('x', [1, 0, 0, 1, 0, 0, 2, 3, 4], [3, 3])], 11);
    expect(st(res, 'y')).toEqual({ dtype: INT64, shape: [2, 3], value: [1, 0, 0, 2, 3, 4] });
    expect(['i', 'inv', 'c'].map((o) => st(res, o).value)).toEqual([[0, 2], [0, 0, 1], [2, 1]]);
  });
});

describe('TopK and CumSum', () => {
  it('TopK shapes, dtypes and cost n·max(1, log2 k)', () => {
    const x = [{ name: 'x', dtype: FLOAT, shape: [3, 4] }];
    const res = one({ op: 'TopK', inputs: ['x', 'k'], outputs: ['v', 'i'] }, [i64('k', [2])], 11, x);
    expect(st(res, 'v')).toEqual({ dtype: FLOAT, shape: [3, 2] });
    expect(st(res, 'i')).toEqual({ dtype: INT64, shape: [3, 2] });
    expect(layer(res, 'v').cost).toEqual({ macs: 0, flops: 12 });
    const k4 = one({ op: 'TopK', inputs: ['x', 'k'], outputs: ['v', 'i'] }, [i64('k', [4])], 11, x);
    expect(layer(k4, 'v').cost).toEqual({ macs: 0, flops: 24 });
    const old = one({ op: 'TopK', inputs: ['x'], outputs: ['v', 'i'], attrs: { k: 3, axis: 0 } }, [], 1, x);
    expect(st(old, 'v').shape).toEqual([3, 4]);
  });

  it('TopK folds values and indices, largest and smallest, ties by lower index', () => {
    const a = i64('a', [1, 3, 2, 3]);
    const big = one({ op: 'TopK', inputs: ['a', 'k'], outputs: ['v', 'i'] }, [a, i64('k', [2])], 11);
    expect([st(big, 'v').value, st(big, 'i').value]).toEqual([[3, 3], [1, 3]]);
    const small = one({ op: 'TopK', inputs: ['a', 'k'], outputs: ['v', 'i'], attrs: { largest: 0 } }, [a, i64('k', [2])], 11);
    expect([st(small, 'v').value, st(small, 'i').value]).toEqual([[1, 2], [0, 2]]);
  });

  it('CumSum: inclusive, exclusive, reverse; 1 flop per element', () => {
    const cum = (attrs: Record<string, number>) => one({ op: 'CumSum', inputs: ['a', 'ax'], outputs: ['y'], attrs }, [i64('a', [1, 2, 3, 4, 5]), { name: 'ax', dtype: INT32, dims: [], values: [0] }], 11);
    expect(st(cum({}), 'y').value).toEqual([1, 3, 6, 10, 15]);
    expect(st(cum({ exclusive: 1 }), 'y').value).toEqual([0, 1, 3, 6, 10]);
    expect(st(cum({ reverse: 1 }), 'y').value).toEqual([15, 14, 12, 9, 5]);
    expect(st(cum({ exclusive: 1, reverse: 1 }), 'y').value).toEqual([14, 12, 9, 5, 0]);
    expect(layer(cum({}), 'y').cost).toEqual({ macs: 0, flops: 5 });
  });
});

describe('Resize and Upsample', () => {
  const x = [{ name: 'x', dtype: FLOAT, shape: [1, 3, 4, 6] }];

  it('scales: floor(in · scale); linear costs 2 flops per output element per resized axis', () => {
    const res = one({ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { mode: 'linear' } }, [f32('s', [1, 1, 2, 1.5])], 13, x);
    expect(st(res, 'y')).toEqual({ dtype: FLOAT, shape: [1, 3, 8, 9] });
    expect(layer(res, 'y').cost).toEqual({ macs: 0, flops: 1 * 3 * 8 * 9 * 2 * 2 });
    const odd = one({ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'] }, [f32('s', [1, 1, 1.3, 0.5])], 13, x);
    expect(st(odd, 'y').shape).toEqual([1, 3, 5, 3]);
    expect(layer(odd, 'y').cost).toEqual({ macs: 0, flops: 0 });
  });

  it('cubic costs 8 flops per output element per resized axis', () => {
    const res = one({ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { mode: 'cubic' } }, [f32('s', [1, 1, 2, 1])], 13, x);
    expect(st(res, 'y').shape).toEqual([1, 3, 8, 6]);
    expect(layer(res, 'y').cost).toEqual({ macs: 0, flops: 1 * 3 * 8 * 6 * 8 });
  });

  it('sizes (opset 11 with empty roi/scales, opset 13)', () => {
    const r11 = one({ op: 'Resize', inputs: ['x', 'roi', 's', 'z'], outputs: ['y'] }, [f32('roi', []), f32('s', []), i64('z', [1, 3, 5, 7])], 11, x);
    expect(st(r11, 'y').shape).toEqual([1, 3, 5, 7]);
    const r13 = one({ op: 'Resize', inputs: ['x', '', '', 'z'], outputs: ['y'] }, [i64('z', [2, 3, 1, 1])], 13, x);
    expect(st(r13, 'y').shape).toEqual([2, 3, 1, 1]);
  });

  it('axes and keep_aspect_ratio_policy (opset 18)', () => {
    const pol = (policy: string) =>
      st(one({ op: 'Resize', inputs: ['x', '', '', 'z'], outputs: ['y'], attrs: { axes: [2, 3], keep_aspect_ratio_policy: policy } }, [i64('z', [10, 10])], 18, x), 'y').shape;
    expect(pol('stretch')).toEqual([1, 3, 10, 10]);
    // min(10/4, 10/6) = 1.6667 → [round(6.67), round(10)]; max = 2.5 → [10, 15].
    expect(pol('not_larger')).toEqual([1, 3, 7, 10]);
    expect(pol('not_smaller')).toEqual([1, 3, 10, 15]);
    const sc = one({ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { axes: [-1] } }, [f32('s', [0.5])], 18, x);
    expect(st(sc, 'y').shape).toEqual([1, 3, 4, 3]);
  });

  it('opset 10 Resize and Upsample (attribute scales at 7, input at 9)', () => {
    const r10 = one({ op: 'Resize', inputs: ['x', 's'], outputs: ['y'] }, [f32('s', [1, 1, 2, 2])], 10, x);
    expect(st(r10, 'y').shape).toEqual([1, 3, 8, 12]);
    const u7 = one({ op: 'Upsample', inputs: ['x'], outputs: ['y'], attrs: { scales: { floats: [1, 1, 2, 2] }, mode: 'linear' } }, [], 7, x);
    expect(st(u7, 'y').shape).toEqual([1, 3, 8, 12]);
    expect(layer(u7, 'y').cost).toEqual({ macs: 0, flops: 3 * 8 * 12 * 4 });
    const u9 = one({ op: 'Upsample', inputs: ['x', 's'], outputs: ['y'] }, [f32('s', [1, 1, 3, 1])], 9, x);
    expect(st(u9, 'y').shape).toEqual([1, 3, 12, 6]);
  });

  it('a scales tensor computed by shape arithmetic folds', () => {
    const res = run({
      opset: 13,
      inputs: x,
      initializers: [f32('head', [1, 1]), f32('tail', [2, 2])],
      nodes: [
        { op: 'Concat', inputs: ['head', 'tail'], outputs: ['s'], attrs: { axis: 0 } },
        { op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { mode: 'nearest' } },
      ],
    });
    expect(st(res, 'y').shape).toEqual([1, 3, 8, 12]);
  });
});

describe('data movement costs nothing', () => {
  it('Reshape, Transpose, Concat, Gather, Slice, Pad, Expand, Tile, Squeeze count 0', () => {
    const res = run({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }],
      initializers: [i64('t', [6, 4]), i64('i', [0]), i64('s', [0]), i64('e', [1]), i64('p', [0, 0, 1, 1]), i64('sh', [2, 1, 1, 1]), i64('r', [1, 1, 2]), i64('ax', [1])],
      nodes: [
        { op: 'Reshape', inputs: ['x', 't'], outputs: ['a'] },
        { op: 'Transpose', inputs: ['a'], outputs: ['b'] },
        { op: 'Concat', inputs: ['b', 'b'], outputs: ['c'], attrs: { axis: 0 } },
        { op: 'Gather', inputs: ['c', 'i'], outputs: ['d'] },
        { op: 'Slice', inputs: ['c', 's', 'e'], outputs: ['f'] },
        { op: 'Pad', inputs: ['a', 'p'], outputs: ['g'] },
        { op: 'Expand', inputs: ['x', 'sh'], outputs: ['h'] },
        { op: 'Tile', inputs: ['x', 'r'], outputs: ['k'] },
        { op: 'Squeeze', inputs: ['f', 'i'], outputs: ['m'] },
        { op: 'Unsqueeze', inputs: ['m', 'ax'], outputs: ['n'] },
      ],
    });
    expect(res.layers.map((l) => [l.node.opType, l.outputs[0]?.shape, l.cost])).toEqual([
      ['Reshape', [6, 4], { macs: 0, flops: 0 }],
      ['Transpose', [4, 6], { macs: 0, flops: 0 }],
      ['Concat', [8, 6], { macs: 0, flops: 0 }],
      ['Gather', [1, 6], { macs: 0, flops: 0 }],
      ['Slice', [1, 6], { macs: 0, flops: 0 }],
      ['Pad', [7, 5], { macs: 0, flops: 0 }],
      ['Expand', [2, 2, 3, 4], { macs: 0, flops: 0 }],
      ['Tile', [2, 3, 8], { macs: 0, flops: 0 }],
      ['Squeeze', [6], { macs: 0, flops: 0 }],
      ['Unsqueeze', [6, 1], { macs: 0, flops: 0 }],
    ]);
  });
});

// Cross-check with ONNX Runtime (a sound oracle, see the README, "Conformance"): every input is an initializer, so both sides fold.
const ORACLE_CASES: [string, NodeSpec, Init[], number][] = [
  ['slice neg', { op: 'Slice', inputs: ['d', 's', 'e', 'a', 't'], outputs: ['y'] }, [i64('d', iota(24), [2, 3, 4]), i64('s', [-1, 5]), i64('e', [-100, -5]), i64('a', [2, 1]), i64('t', [-2, -1])], 13],
  ['slice 3', { op: 'Slice', inputs: ['d', 's', 'e', 'a', 't'], outputs: ['y'] }, [i64('d', iota(24), [2, 3, 4]), i64('s', [1, 0]), i64('e', [INT64_MAX, 2]), i64('a', [0, -1]), i64('t', [1, 3])], 13],
  ['pad reflect 2d', { op: 'Pad', inputs: ['d', 'p'], outputs: ['y'], attrs: { mode: 'reflect' } }, [f32('d', iota(12), [3, 4]), i64('p', [2, 1, 1, 3])], 13],
  ['pad edge 2d', { op: 'Pad', inputs: ['d', 'p'], outputs: ['y'], attrs: { mode: 'edge' } }, [f32('d', iota(12), [3, 4]), i64('p', [2, -1, 1, 3])], 13],
  ['d2s dcr', { op: 'DepthToSpace', inputs: ['d'], outputs: ['y'], attrs: { blocksize: 2 } }, [f32('d', iota(48), [1, 12, 2, 2])], 13],
  ['d2s crd', { op: 'DepthToSpace', inputs: ['d'], outputs: ['y'], attrs: { blocksize: 2, mode: 'CRD' } }, [f32('d', iota(48), [1, 12, 2, 2])], 13],
  ['s2d', { op: 'SpaceToDepth', inputs: ['d'], outputs: ['y'], attrs: { blocksize: 2 } }, [f32('d', iota(48), [1, 3, 4, 4])], 13],
  ['unique axis1', { op: 'Unique', inputs: ['d'], outputs: ['y', 'i', 'v', 'c'], attrs: { axis: 1 } }, [f32('d', [1, 0, 1, 2, 3, 2, 1, 0, 1, 5, 6, 5], [2, 2, 3])], 13],
  ['gathernd b1', { op: 'GatherND', inputs: ['d', 'i'], outputs: ['y'], attrs: { batch_dims: 1 } }, [f32('d', iota(24), [2, 3, 4]), i64('i', [0, 1, 2, 2, 1, 0], [2, 3, 1])], 13],
  ['revseq batch0', { op: 'ReverseSequence', inputs: ['d', 'l'], outputs: ['y'], attrs: { batch_axis: 0, time_axis: 1 } }, [f32('d', iota(24), [2, 4, 3]), i64('l', [3, 1])], 13],
  ['topk axis0', { op: 'TopK', inputs: ['d', 'k'], outputs: ['y', 'i'], attrs: { axis: 0 } }, [f32('d', [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], [3, 4]), i64('k', [2])], 13],
  ['cumsum axis1 rev excl', { op: 'CumSum', inputs: ['d', 'a'], outputs: ['y'], attrs: { reverse: 1, exclusive: 1 } }, [f32('d', iota(12), [3, 4]), i64('a', [1], [])], 13],
  ['onehot axis1', { op: 'OneHot', inputs: ['i', 'n', 'v'], outputs: ['y'], attrs: { axis: 1 } }, [i64('i', [0, 3, 1, 2], [2, 2]), i64('n', [4], []), f32('v', [2, 5])], 13],
  ['trilu batch', { op: 'Trilu', inputs: ['d', 'k'], outputs: ['y'], attrs: { upper: 1 } }, [f32('d', iota(24), [2, 3, 4]), i64('k', [1], [])], 14],
  ['split18', { op: 'Split', inputs: ['d'], outputs: ['a', 'b', 'c'], attrs: { axis: 1, num_outputs: 3 } }, [f32('d', iota(14), [2, 7])], 18],
  ['gather elems', { op: 'GatherElements', inputs: ['d', 'i'], outputs: ['y'], attrs: { axis: 0 } }, [f32('d', iota(9), [3, 3]), i64('i', [1, 2, 0, 2, 0, -1], [2, 3])], 13],
  ['scatter elems mul', { op: 'ScatterElements', inputs: ['d', 'i', 'u'], outputs: ['y'], attrs: { axis: 0, reduction: 'mul' } }, [f32('d', iota(9), [3, 3]), i64('i', [1, 2, 0, 1, 2, 0], [2, 3]), f32('u', [2, 3, 4, 5, 6, 7], [2, 3])], 16],
  ['nonzero 3d', { op: 'NonZero', inputs: ['d'], outputs: ['y'] }, [f32('d', [0, 1, 0, 2, 3, 0, 0, 4], [2, 2, 2])], 13],
  ['compress neg axis', { op: 'Compress', inputs: ['d', 'c'], outputs: ['y'], attrs: { axis: -1 } }, [f32('d', iota(12), [3, 4]), { name: 'c', dtype: 9, dims: [3], values: [1, 0, 1] }], 13],
  ['tile', { op: 'Tile', inputs: ['d', 'r'], outputs: ['y'] }, [f32('d', iota(6), [2, 3]), i64('r', [2, 2])], 13],
  ['expand', { op: 'Expand', inputs: ['d', 's'], outputs: ['y'] }, [f32('d', iota(3), [3]), i64('s', [2, 1, 1])], 13],
  ['resize lin', { op: 'Resize', inputs: ['d', '', 's'], outputs: ['y'], attrs: { mode: 'linear' } }, [f32('d', iota(35), [1, 1, 5, 7]), f32('s', [1, 1, 1.3, 0.7])], 13],
  ['resize sizes nl', { op: 'Resize', inputs: ['d', '', '', 'z'], outputs: ['y'], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' } }, [f32('d', iota(35), [1, 1, 5, 7]), i64('z', [9, 9])], 18],
  ['resize sizes ns', { op: 'Resize', inputs: ['d', '', '', 'z'], outputs: ['y'], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller' } }, [f32('d', iota(35), [1, 1, 5, 7]), i64('z', [9, 9])], 18],
  ['resize 10', { op: 'Resize', inputs: ['d', 's'], outputs: ['y'] }, [f32('d', iota(35), [1, 1, 5, 7]), f32('s', [1, 1, 2.5, 1.1])], 10],
  ['upsample 9', { op: 'Upsample', inputs: ['d', 's'], outputs: ['y'] }, [f32('d', iota(35), [1, 1, 5, 7]), f32('s', [1, 1, 2, 3])], 9],
  ['flatten', { op: 'Flatten', inputs: ['d'], outputs: ['y'], attrs: { axis: -2 } }, [f32('d', iota(24), [2, 3, 4])], 13],
  ['cast int8', { op: 'Cast', inputs: ['d'], outputs: ['y'], attrs: { to: 3 } }, [f32('d', [-1.5, 200, 127.9, -129])], 13],
];

describe('folded values agree with onnxruntime', () => {
  for (const [label, node, inits, opset] of ORACLE_CASES) {
    it(label, async () => {
      const spec: ModelSpec = { nodes: [node], initializers: inits, opset, outputs: node.outputs };
      const session = await ort.InferenceSession.create(buildModel(spec));
      const expected = await session.run({});
      const mine = inferModel(buildAndRead(spec));
      for (const o of node.outputs) {
        const t = expected[o];
        const s = st(mine, o);
        expect(s.shape).toEqual([...t.dims]);
        if (s.value) expect(s.value).toEqual(Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v)));
      }
    });
  }
});
