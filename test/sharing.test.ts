import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, inferSpec, layerMaking } from './helpers/build-model.js';

const FLOAT = 1;

describe('peak activation (last uses worked out backwards)', () => {
  // x [1,4] float: 16 bytes; d and z [1,16]: 64 bytes. Live bytes after each layer's outputs appear (then freed):
  //   start x 16 · A +a 32 · B +b 48 (a read twice, freed once → 32) · C +c 48 (x's last read → 32)
  //   · D: d is read by no one and no graph output: not live, 32 · E +y 48 (b, c → 16)
  //   · F +z 80 (y is a graph output: stays) · G +w 144 (z → 80). Peak 144.
  const spec = {
    inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 4] }],
    outputs: ['y', 'w'],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['a'] },
      { op: 'Add', inputs: ['a', 'a'], outputs: ['b'] },
      { op: 'Relu', inputs: ['x'], outputs: ['c'] },
      { op: 'Concat', inputs: ['b', 'b', 'b', 'b'], outputs: ['d'], attrs: { axis: 1 } },
      { op: 'Add', inputs: ['b', 'c'], outputs: ['y'] },
      { op: 'Concat', inputs: ['y', 'y', 'y', 'y'], outputs: ['z'], attrs: { axis: 1 } },
      { op: 'Relu', inputs: ['z'], outputs: ['w'] },
    ],
  };

  it('frees a value after its last reader, once, keeps graph outputs, skips unread outputs', () => {
    const model = buildAndRead(spec);
    expect(buildReport(model, inferModel(model)).totals.peakActivationBytes).toBe(144);
  });

  it('is the same with the records released', () => {
    const model = buildAndRead(spec);
    expect(buildReport(model, inferModel(model), { release: true }).totals.peakActivationBytes).toBe(144);
  });
});

describe('records of a chain share what they repeat', () => {
  const spec = {
    inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 8] }],
    outputs: ['t3'],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['t0'] },
      { op: 'Add', inputs: ['t0', 'x'], outputs: ['t1'] },
      { op: 'Relu', inputs: ['t1'], outputs: ['t2'] },
      { op: 'Add', inputs: ['t2', 'x'], outputs: ['t3'] },
    ],
  };

  it('a node reading the previous node outputs holds that very list and those names', () => {
    const nodes = buildAndRead(spec).graph.nodes;
    expect(nodes[2].inputs).toBe(nodes[1].outputs);
    expect(nodes[1].inputs[0]).toBe(nodes[0].outputs[0]);
    expect(nodes[1].inputs).toEqual(['t0', 'x']);
  });

  it('one state, one output list and one cost for the same figures; inputs and outputs as before', () => {
    const res = inferSpec(spec);
    const [relu0, add1, relu2, add3] = ['t0', 't1', 't2', 't3'].map((o) => layerMaking(res, o));
    for (const l of [relu0, add1, relu2, add3]) {
      expect(l.outputs).toEqual([{ dtype: FLOAT, shape: [1, 8] }]);
      expect(l.cost).toEqual({ macs: 0, flops: 8 });
    }
    expect(add1.inputs).toEqual([{ dtype: FLOAT, shape: [1, 8] }, { dtype: FLOAT, shape: [1, 8] }]);
    expect(relu0.outputs[0]).toBe(relu0.inputs[0]);
    expect(add3.outputs).toBe(relu2.outputs);
    expect(relu2.inputs).toBe(add1.outputs);
    expect(add3.cost).toBe(relu0.cost);
  });

  it('a state with a known value stays its own', () => {
    const res = inferSpec({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [2] }],
      outputs: ['y'],
      initializers: [{ name: 'k', dtype: FLOAT, dims: [2], values: [-1, 3] }],
      nodes: [
        { op: 'Relu', inputs: ['k'], outputs: ['r'] },
        { op: 'Add', inputs: ['x', 'r'], outputs: ['y'] },
      ],
    });
    const relu = layerMaking(res, 'r');
    expect(relu.outputs[0]).toEqual({ dtype: FLOAT, shape: [2], value: [0, 3] });
    expect(relu.outputs[0]).not.toBe(relu.inputs[0]);
    expect(layerMaking(res, 'y').outputs[0]).toEqual({ dtype: FLOAT, shape: [2] });
  });
});
