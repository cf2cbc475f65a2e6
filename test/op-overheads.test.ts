import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { openSession, type Ort } from '../src/bench/run.js';
import { MbnError } from '../src/errors.js';
import { layerLinks } from '../src/latency/graph.js';
import { OP_CHAIN, opOverheadBenchmarks, solveOpOverheads } from '../src/latency/measure-op-overheads.js';
import { predictLatency } from '../src/latency/model.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, type ModelSpec } from './helpers/build-model.js';
import { tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { HAND_PROFILE } from './helpers/profiles.js';
import type { DeviceProfile } from '../src/contract/device.js';

/** Per-op-kind fixed costs (the profile's `overheadUsByOp`, calibrate's op-overhead-* chains). */
const PROFILE: DeviceProfile = HAND_PROFILE;

/** x [1, 8] → Concat(x, x) [1, 16] → Relu → Slice of the first 8 → y [1, 8]. */
const SPEC: ModelSpec = {
  inputs: [{ name: 'x', dtype: 1, shape: [1, 8] }],
  outputs: [{ name: 'y', dtype: 1, shape: [1, 8] }],
  initializers: [
    { name: 'starts', dtype: 7, dims: [1], values: [0] },
    { name: 'ends', dtype: 7, dims: [1], values: [8] },
    { name: 'axes', dtype: 7, dims: [1], values: [1] },
  ],
  nodes: [
    { op: 'Concat', name: 'cat', inputs: ['x', 'x'], outputs: ['c'], attrs: { axis: 1 } },
    { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['r'] },
    { op: 'Slice', name: 'slice', inputs: ['r', 'starts', 'ends', 'axes'], outputs: ['y'] },
  ],
};

function predict(profile: DeviceProfile) {
  const model = buildAndRead(SPEC);
  const inferred = inferModel(model);
  return predictLatency(buildReport(model, inferred), layerLinks(inferred), profile);
}

describe('per-op-kind fixed costs', () => {
  it('validates overheadUsByOp; a profile without it still loads', () => {
    const bad = (patch: Record<string, unknown>) => {
      try {
        return validateProfile({ ...PROFILE, ...patch }, "'p.json'").overheadUsByOp;
      } catch (error) {
        expect(error).toBeInstanceOf(MbnError);
        return (error as Error).message;
      }
    };
    expect(bad({})).toBeUndefined();
    expect(bad({ overheadUsByOp: { Concat: 0.9, If: 0 } })).toEqual({ Concat: 0.9, If: 0 });
    expect(bad({ overheadUsByOp: [0.9] })).toBe(`device profile 'p.json': "overheadUsByOp" must be an object of op types and microseconds`);
    expect(bad({ overheadUsByOp: { Concat: -1 } })).toBe(`device profile 'p.json': "overheadUsByOp.Concat" must be a number ≥ 0 (microseconds)`);
    expect(bad({ overheadUsByOp: { Concat: '1' } })).toBe(`device profile 'p.json': "overheadUsByOp.Concat" must be a number ≥ 0 (microseconds)`);
    expect(bad({ overheadUsByOp: { concat: 1 } })).toBe(`device profile 'p.json': "overheadUsByOp.concat" is not an ONNX op type`);
  });

  it("charges a listed op its own fixed cost in place of its class's; other ops and older profiles as before", () => {
    const before = predict(PROFILE).layers;
    const after = predict({ ...PROFILE, overheadUsByOp: { Concat: 0.9, Slice: 0.3 } }).layers;
    // Concat: reads 2 × 32 B, writes 64 B, all in the cache at 100 GB/s: 0.00128 µs, under either fixed cost.
    expect(before[0].latencyMs).toBeCloseTo((0.00128 + 2) / 1000, 12);
    expect(after[0].latencyMs).toBeCloseTo((0.00128 + 0.9) / 1000, 12);
    expect(after[0].bound).toBe('overhead');
    // Relu: 16 FLOP at 1 GFLOP/s = 0.016 µs, 128 B = 0.00128 µs; not listed, the elementwise 2 µs.
    expect(after[1].latencyMs).toBeCloseTo((0.016 + 2) / 1000, 12);
    expect(before[1].latencyMs).toBe(after[1].latencyMs);
    // Slice: reads 64 B (and its three 8-byte constants), writes 32 B.
    expect(after[2].latencyMs - before[2].latencyMs).toBeCloseTo((0.3 - 2) / 1000, 12);
  });

  it('solves each kind as (chain − one call − its extra ops) / 50, an If less its branch op, an LSTM less its step GEMM', () => {
    // Every chain 40 µs, one call 10 µs, the elementwise overhead 0.2 µs: (40 − 10) / 50 = 0.6 µs; the If chain
    // also holds a ReduceMax and a Greater (0.4 µs) and each If one branch op (0.2): (40 − 10 − 0.4) / 50 − 0.2; the
    // LSTM chain 50 Squeezes (10 µs) and each LSTM one step's GEMM overhead (0.3): (40 − 10 − 10) / 50 − 0.3.
    const us = solveOpOverheads(() => 0.04, 0.01, 0.0002, 0.0003);
    expect(Object.keys(us)).toEqual(['Concat', 'Slice', 'Gather', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Unsqueeze', 'Squeeze', 'LayerNormalization', 'LSTM', 'If']);
    expect(us.Concat).toBe(0.6);
    expect(us.Squeeze).toBe(0.6);
    expect(us.Div).toBe(0.6);
    expect(us.If).toBe(0.392);
    expect(us.LSTM).toBe(0.1);
  });

  const ort = loadOrt() as Ort | null;
  it.skipIf(!ort)("each chain keeps its 50 ops of its kind in ONNX Runtime's optimized graph (none folded or merged away)", async () => {
    const dir = tempDir();
    const kinds: Record<string, string[]> = {};
    for (const b of opOverheadBenchmarks()) {
      const path = join(dir, `${b.name}.onnx`);
      const optimized = join(dir, `${b.name}.optimized.onnx`);
      b.write(path);
      const session = await openSession(ort!, path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized });
      await session.release();
      const ops = readModel(optimized).graph.nodes.map((n) => n.opType);
      kinds[b.name] = [...new Set(ops)];
      // The LSTM chain squeezes each LSTM's output for the next.
      expect(ops.filter((op) => op !== 'ReduceMax' && op !== 'Greater').length).toBe(b.name === 'op-overhead-lstm' ? 2 * OP_CHAIN : OP_CHAIN);
    }
    expect(kinds).toEqual({
      'op-overhead-concat': ['Concat'],
      'op-overhead-slice': ['Slice'],
      'op-overhead-gather': ['Gather'],
      'op-overhead-add': ['Add', 'Sub', 'Mul', 'Div'],
      'op-overhead-pow': ['Pow'],
      'op-overhead-unsqueeze': ['Unsqueeze', 'Squeeze'],
      'op-overhead-layernormalization': ['LayerNormalization'],
      'op-overhead-lstm': ['LSTM', 'Squeeze'],
      'op-overhead-if': ['ReduceMax', 'Greater', 'If'],
    });
  });
});
