import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureModel, type Ort } from '../src/bench/run.js';
import { buildReport } from '../src/cost/analyze.js';
import type { DeviceProfile } from '../src/contract/device.js';
import { layerLinks } from '../src/latency/graph.js';
import { lutEntries, lutSamples } from '../src/latency/lut.js';
import { predictLatency } from '../src/latency/model.js';
import { validateProfile } from '../src/latency/profile.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import { ROUND_PROFILE } from './helpers/profiles.js';

/**
 * `mbn calibrate --lut`: measured kernel times by layer signature (NetAdapt's lookup tables), used by
 * `analyze --device` where a layer's signature matches, and nothing changed for a profile without a table.
 */
const PROFILE: DeviceProfile = {
  ...ROUND_PROFILE,
  name: 'lut-test',
  description: 'round numbers',
  nchwcBlock: 16,
};

/** Conv+Relu → MaxPool → Conv → GlobalAveragePool → Flatten → Gemm, and a second Conv+Relu of the first's shape. */
function spec(): ModelSpec {
  const w = (n: number) => Array.from({ length: n }, (_, i) => ((i % 7) - 3) / 20);
  return {
    inputs: [{ name: 'x', dtype: 1, shape: [1, 16, 16, 16] }],
    outputs: [{ name: 'y', dtype: 1, shape: [1, 10] }],
    initializers: [
      { name: 'w1', dtype: 1, dims: [16, 16, 3, 3], values: w(16 * 16 * 9) },
      { name: 'w2', dtype: 1, dims: [16, 16, 3, 3], values: w(16 * 16 * 9) },
      { name: 'w3', dtype: 1, dims: [32, 16, 1, 1], values: w(32 * 16) },
      { name: 'fc', dtype: 1, dims: [10, 32], values: w(320) },
    ],
    nodes: [
      { op: 'Conv', name: 'c1', inputs: ['x', 'w1'], outputs: ['a'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', name: 'r1', inputs: ['a'], outputs: ['b'] },
      { op: 'Conv', name: 'c2', inputs: ['b', 'w2'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', name: 'r2', inputs: ['c'], outputs: ['d'] },
      { op: 'MaxPool', name: 'pool', inputs: ['d'], outputs: ['e'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Conv', name: 'c3', inputs: ['e', 'w3'], outputs: ['f'], attrs: { kernel_shape: [1, 1] } },
      { op: 'GlobalAveragePool', name: 'gap', inputs: ['f'], outputs: ['g'] },
      { op: 'Flatten', name: 'flat', inputs: ['g'], outputs: ['h'] },
      { op: 'Gemm', name: 'dense', inputs: ['h', 'fc'], outputs: ['y'], attrs: { transB: 1 } },
    ],
  };
}

function analyzed() {
  const model = buildAndRead(spec());
  const inferred = inferModel(model);
  return { report: buildReport(model, inferred), links: layerLinks(inferred) };
}

describe('layer signatures and the lookup', () => {
  it('the same shape has the same key; fused ops, shapes and attributes tell layers apart', () => {
    const { report, links } = analyzed();
    const { signatures, layers } = predictLatency(report, links, PROFILE);
    const at = (name: string) => links.findIndex((l) => l.name === name);
    // c1 and c2 (16→16 3×3 on 16×16, each with its Relu fused) are one shape; c3, the pool, and the rest differ.
    expect(signatures[at('c1')]).toBe(signatures[at('c2')]);
    expect(new Set(['c1', 'c3', 'pool', 'gap', 'flat', 'dense'].map((n) => signatures[at(n)])).size).toBe(6);
    expect(JSON.parse(signatures[at('c1')]!)).toEqual({
      op: 'Conv',
      attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      inputs: [[1, 16, 16, 16], [16, 16, 3, 3]],
      types: [1, 1],
      output: [1, 16, 16, 16],
      fused: ['Relu'],
      layout: 'nchwc',
    });
    // Layers run inside another's kernel have no signature of their own.
    expect([signatures[at('r1')], layers[at('r1')].fusedInto]).toEqual([null, 'c1']);
  });

  it('uses a measured entry where the signature matches (its time + overheadUs.elementwise), the model elsewhere', () => {
    const { report, links } = analyzed();
    const before = predictLatency(report, links, PROFILE);
    const at = (name: string) => links.findIndex((l) => l.name === name);
    // Entries for c1's shape (so c2's too) and the pool: 0.040 and 0.003 ms.
    const lut = [
      { key: before.signatures[at('c1')]!, ms: 0.04, samples: 1, model: 'm.onnx', layer: 'c1' },
      { key: before.signatures[at('pool')]!, ms: 0.003, samples: 1, model: 'm.onnx', layer: 'pool' },
    ];
    const after = predictLatency(report, links, { ...PROFILE, lut });
    for (const name of ['c1', 'c2']) {
      expect(after.layers[at(name)].latencyMs).toBeCloseTo(0.04 + 0.5e-3 + after.layers[at(name)].layoutMs, 12);
      expect(after.layers[at(name)].latencySource).toBe('measured');
    }
    expect(after.layers[at('pool')].latencyMs).toBeCloseTo(0.003 + 0.5e-3 + after.layers[at('pool')].layoutMs, 12);
    // The rest keep the model's figures, marked so.
    for (const name of ['c3', 'gap', 'flat', 'dense']) {
      expect(after.layers[at(name)].latencyMs).toBe(before.layers[at(name)].latencyMs);
      expect(after.layers[at(name)].latencySource).toBe('model');
    }
    expect(after.layers[at('r1')].latencySource).toBeUndefined();
    const changed = ['c1', 'c2', 'pool'].reduce((s, n) => s + after.layers[at(n)].latencyMs - before.layers[at(n)].latencyMs, 0);
    expect(after.totals.latencyMs).toBeCloseTo(before.totals.latencyMs + changed, 12);
  });

  it('a profile without a table predicts exactly as before: same figures, no latencySource', () => {
    const { report, links } = analyzed();
    const plain = predictLatency(report, links, PROFILE);
    const unmatched = predictLatency(report, links, { ...PROFILE, lut: [{ key: '{"op":"Conv"}', ms: 1, samples: 1, model: 'x', layer: 'x' }] });
    expect(plain.layers.map((l) => l.latencyMs)).toEqual(unmatched.layers.map((l) => l.latencyMs));
    expect(plain.totals).toEqual(unmatched.totals);
    expect(plain.layers.some((l) => 'latencySource' in l)).toBe(false);
  });

  it('several layers of one shape make one entry: the median of their times', () => {
    const entries = lutEntries([
      { key: 'k', ms: 0.004, layer: 'a', model: 'm1' },
      { key: 'k', ms: 0.002, layer: 'b', model: 'm1' },
      { key: 'k', ms: 0.009, layer: 'c', model: 'm2' },
      { key: 'j', ms: 0.001, layer: 'd', model: 'm2' },
    ]);
    expect(entries).toEqual([
      { key: 'k', ms: 0.004, samples: 3, model: 'm1', layer: 'a' },
      { key: 'j', ms: 0.001, samples: 1, model: 'm2', layer: 'd' },
    ]);
  });

  it('the profile check accepts a table and names a bad entry; older profiles stay valid', () => {
    expect(validateProfile(JSON.parse(JSON.stringify(PROFILE)), 'p.json').lut).toBeUndefined();
    const entry = { key: 'k', ms: 0.5, samples: 2, model: 'm.onnx', layer: 'c1' };
    expect(validateProfile({ ...PROFILE, lut: [entry] }, 'p.json').lut).toEqual([entry]);
    const bad = (lut: unknown) => {
      try {
        validateProfile({ ...PROFILE, lut }, 'p.json');
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(bad({})).toBe('device profile p.json: "lut" must be an array of measured layer shapes');
    expect(bad([{ ...entry, ms: -1 }])).toBe('device profile p.json: "lut[0].ms" must be a number ≥ 0 (milliseconds)');
    expect(bad([entry, { ...entry, key: '' }])).toBe('device profile p.json: "lut[1].key" must be a non-empty string');
  });
});

const ort = loadOrt() as unknown as Ort | null;

describe.skipIf(!ort)('lookup table from ONNX Runtime\'s profiler', () => {
  it('records each layer\'s median kernel time under its signature, and the prediction uses exactly those times', async () => {
    const dir = tempDir();
    const path = join(dir, 'm.onnx');
    writeFileSync(path, buildModel(spec()));
    const { report, links } = analyzed();
    const m = await measureModel(ort!, path, [{ name: 'x', type: 'float32', dims: [1, 16, 16, 16] }], { warmup: 3, runs: 20, threads: 1, profile: true });
    const samples = lutSamples({ path, inputs: [], report, links }, PROFILE, m.trace!, m.warmupRuns);
    // Every kernel the model plans is measured: c1 and c2 (with their Relus), the pool, c3, the pool, Flatten, Gemm.
    expect(samples.map((s) => s.layer).sort()).toEqual(['c1', 'c2', 'c3', 'dense', 'flat', 'gap', 'pool']);
    const lut = lutEntries(samples.map((s) => ({ ...s, model: 'm.onnx' })));
    expect(lut).toHaveLength(6);
    const predicted = predictLatency(report, links, { ...PROFILE, lut });
    const at = (name: string) => links.findIndex((l) => l.name === name);
    for (const name of ['c3', 'pool', 'gap', 'flat', 'dense']) {
      const sample = samples.find((s) => s.layer === name)!;
      expect(predicted.layers[at(name)].latencySource).toBe('measured');
      expect(predicted.layers[at(name)].latencyMs).toBeCloseTo(sample.ms + 0.5e-3 + predicted.layers[at(name)].layoutMs, 12);
    }
    // c1 and c2 share one entry: the median of their two times.
    const conv = samples.filter((s) => s.layer === 'c1' || s.layer === 'c2').map((s) => s.ms);
    expect(predicted.layers[at('c2')].latencyMs - predicted.layers[at('c2')].layoutMs).toBeCloseTo((conv[0] + conv[1]) / 2 + 0.5e-3, 6);
  });

  it('mbn calibrate --lut writes the table; analyze --device marks the measured layers', () => {
    const dir = tempDir();
    const model = join(dir, 'm.onnx');
    writeFileSync(model, buildModel(spec()));
    const out = join(dir, 'p.json');
    const r = mbn(['calibrate', '--lut', model, '--runs', '2', '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/lookup table: 6 layer shapes measured in 1 model\n$/);
    const profile = validateProfile(JSON.parse(readFileSync(out, 'utf8')), 'p.json');
    expect(profile.lut!.map((e) => e.layer).sort()).toEqual(['c1', 'c3', 'dense', 'flat', 'gap', 'pool']);
    const json = JSON.parse(mbn(['analyze', model, '--device', out, '--format', 'json']).stdout);
    expect(json.layers.filter((l: { latencySource?: string }) => l.latencySource === 'measured').map((l: { name: string }) => l.name)).toEqual(['c1', 'c2', 'pool', 'c3', 'gap', 'flat', 'dense']);
    const table = mbn(['analyze', model, '--device', out]).stdout;
    expect(table).toMatch(/│ c1 +│ Conv +│ +[\d.]+K │ +[\d.]+ µs \* │/);
    expect(table).toContain('* measured: 7 of 7 timed layers have a shape in the profile\'s lookup table');
    // Measuring and fitting are two different things.
    const both = mbn(['calibrate', '--lut', model, '--energy-samples', join(dir, 's.csv'), '--device', 'rpi4']);
    expect([both.status, both.stderr]).toEqual([2, 'mbn: --lut measures models on this machine; --energy-samples fits a profile without measuring: use one or the other\n']);
  }, 60_000);
});
