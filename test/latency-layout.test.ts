import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withSyntheticWeights } from '../src/bench/models.js';
import { buildReport } from '../src/cost/analyze.js';
import { type Ort } from '../src/bench/run.js';
import { layerLinks } from '../src/latency/graph.js';
import { convPathOf, paddingFactor, planLayout } from '../src/latency/layout.js';
import { benchConvShapeWork, fitGroupedConvFloat, floatNsPerGroup, GROUPED_CONV_FLOAT_SHAPES, GROUPED_CONV_GEMM_SHAPES, groupedConvWork } from '../src/latency/grouped-conv.js';
import { detectNchwcBlock } from '../src/latency/measure.js';
import { convTime, foldedLayers, kernelTime, predictLatency, weightsCold } from '../src/latency/model.js';
import { measuredLayers } from '../src/latency/per-layer.js';
import { mapTrace, type TraceEvent } from '../src/latency/profile-map.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import type { DeviceProfile } from '../src/contract/device.js';
import { ROUND_PROFILE } from './helpers/profiles.js';

/**
 * ONNX Runtime's NCHWc layout in the latency model: which kernel runs each conv, the padding of channels to the
 * block, the layout conversions ORT inserts, and their cost. The layout rules are checked against the optimized
 * graph ONNX Runtime itself writes out.
 */
const BLOCKED: DeviceProfile = {
  ...ROUND_PROFILE,
  name: 'blocked',
  description: 'round numbers for hand arithmetic',
  nchwcBlock: 16,
  weightGBps: 4,
  im2colGBps: 2,
  nchwInputNsPerOutput: 0.5,
};

describe('which kernel ONNX Runtime runs a conv with (block of 16 channels)', () => {
  it('follows ORT 1.30: dense convs by input channels, depthwise by multiples of 4, grouped by whole blocks', () => {
    // [cin per group, cout, group] → path; the cases ORT's optimizer was seen to take or leave.
    const cases: [number, number, number, string][] = [
      [3, 16, 1, 'nchw-input'], [8, 48, 1, 'nchw-input'], [12, 8, 1, 'nchw-input'],
      [16, 3, 1, 'nchwc'], [20, 24, 1, 'nchwc'], [24, 8, 1, 'nchwc'], [36, 20, 1, 'nchwc'],
      [17, 8, 1, 'generic'], [18, 20, 1, 'generic'], [30, 8, 1, 'generic'],
      [1, 3, 3, 'generic'], [1, 4, 4, 'nchwc'], [1, 8, 8, 'nchwc'], [1, 20, 20, 'nchwc'], [1, 6, 6, 'generic'], [1, 18, 18, 'generic'],
      [16, 32, 2, 'nchwc'], [8, 32, 4, 'generic'], [8, 64, 8, 'generic'], [1, 16, 8, 'generic'],
    ];
    for (const [cin, cout, group, path] of cases) expect(`${cin}/${cout}/${group}: ${convPathOf(cin, cout, group, 16)}`).toBe(`${cin}/${cout}/${group}: ${path}`);
    // Without blocked kernels every conv keeps its class rate.
    expect(convPathOf(3, 5, 1, 1)).toBe('nchwc');
  });

  it('pads channels to the block: output channels always, input channels too for a dense conv reading a blocked input', () => {
    expect(paddingFactor('nchwc', 20, 24, 1, 16)).toBe((32 / 20) * (32 / 24));
    expect(paddingFactor('nchw-input', 3, 24, 1, 16)).toBe(32 / 24);
    expect(paddingFactor('nchwc', 1, 20, 20, 16)).toBe(32 / 20);
    expect(paddingFactor('generic', 18, 20, 1, 16)).toBe(1);
  });
});

describe('conv time on each path (hand arithmetic)', () => {
  // A conv of `kernel` elements (one spatial dim), stride 1, unpadded: im2col expands its input unless it is 1×1.
  const geometry = (cinPerGroup: number, cout: number, group: number, kernel: number, pixels: number) => ({
    geometry: { inChannels: cinPerGroup * group, outChannels: cout, group, kernel: [kernel], strides: [1], pads: [0, 0] },
    pixels,
  });

  it('a blocked conv computes its padded channels at its class rate', () => {
    // 20 → 24 channels, 3×3, 32×32: 20·24·9·1024 MACs, padded to 32·32: FLOPs × 32/20 × 32/24 at 100 GFLOP/s.
    const flops = 2 * 20 * 24 * 9 * 1024;
    const t = convTime(BLOCKED, 'conv', geometry(20, 24, 1, 9, 1024), flops, 1000, 1000, false);
    expect(t.ms).toBeCloseTo(kernelTime(BLOCKED, 'conv', flops * (32 / 20) * (32 / 24), 1000, 1000, false).ms, 12);
    expect(t.ms).toBeCloseTo(((flops * (32 / 20) * (32 / 24)) / 100e3 + 1) / 1e3, 12);
  });

  it('a conv on a plain input with few channels pays per padded output element', () => {
    // 8 → 40 channels 1×1 at 100 pixels: 32,000 MACs ×48/40 at 50 GFLOP/s, + 48·100 outputs × 0.5 ns, + 1 µs.
    const t = convTime(BLOCKED, 'pointwise', geometry(8, 40, 1, 1, 100), 64000, 100, 100, false);
    expect(t.ms).toBeCloseTo((64000 * (48 / 40)) / 50e6 + 1e-3 + (48 * 100 * 0.5) / 1e6, 12);
  });

  it('the generic path expands the input at im2colGBps and multiplies at the GEMM rate', () => {
    // Depthwise 3×3 on 6 channels (not a multiple of 4), 400 pixels: 6·9·400 expanded elements, 8 bytes each
    // (written and read) at 2 GB/s; 2·6·9·400 FLOPs at 20 GFLOP/s + 1 µs GEMM overhead.
    const flops = 2 * 6 * 9 * 400;
    const t = convTime(BLOCKED, 'depthwise', geometry(1, 6, 6, 9, 400), flops, 100, 100, false);
    const expand = (8 * 6 * 9 * 400) / 2e6;
    expect(t.ms).toBeCloseTo(expand + flops / 20e6 + 1e-3, 12);
    expect(t.bound).toBe('memory');
    // A 1×1 stride-1 conv needs no expansion.
    const pw = convTime(BLOCKED, 'pointwise', geometry(18, 20, 1, 1, 400), 2 * 18 * 20 * 400, 100, 100, false);
    expect(pw.ms).toBeCloseTo((2 * 18 * 20 * 400) / 20e6 + 1e-3, 12);
  });

  it('a 2-D grouped conv on the generic path, where calibrated: per group its im2col rows, copied, one-by-one and padded elements, its buffer, and a GEMM for more than one output channel', () => {
    const spec = (group: number, cout: number, stride: number): ModelSpec => ({
      inputs: [{ name: 'x', shape: [1, 6, 8, 8] }],
      outputs: [{ name: 'y', shape: [1, cout, 8 / stride, 8 / stride] }],
      initializers: [{ name: 'w', dtype: 1, dims: [cout, 6 / group, 3, 3], values: Array<number>(cout * (6 / group) * 9).fill(0.1) }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride], group } }],
    });
    const rates = { nsPerGroup: 50, nsPerRow: 2, nsPerCopiedElement: 0.1, nsPerStridedElement: 0.25, nsPerPaddedColumn: 1, nsPerElement: 0.05 };
    const profile: DeviceProfile = { ...BLOCKED, genericGroupedConv: rates };
    const time = (s: ModelSpec, p: DeviceProfile) => {
      const model = buildAndRead(s);
      const inferred = inferModel(model);
      return predictLatency(buildReport(model, inferred), layerLinks(inferred), p).layers[0];
    };
    // Depthwise, 6 channels (generic: not a multiple of 4), stride 1 on 8×8: kernel rows read the input on 7, 8 and 7
    // output rows (22) × 3 kernel columns = 66 im2col rows; columns likewise 22 of 24 read it, so 22 × 22 = 484
    // elements copied and 66 × 8 − 484 = 44 padded; 9 × 64 = 576 buffer elements. Per group 50 + 132 + 48.4 + 44 +
    // 28.8 = 303.2 ns, × 6 groups, + the depthwise overhead (1 µs).
    expect(time(spec(6, 6, 1), profile).latencyMs).toBeCloseTo((6 * 303.2 / 1e3 + 1) / 1e3, 12);
    // Stride 2 → 4×4: kernel rows read on 3, 4 and 4 output rows (11) → 33 rows; 11 × 11 = 121 elements one by one;
    // 33 × 4 − 121 = 11 padded; 9 × 16 = 144 buffer elements. Per group 50 + 66 + 30.25 + 11 + 7.2 = 164.45 ns.
    expect(time(spec(6, 6, 2), profile).latencyMs).toBeCloseTo((6 * 164.45 / 1e3 + 1) / 1e3, 12);
    // 2 groups of 3 channels → 6 (generic: 3 channels per group is not a whole block): 3 × 66 rows, 3 × 484 copied,
    // 3 × 44 padded, 27 × 64 buffer elements, and 3 output channels: 2 · 3 · 1728 FLOPs at the GEMM rate (20 GFLOP/s).
    const perGroup = 50 + 198 * 2 + 1452 * 0.1 + 132 + 1728 * 0.05 + (2 * 3 * 1728) / 20;
    expect(time(spec(2, 6, 1), profile).latencyMs).toBeCloseTo((2 * perGroup / 1e3 + ROUND_PROFILE.overheadUs.conv) / 1e3, 12);
    // With the SGEMM's own rates: 3 × 27 × 64 multiply-adds (64 positions: whole 16-wide strips) at 0.01 ns, and the
    // 1728 packed elements at 0.02 ns, in place of the GEMM rate.
    const sgemm: DeviceProfile = { ...BLOCKED, genericGroupedConv: { ...rates, nsPerGemmMac: 0.01, nsPerPackedElement: 0.02 } };
    const withSgemm = 50 + 198 * 2 + 1452 * 0.1 + 132 + 1728 * 0.05 + 3 * 27 * 64 * 0.01 + 1728 * 0.02;
    expect(time(spec(2, 6, 1), sgemm).latencyMs).toBeCloseTo((2 * withSgemm / 1e3 + ROUND_PROFILE.overheadUs.conv) / 1e3, 12);
    // On 7×7 the 49 positions are computed as 64 (four 16-wide strips): 3 · 27 · 15 more multiply-adds than with no strip.
    const g = { inChannels: 6, outChannels: 6, group: 2, kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], autoPad: 'NOTSET', depthwise: false, pointwise: false };
    const w = groupedConvWork(g, [7, 7], [7, 7], 1)!;
    expect(floatNsPerGroup(sgemm.genericGroupedConv!, w, 20, 16) - floatNsPerGroup(sgemm.genericGroupedConv!, w, 20, 1)).toBeCloseTo(3 * 27 * 15 * 0.01, 9);
    // Without the rates (older profiles): the expansion and GEMM rates, as before.
    expect(time(spec(6, 6, 1), BLOCKED).latencyMs).not.toBeCloseTo(time(spec(6, 6, 1), profile).latencyMs, 6);
  });

  it('fits the float grouped-conv rates by non-negative least squares', () => {
    const depthwise = GROUPED_CONV_FLOAT_SHAPES.map((s) => benchConvShapeWork(s).work);
    const grouped = GROUPED_CONV_GEMM_SHAPES.map((s) => benchConvShapeWork(s).work);
    const known = { nsPerGroup: 40, nsPerRow: 1.5, nsPerCopiedElement: 0.06, nsPerStridedElement: 0.2, nsPerPaddedColumn: 1.2, nsPerElement: 0.03, nsPerGemmMac: 0.01, nsPerPackedElement: 0.05 };
    const samples = (works: typeof depthwise) => works.map((work) => ({ work, nsPerGroup: floatNsPerGroup(known, work, 1, 16) }));
    // Times made from known costs come back exactly: the six from the depthwise convs, the SGEMM's two from the grouped ones.
    expect(fitGroupedConvFloat(samples(depthwise), samples(grouped), 16)).toEqual(known);
    // The grouped convs' 6 channels per group in and out, 28×28: 78 = 6 · 13 channels; its GEMM M = 6, K = 54, N = 784.
    expect([grouped[0].outChannels, grouped[0].taps, grouped[0].positions]).toEqual([6, 54, 784]);
    const bad = (genericGroupedConv: unknown) => () => validateProfile({ ...JSON.parse(JSON.stringify(BLOCKED)), genericGroupedConv }, 'p.json');
    expect(validateProfile({ ...JSON.parse(JSON.stringify(BLOCKED)), genericGroupedConv: known }, 'p.json').genericGroupedConv).toEqual(known);
    const { nsPerGemmMac: _, ...withoutPacking } = known;
    expect(bad(withoutPacking)).toThrow('device profile p.json: "genericGroupedConv (nsPerGemmMac, nsPerPackedElement)" must be an object with nsPerGemmMac, nsPerPackedElement: numbers ≥ 0 (ns), one of them positive');
    expect(bad({ ...known, nsPerRow: -1 })).toThrow('device profile p.json: "genericGroupedConv" must be an object with nsPerGroup, nsPerRow, nsPerCopiedElement, nsPerStridedElement, nsPerPaddedColumn, nsPerElement: numbers ≥ 0 (ns), one of them positive');
  });

  it('reads weights that fit in the last-level cache at memoryGBps, larger ones from DRAM at weightGBps', () => {
    // 4 MB of weights: from the last-level cache at 10 GB/s = 400 µs; from DRAM at 4 GB/s = 1000 µs.
    expect(kernelTime(BLOCKED, 'gemm', 2000, 1000, 4e6, 'llc').ms).toBeCloseTo((1000 / 100e3 + 4e6 / 10e3 + 1) / 1e3, 12);
    expect(kernelTime(BLOCKED, 'gemm', 2000, 1000, 4e6, 'dram').ms).toBeCloseTo((1000 / 100e3 + 4e6 / 4e3 + 1) / 1e3, 12);
    const report = (weightBytes: number) => ({ totals: { weightBytes } }) as Parameters<typeof weightsCold>[0];
    const withLlc: DeviceProfile = { ...BLOCKED, lastLevelCacheBytes: 32 << 20 };
    // Weights stay in the core's cache (1 MiB) from one call to the next only while they fill at most half of it.
    expect([1 << 19, (1 << 19) + 1, 1 << 20, 2 << 20, 32 << 20, (32 << 20) + 1].map((b) => weightsCold(report(b), withLlc))).toEqual([false, 'llc', 'llc', 'llc', 'llc', 'dram']);
    // A profile that does not know its last-level cache streams every model larger than cacheBytes from DRAM.
    expect(weightsCold(report(2 << 20), BLOCKED)).toBe('dram');
  });

  it('with llcWeightGBps: a GEMM reads last-level-cache weights at it, a conv still at memoryGBps', () => {
    const fast: DeviceProfile = { ...BLOCKED, llcWeightGBps: 40 };
    // 4 MB at 40 GB/s = 100 µs (the GEMV of a wake-word MLP); the conv's packed kernels at 10 GB/s = 400 µs.
    expect(kernelTime(fast, 'gemm', 2000, 1000, 4e6, 'llc').ms).toBeCloseTo((1000 / 100e3 + 4e6 / 40e3 + 1) / 1e3, 12);
    expect(kernelTime(fast, 'conv', 2000, 1000, 4e6, 'llc').ms).toBeCloseTo((1000 / 100e3 + 4e6 / 10e3 + fast.overheadUs.conv) / 1e3, 12);
    // DRAM is DRAM for both.
    expect(kernelTime(fast, 'gemm', 2000, 1000, 4e6, 'dram').ms).toBeCloseTo((1000 / 100e3 + 4e6 / 4e3 + 1) / 1e3, 12);
    expect(validateProfile({ ...fast }, 'p.json').llcWeightGBps).toBe(40);
  });

  it('an elementwise kernel whose activations fit in the last-level cache streams at llcGBps; other kernels and older profiles at memoryGBps', () => {
    const llc: DeviceProfile = { ...BLOCKED, lastLevelCacheBytes: 32 << 20, llcGBps: 40 };
    // 2 MB moved (past the 1 MiB cache, inside the 32 MiB one), 1000 FLOPs: 50 µs at 40 GB/s, + 0.5 µs.
    expect(kernelTime(llc, 'elementwise', 1000, 2e6).ms).toBeCloseTo((2e6 / 40e3 + 0.5) / 1e3, 12);
    // A depthwise conv (or pool) keeps memoryGBps: 200 µs at 10 GB/s, + 1 µs; so does a profile without llcGBps.
    expect(kernelTime(llc, 'depthwise', 1000, 2e6).ms).toBeCloseTo((2e6 / 10e3 + 1) / 1e3, 12);
    expect(kernelTime({ ...llc, llcGBps: undefined }, 'elementwise', 1000, 2e6).ms).toBeCloseTo((2e6 / 10e3 + 0.5) / 1e3, 12);
    // Past the last-level cache: DRAM.
    expect(kernelTime(llc, 'elementwise', 1000, 40e6).ms).toBeCloseTo((40e6 / 10e3 + 0.5) / 1e3, 12);
    expect(validateProfile({ ...llc }, 'p.json').llcGBps).toBe(40);
  });

  it('streams cold weights at weightGBps', () => {
    // 4 MB of weights at 4 GB/s = 1000 µs, beside 1 µs of arithmetic.
    expect(kernelTime(BLOCKED, 'gemm', 2000, 1000, 4e6, true).ms).toBeCloseTo((1000 / 100e3 + 4e6 / 4e3 + 1) / 1e3, 12);
  });

  it('a 1-D conv runs the generic path, its GEMM columns (output positions) in strips of the block', () => {
    // Silero VAD's STFT: 1 → 258 channels, kernel 256, stride 64, 8 output frames: im2col of 1·256·8 elements, 8
    // bytes each, at 2 GB/s; 2·258·256·8 FLOPs computed as 16 columns at 20 GFLOP/s; the conv's own 1 µs set-up.
    const stft = { geometry: { inChannels: 1, outChannels: 258, group: 1, kernel: [256], strides: [64], pads: [0, 0] }, pixels: 8, positions: 8 };
    const flops = 2 * 258 * 256 * 8;
    expect(convTime(BLOCKED, 'conv', stft, flops, 1000, 1000, false, 'generic').ms).toBeCloseTo((8 * 256 * 8) / 2e6 + (flops * 2) / 20e6 + 1e-3, 12);
    // 17 positions take two strips (32 columns); a position count that fills its strips pays nothing more.
    const at = (positions: number) => convTime(BLOCKED, 'conv', { ...stft, pixels: positions, positions }, 2 * 258 * 256 * positions, 1000, 1000, false, 'generic').ms - (8 * 256 * positions) / 2e6;
    expect(at(17)).toBeCloseTo((2 * 258 * 256 * 32) / 20e6 + 1e-3, 12);
    expect(at(32)).toBeCloseTo((2 * 258 * 256 * 32) / 20e6 + 1e-3, 12);
    // The layout plan puts a float 1-D conv on the generic path (ORT blocks only 2-D convs).
    const model = buildAndRead({
      inputs: [{ name: 'x', dtype: 1, shape: [1, 1, 704] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 258, 8] }],
      initializers: [{ name: 'w', dtype: 1, dims: [258, 1, 256], values: Array(258 * 256).fill(0.01) }],
      nodes: [{ op: 'Conv', name: 'stft', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [256], strides: [64] } }],
    });
    const links = layerLinks(inferModel(model));
    expect(planLayout(links, foldedLayers(links), 16, ['y'])[0].path).toBe('generic');
  });

  it('profiles without the layout figures run every conv at its class rate, as before', () => {
    const plain: DeviceProfile = { ...BLOCKED, nchwcBlock: undefined, im2colGBps: undefined, nchwInputNsPerOutput: undefined };
    const flops = 2 * 6 * 9 * 400;
    expect(convTime(plain, 'depthwise', geometry(1, 6, 6, 9, 400), flops, 100, 100, false)).toEqual(kernelTime(plain, 'depthwise', flops, 100, 100, false));
  });
});

/** Conv → SE-style broadcast Mul → Conv: the Mul has no blocked kernel, so ORT converts around it. */
function seBlock(): ModelSpec {
  const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 5) - 2) / 10);
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 8, 8] }],
    initializers: [
      { name: 'w1', dtype: 1, dims: [32, 16, 3, 3], values: w(32 * 16 * 9) },
      { name: 'w2', dtype: 1, dims: [32, 32, 1, 1], values: w(32 * 32) },
      { name: 'w3', dtype: 1, dims: [16, 32, 1, 1], values: w(16 * 32) },
    ],
    nodes: [
      { op: 'Conv', name: 'c1', inputs: ['x', 'w1'], outputs: ['a'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'GlobalAveragePool', name: 'gap', inputs: ['a'], outputs: ['g'] },
      { op: 'Conv', name: 'c2', inputs: ['g', 'w2'], outputs: ['s'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Sigmoid', name: 'gate', inputs: ['s'], outputs: ['t'] },
      { op: 'Mul', name: 'scale', inputs: ['a', 't'], outputs: ['m'] },
      { op: 'Conv', name: 'c3', inputs: ['m', 'w3'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } },
    ],
  };
}

/**
 * The rules found on the held-out tf2onnx models (MLSD, BlazeFace): a zero Pad before a strided depthwise conv
 * (ORT's PadFusion), a residual Add whose other input is plain NCHW (ORT keeps it, and the Relu after it, apart from
 * the blocked conv), a linear half-pixel Resize ×2 (a blocked Upsample) and an output Transpose to NHWC (one
 * conversion straight to channels-last).
 */
function tf2onnxBlock(): ModelSpec {
  const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 7) - 3) / 20);
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 32, 16, 16] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 16, 32] }],
    initializers: [
      { name: 'pads', dtype: 7, dims: [8], values: [0, 0, 0, 0, 0, 0, 1, 1] },
      { name: 'wd', dtype: 1, dims: [32, 1, 3, 3], values: w(32 * 9) },
      { name: 'wp', dtype: 1, dims: [32, 32, 1, 1], values: w(32 * 32) },
      { name: 'wq', dtype: 1, dims: [32, 32, 1, 1], values: w(32 * 32) },
      { name: 'scales', dtype: 1, dims: [4], values: [1, 1, 2, 2] },
      { name: 'wr', dtype: 1, dims: [32, 32, 3, 3], values: w(32 * 32 * 9) },
    ],
    nodes: [
      { op: 'Relu', name: 'plain', inputs: ['x'], outputs: ['r0'] },
      { op: 'Pad', name: 'pad', inputs: ['r0', 'pads'], outputs: ['p'] },
      { op: 'Conv', name: 'dw', inputs: ['p', 'wd'], outputs: ['d'], attrs: { kernel_shape: [3, 3], strides: [2, 2], group: 32 } },
      { op: 'Conv', name: 'pw', inputs: ['d', 'wp'], outputs: ['e'], attrs: { kernel_shape: [1, 1] } },
      { op: 'MaxPool', name: 'pool', inputs: ['r0'], outputs: ['q'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Add', name: 'residual', inputs: ['e', 'q'], outputs: ['s'] },
      { op: 'Relu', name: 'act', inputs: ['s'], outputs: ['a'] },
      { op: 'Conv', name: 'pq', inputs: ['a', 'wq'], outputs: ['b'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Resize', name: 'up', inputs: ['b', '', 'scales'], outputs: ['u'], attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' } },
      { op: 'Conv', name: 'c', inputs: ['u', 'wr'], outputs: ['v'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Transpose', name: 'nhwc', inputs: ['v'], outputs: ['y'], attrs: { perm: [0, 2, 3, 1] } },
    ],
  };
}

/** BlazeFace's residual: the shortcut is a plain tensor (after a kept-apart Add), so the next Add stays apart too. */
function plainResidualBlock(): ModelSpec {
  const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 5) - 2) / 20);
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 32, 16, 16] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 32, 16, 16] }],
    initializers: [
      { name: 'w1', dtype: 1, dims: [32, 1, 3, 3], values: w(32 * 9) },
      { name: 'w2', dtype: 1, dims: [32, 32, 1, 1], values: w(32 * 32) },
      { name: 'w3', dtype: 1, dims: [32, 1, 3, 3], values: w(32 * 9) },
      { name: 'w4', dtype: 1, dims: [32, 32, 1, 1], values: w(32 * 32) },
    ],
    nodes: [
      { op: 'Relu', name: 'r0', inputs: ['x'], outputs: ['a0'] },
      { op: 'Conv', name: 'dw1', inputs: ['a0', 'w1'], outputs: ['d1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 32 } },
      { op: 'Conv', name: 'pw1', inputs: ['d1', 'w2'], outputs: ['p1'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Add', name: 'add1', inputs: ['p1', 'a0'], outputs: ['s1'] },
      { op: 'Relu', name: 'r1', inputs: ['s1'], outputs: ['a1'] },
      { op: 'Conv', name: 'dw2', inputs: ['a1', 'w3'], outputs: ['d2'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 32 } },
      { op: 'Conv', name: 'pw2', inputs: ['d2', 'w4'], outputs: ['p2'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Add', name: 'add2', inputs: ['p2', 'a1'], outputs: ['s2'] },
      { op: 'Relu', name: 'r2', inputs: ['s2'], outputs: ['y'] },
    ],
  };
}

/**
 * PP-OCRv4's swish x·Sigmoid(α·x) (α a Constant of shape [1]), whose output meets a blocked conv's in a channel
 * Concat: ORT fuses the three nodes into one QuickGelu, which keeps the blocked layout.
 */
function quickGeluBlock(): ModelSpec {
  const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 7) - 3) / 20);
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 8, 8] }],
    initializers: [
      { name: 'w1', dtype: 1, dims: [32, 16, 3, 3], values: w(32 * 16 * 9) },
      { name: 'w0', dtype: 1, dims: [32, 16, 1, 1], values: w(32 * 16) },
      { name: 'w2', dtype: 1, dims: [16, 64, 1, 1], values: w(16 * 64) },
    ],
    nodes: [
      { op: 'Conv', name: 'c1', inputs: ['x', 'w1'], outputs: ['a'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Constant', name: 'k', inputs: [], outputs: ['alpha'], attrs: { value: { tensor: { dtype: 1, dims: [1], values: [1.702] } } } },
      { op: 'Mul', name: 'scale', inputs: ['a', 'alpha'], outputs: ['aa'] },
      { op: 'Sigmoid', name: 'gate', inputs: ['aa'], outputs: ['s'] },
      { op: 'Mul', name: 'swish', inputs: ['a', 's'], outputs: ['q'] },
      { op: 'Conv', name: 'c0', inputs: ['x', 'w0'], outputs: ['b'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Concat', name: 'cat', inputs: ['q', 'b'], outputs: ['c'], attrs: { axis: 1 } },
      { op: 'Conv', name: 'c2', inputs: ['c', 'w2'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } },
    ],
  };
}

describe('what ONNX Runtime computes when it loads the model', () => {
  /** A Slice of a weight (Silero VAD v6's LSTM weights), and shape arithmetic on an input whose length is `n`. */
  const spec = (n: number | string): ModelSpec => ({
    inputs: [{ name: 'x', dtype: 1, shape: [1, n] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 64] }, { name: 'z', dtype: 7, shape: [1] }],
    initializers: [
      { name: 'w', dtype: 1, dims: [128, 64], values: Array(128 * 64).fill(0.01) },
      { name: 'starts', dtype: 7, dims: [1], values: [0] },
      { name: 'ends', dtype: 7, dims: [1], values: [64] },
      { name: 'one', dtype: 7, dims: [1], values: [1] },
    ],
    nodes: [
      { op: 'Slice', name: 'half', inputs: ['w', 'starts', 'ends'], outputs: ['h'] },
      { op: 'Relu', name: 'hr', inputs: ['h'], outputs: ['hh'] },
      { op: 'Shape', name: 'shape', inputs: ['x'], outputs: ['s'] },
      { op: 'Gather', name: 'len', inputs: ['s', 'one'], outputs: ['z'], attrs: { axis: 0 } },
      { op: 'Slice', name: 'cut', inputs: ['x', 'starts', 'ends', 'one'], outputs: ['c'] },
      { op: 'MatMul', name: 'mm', inputs: ['c', 'hh'], outputs: ['y'] },
    ],
  });

  it('folds a node whose inputs are all constants, however large; shape arithmetic only where the model declares the shape', () => {
    const atLoad = (n: number | string) => {
      const model = buildAndRead(spec(n));
      const links = layerLinks(inferModel(model, { inputShapes: new Map([['x', [1, 100]]]) }));
      return links.filter((l) => l.atLoad).map((l) => l.name);
    };
    // The Slice of the 32 KB weight and the Relu after it are constants either way; the Shape and Gather of x only
    // when x's length is declared (a symbolic one is known to mbn from --input, not to ORT).
    expect(atLoad(100)).toEqual(['half', 'hr', 'shape', 'len']);
    expect(atLoad('n')).toEqual(['half', 'hr']);
  });

  it.skipIf(!loadOrt())('agrees with the graph ORT optimizes', async () => {
    const dir = tempDir();
    for (const n of [100, 'n']) {
      const path = join(dir, `fold-${n}.onnx`);
      const optimized = join(dir, `fold-${n}.optimized.onnx`);
      writeFileSync(path, buildModel(spec(n)));
      const session = await (loadOrt() as unknown as Ort).InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
      await session.release();
      const kept = new Set(readModel(optimized).graph.nodes.map((node) => node.name));
      const links = layerLinks(inferModel(readModel(path), { inputShapes: new Map([['x', [1, 100]]]) }));
      expect(links.map((l) => `${l.name}:${kept.has(l.name) ? 'runs' : 'folded'}`)).toEqual(links.map((l) => `${l.name}:${l.atLoad ? 'folded' : 'runs'}`));
    }
  });
});

describe('layout conversions', () => {
  it('tf2onnx patterns: Pad merged into its conv, a residual Add on a plain input kept apart, blocked Resize, Transpose to NHWC as one conversion', () => {
    const model = buildAndRead(tf2onnxBlock());
    const links = layerLinks(inferModel(model));
    const folded = foldedLayers(links);
    const at = (name: string) => links.findIndex((l) => l.name === name);
    // PadFusion: the Pad runs inside the depthwise conv that reads it.
    expect(folded.get(at('pad'))).toBe(at('dw'));
    const plan = planLayout(links, folded, 16, ['y']);
    const byName = Object.fromEntries(links.map((l, i) => [l.name, plan[i]]));
    // The Pad's input is converted once, for the depthwise conv and the MaxPool both: 4·256·(32 + 32) bytes.
    expect(byName.dw.reorders).toEqual({ count: 1, bytes: 4 * 256 * 64 });
    expect(byName.pool.reorders.count).toBe(0);
    // The residual's shortcut is the MaxPool's blocked output: the Add and Relu stay in pw's kernel.
    expect(byName.residual.unfused).toBeUndefined();
    expect(byName.up.reorders.count).toBe(0);
    // v [1, 32, 16, 16] → NHWC in one conversion, the Transpose itself gone.
    expect(byName.nhwc).toEqual({ path: null, padding: 1, replaced: true, reorders: { count: 1, bytes: 4 * 256 * 64 } });
    // In plainResidualBlock the shortcut is plain: both Adds and their Relus run apart, each Add after a conversion back.
    const plainModel = buildAndRead(plainResidualBlock());
    const plainLinks = layerLinks(inferModel(plainModel));
    const plainPlan = planLayout(plainLinks, foldedLayers(plainLinks), 16, ['y']);
    expect(plainLinks.map((l, i) => (plainPlan[i].unfused ? l.name : null)).filter(Boolean)).toEqual(['add1', 'r1', 'add2', 'r2']);
    expect(plainLinks.map((l, i) => `${l.name}:${plainPlan[i].reorders.count}`).join(' ')).toBe('r0:0 dw1:1 pw1:0 add1:1 r1:0 dw2:1 pw2:0 add2:1 r2:0');
  });

  it('x·Sigmoid(α·x) runs as one QuickGelu kernel in the blocked layout (hand count)', () => {
    const model = buildAndRead(quickGeluBlock());
    const inferred = inferModel(model);
    const links = layerLinks(inferred);
    const folded = foldedLayers(links);
    const at = (name: string) => links.findIndex((l) => l.name === name);
    // The Mul by α and the Sigmoid fold into the last Mul; the Constant takes no time.
    expect([folded.get(at('scale')), folded.get(at('gate'))]).toEqual([at('swish'), at('swish')]);
    const plan = planLayout(links, folded, 16, ['y']);
    // x is converted once (4·64·(16 + 16) bytes) for c1 and c0; the swish and the Concat stay blocked; y goes back.
    expect(links.map((l, i) => `${l.name}:${plan[i].reorders.count}`).join(' ')).toBe('c1:1 k:0 scale:0 gate:0 swish:0 c0:0 cat:0 c2:1');
    expect(plan[at('c1')].reorders.bytes).toBe(4 * 64 * 32);
    const predicted = predictLatency(buildReport(model, inferred), links, BLOCKED).layers;
    expect([predicted[at('k')].latencyMs, predicted[at('scale')].latencyMs, predicted[at('gate')].latencyMs]).toEqual([0, 0, 0]);
    expect([predicted[at('scale')].fusedInto, predicted[at('gate')].fusedInto]).toEqual(['swish', 'swish']);
    // The QuickGelu kernel reads a and writes q ([1, 32, 8, 8]: 8 KB each), never the tensors between its nodes,
    // and computes the three nodes' 3 · 2048 FLOPs: 6.144 µs at 1 GFLOP/s beside 0.16 µs of bytes, + 0.5 µs.
    expect(predicted[at('swish')].latencyMs).toBeCloseTo((3 * 2048) / 1e6 + 0.5e-3, 12);
    expect(predicted[at('swish')].bound).toBe('compute');
  });

  it('converts both inputs of a broadcasting Mul back to NCHW and its output to blocked for the next conv (hand count)', () => {
    const model = buildAndRead(seBlock());
    const links = layerLinks(inferModel(model));
    const plan = planLayout(links, foldedLayers(links), 16, ['y']);
    const byName = Object.fromEntries(links.map((l, i) => [l.name, plan[i]]));
    // c1 reads x (16 channels, plain) through a ReorderInput: 4·64·(16 + 16) bytes.
    expect(byName.c1).toEqual({ path: 'nchwc', padding: 1, reorders: { count: 1, bytes: 4 * 64 * 32 } });
    // scale: a ([1,32,8,8]) and t ([1,32,1,1]) back to NCHW: 4·(64·64) + 4·(1·64).
    expect(byName.scale.reorders).toEqual({ count: 2, bytes: 4 * 64 * 64 + 4 * 64 });
    // c3 reads the plain product through a ReorderInput, and its blocked output y is returned in NCHW.
    expect(byName.c3.reorders).toEqual({ count: 2, bytes: 4 * 64 * 64 + 4 * 64 * 32 });
    expect(byName.gap.reorders.count + byName.c2.reorders.count + byName.gate.reorders.count).toBe(0);
  });

  it('charges the conversions to the layers in the prediction', () => {
    const model = buildAndRead(seBlock());
    const inferred = inferModel(model);
    const links = layerLinks(inferred);
    const report = buildReport(model, inferred);
    const withLayout = predictLatency(report, links, BLOCKED);
    const without = predictLatency(report, links, { ...BLOCKED, nchwcBlock: 1 });
    const i = links.findIndex((l) => l.name === 'scale');
    // Two conversions, each its own memory-bound kernel: 16,640 bytes in all at the cache's 100 GB/s, plus 0.5 µs each.
    expect(withLayout.layers[i].latencyMs! - without.layers[i].latencyMs!).toBeCloseTo((4 * 64 * 64 + 4 * 64) / 100e6 + 2 * 0.5e-3, 12);
    expect(withLayout.layers[i].layoutMs).toBeCloseTo((4 * 64 * 64 + 4 * 64) / 100e6 + 2 * 0.5e-3, 12);
    // Past the core's cache, inside the last-level one: a conversion streams at memoryGBps (10 GB/s), not at the
    // llcGBps of elementwise kernels (PP-OCRv4 det's conversions ran at 62–84 GB/s where its Adds ran at ~100).
    const llc = predictLatency(report, links, { ...BLOCKED, cacheBytes: 1024, lastLevelCacheBytes: 1 << 25, llcGBps: 1000 });
    expect(llc.layers[i].layoutMs).toBeCloseTo((4 * 64 * 64 + 4 * 64) / 10e6 + 2 * 0.5e-3, 12);
    // Each conv's kernel family is in the report; a profile without a block says nothing about it.
    const paths = Object.fromEntries(links.map((l, k) => [l.name, withLayout.layers[k].convPath]));
    expect([paths.c1, paths.c2, paths.c3, paths.scale]).toEqual(['nchwc', 'nchwc', 'nchwc', null]);
    expect(without.layers.every((l) => l.convPath === null)).toBe(true);
  });
});

describe('ONNX Runtime trace → layers: fused Gemm', () => {
  it('charges a node ORT calls "fused <Gemm name>" to that Gemm and the Relu it absorbed', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 4] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 3] }],
      initializers: [{ name: 'w', dtype: 1, dims: [3, 4], values: Array(12).fill(0.1) }],
      nodes: [
        { op: 'Gemm', name: '/fc/Gemm', inputs: ['x', 'w'], outputs: ['g'], attrs: { transB: 1 } },
        { op: 'Relu', name: '/fc/Relu', inputs: ['g'], outputs: ['y'] },
      ],
    };
    const links = layerLinks(inferModel(buildAndRead(spec)));
    const trace: TraceEvent[] = [
      { cat: 'Session', name: 'model_run', ts: 0, dur: 100, ph: 'X' },
      { cat: 'Node', name: 'fused /fc/Gemm_kernel_time', ts: 10, dur: 40, ph: 'X', args: { op_name: 'FusedGemm' } },
    ];
    const m = mapTrace(trace, links, 0);
    expect(m.layers[0]).toEqual({ ms: 0.04, fusedInto: null, ortNode: 'fused /fc/Gemm', note: { code: 'ort-node-also-computes', layers: ['/fc/Relu'] } });
    expect(m.layers[1].fusedInto).toBe(0);
  });
});

describe('bench --per-layer: the time outside the graph', () => {
  it('is the median over runs of the call from Node less ORT\'s model_run, run by run', () => {
    const model = buildAndRead(seBlock());
    const inferred = inferModel(model);
    const links = layerLinks(inferred);
    const trace: TraceEvent[] = [
      { cat: 'Session', name: 'model_run', ts: 0, dur: 500, ph: 'X' },
      { cat: 'Session', name: 'model_run', ts: 1000, dur: 100, ph: 'X' },
      { cat: 'Session', name: 'model_run', ts: 2000, dur: 120, ph: 'X' },
      { cat: 'Session', name: 'model_run', ts: 3000, dur: 90, ph: 'X' },
    ];
    // Warm-up run skipped; calls of 0.130, 0.150 and 0.100 ms against runs of 0.100, 0.120 and 0.090 ms: outside
    // 0.030, 0.030, 0.010 → median 0.030 ms.
    const r = measuredLayers(buildReport(model, inferred), links, trace, 1, [0.13, 0.15, 0.1]);
    expect(r.outsideMs).toBeCloseTo(0.03, 12);
    // Call times that do not pair with the trace's runs give no figure rather than a wrong one.
    expect(measuredLayers(buildReport(model, inferred), links, trace, 1, [0.13, 0.15]).outsideMs).toBeNull();
  });
});

describe('device profile: the layout fields', () => {
  it('accepts them, and names a bad one', () => {
    const ok = validateProfile(JSON.parse(JSON.stringify(BLOCKED)), 'p.json');
    expect([ok.nchwcBlock, ok.weightGBps, ok.im2colGBps, ok.nchwInputNsPerOutput]).toEqual([16, 4, 2, 0.5]);
    const bad = (patch: Record<string, unknown>) => {
      try {
        validateProfile({ ...JSON.parse(JSON.stringify(BLOCKED)), ...patch }, 'p.json');
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(bad({ lastLevelCacheBytes: -1 })).toBe('device profile p.json: "lastLevelCacheBytes" must be an integer ≥ 0 (bytes)');
    expect(bad({ nchwcBlock: 0 })).toBe('device profile p.json: "nchwcBlock" must be an integer from 1 to 64 (channels)');
    expect(bad({ nchwcBlock: 2.5 })).toBe('device profile p.json: "nchwcBlock" must be an integer from 1 to 64 (channels)');
    expect(bad({ im2colGBps: -1 })).toBe('device profile p.json: "im2colGBps" must be a positive number (GB/s)');
    expect(bad({ weightGBps: 'fast' })).toBe('device profile p.json: "weightGBps" must be a positive number (GB/s)');
    expect(bad({ nchwInputNsPerOutput: -0.1 })).toBe('device profile p.json: "nchwInputNsPerOutput" must be a number ≥ 0 (nanoseconds)');
  });
});

const ort = loadOrt() as unknown as Ort | null;

describe.skipIf(!ort)('the layout plan against the graph ONNX Runtime optimizes', () => {
  /** Blocked convs and layout conversions in ORT's own optimized graph of `path`. */
  async function ortLayout(path: string, dir: string): Promise<{ blockedConvs: number; reorders: number }> {
    const optimized = join(dir, `${Math.random().toString(36).slice(2)}.optimized.onnx`);
    const session = await ort!.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
    await session.release();
    const nodes = readModel(optimized).graph.nodes;
    return {
      blockedConvs: nodes.filter((n) => n.domain === 'com.microsoft.nchwc' && n.opType === 'Conv').length,
      reorders: nodes.filter((n) => n.opType === 'ReorderInput' || n.opType === 'ReorderOutput').length,
    };
  }

  function planned(path: string, block: number): { blockedConvs: number; reorders: number } {
    const model = readModel(path);
    const links = layerLinks(inferModel(model));
    const plan = planLayout(links, foldedLayers(links), block, model.graph.outputs.map((o) => o.name));
    return { blockedConvs: plan.filter((p) => p.path === 'nchwc' || p.path === 'nchw-input').length, reorders: plan.reduce((s, p) => s + p.reorders.count, 0) };
  }

  it('finds the same blocked convs and the same number of conversions on fixtures, built cases and torchvision CNNs', async () => {
    const dir = tempDir();
    const block = await detectNchwcBlock(ort!, dir);
    const built = join(dir, 'se.onnx');
    writeFileSync(built, buildModel(seBlock()));
    const zoo = join(dir, 'zoo');
    mkdirSync(zoo);
    const tf2onnx = join(dir, 'tf2onnx.onnx');
    writeFileSync(tf2onnx, buildModel(tf2onnxBlock()));
    const plainResidual = join(dir, 'plain-residual.onnx');
    writeFileSync(plainResidual, buildModel(plainResidualBlock()));
    const quickGelu = join(dir, 'quick-gelu.onnx');
    writeFileSync(quickGelu, buildModel(quickGeluBlock()));
    const paths = [
      built,
      fixture('models/tiny_cnn.onnx'),
      fixture('models/mobilenet_v1_w025.onnx'),
      fixture('models/mobilenet_v2_w035.onnx'),
      fixture('models/resnet_small.onnx'),
      fixture('real/ppocr_mobile_v2_cls.onnx'),
      // Swish (QuickGelu) and squeeze-excite; hard-swish; grouped convs of 8 channels; channel shuffles.
      ...['efficientnet_b0', 'mobilenet_v3_large', 'regnet_y_400mf', 'shufflenet_v2_x1_0'].map((n) => withSyntheticWeights(fixture(`graph-only/zoo/${n}.onnx`), zoo)),
      // tf2onnx's patterns (MLSD, BlazeFace): merged Pad, plain shortcuts, blocked Resize, Transpose to NHWC.
      tf2onnx,
      plainResidual,
      // PP-OCRv4's x·Sigmoid(α·x) (one QuickGelu node) and a channel Concat after it.
      quickGelu,
    ];
    for (const path of paths) {
      const [expected, got] = [await ortLayout(path, dir), planned(path, block)];
      expect({ path, ...got }).toEqual({ path, ...expected });
    }
    // On this machine ORT blocks something in every one of these models (a CPU without blocked kernels has none).
    if (block > 1) expect((await ortLayout(paths[2], dir)).blockedConvs).toBe(27);
  }, 120_000);
});
