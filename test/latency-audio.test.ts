import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { type Ort } from '../src/bench/run.js';
import { layerLinks } from '../src/latency/graph.js';
import { solveGeneric } from '../src/latency/measure.js';
import { convTime, foldedLayers, predictLatency } from '../src/latency/model.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { ROUND_PROFILE } from './helpers/profiles.js';
import type { DeviceProfile } from '../src/contract/device.js';

/**
 * The latency rules of the small audio models (wake-word MLPs, Silero VAD): ORT's LayerNormFusion and activation
 * fusions into a Gemm, and the generic conv path's cost per channel group. Fusions are checked against the graph
 * ONNX Runtime itself optimizes; times by hand on round numbers.
 */

/**
 * PyTorch's nn.LayerNorm as exported at opset 13 (the wake-word MLPs'): nine ops over x [1, 4, 32], then a Relu.
 * `axes` of both ReduceMeans, and `leak`: the Sub's output is also a graph output.
 */
function layerNorm(axes: number[] = [-1], leak = false): ModelSpec {
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 4, 32] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 4, 32] }, ...(leak ? [{ name: 'd', dtype: 1, shape: [1, 4, 32] }] : [])],
    initializers: [
      { name: 'two', dtype: 1, dims: [], values: [2] },
      { name: 'eps', dtype: 1, dims: [], values: [1e-5] },
      { name: 'gamma', dtype: 1, dims: [32], values: Array(32).fill(1) },
      { name: 'beta', dtype: 1, dims: [32], values: Array(32).fill(0) },
    ],
    nodes: [
      { op: 'ReduceMean', name: 'mean', inputs: ['x'], outputs: ['m'], attrs: { axes } },
      { op: 'Sub', name: 'sub', inputs: ['x', 'm'], outputs: ['d'] },
      { op: 'Pow', name: 'pow', inputs: ['d', 'two'], outputs: ['p'] },
      { op: 'ReduceMean', name: 'var', inputs: ['p'], outputs: ['v'], attrs: { axes } },
      { op: 'Add', name: 'eps_add', inputs: ['v', 'eps'], outputs: ['ve'] },
      { op: 'Sqrt', name: 'sqrt', inputs: ['ve'], outputs: ['s'] },
      { op: 'Div', name: 'div', inputs: ['d', 's'], outputs: ['n'] },
      { op: 'Mul', name: 'scale', inputs: ['n', 'gamma'], outputs: ['g'] },
      { op: 'Add', name: 'shift', inputs: ['g', 'beta'], outputs: ['ln'] },
      { op: 'Relu', name: 'relu', inputs: ['ln'], outputs: ['y'] },
    ],
    opset: 13,
  };
}

/** The wake-word MLPs' last layer: Gemm [1, 32] × [32, 1] and a Sigmoid. */
const gemmSigmoid: ModelSpec = {
  inputs: [{ name: 'x', dtype: 1, shape: [1, 32] }],
  outputs: [{ name: 'y', dtype: 1, shape: [1, 1] }],
  initializers: [
    { name: 'w', dtype: 1, dims: [32, 1], values: Array(32).fill(0.1) },
    { name: 'b', dtype: 1, dims: [1], values: [0] },
  ],
  nodes: [
    { op: 'Gemm', name: 'gemm', inputs: ['x', 'w', 'b'], outputs: ['g'] },
    { op: 'Sigmoid', name: 'sigmoid', inputs: ['g'], outputs: ['y'] },
  ],
  opset: 13,
};

/** Layer name → the layer it runs inside (itself when it runs its own kernel). */
function fusion(spec: ModelSpec): Record<string, string> {
  const model = buildAndRead(spec);
  const links = layerLinks(inferModel(model));
  const folded = foldedLayers(links, model.graph.outputs.map((o) => o.name));
  return Object.fromEntries(links.map((l, i) => [l.name, links[folded.get(i) ?? i].name]));
}

describe('ORT LayerNormFusion: nine ops, one kernel', () => {
  it('folds the other eight ops into the Mul by γ (the layer ORT names its node after); the Relu after it runs apart', () => {
    const groups = fusion(layerNorm());
    expect(Object.entries(groups).map(([name, head]) => `${name}→${head}`).join(' ')).toBe(
      'mean→scale sub→scale pow→scale var→scale eps_add→scale sqrt→scale div→scale scale→scale shift→scale relu→relu',
    );
    // ORT fuses axes [rank − 1] as it fuses [-1].
    expect(fusion(layerNorm([2])).mean).toBe('scale');
  });

  it('leaves it unfused over another axis, over two axes, or when a tensor inside it is a graph output', () => {
    for (const spec of [layerNorm([1]), layerNorm([1, 2]), layerNorm([-1], true)]) expect(fusion(spec).mean).toBe('mean');
  });

  it('times the kernel as one elementwise op: the nine ops’ FLOPs, what the group reads from outside once (hand count)', () => {
    const model = buildAndRead(layerNorm());
    const inferred = inferModel(model);
    const links = layerLinks(inferred);
    const report = buildReport(model, inferred);
    const predicted = predictLatency(report, links, ROUND_PROFILE);
    const at = (name: string) => links.findIndex((l) => l.name === name);
    expect(['mean', 'sub', 'pow', 'var', 'eps_add', 'sqrt', 'div', 'shift'].map((n) => predicted.layers[at(n)].latencyMs)).toEqual(Array(8).fill(0));
    // FLOPs: one per element of each op's output or reduced input: 128 (mean) + 128 (sub) + 128 (pow) + 128 (var)
    // + 4 (eps) + 4 (sqrt) + 128 (div) + 128 (scale) + 128 (shift) = 904, at 1 GFLOP/s: 0.904 µs. Bytes: x 512,
    // the two scalars 4 + 4, γ and β 128 + 128, the output 512: 1288 B at 100 GB/s (0.013 µs). + 0.5 µs.
    expect(report.layers.slice(at('mean'), at('shift') + 1).reduce((s, l) => s + l.macs * 2 + l.otherFlops, 0)).toBe(904);
    expect(predicted.layers[at('scale')].latencyMs).toBeCloseTo((0.904 + 0.5) / 1e3, 12);
    expect(predicted.layers[at('scale')].bound).toBe('compute');
    expect(predicted.layers[at('shift')].fusedInto).toBe('scale');
    // The whole model: 5 µs per run, the kernel, the Relu (128 FLOPs and 1 KB: 0.128 + 0.5 µs).
    expect(predicted.totals.latencyMs).toBeCloseTo((5 + 1.404 + 0.628) / 1e3, 12);
    // With calibrate's LayerNormalization chain (overheadUsByOp): the kernel's own fixed cost, 0.33 µs, in place of
    // the elementwise 0.5, and not the Mul figure: the kernel is a LayerNormalization, whatever node ORT names it after.
    const withLn = predictLatency(report, links, { ...ROUND_PROFILE, overheadUsByOp: { LayerNormalization: 0.33, Mul: 7 } });
    expect(withLn.layers[at('scale')].latencyMs).toBeCloseTo((0.904 + 0.33) / 1e3, 12);
  });

  it('folds a Sigmoid into the Gemm before it (ORT’s FusedGemm)', () => {
    expect(fusion(gemmSigmoid).sigmoid).toBe('gemm');
  });

  it.skipIf(!loadOrt())('agrees with the graph ORT optimizes', async () => {
    const dir = tempDir();
    const cases: [string, ModelSpec][] = [
      ['ln-last', layerNorm()],
      ['ln-rank-1', layerNorm([2])],
      ['ln-axis-1', layerNorm([1])],
      ['ln-two-axes', layerNorm([1, 2])],
      ['ln-leak', layerNorm([-1], true)],
      ['gemm-sigmoid', gemmSigmoid],
    ];
    for (const [name, spec] of cases) {
      const path = join(dir, `${name}.onnx`);
      const optimized = join(dir, `${name}.optimized.onnx`);
      writeFileSync(path, buildModel(spec));
      const session = await (loadOrt() as unknown as Ort).InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
      await session.release();
      const nodes = readModel(optimized).graph.nodes;
      const ops = nodes.map((n) => n.opType);
      const mbn = fusion(spec);
      // mbn folds the nine ops exactly where ORT writes one LayerNormalization node; a Sigmoid where it writes FusedGemm.
      if (name.startsWith('ln')) {
        expect(`${name}: ${ops.includes('LayerNormalization')}`).toBe(`${name}: ${mbn.mean === 'scale'}`);
        // ORT names the fused node after the Mul by γ (`scale/LayerNormFusion/`): its time lands on mbn's kernel.
        const norm = nodes.find((n) => n.opType === 'LayerNormalization');
        if (norm) expect(norm.name.split('/')[0]).toBe('scale');
      } else expect(`${ops.join(',')}: ${mbn.sigmoid}`).toBe('FusedGemm: gemm');
    }
  });
});

describe('the generic conv path: a fixed cost per channel group', () => {
  const GROUPED: DeviceProfile = { ...ROUND_PROFILE, nchwcBlock: 16, im2colGBps: 2, genericGroupUs: 0.05 };
  /** Silero VAD's first conv: 1-D depthwise, 258 channels, kernel 5, pads 2, 8 positions. */
  const silero = { geometry: { inChannels: 258, outChannels: 258, group: 258, kernel: [5], strides: [1], pads: [2, 2] }, pixels: 8, positions: 8 };
  const flops = 2 * 258 * 5 * 8;

  it('adds genericGroupUs per group to the expansion and the GEMM (hand count)', () => {
    // im2col: 258·5·8 elements, 8 bytes each, at 2 GB/s; the FLOPs on 16 columns (8 positions, one strip) at 20
    // GFLOP/s; the depthwise conv's 1 µs set-up; 258 groups × 0.05 µs = 12.9 µs.
    const t = convTime(GROUPED, 'depthwise', silero, flops, 1000, 1000, false, 'generic');
    expect(t.ms).toBeCloseTo((8 * 258 * 5 * 8) / 2e6 + (flops * 2) / 20e6 + 1e-3 + 12.9e-3, 12);
    // At 2 GB/s the expansion (41.3 µs) still bounds it; at 50 GB/s (1.65 µs) the groups do.
    expect(t.bound).toBe('memory');
    expect(convTime({ ...GROUPED, im2colGBps: 50 }, 'depthwise', silero, flops, 1000, 1000, false, 'generic').bound).toBe('overhead');
    // Without the key (older profiles), as before; a dense conv (one group) pays no group cost.
    const before: DeviceProfile = { ...GROUPED, genericGroupUs: undefined };
    expect(t.ms - convTime(before, 'depthwise', silero, flops, 1000, 1000, false, 'generic').ms).toBeCloseTo(12.9e-3, 12);
    const dense = { ...silero, geometry: { ...silero.geometry, group: 1, outChannels: 16 } };
    expect(convTime(GROUPED, 'conv', dense, 1, 1000, 1000, false, 'generic')).toEqual(convTime(before, 'conv', dense, 1, 1000, 1000, false, 'generic'));
  });

  it('streams weights from outside the core’s cache before the multiply: the two times add (hand count)', () => {
    // Silero VAD's STFT: 1 → 258 channels, kernel 256, stride 64, 8 frames; 264,192 bytes of weights.
    const stft = { geometry: { inChannels: 1, outChannels: 258, group: 1, kernel: [256], strides: [64], pads: [0, 0] }, pixels: 8, positions: 8 };
    const flops = 2 * 258 * 256 * 8;
    const weights = 258 * 256 * 4;
    // Expansion 1·256·8 elements × 8 bytes at 2 GB/s (8.192 µs); the FLOPs on 16 columns at 20 GFLOP/s (105.6768 µs);
    // the GEMM's 1 µs; weights from the last-level cache at memoryGBps (no llcWeightGBps here): 10 GB/s, 26.4192 µs.
    const cold = convTime(GROUPED, 'conv', stft, flops, 1000, weights, 'llc', 'generic');
    expect(cold.ms).toBeCloseTo((8.192 + 105.6768 + 1 + 26.4192) / 1e3, 12);
    expect(cold.bound).toBe('compute');
    // Weights in the core's cache: the larger of the FLOPs and all bytes at 100 GB/s (2.652 µs), as before.
    expect(convTime(GROUPED, 'conv', stft, flops, 1000, weights, false, 'generic').ms).toBeCloseTo((8.192 + 105.6768 + 1) / 1e3, 12);
  });

  it('calibrate solves the bandwidth and the per-group cost from its two generic chains', () => {
    // Made-up machine: 0.02 ns per expanded byte (50 GB/s) and 0.06 µs per group; the two chains as calibrate
    // writes them (4 convs of 66 channels 3×3 on 28×28; 8 one-D depthwise convs of 256 channels, kernel 5, on 8).
    const chainBytes = 4 * 8 * 66 * 9 * 28 * 28;
    const groupBytes = 8 * 8 * 256 * 5 * 8;
    const net = (bytes: number, groups: number) => bytes * 2e-8 + groups * 6e-5;
    const fit = solveGeneric({ net: net(chainBytes, 264), bytes: chainBytes, groups: 264, ms: 1 }, { net: net(groupBytes, 2048), bytes: groupBytes, groups: 2048 });
    expect(fit.msPerByte).toBeCloseTo(2e-8, 18);
    expect(fit.msPerGroup).toBeCloseTo(6e-5, 15);
    // A grouped chain faster than its expansion alone (noise): no per-group cost, the bandwidth from the 66-channel chain.
    const noisy = solveGeneric({ net: 0.3, bytes: chainBytes, groups: 264, ms: 0.3 }, { net: 0, bytes: groupBytes, groups: 2048 });
    expect(noisy).toEqual({ msPerByte: 0.3 / chainBytes, msPerGroup: 0 });
  });

  it('is an optional profile key, checked', () => {
    expect(validateProfile(JSON.parse(JSON.stringify(GROUPED)), 'p.json').genericGroupUs).toBe(0.05);
    expect(validateProfile(JSON.parse(JSON.stringify(ROUND_PROFILE)), 'p.json').genericGroupUs).toBeUndefined();
    expect(() => validateProfile({ ...JSON.parse(JSON.stringify(GROUPED)), genericGroupUs: -1 }, 'p.json')).toThrow('device profile p.json: "genericGroupUs" must be a number ≥ 0 (microseconds)');
  });

  it.skipIf(!loadOrt())('ORT keeps a 1-D depthwise conv a plain Conv (the generic kernel), and blocks a 2-D one of 64 channels', async () => {
    const dir = tempDir();
    const conv = (dims: number): ModelSpec => ({
      inputs: [{ name: 'x', dtype: 1, shape: [1, 64, ...Array(dims).fill(8)] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 64, ...Array(dims).fill(8)] }],
      initializers: [{ name: 'w', dtype: 1, dims: [64, 1, ...Array(dims).fill(5)], values: Array(64 * 5 ** dims).fill(0.01) }],
      nodes: [{ op: 'Conv', name: 'dw', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: Array(dims).fill(5), pads: Array(2 * dims).fill(2), group: 64 } }],
      opset: 13,
    });
    const domains: string[] = [];
    for (const dims of [1, 2]) {
      const path = join(dir, `dw${dims}.onnx`);
      const optimized = join(dir, `dw${dims}.optimized.onnx`);
      writeFileSync(path, buildModel(conv(dims)));
      const session = await (loadOrt() as unknown as Ort).InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 4 });
      await session.release();
      domains.push(readModel(optimized).graph.nodes.find((n) => n.opType === 'Conv')!.domain || 'ai.onnx');
    }
    expect(domains).toEqual(['ai.onnx', 'com.microsoft.nchwc']);
  });
});
