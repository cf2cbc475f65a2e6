import { describe, expect, it } from 'vitest';
import { inferSpec as run, layerMaking as layer, stateOf as value } from './helpers/build-model.js';

const FLOAT = 1;
const INT64 = 7;
const STRING = 8;


describe('Constant', () => {
  it('reads a tensor value attribute with its dtype, dims and values', () => {
    const res = run({
      nodes: [{ op: 'Constant', outputs: ['c'], attrs: { value: { tensor: { dtype: INT64, dims: [2, 2], values: [1, -2, 3, -4] } } } }],
    });
    expect(value(res, 'c')).toEqual({ dtype: INT64, shape: [2, 2], value: [1, -2, 3, -4] });
    expect(layer(res, 'c').cost).toEqual({ macs: 0, flops: 0 });
  });

  it('reads value_float(s), value_int(s) and value_string(s) (opset 12)', () => {
    const res = run({
      opset: 12,
      nodes: [
        { op: 'Constant', outputs: ['f'], attrs: { value_float: { float: 1.5 } } },
        { op: 'Constant', outputs: ['fs'], attrs: { value_floats: { floats: [0.5, 2] } } },
        { op: 'Constant', outputs: ['i'], attrs: { value_int: -3 } },
        { op: 'Constant', outputs: ['is'], attrs: { value_ints: [4, 5, 6] } },
        { op: 'Constant', outputs: ['s'], attrs: { value_string: 'hi' } },
        { op: 'Constant', outputs: ['ss'], attrs: { value_strings: ['a', 'b'] } },
      ],
    });
    expect(value(res, 'f')).toEqual({ dtype: FLOAT, shape: [], value: [1.5] });
    expect(value(res, 'fs')).toEqual({ dtype: FLOAT, shape: [2], value: [0.5, 2] });
    expect(value(res, 'i')).toEqual({ dtype: INT64, shape: [], value: [-3] });
    expect(value(res, 'is')).toEqual({ dtype: INT64, shape: [3], value: [4, 5, 6] });
    expect(value(res, 's')).toEqual({ dtype: STRING, shape: [] });
    expect(value(res, 'ss')).toEqual({ dtype: STRING, shape: [2] });
  });

  it('float32 value_floats are rounded to float32', () => {
    const res = run({ opset: 12, nodes: [{ op: 'Constant', outputs: ['f'], attrs: { value_floats: { floats: [0.1] } } }] });
    expect(value(res, 'f').value).toEqual([Math.fround(0.1)]);
  });
});

describe('ConstantOfShape', () => {
  it('fills the shape given by a known tensor with the value attribute', () => {
    const res = run({
      initializers: [{ name: 'shape', dtype: INT64, dims: [2], values: [2, 3] }],
      nodes: [{ op: 'ConstantOfShape', inputs: ['shape'], outputs: ['y'], attrs: { value: { tensor: { dtype: INT64, dims: [1], values: [7] } } } }],
    });
    expect(value(res, 'y')).toEqual({ dtype: INT64, shape: [2, 3], value: [7, 7, 7, 7, 7, 7] });
  });

  it('defaults to float 0 and gives a scalar for an empty shape', () => {
    const res = run({
      initializers: [
        { name: 'shape', dtype: INT64, dims: [1], values: [3] },
        { name: 'empty', dtype: INT64, dims: [0], values: [] },
      ],
      nodes: [
        { op: 'ConstantOfShape', inputs: ['shape'], outputs: ['y'] },
        { op: 'ConstantOfShape', inputs: ['empty'], outputs: ['z'] },
      ],
    });
    expect(value(res, 'y')).toEqual({ dtype: FLOAT, shape: [3], value: [0, 0, 0] });
    expect(value(res, 'z')).toEqual({ dtype: FLOAT, shape: [], value: [0] });
  });

  it('does not carry values for large outputs, and stays unknown when the shape is unknown', () => {
    const res = run({
      inputs: [{ name: 's', dtype: INT64, shape: [2] }],
      initializers: [{ name: 'big', dtype: INT64, dims: [2], values: [100, 100] }],
      nodes: [
        { op: 'ConstantOfShape', inputs: ['big'], outputs: ['y'] },
        { op: 'ConstantOfShape', inputs: ['s'], outputs: ['z'] },
      ],
    });
    expect(value(res, 'y')).toEqual({ dtype: FLOAT, shape: [100, 100] });
    expect(layer(res, 'z').reason).toEqual({ code: 'shape-unknown', detail: 'the value of input 0 is only known at run time' });
    expect(value(res, 'z').shape).toBeNull();
  });
});

describe('Range', () => {
  const range = (dtype: number, start: number, limit: number, delta: number) =>
    value(
      run({
        initializers: [
          { name: 's', dtype, dims: [], values: [start] },
          { name: 'l', dtype, dims: [], values: [limit] },
          { name: 'd', dtype, dims: [], values: [delta] },
        ],
        nodes: [{ op: 'Range', inputs: ['s', 'l', 'd'], outputs: ['y'] }],
        opset: 11,
      }),
      'y',
    );

  it('counts max(ceil((limit − start) / delta), 0) elements', () => {
    expect(range(INT64, 1, 10, 3)).toEqual({ dtype: INT64, shape: [3], value: [1, 4, 7] });
    expect(range(INT64, 10, 1, -3)).toEqual({ dtype: INT64, shape: [3], value: [10, 7, 4] });
    expect(range(INT64, 5, 1, 2)).toEqual({ dtype: INT64, shape: [0], value: [] });
    expect(range(FLOAT, 0, 1, 0.25)).toEqual({ dtype: FLOAT, shape: [4], value: [0, 0.25, 0.5, 0.75] });
  });
});

describe('Shape and Size', () => {
  const shapeOf = (opset: number, attrs: Record<string, number> = {}) =>
    value(
      run({
        opset,
        inputs: [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }],
        nodes: [{ op: 'Shape', inputs: ['x'], outputs: ['s'], attrs }],
      }),
      's',
    );

  it('gives the input shape as an int64 vector with its values', () => {
    expect(shapeOf(13)).toEqual({ dtype: INT64, shape: [3], value: [2, 3, 4] });
  });

  it('honours start/end from opset 15 (negative, clamped, empty)', () => {
    expect(shapeOf(15, { start: 1 }).value).toEqual([3, 4]);
    expect(shapeOf(15, { start: -1 }).value).toEqual([4]);
    expect(shapeOf(15, { end: -2 }).value).toEqual([2]);
    expect(shapeOf(15, { start: -10, end: 10 }).value).toEqual([2, 3, 4]);
    expect(shapeOf(15, { start: 2, end: 1 })).toEqual({ dtype: INT64, shape: [0], value: [] });
    // Before opset 15 the attributes do not exist.
    expect(shapeOf(13, { start: 1 }).value).toEqual([2, 3, 4]);
  });

  it('Size is an int64 scalar holding the element count', () => {
    const res = run({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [2, 3, 4] }],
      nodes: [{ op: 'Size', inputs: ['x'], outputs: ['n'] }],
    });
    expect(value(res, 'n')).toEqual({ dtype: INT64, shape: [], value: [24] });
  });

  it('follows the batch bound to a symbolic dim', () => {
    const res = run(
      {
        inputs: [{ name: 'x', dtype: FLOAT, shape: ['N', 3] }],
        nodes: [{ op: 'Shape', inputs: ['x'], outputs: ['s'] }],
      },
      { batch: 6 },
    );
    expect(value(res, 's').value).toEqual([6, 3]);
  });
});

describe('Identity and EyeLike', () => {
  it('Identity passes shape, dtype and values through', () => {
    const res = run({
      initializers: [{ name: 'a', dtype: INT64, dims: [3], values: [1, 2, 3] }],
      nodes: [{ op: 'Identity', inputs: ['a'], outputs: ['b'] }],
    });
    expect(value(res, 'b')).toEqual({ dtype: INT64, shape: [3], value: [1, 2, 3] });
    expect(layer(res, 'b').cost).toEqual({ macs: 0, flops: 0 });
  });

  it('EyeLike puts ones on diagonal k, dtype from the attribute', () => {
    const res = run({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [2, 3] }],
      nodes: [
        { op: 'EyeLike', inputs: ['x'], outputs: ['e'], attrs: { k: 1, dtype: INT64 } },
        { op: 'EyeLike', inputs: ['x'], outputs: ['f'] },
      ],
    });
    expect(value(res, 'e')).toEqual({ dtype: INT64, shape: [2, 3], value: [0, 1, 0, 0, 0, 1] });
    expect(value(res, 'f')).toEqual({ dtype: FLOAT, shape: [2, 3], value: [1, 0, 0, 0, 1, 0] });
  });
});
