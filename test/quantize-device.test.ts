import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/util/random.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { ROUND_PROFILE } from './helpers/profiles.js';

/**
 * `mbn quantize --device P [--target-latency MS]` (src/quantize/latency.ts): the predicted latency before and after
 * is what `mbn analyze --device` says of the input and of the written file; the layers the latency model predicts
 * slower in int8 stay float, with the reason; --target-latency quantizes, by predicted time saved, until the
 * prediction fits. Timing the models (measured) is checked for presence here; whether the choice is right in ONNX
 * Runtime is the benchmark's (`npm run bench:latency-int8 -- --check`), never a timed test.
 */
const ort = loadOrt();
const needsOrt = ort ? it : it.skip;

/**
 * Round figures: every float class at 1 GFLOP/s; integer convs at 1000 GOP/s except depthwise ones at 0.001 GOP/s
 * (so a depthwise layer is predicted far slower in int8 and a dense one far faster); conversions cheap.
 */
const PROFILE = {
  ...ROUND_PROFILE,
  name: 'hand',
  description: 'round numbers for a test',
  gflops: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1, elementwise: 1 },
  int8: {
    gops: { conv: 1000, pointwise: 1000, depthwise: 0.001, gemm: 1000 },
    thinConvNsPerOutput: 1,
    uint8WeightsSlowdown: 2,
    convIntegerGops: 50,
    convIntegerDepthwiseGops: 5,
    matMulIntegerGops: 40,
    quantizeNsPerElement: 0.1,
    dequantizeNsPerElement: 0.1,
  },
};

/** The figures `mbn calibrate` measured on this machine (AMD EPYC, 2 logical CPUs, ORT 1.30, one thread). */
const EPYC = {gflops: {conv: 263.61, pointwise: 219.499, depthwise: 130.194, gemm: 247.887, elementwise: 13.415}, memoryGBps: 54.711, cacheGBps: 160.975, cacheBytes: 1048576, overheadUs: {conv: 1.011, pointwise: 1.011, depthwise: 0.337, gemm: 0.281, elementwise: 0.162}, runOverheadUs: 6.308, nchwcBlock: 16, lastLevelCacheBytes: 33554432, weightGBps: 45.583, llcWeightGBps: 93.774, im2colGBps: 58.952, nchwInputNsPerOutput: 0.116, int8: {gops: {conv: 932.302, pointwise: 734.003, depthwise: 76.865, gemm: 818.401}, thinConvNsPerOutput: 0.513, uint8WeightsSlowdown: 2.742, convIntegerGops: 271.374, convIntegerDepthwiseGops: 17.796, matMulIntegerGops: 409.2, quantizeNsPerElement: 0.065, dequantizeNsPerElement: 0.09, genericGops: {conv: 636.323, pointwise: 371.452, depthwise: 21.177}}};

function values(n: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => next() - 0.5);
}

/**
 * x[1,16,8,8] → A (3×3 dense conv) → D (3×3 depthwise) → B (MatMul by a constant [8, 4]) → y. mbn quantize puts a
 * QuantizeLinear → DequantizeLinear on each int8 layer's input, so a conv has one after it (and ORT fuses it into
 * QLinearConv) only while the layer reading it is int8; a MatMul fuses either way (MatMulIntegerToFloat).
 */
function model(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 16, 8, 8] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 16, 8, 4] }],
    initializers: [
      { name: 'wa', dtype: 1, dims: [16, 16, 3, 3], values: values(2304, 1) },
      { name: 'wd', dtype: 1, dims: [16, 1, 3, 3], values: values(144, 2) },
      { name: 'wb', dtype: 1, dims: [8, 4], values: values(32, 3) },
    ],
    nodes: [
      { op: 'Conv', name: 'A', inputs: ['x', 'wa'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1] } },
      { op: 'Conv', name: 'D', inputs: ['a', 'wd'], outputs: ['d'], attrs: { pads: [1, 1, 1, 1], group: 16 } },
      { op: 'MatMul', name: 'B', inputs: ['d', 'wb'], outputs: ['y'] },
    ],
    opset: 13,
  });
}

function run(args: string[]) {
  const r = mbn(['quantize', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

const predicted = (path: string, profile: string, input: string[] = []) => {
  const r = mbn(['analyze', path, '--device', profile, '--format', 'json', ...input]);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout).totals.latencyMs as number;
};

describe('mbn quantize --device on a built chain', () => {
  /** The chain and the round-number profile, written to a temporary folder. */
  const handChain = () => {
    const dir = tempDir();
    const input = join(dir, 'chain.onnx');
    const profile = join(dir, 'hand.json');
    writeFileSync(input, model());
    writeFileSync(profile, JSON.stringify(PROFILE));
    return { dir, input, profile };
  };

  needsOrt('keeps float what is predicted slower in int8, and its figures are analyze --device\'s', () => {
    const { dir, input, profile } = handChain();
    const out = join(dir, 'chain.int8.onnx');
    const j = run([input, '-o', out, '--device', profile, '--no-measure']);
    // All int8: D's depthwise kernel (0.001 GOP/s) dominates. Keeping B float is the largest saving: D's output is
    // then not quantized, so ORT runs D as a float conv on its dequantized weights (at the float rate) while A keeps
    // the QuantizeLinear after it (D's input) and stays fused. With B float, D's own figure no longer pays to move.
    expect(j.layers.map((l: { name: string; precision: string }) => `${l.name} ${l.precision}`)).toEqual(['A int8', 'D int8', 'B float32']);
    expect(j.layers[2].why).toMatch(/^int8 predicted no faster on hand: the model [\d.]+ (µs|ms) with it int8, [\d.]+ (µs|ms) float$/);
    // The figures are the latency model's on the input and on the file written (read back, not the in-memory plan).
    expect(j.latency.predicted.floatMs).toBeCloseTo(predicted(input, profile), 9);
    expect(j.latency.predicted.int8Ms).toBeCloseTo(predicted(out, profile), 9);
    expect(j.latency.predicted.int8Ms).toBeLessThan(j.latency.predicted.floatMs);
    expect(j.latency.predicted.int8Ms).toBeLessThan(j.latency.predictedAllInt8Ms);
    expect(j.latency).toMatchObject({ device: 'hand', calibrated: true, target: null, keptFloat: 1 });
    expect(j.measured).toBeUndefined();
  });

  /** The chain and a profile where every integer kernel is fast (all three layers pay in int8), and its float prediction. */
  const fastChain = () => {
    const dir = tempDir();
    const input = join(dir, 'chain.onnx');
    const profile = join(dir, 'fast.json');
    writeFileSync(input, model());
    writeFileSync(profile, JSON.stringify({ ...PROFILE, name: 'fast', int8: { ...PROFILE.int8, gops: { conv: 1000, pointwise: 1000, depthwise: 1000, gemm: 1000 } } }));
    return { dir, input, profile, float: predicted(input, profile) };
  };

  needsOrt('--target-latency quantizes by predicted time saved and stops once the prediction fits', () => {
    const { dir, input, profile, float } = fastChain();
    // Saved with all int8: A (147,456 MACs: 0.29 ms at 1 GFLOP/s) > D (9,216 MACs: 18 µs) > B (4,096: 8 µs). A target
    // 0.2 ms under the float prediction: A alone does not fuse (D float reads its output unquantized), A and D do.
    const target = float - 0.2;
    const out = join(dir, 'chain.int8.onnx');
    const j = run([input, '-o', out, '--device', profile, '--target-latency', String(target), '--no-measure']);
    expect(j.layers.map((l: { name: string; precision: string; why: string | null }) => [l.name, l.precision, l.why])).toEqual([
      ['A', 'int8', null],
      ['D', 'int8', null],
      ['B', 'float32', 'not needed to meet --target-latency'],
    ]);
    expect(j.latency.target).toEqual({ ms: target, met: true });
    expect(j.latency.predicted.int8Ms).toBeLessThanOrEqual(target);
    expect(j.latency.predicted.int8Ms).toBeCloseTo(predicted(out, profile), 9);
    expect(j.notes).toContain(`--target-latency: predicted latency on fast ${Number(float.toPrecision(3))} ms → ${Number(j.latency.predicted.int8Ms.toPrecision(3))} ms (2 layers int8, by predicted time saved)`);
  });

  needsOrt('--target-latency the float model meets already: one line saying so, nothing written', () => {
    const { dir, input, profile, float } = fastChain();
    const out = join(dir, 'chain.int8.onnx');
    const r = mbn(['quantize', input, '-o', out, '--device', profile, '--target-latency', String(float + 0.1), '--no-measure']);
    expect([r.status, r.stderr]).toEqual([2, `mbn: nothing was quantized: on fast the float model is predicted at ${Number(float.toPrecision(3))} ms, within --target-latency ${float + 0.1} ms already\n`]);
    expect(existsSync(out)).toBe(false);
  });

  needsOrt('times the input and the written model in ONNX Runtime with --measure, and says so in the table', () => {
    const { dir, input, profile } = handChain();
    const r = mbn(['quantize', input, '-o', join(dir, 'out.onnx'), '--device', profile]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Latency predicted on hand: float [\d.]+ (µs|ms) → int8 [\d.]+ (µs|ms) \(×[\d.]+\); 1 layer kept float for it \(all int8: [\d.]+ (µs|ms)\)$/m);
    expect(r.stdout).toMatch(/^Latency measured in ONNX Runtime \(median, 1 thread, as mbn bench\): float [\d.]+ (µs|ms) → int8 [\d.]+ (µs|ms) \(×[\d.]+\)$/m);
    const j = run([input, '-o', join(dir, 'out2.onnx'), '--measure']);
    expect(j.latency).toBeUndefined();
    expect(j.measured.floatMs).toBeGreaterThan(0);
    expect(j.measured.int8Ms).toBeGreaterThan(0);
  });

  it('refuses --target-latency without --device, and a profile without integer figures, in one line, writing nothing', () => {
    const dir = tempDir();
    const input = join(dir, 'chain.onnx');
    writeFileSync(input, model());
    const r = mbn(['quantize', input, '-o', join(dir, 'out.onnx'), '--target-latency', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('mbn: --target-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)\n');
    // A profile without integer-kernel figures (the built-ins) gives the choice no basis.
    const rpi = mbn(['quantize', input, '-o', join(dir, 'out.onnx'), '--device', 'rpi4']);
    expect([rpi.status, rpi.stderr]).toEqual([2, 'mbn: device profile rpi4 has no integer-kernel figures (its "int8" block; the built-in profiles have none): mbn quantize --device needs a profile from mbn calibrate\n']);
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
  });
});

describe('mbn quantize --device on a real model (PaddleOCR text-direction classifier)', () => {
  needsOrt('predicts before and after as analyze --device does, and keeps float only layers it predicts slower', () => {
    const dir = tempDir();
    const profile = join(dir, 'hand.json');
    // A calibration of this machine (AMD EPYC, ORT 1.30, one thread; mbn calibrate, int8 block included).
    writeFileSync(profile, JSON.stringify({ ...PROFILE, name: 'epyc', ...EPYC }));
    const input = fixture('real/ppocr_mobile_v2_cls.onnx');
    const out = join(dir, 'cls.int8.onnx');
    const j = run([input, '-o', out, '--calibrate', fixture('calibration/ppocr_cls'), '--device', profile, '--no-measure']);
    const shape = ['--input', 'x:1x3x48x192'];
    expect(j.latency.predicted.floatMs).toBeCloseTo(predicted(input, profile, shape), 9);
    expect(j.latency.predicted.int8Ms).toBeCloseTo(predicted(out, profile, shape), 9);
    const kept = j.layers.filter((l: { why: string | null }) => l.why?.startsWith('int8 predicted no faster on epyc'));
    expect(kept.length).toBe(j.latency.keptFloat);
    expect(kept.length).toBeGreaterThan(0);
    expect(j.latency.predicted.int8Ms).toBeLessThanOrEqual(j.latency.predictedAllInt8Ms);
    // Still a working int8 model: the classifier's verdict and the checks of the written file hold.
    expect(j.outputs[0].top1Agreement).toBe(1);
  });
});
