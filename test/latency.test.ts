import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { MbnError } from '../src/errors.js';
import { BUILTIN_PROFILES } from '../src/latency/builtin.js';
import { layerLinks } from '../src/latency/graph.js';
import { kernelTime, predictLatency } from '../src/latency/model.js';
import { mapTrace, type TraceEvent } from '../src/latency/profile-map.js';
import { int8Benchmarks } from '../src/latency/measure-int8.js';
import { opOverheadBenchmarks } from '../src/latency/measure-op-overheads.js';
import { lastLevelFromSweep } from '../src/latency/measure.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { HAND_PROFILE } from './helpers/profiles.js';
import type { DeviceProfile } from '../src/contract/device.js';

/**
 * The latency model, device profiles, the ORT trace mapping and the CLI around them. No assertion here depends on
 * how fast this machine is: accuracy against measurement is a benchmark (scripts/latency-accuracy.mjs --check).
 */
const PROFILE: DeviceProfile = HAND_PROFILE;

const values = (n: number) => Array.from({ length: n }, (_, i) => ((i % 7) - 3) / 10);

/** Conv 3×3, 8 → 16 channels, 16×16, pads 1, bias; then Relu. */
const CONV_RELU: ModelSpec = {
  inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 16, 16] }],
  outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 16, 16] }],
  initializers: [
    { name: 'w', dtype: 1, dims: [16, 8, 3, 3], values: values(16 * 8 * 9) },
    { name: 'b', dtype: 1, dims: [16], values: values(16) },
  ],
  nodes: [
    { op: 'Conv', name: 'conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['y'] },
  ],
};

function reportOf(spec: ModelSpec) {
  const model = buildAndRead(spec);
  const inferred = inferModel(model);
  return { report: buildReport(model, inferred), links: layerLinks(inferred) };
}

describe('the roofline', () => {
  it('takes the larger of compute and memory time plus the per-op overhead', () => {
    // 2 MFLOP at 10 GFLOP/s = 200 µs; 1 MB beyond the 16 KiB cache at 1 GB/s = 1000 µs.
    expect(kernelTime(PROFILE, 'conv', 2e6, 1e6)).toEqual({ ms: 1.002, bound: 'memory' });
    // 2 MFLOP, 8 KB in cache at 100 GB/s = 0.08 µs.
    expect(kernelTime(PROFILE, 'conv', 2e6, 8192)).toEqual({ ms: 0.202, bound: 'compute' });
    // 100 FLOP, 100 B: both far below the 2 µs overhead.
    expect(kernelTime(PROFILE, 'elementwise', 100, 100).bound).toBe('overhead');
  });

  it('predicts a Conv + Relu by hand: the Relu runs inside the conv, separation splits it in two kernels', () => {
    const { report, links } = reportOf(CONV_RELU);
    const { layers, totals } = predictLatency(report, links, PROFILE);
    const conv = report.layers[0];
    expect(conv.macs).toBe(16 * 8 * 9 * 256);
    // Bytes: input 8·256·4 = 8192, weights 16·8·9·4 = 4608, bias 64, output 16·256·4 = 16384: 29,248 > 16 KiB.
    expect(links[0].inputBytes! + links[0].outputBytes!).toBe(29248);
    const flops = 2 * conv.macs + conv.otherFlops;
    const computeUs = flops / 10e3;
    expect(computeUs).toBeGreaterThan(29.248);
    expect(layers[0].latencyMs).toBeCloseTo((computeUs + 2) / 1000, 12);
    expect(layers[0].bound).toBe('compute');
    expect(layers[1]).toEqual({ latencyMs: 0, bound: null, fusedInto: 'conv', separation: null, convPath: null, layoutMs: 0 });
    // Depthwise: 256·8·9 = 18,432 MACs → 36.864 µs at 1 GFLOP/s; bytes 8192 + 288 + 8192 = 16,672 → 16.672 µs.
    // Pointwise: 256·16·8 = 32,768 MACs → 13.1072 µs at 5 GFLOP/s; activations 8192 + 16384 and weights 512 (the model's 4,672 B
    // of weights fit in the cache, so they share the activations' bandwidth): 25,088 B > 16 KiB at 1 GB/s = 25.088 µs.
    const after = (36.864 + 2 + 25.088 + 2) / 1000;
    expect(layers[0].separation!.afterMs).toBeCloseTo(after, 12);
    expect(layers[0].separation!.macRatio).toBeCloseTo((18432 + 32768) / conv.macs, 12);
    expect(totals.latencyMs).toBeCloseTo(layers[0].latencyMs + 0.005, 12);
    expect(totals.latencyIfSeparatedMs).toBeCloseTo(after + 0.005, 12);
  });

  it('streams weights from DRAM when the model\'s weights exceed the cache', () => {
    // 1 MB of activations beyond the cache (1000 µs at 1 GB/s) and 100 KB of weights.
    expect(kernelTime(PROFILE, 'gemm', 0, 1e6, 1e5, true).ms).toBeCloseTo((1000 + 100 + 2) / 1000, 12);
    // 8 KB of activations in the cache (0.08 µs at 100 GB/s) and 100 KB of cold weights (100 µs at 1 GB/s).
    expect(kernelTime(PROFILE, 'gemm', 0, 8192, 1e5, true)).toEqual({ ms: (0.08192 + 100 + 2) / 1000, bound: 'memory' });
  });

  it('classes a group = channels conv as depthwise and charges reshapes only the overhead', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 16, 16] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 2048] }],
      initializers: [{ name: 'w', dtype: 1, dims: [8, 1, 3, 3], values: values(72) }],
      nodes: [
        { op: 'Conv', name: 'dw', inputs: ['x', 'w'], outputs: ['d'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 8 } },
        { op: 'Flatten', name: 'flat', inputs: ['d'], outputs: ['y'] },
      ],
    };
    const { report, links } = reportOf(spec);
    const { layers } = predictLatency(report, links, PROFILE);
    // 8·9·256 = 18,432 MACs = 36,864 FLOP at 1 GFLOP/s = 36.864 µs; bytes 8192 + 288 + 8192 = 16,672 → 16.672 µs.
    expect(layers[0].latencyMs).toBeCloseTo((36.864 + 2) / 1000, 12);
    expect(layers[1].latencyMs).toBeCloseTo(2 / 1000, 12);
    expect(layers[1].bound).toBe('overhead');
  });
});

describe('device profiles', () => {
  it('every built-in profile is valid, uncalibrated, and cites its sources', () => {
    expect(BUILTIN_PROFILES.map((p) => p.name)).toEqual(['rpi4', 'rpi5', 'jetson-orin-nano']);
    for (const p of BUILTIN_PROFILES) {
      expect(validateProfile(JSON.parse(JSON.stringify(p)), p.name)).toEqual(p);
      expect(p.calibrated).toBe(false);
      expect(p.sources.filter((s) => /https:\/\//.test(s)).length).toBeGreaterThanOrEqual(1);
    }
    // Raspberry Pi 4: 1.5 GHz × 16 FLOP/cycle = 24 GFLOP/s peak; dense conv at 50% of it; 12.8 GB/s × 40%.
    const rpi4 = BUILTIN_PROFILES[0];
    expect(rpi4.gflops.conv).toBe(12);
    expect(rpi4.memoryGBps).toBe(5.12);
  });

  it('names the first bad field', () => {
    const bad = (patch: Record<string, unknown>) => {
      try {
        validateProfile({ ...PROFILE, ...patch }, "'p.json'");
      } catch (error) {
        expect(error).toBeInstanceOf(MbnError);
        return (error as Error).message;
      }
      return 'valid';
    };
    expect(bad({})).toBe('valid');
    expect(bad({ schema: 'mbn.device/2' })).toBe(`device profile 'p.json': "schema" must be "mbn.device/1" (found '"mbn.device/2"')`);
    expect(bad({ gflops: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1 } })).toBe(`device profile 'p.json': "gflops.elementwise" must be a positive number (GFLOP/s)`);
    expect(bad({ gflops: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1, elementwise: 1, winograd: 2 } })).toBe(`device profile 'p.json': "gflops.winograd" is not an op class (conv, pointwise, depthwise, gemm, elementwise)`);
    expect(bad({ memoryGBps: 0 })).toBe(`device profile 'p.json': "memoryGBps" must be a positive number (GB/s)`);
    expect(bad({ overheadUs: 2 })).toBe(`device profile 'p.json': "overheadUs" must be an object with conv, pointwise, depthwise, gemm, elementwise`);
    expect(bad({ overheadUs: { conv: 1, pointwise: 1, depthwise: 1, gemm: -1, elementwise: 1 } })).toBe(`device profile 'p.json': "overheadUs.gemm" must be a number ≥ 0 (microseconds)`);
    expect(bad({ threads: 1.5 })).toBe(`device profile 'p.json': "threads" must be a positive integer`);
  });

  it('a bad profile file is one line on stderr and exit 2, with nothing on stdout', () => {
    const dir = tempDir();
    const cases: [string, string][] = [
      ['{"schema": "mbn.device/1", "name": "x"', 'is not valid JSON'],
      ['[1, 2]', 'is not a JSON object'],
      [JSON.stringify({ ...PROFILE, cacheBytes: 'big' }), '"cacheBytes" must be an integer ≥ 0 (bytes)'],
    ];
    cases.forEach(([text, message], i) => {
      const path = join(dir, `p${i}.json`);
      writeFileSync(path, text);
      const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--device', path]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(/^mbn: /);
      expect(r.stderr).toContain(message);
    });
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--device', 'no-such-board']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mbn: --device 'no-such-board' is neither a profile file nor a built-in profile (rpi4, rpi5, jetson-orin-nano)\n");
  });
});

describe('mbn analyze --device', () => {
  it('adds latencyMs and bound to each layer and totals.latencyMs, and gates on --max-latency', () => {
    const dir = tempDir();
    const path = join(dir, 'p.json');
    writeFileSync(path, JSON.stringify(PROFILE));
    const model = join(dir, 'conv_relu.onnx');
    writeFileSync(model, buildModel(CONV_RELU));
    const r = mbn(['analyze', model, '--device', path, '--format', 'json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    const { report, links } = reportOf(CONV_RELU);
    const expected = predictLatency(report, links, PROFILE);
    expect(out.layers.map((l: { latencyMs: number }) => l.latencyMs)).toEqual(expected.layers.map((l) => l.latencyMs));
    expect(out.layers.map((l: { bound: string | null }) => l.bound)).toEqual(['compute', null]);
    expect(out.totals.latencyMs).toBe(expected.totals.latencyMs);
    expect(out.totals.device).toBe('test');
    const limit = out.totals.latencyMs;
    expect(mbn(['analyze', model, '--device', path, '--max-latency', String(limit * 1.01)]).status).toBe(0);
    const over = mbn(['analyze', model, '--device', path, '--max-latency', String(limit * 0.5)]);
    expect(over.status).toBe(1);
    expect(over.stderr).toMatch(/^✖ Predicted latency .* on test exceeds the budget of /);
    const table = mbn(['analyze', model, '--device', 'rpi4']);
    expect(table.stdout).toContain('Predicted latency on rpi4 (uncalibrated estimate)');
    expect(table.stdout).toMatch(/conv +│ Conv +│ +295K │ .* → .*\(MACs ×0\.17\)/);
    const noDevice = mbn(['analyze', model, '--max-latency', '5']);
    expect(noDevice.status).toBe(2);
    expect(noDevice.stderr).toBe('mbn: --max-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)\n');
  });

  it('--max-latency alone never passes an incomplete analysis (Silero VAD without --input: dims assumed 1)', () => {
    const silero = fixture('real/silero_vad_v5.onnx');
    // Predicted 1.71 ms on rpi4 from assumed dims, far under 1000 ms: the gate must still fail.
    const r = mbn(['analyze', silero, '--device', 'rpi4', '--max-latency', '1000']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^✖ the analysis is incomplete, so no budget can pass:\n  input 'input' dim 1 is dynamic and was assumed 1/);
    const given = mbn(['analyze', silero, '--device', 'rpi4', '--max-latency', '1000', '--input', 'input:1x512', '--input', 'state:2x1x128', '--input-value', 'sr=16000']);
    expect(given.stderr).toBe('');
    expect(given.status).toBe(0);
  });
});

describe('ONNX Runtime trace → layers', () => {
  const links = reportOf(CONV_RELU).links;
  const ev = (name: string, ts: number, dur: number, op: string): TraceEvent => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, ph: 'X', args: { op_name: op } });
  const run = (ts: number, dur: number): TraceEvent => ({ cat: 'Session', name: 'model_run', ts, dur, ph: 'X' });

  it('charges a fused Conv+Relu node to the conv, skips warm-up runs, and leaves ORT-inserted nodes unmatched', () => {
    const trace = [
      run(0, 1000), ev('y_nchwc', 10, 900, 'Conv'), ev('ReorderOutput', 950, 40, 'ReorderOutput'),
      run(2000, 200), ev('ReorderInput', 2010, 20, 'ReorderInput'), ev('y_nchwc', 2040, 100, 'Conv'), ev('ReorderOutput', 2150, 30, 'ReorderOutput'),
      run(3000, 200), ev('ReorderInput', 3010, 20, 'ReorderInput'), ev('y_nchwc', 3030, 120, 'Conv'), ev('ReorderOutput', 3150, 30, 'ReorderOutput'),
    ];
    const m = mapTrace(trace, links, 1);
    expect(m.runs).toBe(2);
    expect(m.runMs).toBe(0.2);
    // Conv: kernels 100 and 120 µs after gaps of 10 (2030 → 2040) and 0 µs: (110 + 120) / 2 = 115 µs per run.
    expect(m.layers[0]).toEqual({ ms: 0.115, fusedInto: null, ortNode: 'y_nchwc', note: { code: 'ort-node-also-computes', layers: ['relu'] } });
    expect(m.layers[1]).toEqual({ ms: null, fusedInto: 0, ortNode: 'y_nchwc', note: { code: 'fused-by-ort', into: 'conv' } });
    const byName = Object.fromEntries(m.nodes.map((n) => [n.ortName, n]));
    expect(byName.ReorderInput.layers).toEqual([]);
    expect(byName.ReorderInput.ms).toBe(0.02);
    // ReorderOutput: 30 µs kernel after gaps of 10 and 0 µs.
    expect(byName.ReorderOutput.ms).toBe(0.035);
    expect(m.nodeMs).toBeCloseTo(0.02 + 0.115 + 0.035, 12);
  });

  it('matches a node kept under its own name, and a FusedConv to its conv', () => {
    const kept = mapTrace([run(0, 100), ev('conv', 0, 50, 'Conv'), ev('relu', 60, 10, 'Relu')], links, 0);
    expect(kept.layers.map((l) => l.ms)).toEqual([0.05, 0.02]);
    const fused = mapTrace([run(0, 100), ev('conv', 0, 50, 'FusedConv')], links, 0);
    expect(fused.layers[0].ms).toBe(0.05);
    expect(fused.layers[1].fusedInto).toBe(0);
  });
});

describe.skipIf(!loadOrt())('mbn bench --per-layer and mbn calibrate (ONNX Runtime)', () => {
  it('maps the nodes of a model where ONNX Runtime fuses Conv+Relu back to its layers', () => {
    const dir = tempDir();
    const model = join(dir, 'conv_relu.onnx');
    writeFileSync(model, buildModel(CONV_RELU));
    const r = mbn(['bench', model, '--per-layer', '--runs', '3', '--warmup', '1', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = JSON.parse(r.stdout).models[0];
    const [conv, relu] = rec.layers;
    expect(conv.name).toBe('conv');
    expect(conv.measuredMs).toBeGreaterThan(0);
    // ORT ran the Relu inside the conv's node: the node is not called 'relu' and the Relu has no time of its own.
    expect(conv.ortNode).not.toBe('relu');
    expect(relu).toMatchObject({ name: 'relu', measuredMs: null, fusedInto: 'conv', ortNode: conv.ortNode });
    expect(conv.macs).toBe(294912);
    expect(conv.bytesMoved).toBe(29248);
    expect(conv.intensity).toBeCloseTo((2 * 294912 + conv.flops - 2 * 294912) / 29248, 12);
    expect(rec.trace.runs).toBe(3);
    const runtime = rec.trace.runtimeNodes.reduce((s: number, n: { ms: number }) => s + n.ms, 0);
    expect(conv.measuredMs + runtime).toBeCloseTo(rec.trace.nodeMs, 9);
    expect(conv.share).toBeCloseTo(conv.measuredMs / rec.trace.nodeMs, 12);
    // The binding's share of each call (inputs in, outputs out) is measured run by run, never negative.
    expect(rec.trace.outsideMs).toBeGreaterThanOrEqual(0);
    const table = mbn(['bench', model, '--per-layer', '--runs', '2', '--warmup', '0']);
    expect(table.stdout).toMatch(/│ conv +│ Conv +│ +295K │ +29\.2KB │ .*│ \+ Relu +│/);
  });

  it('calibrate writes a valid profile that analyze --device reads', () => {
    const dir = tempDir();
    const out = join(dir, 'me.json');
    const r = mbn(['calibrate', '-o', out, '--runs', '2', '--name', 'here']);
    expect(r.status).toBe(0);
    const profile = validateProfile(JSON.parse(readFileSync(out, 'utf8')), 'me.json');
    expect(profile.name).toBe('here');
    expect(profile.calibrated).toBe(true);
    const names = ['conv', 'gemm', 'pointwise', 'depthwise', 'elementwise', 'divide', 'maximum', 'llc-bandwidth', 'bandwidth', 'overhead', 'conv-overhead', 'depthwise-overhead', 'gemm-overhead', 'generic-groups', 'generic', 'weights', 'llc-weights', 'weights-8mib', 'weights-16mib', 'weights-32mib', 'cache-weights', 'call', 'call-inputs', 'call-outputs', 'call-input-bytes', 'call-output-bytes', ...opOverheadBenchmarks().map((b) => b.name), 'if-values', 'if-values-flat'];
    // The NCHW-input benchmark exists only where ONNX Runtime has blocked kernels (and so a block size).
    // Then the integer kernels (src/latency/measure-int8.ts), each named in its own list.
    const int8 = int8Benchmarks().map((b) => b.name);
    const float = profile.nchwcBlock! > 1 ? [...names, 'nchw-input'] : names;
    expect(profile.measurements!.map((m) => m.name).slice(0, float.length)).toEqual(float);
    expect(profile.measurements!.map((m) => m.name).slice(float.length).filter((n) => int8.includes(n))).toEqual(int8);
    // Then the profiled float kernels (src/latency/measure-kernels.ts): the ConvTranspose's GEMM is 32·4 × 32 × 40·40.
    expect(profile.measurements!.map((m) => m.name).slice(float.length, float.length + 5)).toEqual(['conv-transpose', 'resize-nearest2x', 'resize-nearest', 'resize-linear', 'resize-nearest8bit']);
    expect(profile.measurements!.find((m) => m.name === 'conv-transpose')!.flops).toBe(2 * 32 * 4 * 32 * 1600);
    expect(profile.convTransposeNsPerColumn).toBeGreaterThan(0);
    expect(Object.keys(profile.resizeNsPerOutput!)).toEqual(['nearest2x', 'nearest', 'linear', 'nearest8bit']);
    // The 1×1 conv alone and with each activation ORT fuses into it.
    expect(profile.measurements!.map((m) => m.name).filter((n) => n.startsWith('fused-activation-'))).toEqual(['fused-activation-none', 'fused-activation-LeakyRelu', 'fused-activation-Clip', 'fused-activation-HardSigmoid', 'fused-activation-Sigmoid', 'fused-activation-Tanh']);
    expect(Object.keys(profile.fusedActivationNsPerElement!)).toEqual(['LeakyRelu', 'Clip', 'HardSigmoid', 'Sigmoid', 'Tanh']);
    expect(profile.divNsPerElement).toBeGreaterThan(0);
    expect(profile.minMaxNsPerElement).toBeGreaterThan(0);
    // The binding's cost per graph input and output: a Sum of 8 inputs, 8 Relu/Neg outputs, each against one.
    expect(profile.inputUs).toBeGreaterThanOrEqual(0);
    expect(profile.outputUs).toBeGreaterThanOrEqual(0);
    // The binding's cost per byte in and out: 64 KB sliced down on the way in, 32 bytes tiled up to 64 KB on the way out.
    expect(profile.measurements!.filter((m) => m.name.startsWith('call-') && m.name.endsWith('-bytes')).map((m) => m.bytes)).toEqual([65536, 65536]);
    expect(profile.inputNsPerByte).toBeGreaterThanOrEqual(0);
    expect(profile.outputNsPerByte).toBeGreaterThanOrEqual(0);
    // An If's cost per value its branch reads: 50 Ifs of 8 Adds each reading an outer constant, and the Adds alone.
    expect(profile.ifValueUs).toBeGreaterThanOrEqual(0);
    expect(profile.measurements!.find((m) => m.name === 'if-values-flat')!.what).toBe('the 400 Adds of the if-values chain without its Ifs');
    expect(profile.measurements!.find((m) => m.name === 'call-inputs')!.what).toBe('one Sum of 8 [1, 8] graph inputs (per-input cost of a call: inputUs)');
    expect(Object.keys(profile.overheadUsByOp!)).toEqual(['Concat', 'Slice', 'Gather', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Unsqueeze', 'Squeeze', 'LayerNormalization', 'LSTM', 'If']);
    expect(profile.measurements!.find((m) => m.name === 'divide')!.flops).toBe(50 * 16 * 64 * 64);
    expect(profile.measurements!.find((m) => m.name === 'int8-conv')!.flops).toBe(2 * 64 * 64 * 9 * 784);
    expect(profile.measurements!.find((m) => m.name === 'conv-integer-depthwise')!.flops).toBe(2 * 64 * 9 * 3136);
    expect(profile.int8!.gops.conv).toBeGreaterThan(0);
    expect(profile.int8!.uint8WeightsSlowdown).toBeGreaterThan(0);
    expect(profile.int8!.genericGops!.depthwise).toBeGreaterThan(0);
    // The grouped ConvInteger's four costs, fitted to its six depthwise shapes (src/latency/conv-integer.ts).
    expect(Object.keys(profile.int8!.groupedConvInteger!)).toEqual(['nsPerGroup', 'nsPerRow', 'nsPerStridedElement', 'nsPerBlock']);
    expect(profile.measurements!.find((m) => m.name === 'conv-integer-depthwise-56x56-k3-s2')!.flops).toBe(2 * 64 * 9 * 28 * 28);
    // The float grouped convs off the NCHWc path: 66 channels 3×3 on 56×56 (one multiply-add per im2col element), and
    // 78 channels in 13 groups of 6 on 28×28 (6 output channels per group).
    expect(profile.measurements!.find((m) => m.name === 'grouped-conv-56x56-k3-s1')!.flops).toBe(2 * 66 * 9 * 3136);
    expect(profile.measurements!.find((m) => m.name === 'grouped-conv-g13-28x28-k3-s1')!.flops).toBe(2 * 13 * 6 * 54 * 784);
    expect(Object.keys(profile.genericGroupedConv!).slice(0, 6)).toEqual(['nsPerGroup', 'nsPerRow', 'nsPerCopiedElement', 'nsPerStridedElement', 'nsPerPaddedColumn', 'nsPerElement']);
    expect(Number.isInteger(profile.nchwcBlock)).toBe(true);
    expect(profile.weightGBps).toBeGreaterThan(0);
    expect(profile.im2colGBps).toBeGreaterThan(0);
    // The generic chain: 4 depthwise convs whose channels (4·block + 2) are not a multiple of 4.
    const gc = profile.nchwcBlock! > 1 ? 4 * profile.nchwcBlock! + 2 : 34;
    expect(profile.measurements!.find((m) => m.name === 'generic')!.flops).toBe(4 * 2 * gc * 9 * 784);
    // The grouped chain: 8 one-D depthwise convs, 256 channels, kernel 5, 8 positions; its per-group cost ≥ 0.
    expect(profile.measurements!.find((m) => m.name === 'generic-groups')!.flops).toBe(8 * 2 * 256 * 5 * 8);
    expect(profile.genericGroupUs).toBeGreaterThanOrEqual(0);
    expect(profile.measurements!.find((m) => m.name === 'weights')!.bytes).toBe(4096 * 4096 * 4);
    // The sweep between 4 and 64 MiB that measures the last-level cache where the OS does not give it.
    expect(profile.measurements!.filter((m) => m.name.startsWith('weights-')).map((m) => m.bytes)).toEqual([1448 * 1448 * 4, 2048 * 2048 * 4, 2896 * 2896 * 4]);
    // 256 KB of weights that stay in the core's cache (where it holds twice that): a GEMV's rate.
    expect(profile.measurements!.find((m) => m.name === 'cache-weights')!.bytes).toBe(256 * 256 * 4);
    if (profile.cacheBytes >= 512 * 1024) expect(profile.cacheWeightGBps).toBeGreaterThan(0);
    // 16 chained Adds of 1 MiB tensors: two read and one written each.
    expect(profile.measurements!.find((m) => m.name === 'llc-bandwidth')!.bytes).toBe(16 * 64 * 64 * 64 * 12);
    if (profile.lastLevelCacheBytes !== undefined && profile.lastLevelCacheBytes >= 24 * 64 * 64 * 64 && profile.cacheBytes < 12 * 64 * 64 * 64) expect(profile.llcGBps).toBeGreaterThan(0);
    // 4 chained Conv 3×3 64→64 at 28×28: 4 · 64·64·9·784 MACs; 16 chained depthwise: 16 · 64·9·784.
    expect(profile.measurements![0].flops).toBe(4 * 2 * 64 * 64 * 9 * 784);
    expect(profile.measurements![2].flops).toBe(8 * 2 * 32 * 32 * 3136);
    expect(profile.measurements![3].flops).toBe(16 * 2 * 64 * 9 * 784);
    expect(mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--device', out]).status).toBe(0);
    const again = mbn(['calibrate', '-o', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/^mbn: .*me\.json' exists; use --force to overwrite it\n$/);
    expect(existsSync(`${out}.tmp-${process.pid}`)).toBe(false);
  });
});

describe('mbn check: maxLatencyMs and device', () => {
  it('gates each model on its predicted latency, and rejects maxLatencyMs without a device', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'conv_relu.onnx'), buildModel(CONV_RELU));
    writeFileSync(join(dir, 'p.json'), JSON.stringify(PROFILE));
    const { report, links } = reportOf(CONV_RELU);
    const predicted = predictLatency(report, links, PROFILE).totals.latencyMs;
    const config = (entries: unknown) => writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify(entries));
    config([
      { name: 'fast', model: 'conv_relu.onnx', device: 'p.json', maxLatencyMs: predicted * 2 },
      { name: 'slow', model: 'conv_relu.onnx', device: 'p.json', maxLatencyMs: predicted / 2 },
    ]);
    const r = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const checks = JSON.parse(r.stdout).checks;
    expect(checks.map((c: { name: string; kind: string; passed: boolean; value: number }) => [c.name, c.kind, c.passed, c.value])).toEqual([
      ['fast', 'latency', true, predicted],
      ['slow', 'latency', false, predicted],
    ]);
    // The table has a Latency column: "predicted / budget ms" with its mark, three significant digits.
    const ms = (n: number) => `${Number(n.toPrecision(3))}`;
    const table = mbn(['check'], { cwd: dir }).stdout;
    expect(table).toMatch(/│\s+│ Model\s+│\s+Latency │\n/);
    expect(table).toContain(`│ ✔ pass │ fast`);
    expect(table).toContain(`${ms(predicted)} / ${ms(predicted * 2)} ms ✔ │`);
    expect(table).toContain(`│ ✖ FAIL │ slow`);
    expect(table).toContain(`${ms(predicted)} / ${ms(predicted / 2)} ms ✖ │`);
    config([{ model: 'conv_relu.onnx', maxLatencyMs: 1 }]);
    const missing = mbn(['check'], { cwd: dir });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^mbn: mbn\.config\.json: entry 1: "maxLatencyMs" needs "device"/);
    config([{ model: 'conv_relu.onnx', maxLatencyMs: 1, device: 'nope.json' }]);
    const bad = mbn(['check'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^mbn: mbn\.config\.json: "device" '.*nope\.json' is neither a profile file nor a built-in profile/);
  });
});

describe('mbn separate --target-latency', () => {
  it('separates the convs with the most predicted time saved, only until the predicted latency fits', () => {
    const dir = tempDir();
    const profilePath = join(dir, 'p.json');
    writeFileSync(profilePath, JSON.stringify(PROFILE));
    const path = fixture('models/conv_mobilenet_v1_w025.onnx');
    const model = readModel(path);
    const inferred = inferModel(model);
    const report = buildReport(model, inferred);
    const { layers, totals } = predictLatency(report, layerLinks(inferred), PROFILE);
    model.source.close();
    const savings = report.layers
      .map((l, i) => ({ name: l.name, saved: layers[i].separation ? layers[i].separation!.beforeMs - layers[i].separation!.afterMs : 0 }))
      .filter((x) => x.saved > 0)
      .sort((a, b) => b.saved - a.saved);
    expect(savings.length).toBeGreaterThan(3);
    // Needs exactly the two largest savings.
    const target = totals.latencyMs - savings[0].saved - savings[1].saved + 1e-9;
    const r = mbn(['separate', path, '--dry-run', '--init', 'he', '--device', profilePath, '--target-latency', String(target), '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.layers.map((l: { name: string }) => l.name).sort()).toEqual([savings[0].name, savings[1].name].sort());
    expect(out.notes.some((n: string) => n.startsWith('--target-latency: predicted latency on test'))).toBe(true);
    const bad = mbn(['separate', path, '--dry-run', '--target-latency', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('mbn: --target-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)\n');
  });
});

describe('ONNX Runtime trace → layers: graph-level fusions', () => {
  it('maps a QuickGelu fusion named after its Mul to the Mul, with the Sigmoid that fed only it', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 1, shape: [1, 8] }],
      outputs: [{ name: 'y', dtype: 1, shape: [1, 8] }],
      nodes: [
        { op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Sigmoid', name: 'sig', inputs: ['r'], outputs: ['s'] },
        { op: 'Mul', name: 'swish', inputs: ['r', 's'], outputs: ['y'] },
      ],
    };
    const links = reportOf(spec).links;
    const ev = (name: string, ts: number, dur: number, op: string): TraceEvent => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op } });
    const m = mapTrace([{ cat: 'Session', name: 'model_run', ts: 0, dur: 100 }, ev('relu', 0, 10, 'Relu'), ev('swish/QuickGeluFusion/', 10, 30, 'QuickGelu')], links, 0);
    expect(m.layers.map((l) => [l.ms, l.fusedInto])).toEqual([
      [0.01, null],
      [null, 2],
      [0.03, null],
    ]);
    // The model predicts the same: the Sigmoid runs inside the Mul.
    const { report } = reportOf(spec);
    expect(predictLatency(report, links, PROFILE).layers.map((l) => l.fusedInto)).toEqual([null, 'swish', null]);
  });
});

describe('calibrate: the last-level cache measured where the OS does not give it', () => {
  const MiB = 2 ** 20;
  // GEMV rates over 4, 8, 16, 32 and 64 MiB of weights, GB/s; the last is DRAM.
  const sweep = (...gbps: number[]) => [4, 8, 16, 32, 64].map((m, i) => ({ bytes: m * MiB, gbps: gbps[i] }));

  it('is the largest working set still read at the geometric mean of the cache and DRAM rates or faster', () => {
    // This machine's run (a Firecracker VM without /sys/devices/system/cpu/cpu0/cache): 65.5, 63.1, 62.8, 40.8,
    // 36.4 GB/s; the mean of 65.5 and 36.4 is 48.8, which 32 MiB misses.
    expect(lastLevelFromSweep(sweep(65.5, 63.1, 62.8, 40.8, 36.4))).toBe(16 * MiB);
    // A 32 MiB cache: every size but DRAM's above sqrt(90·30) = 52.
    expect(lastLevelFromSweep(sweep(90, 88, 85, 53, 30))).toBe(32 * MiB);
    // The rate falls from 8 MiB on: only 4 MiB is inside (a later size back above the line does not count).
    expect(lastLevelFromSweep(sweep(90, 50, 60, 40, 30))).toBe(4 * MiB);
  });

  it('is null when no size reads clearly faster than DRAM (less than 1.3×) or the sweep is too short', () => {
    expect(lastLevelFromSweep(sweep(38, 37, 37, 36, 30))).toBeNull();
    expect(lastLevelFromSweep(sweep(39, 38, 37, 33, 30))).toBe(16 * MiB);
    expect(lastLevelFromSweep([{ bytes: 4 * MiB, gbps: 90 }])).toBeNull();
  });
});
