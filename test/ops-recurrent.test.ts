import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/ops/define.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead } from './helpers/build-model.js';
import { run, t } from './helpers/rule-context.js';

// Expected numbers worked out by hand from the ONNX spec and the convention in src/ops/recurrent.ts:
// MACs = dirs·seq·batch·gates·H·(input + H); FLOPs = dirs·seq·batch·k·H, k = 9 (LSTM, +6 with peepholes), 8 (GRU), 1 (RNN).

const F = 1;

describe('LSTM', () => {
  it('bidirectional, layout 0: input 10, hidden 20, seq 5, batch 3', () => {
    const r = run('LSTM', [t([5, 3, 10]), t([2, 80, 10]), t([2, 80, 20])], { hidden_size: 20, direction: 'bidirectional' }, { outputs: 3 });
    expect(r.out).toEqual([
      { dtype: F, shape: [5, 2, 3, 20] },
      { dtype: F, shape: [2, 3, 20] },
      { dtype: F, shape: [2, 3, 20] },
    ]);
    // 2·5·3·4·20·(10 + 20) = 72,000 MACs; 2·5·3·9·20 = 5,400 FLOPs.
    expect(r.cost).toEqual({ macs: 72000, flops: 5400 });
  });

  it('peepholes add 6 FLOPs per hidden unit; bias, initial states and sequence_lens change nothing else', () => {
    const inputs = [t([5, 3, 10]), t([2, 80, 10]), t([2, 80, 20]), t([2, 160]), t([3], 6), t([2, 3, 20]), t([2, 3, 20]), t([2, 60])];
    const r = run('LSTM', inputs, { hidden_size: 20, direction: 'bidirectional' }, { outputs: 3 });
    // 2·5·3·(9 + 6)·20 = 9,000.
    expect(r.cost).toEqual({ macs: 72000, flops: 9000 });
    expect(r.notes).toEqual([{ code: 'sequence-lens-upper-bound', steps: 5 }]);
  });

  it('layout 1 (batch first) puts batch first in Y, Y_h and Y_c', () => {
    const r = run('LSTM', [t([3, 5, 10]), t([1, 80, 10]), t([1, 80, 20])], { hidden_size: 20, layout: 1 }, { opset: 14, outputs: 3 });
    expect(r.out.map((s) => s.shape)).toEqual([[3, 5, 1, 20], [3, 1, 20], [3, 1, 20]]);
    // 1·5·3·80·30 = 36,000; 5·3·9·20 = 2,700.
    expect(r.cost).toEqual({ macs: 36000, flops: 2700 });
  });

  it('takes hidden_size from R when the attribute is absent, and checks W and R', () => {
    const r = run('LSTM', [t([2, 1, 4]), t([1, 12, 4]), t([1, 12, 3])], {}, { outputs: 3 });
    expect(r.out[1].shape).toEqual([1, 1, 3]);
    expect(() => run('LSTM', [t([5, 3, 10]), t([1, 80, 10]), t([1, 80, 20])], { hidden_size: 20, direction: 'bidirectional' })).toThrow(ShapeError);
    expect(() => run('LSTM', [t([5, 3, 10]), t([1, 80, 9]), t([1, 80, 20])], { hidden_size: 20 })).toThrow(ShapeError);
    expect(() => run('LSTM', [t([5, 3, 10]), t([1, 80, 10]), t([1, 80, 20])], { hidden_size: 20, direction: 'sideways' })).toThrow(ShapeError);
    expect(() => run('LSTM', [t([5, 10]), t([1, 80, 10]), t([1, 80, 20])], { hidden_size: 20 })).toThrow(ShapeError);
  });
});

describe('GRU and RNN', () => {
  it('GRU: 3 gates, 8 FLOPs per hidden unit, no Y_c', () => {
    const r = run('GRU', [t([4, 2, 6]), t([1, 24, 6]), t([1, 24, 8])], { hidden_size: 8 }, { outputs: 2 });
    expect(r.out.map((s) => s.shape)).toEqual([[4, 1, 2, 8], [1, 2, 8]]);
    // 1·4·2·3·8·(6 + 8) = 2,688; 4·2·8·8 = 512.
    expect(r.cost).toEqual({ macs: 2688, flops: 512 });
  });

  it('RNN reverse: 1 gate, 1 FLOP per hidden unit', () => {
    const r = run('RNN', [t([7, 1, 3]), t([1, 5, 3]), t([1, 5, 5])], { hidden_size: 5, direction: 'reverse' }, { outputs: 2 });
    expect(r.out.map((s) => s.shape)).toEqual([[7, 1, 1, 5], [1, 1, 5]]);
    // 7·1·5·(3 + 5) = 280; 7·5 = 35.
    expect(r.cost).toEqual({ macs: 280, flops: 35 });
  });

  it('bidirectional GRU, batch first', () => {
    const r = run('GRU', [t([2, 3, 4]), t([2, 15, 4]), t([2, 15, 5])], { hidden_size: 5, layout: 1, direction: 'bidirectional' }, { opset: 14, outputs: 2 });
    expect(r.out.map((s) => s.shape)).toEqual([[2, 3, 2, 5], [2, 2, 5]]);
    // 2·3·2·3·5·(4 + 5) = 1,620; 2·3·2·8·5 = 480.
    expect(r.cost).toEqual({ macs: 1620, flops: 480 });
  });
});

describe('through inferModel', () => {
  it('an LSTM with Y omitted still counts, and feeds Y_h onward', () => {
    const model = buildAndRead({
      opset: 14,
      inputs: [{ name: 'x', dtype: F, shape: ['seq', 'batch', 10] }],
      outputs: ['y'],
      initializers: [
        { name: 'w', dtype: F, dims: [1, 80, 10], values: new Array(800).fill(0.1) },
        { name: 'r', dtype: F, dims: [1, 80, 20], values: new Array(1600).fill(0.1) },
      ],
      nodes: [
        { op: 'LSTM', inputs: ['x', 'w', 'r'], outputs: ['', 'h', 'c'], attrs: { hidden_size: 20 } },
        { op: 'Relu', inputs: ['h'], outputs: ['y'] },
      ],
    });
    const res = inferModel(model, { inputShapes: new Map([['x', [5, 3, 10]]]) });
    const lstm = res.layers.find((l) => l.node.opType === 'LSTM')!;
    expect(lstm.reason).toBeNull();
    // 5·3·4·20·30 = 36,000; 5·3·9·20 = 2,700.
    expect(lstm.cost).toEqual({ macs: 36000, flops: 2700 });
    expect(res.outputs[0].state?.shape).toEqual([1, 3, 20]);
  });
});
