import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { layerLinks } from '../src/latency/graph.js';
import { predictLatency } from '../src/latency/model.js';
import { fitPlainPool, poolNs, poolWork, PLAIN_POOL_SHAPES, benchPoolWork } from '../src/latency/pool.js';
import { validateProfile } from '../src/latency/profile.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, type ModelSpec } from './helpers/build-model.js';
import { ROUND_PROFILE } from './helpers/profiles.js';
import type { DeviceProfile, PlainPoolRates } from '../src/contract/device.js';

/**
 * A float MaxPool or AveragePool in NCHW: MLAS's vector pool kernel, per channel, per output row, per load of the
 * height reduction (4 floats, or one of a row's tail) and per step of the width reduction (src/latency/pool.ts).
 */
const RATES: PlainPoolRates = { nsPerChannel: 10, nsPerRow: 2, nsPerHeightLoad: 0.5, nsPerWidthStep: 1 };

describe('the NCHW pool kernel\'s work', () => {
  it('counts channels, rows, height loads and width steps (hand arithmetic)', () => {
    // OpenWakeWord's embedding's first pool: 24 × 36 = 864 rows; each reads 2 input rows of 32 floats (8 vectors);
    // 16 outputs at stride 2, two a step.
    expect(poolWork([1, 24, 72, 32], [1, 24, 36, 16], [2, 2], [2, 2], [0, 0, 0, 0])).toEqual({ channels: 24, rows: 864, heightLoads: 864 * 8 * 2, widthSteps: 864 * 8 });
    // 3×3 at stride 1 with pads on a 7-wide map: 1 vector and 3 tail floats per input row, 3 rows; 7 outputs, 4 a step.
    expect(poolWork([2, 3, 10, 7], [2, 3, 10, 7], [3, 3], [1, 1], [1, 1, 1, 1])).toEqual({ channels: 6, rows: 60, heightLoads: 60 * 4 * 3, widthSteps: 60 * 2 });
  });
  it('is null where MLAS runs another kernel', () => {
    expect(poolWork([1, 8, 16, 16], [1, 8, 6, 6], [3, 3], [3, 3], [0, 0, 0, 0])).toBeNull(); // last stride over 2
    expect(poolWork([1, 8, 64, 64], [1, 8, 1, 1], [64, 33], [1, 1], [0, 0, 0, 0])).toBeNull(); // a kernel dim over 32
    expect(poolWork([1, 8, 7, 7], [1, 8, 1, 1], [7, 7], [1, 1], [0, 0, 0, 0])).toBeNull(); // the global kernel
    expect(poolWork([1, 8, 4, 7, 7], [1, 8, 4, 3, 3], [2, 2, 2], [2, 2, 2], [0, 0, 0, 0, 0, 0])).toBeNull(); // 3-D
    expect(poolWork([1, 8, 4, 4000], [1, 8, 2, 2000], [2, 2], [2, 2], [0, 0, 0, 0])).toBeNull(); // past the reduction buffer
  });
});

describe('the NCHW pool rates', () => {
  it('are fitted back from times made with known rates', () => {
    const samples = PLAIN_POOL_SHAPES.map((s) => ({ work: benchPoolWork(s).work, ns: poolNs(RATES, benchPoolWork(s).work) }));
    expect(fitPlainPool(samples)).toEqual(RATES);
  });
  it('are optional in a profile, and checked', () => {
    const base = JSON.parse(JSON.stringify(ROUND_PROFILE));
    expect(validateProfile({ ...base, plainPool: RATES }, 'p.json').plainPool).toEqual(RATES);
    expect(validateProfile(base, 'p.json').plainPool).toBeUndefined();
    expect(() => validateProfile({ ...base, plainPool: { ...RATES, nsPerRow: -1 } }, 'p.json')).toThrow('device profile p.json: "plainPool" must be an object with nsPerChannel, nsPerRow, nsPerHeightLoad, nsPerWidthStep: numbers ≥ 0 (ns), one of them positive');
  });
});

describe('a pool in the latency model', () => {
  const pool = (channels: number, op = 'MaxPool'): ModelSpec => ({
    inputs: [{ name: 'x', dtype: 1, shape: [1, channels, 16, 16] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, channels, 8, 8] }],
    nodes: [{ op, name: 'pool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } }],
  });
  const latency = (spec: ModelSpec, p: DeviceProfile) => {
    const model = buildAndRead(spec);
    const inferred = inferModel(model);
    return predictLatency(buildReport(model, inferred), layerLinks(inferred), p).layers[0];
  };
  const PROFILE: DeviceProfile = { ...ROUND_PROFILE, nchwcBlock: 8, plainPool: RATES };

  it('in NCHW: the kernel at the calibrated rates, plus the executor\'s dispatch (hand arithmetic)', () => {
    // 12 channels (not a multiple of the block of 8: ORT keeps it in NCHW): 12 × 10 + 96 rows × 2 + 96 × 4 × 2 loads
    // × 0.5 + 96 × 4 steps × 1 = 1,080 ns, plus the elementwise overhead, 0.5 µs.
    for (const op of ['MaxPool', 'AveragePool']) expect(latency(pool(12, op), PROFILE).latencyMs).toBeCloseTo(1.58 / 1000, 12);
  });
  it('blocked (16 channels), or with an older profile: as before', () => {
    const { plainPool: _, ...older } = PROFILE;
    expect(latency(pool(16), PROFILE).latencyMs).toBeCloseTo(latency(pool(16), older).latencyMs, 12);
    expect(latency(pool(12), older).latencyMs).not.toBeCloseTo(1.58 / 1000, 6);
  });
});
