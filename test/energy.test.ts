import { HAND_PROFILE } from './helpers/profiles.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrateEnergy } from '../src/api/calibrate.js';
import { openRapl } from '../src/bench/rapl.js';
import { buildReport } from '../src/cost/analyze.js';
import { BUILTIN_PROFILES, HOROWITZ_45NM_ENERGY } from '../src/latency/builtin.js';
import { predictEnergy } from '../src/latency/energy.js';
import { fitEnergyScales, parseEnergySamples } from '../src/latency/energy-fit.js';
import { layerLinks } from '../src/latency/graph.js';
import { validateProfile } from '../src/latency/profile.js';
import { readModel as readModelFile } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { buildAndRead, buildModel, type ModelSpec } from './helpers/build-model.js';
import { parseCsv } from './helpers/csv.js';
import { fixture, mbn, separateJson, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';
import type { DeviceProfile, EnergyConstants } from '../src/contract/device.js';
import { energyMeasurementText } from '../src/report/messages/bench.js';
import { energyBasisText } from '../src/report/messages/analyze.js';

/**
 * The energy estimate (src/latency/energy.ts), its budget and the fit of its constants. Every expected figure is
 * worked out by hand from the constants (pJ per MAC, pJ per byte) and the bytes each layer moves.
 */

const ENERGY: EnergyConstants = { pjPerMac: { fp32: 4, fp16: 2, int8: 1 }, pjPerByteDram: 100, pjPerByteOnChip: 1, sources: ['round numbers'] };
const PROFILE: DeviceProfile = {
  ...HAND_PROFILE,
  cacheBytes: 1 << 20,
  overheadUs: { conv: 0, pointwise: 0, depthwise: 0, gemm: 0, elementwise: 0 },
  runOverheadUs: 0,
  sources: [],
  energy: ENERGY,
};

/** One 3×3 conv, 16 → 16 channels, no bias, on a C×H×W input (stride 1, same padding). */
function convModel(h: number, dtype = 1): ModelSpec {
  return {
    inputs: [{ name: 'x', dtype, shape: [1, 16, h, h] }],
    outputs: ['y'],
    initializers: [{ name: 'w', dtype, dims: [16, 16, 3, 3], values: new Array(16 * 16 * 9).fill(0.01) }],
    nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }],
  };
}

function energyOf(spec: ModelSpec, profile: DeviceProfile = PROFILE) {
  const model = buildAndRead(spec);
  const inferred = inferModel(model);
  const report = buildReport(model, inferred);
  return { report, ...predictEnergy(report, layerLinks(inferred), profile) };
}

describe('energy per inference, exactly from the constants', () => {
  it('a conv whose working set fits the cache: MACs × 4 pJ + bytes × 1 pJ', () => {
    // 16×16×9 MACs per pixel × 32×32 pixels; input and output 16×32×32×4 B each, weights 16×16×9×4 B, all on chip.
    const { layers, totals } = energyOf(convModel(32));
    const macs = 16 * 16 * 9 * 32 * 32;
    const bytes = 2 * 16 * 32 * 32 * 4 + 16 * 16 * 9 * 4;
    expect(macs).toBe(2_359_296);
    expect(bytes).toBe(140_288);
    expect(layers[0]).toEqual({ energyMj: (macs * 4 + bytes * 1) / 1e9, energyPrecision: 'fp32', energyDramBytes: 0, energyOnChipBytes: bytes });
    expect(totals.energyMj).toBeCloseTo(0.009577472, 12);
    expect(totals.computeEnergyMj).toBeCloseTo(0.009437184, 12);
    expect(totals.movementEnergyMj).toBeCloseTo(0.000140288, 12);
    expect(totals.energyBasis).toEqual({ code: 'energy-estimate', device: 'test', fittedSamples: null });
    expect(energyBasisText(totals.energyBasis)).toBe("estimate from test's energy constants (published figures, order of magnitude)");
  });

  it('a conv whose working set exceeds the cache: every byte from DRAM at 100 pJ', () => {
    // 16×128×128×4 = 1 MiB in and out: 2 MiB + 9216 B of weights > the 1 MiB cache.
    const { layers, totals } = energyOf(convModel(128));
    const bytes = 2 * 1_048_576 + 9216;
    expect(layers[0].energyDramBytes).toBe(bytes);
    expect(layers[0].energyOnChipBytes).toBe(0);
    expect(totals.energyMj).toBeCloseTo((37_748_736 * 4 + bytes * 100) / 1e9, 12);
  });

  it('fp16 weights and activations: the fp16 constant, half the bytes', () => {
    const { layers } = energyOf(convModel(32, 10));
    const bytes = (2 * 16 * 32 * 32 + 16 * 16 * 9) * 2;
    expect(layers[0]).toEqual({ energyMj: (2_359_296 * 2 + bytes) / 1e9, energyPrecision: 'fp16', energyDramBytes: 0, energyOnChipBytes: bytes });
  });

  it('int8 cuts both: a QDQ conv (both inputs from DequantizeLinear) at the int8 constant, on 8-bit tensors', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'q', dtype: 2, shape: [1, 16, 32, 32] }],
      outputs: ['yq'],
      initializers: [
        { name: 'wq', dtype: 3, dims: [16, 16, 3, 3], values: new Array(16 * 16 * 9).fill(1) },
        { name: 's', dtype: 1, dims: [], values: [0.1] },
        { name: 'z', dtype: 2, dims: [], values: [0] },
        { name: 'zw', dtype: 3, dims: [], values: [0] },
      ],
      nodes: [
        { op: 'DequantizeLinear', name: 'dqx', inputs: ['q', 's', 'z'], outputs: ['x'] },
        { op: 'DequantizeLinear', name: 'dqw', inputs: ['wq', 's', 'zw'], outputs: ['w'] },
        { op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'QuantizeLinear', name: 'qy', inputs: ['y', 's', 'z'], outputs: ['yq'] },
      ],
    };
    const { report, layers, totals } = energyOf(spec);
    const at = (name: string) => layers[report.layers.findIndex((l) => l.name === name)];
    // ONNX Runtime runs DQ → Conv → Q as one QLinearConv: 2,359,296 MACs × 1 pJ, and 8-bit input (16,384 B),
    // weights (2,304 B) and output (16,384 B) × 1 pJ; the Q and DQ layers cost nothing of their own.
    expect(at('conv')).toEqual({ energyMj: (2_359_296 + 35_072) / 1e9, energyPrecision: 'int8', energyDramBytes: 0, energyOnChipBytes: 35_072 });
    expect(at('dqx').energyMj).toBe(0);
    expect(at('qy').energyMj).toBe(0);
    expect(totals.energyMj).toBeCloseTo(2_394_368 / 1e9, 15);
    // The fp32 conv of the same shape costs 9,577,472 pJ (the first test): int8 is ×0.25 here, compute and bytes both cut.
    expect(Number((2_394_368 / 9_577_472).toFixed(4))).toBe(0.25);
  });

  it('a profile without an energy block: energy unknown (null), never 0', () => {
    const { energy: _, ...without } = PROFILE;
    const { layers, totals } = energyOf(convModel(8), without);
    expect(totals.energyMj).toBeNull();
    expect(layers[0].energyMj).toBeNull();
    expect(totals.energyBasis).toEqual({ code: 'energy-unknown', device: 'test' });
    expect(energyBasisText(totals.energyBasis)).toBe('unknown: profile test has no energy constants');
  });
});

describe('what MAC counts hide: separation when data movement dominates', () => {
  it('16→16 3×3 conv at 128×128 on rpi4: MACs ×0.17, energy ×1.37 (the intermediate tensor goes through DRAM)', () => {
    const rpi4 = BUILTIN_PROFILES.find((p) => p.name === 'rpi4')!;
    const { totals, report } = energyOf(convModel(128), rpi4);
    // Before: 37,748,736 MACs × 4.6 pJ + (2 MiB + 9,216 B) × 160 pJ (2 MiB of activations exceed the 1 MiB L2).
    const before = 37_748_736 * 4.6 + 2_106_368 * 160;
    // After: depthwise 16×9×128² + pointwise 16×16×128² = 6,553,600 MACs; each conv moves 2 MiB of activations
    // (the depthwise writes the intermediate, the pointwise reads it) plus its weights (576 B, 1,024 B), from DRAM.
    const after = 6_553_600 * 4.6 + (2 * 2_097_152 + 576 + 1024) * 160;
    expect(totals.energyMj).toBeCloseTo(before / 1e9, 12);
    expect(totals.energyIfSeparatedMj).toBeCloseTo(after / 1e9, 12);
    expect(Number((report.totals.macsIfSeparated / report.totals.macs).toFixed(4))).toBe(0.1736);
    expect(Number((after / before).toFixed(4))).toBe(1.3737);
  });

  it('the separated model mbn writes has the energy the report predicted for it', () => {
    const dir = tempDir('mbn-energy-');
    const path = join(dir, 'conv.onnx');
    writeFileSync(path, buildModel(convModel(128)));
    const out = join(dir, 'conv.sep.onnx');
    separateJson([path, '-o', out, '--init', 'he']);
    const before = JSON.parse(mbn(['analyze', path, '--device', 'rpi4', '--format', 'json']).stdout);
    const after = JSON.parse(mbn(['analyze', out, '--device', 'rpi4', '--format', 'json']).stdout);
    expect(after.totals.energyMj).toBeCloseTo(before.totals.energyIfSeparatedMj, 12);
    expect(after.totals.energyMj).toBeCloseTo((6_553_600 * 4.6 + (2 * 2_097_152 + 576 + 1024) * 160) / 1e9, 12);
  });
});

describe('device profiles: the energy block', () => {
  it('a profile written before the energy block still loads (schema back-compat), without energy', () => {
    const { energy: _, ...old } = PROFILE;
    const loaded = validateProfile(JSON.parse(JSON.stringify(old)), 'old.json');
    expect(loaded.energy).toBeUndefined();
    expect(loaded.gflops).toEqual(PROFILE.gflops);
  });

  it('round-trips the energy block and names the first bad field', () => {
    expect(validateProfile(JSON.parse(JSON.stringify(PROFILE)), 'p.json').energy).toEqual(ENERGY);
    const bad = (energy: unknown) => () => validateProfile({ ...PROFILE, energy }, 'p.json');
    expect(bad({ ...ENERGY, pjPerMac: { fp32: 4, fp16: 2 } })).toThrow('device profile p.json: "energy.pjPerMac.int8" must be a number ≥ 0 (picojoules)');
    expect(bad({ ...ENERGY, pjPerByteDram: -1 })).toThrow('"energy.pjPerByteDram" must be a number ≥ 0');
    expect(bad({ ...ENERGY, pjPerMac: { ...ENERGY.pjPerMac, bf16: 1 } })).toThrow('"energy.pjPerMac.bf16" is not a precision');
    expect(bad('cheap')).toThrow('"energy" must be an object');
  });

  it('every built-in profile carries Horowitz\'s 45 nm constants and says they are an order-of-magnitude estimate', () => {
    for (const p of BUILTIN_PROFILES) {
      expect(p.energy).toBe(HOROWITZ_45NM_ENERGY);
      expect(p.energy!.sources.join(' ')).toMatch(/Horowitz.*ISSCC 2014/);
      expect(p.energy!.sources.join(' ')).toMatch(/order-of-magnitude estimate/);
    }
    // fp32 MAC = multiply 3.7 + add 0.9; DRAM 640 pJ per 4 bytes; SRAM 5 pJ per 4 bytes.
    expect(HOROWITZ_45NM_ENERGY.pjPerMac.fp32).toBe(4.6);
    expect(HOROWITZ_45NM_ENERGY.pjPerByteDram).toBe(160);
    expect(HOROWITZ_45NM_ENERGY.pjPerByteOnChip).toBe(1.25);
  });
});

describe('--max-energy and maxEnergyMj: the budget at its boundary', () => {
  // tiny_cnn on rpi4, from the constants: the JSON total is the boundary.
  const model = fixture('models/tiny_cnn.onnx');
  const total = () => JSON.parse(mbn(['analyze', model, '--device', 'rpi4', '--format', 'json']).stdout).totals.energyMj as number;

  it('passes at exactly the estimate, fails just under it', () => {
    const mj = total();
    expect(mj).toBeGreaterThan(0);
    expect(mbn(['analyze', model, '--device', 'rpi4', '--max-energy', String(mj)]).status).toBe(0);
    const under = mbn(['analyze', model, '--device', 'rpi4', '--max-energy', String(mj * 0.999)]);
    expect(under.status).toBe(1);
    expect(under.stderr).toMatch(/✖ Estimated energy [0-9.]+ mJ on rpi4 exceeds the budget of [0-9.]+ mJ by/);
  });

  it('needs --device; an incomplete analysis never passes', () => {
    const r = mbn(['analyze', model, '--max-energy', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('mbn: --max-energy needs --device (a built-in profile name, or a profile file with an "energy" block)\n');
    const dynamic = mbn(['analyze', fixture('real/ppocr_mobile_v2_cls.onnx'), '--device', 'rpi4', '--max-energy', '1000']);
    expect(dynamic.status).toBe(1);
    expect(dynamic.stderr).toContain('the analysis is incomplete, so no budget can pass');
    expect(dynamic.stderr).toContain('Estimated energy on rpi4 is unknown, so the budget of 1000 mJ cannot pass');
  });

  it('mbn check: maxEnergyMj at the boundary passes, just under fails, and needs "device"', () => {
    const mj = total();
    const dir = tempDir('mbn-energy-check-');
    writeFileSync(join(dir, 'tiny.onnx'), readFileSync(model));
    const run = (entry: Record<string, unknown>) => {
      writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'tiny.onnx', ...entry }]));
      return mbn(['check', '--format', 'json'], { cwd: dir });
    };
    const at = run({ maxEnergyMj: mj, device: 'rpi4' });
    expect(at.status).toBe(0);
    const record = JSON.parse(at.stdout).checks.find((c: { kind: string }) => c.kind === 'energy');
    expect(record).toMatchObject({ kind: 'energy', passed: true, value: mj, limit: mj, margin: 0 });
    expect(record.message).toMatch(/^energy on rpi4: estimated [0-9.]+ mJ within the budget of/);
    const under = run({ maxEnergyMj: mj * 0.999, device: 'rpi4' });
    expect(under.status).toBe(1);
    expect(JSON.parse(under.stdout).checks.find((c: { kind: string }) => c.kind === 'energy').passed).toBe(false);
    const noDevice = run({ maxEnergyMj: 1 });
    expect(noDevice.status).toBe(2);
    expect(noDevice.stderr).toContain('"maxEnergyMj" needs "device"');
  });
});

describe('every --device format shows energy, marked as an estimate', () => {
  const model = fixture('models/resnet_small.onnx');
  const json = () => JSON.parse(mbn(['analyze', model, '--device', 'rpi4', '--format', 'json']).stdout);

  it('json: energyMj per layer summing to the total; energyBasis says estimate', () => {
    const doc = json();
    const sum = doc.layers.reduce((s: number, l: { energyMj: number }) => s + l.energyMj, 0);
    expect(sum).toBeCloseTo(doc.totals.energyMj, 12);
    expect(doc.totals.energyMj).toBeCloseTo(doc.totals.computeEnergyMj + doc.totals.movementEnergyMj, 12);
    expect(doc.totals.energyBasis).toMatch(/^estimate from rpi4's energy constants/);
  });

  it('csv: the energy columns hold the JSON figures', () => {
    const doc = json();
    const rows = parseCsv(mbn(['analyze', model, '--device', 'rpi4', '--format', 'csv']).stdout);
    const at = rows[0].indexOf('energy_mj_estimate');
    expect(rows[0].slice(at)).toEqual(['energy_mj_estimate', 'energy_precision', 'energy_dram_bytes', 'energy_onchip_bytes']);
    doc.layers.forEach((l: { energyMj: number; energyPrecision: string; energyDramBytes: number; energyOnChipBytes: number }, i: number) => {
      expect(rows[i + 1].slice(at)).toEqual([String(l.energyMj), l.energyPrecision, String(l.energyDramBytes), String(l.energyOnChipBytes)]);
    });
  });

  it('table, md and html: the total, with "estimate"', () => {
    const mj = `${Number(json().totals.energyMj.toPrecision(3))} mJ`;
    const table = mbn(['analyze', model, '--device', 'rpi4', '--no-color']).stdout;
    expect(table).toContain(`Estimated energy per inference on rpi4 (estimate): ${mj}`);
    const md = mbn(['analyze', model, '--device', 'rpi4', '--format', 'md']).stdout;
    expect(md).toContain(`#### Estimated energy per inference on rpi4 (estimate): ${mj}`);
    const html = mbn(['analyze', model, '--device', 'rpi4', '--format', 'html']).stdout;
    expect(html).toContain(`<div class="k">Energy (estimate)</div><div class="v">${mj}</div>`);
  });
});

describe('fitting the energy constants to measured joules', () => {
  it('recovers α and β exactly from samples made with known constants (no noise)', () => {
    const features = [
      { compute: 1e-3, movement: 5e-3 },
      { compute: 4e-3, movement: 1e-3 },
      { compute: 2e-3, movement: 2e-3 },
    ];
    const joules = features.map((f) => 1.5 * f.compute + 0.25 * f.movement);
    const fit = fitEnergyScales(features, joules);
    expect(fit.computeScale).toBeCloseTo(1.5, 12);
    expect(fit.movementScale).toBeCloseTo(0.25, 12);
    expect(fit.rmsRelativeError).toBeCloseTo(0, 12);
  });

  it('keeps both constants non-negative: data that would need a negative one gets the best one-constant fit', () => {
    // Unconstrained: joules = 2·compute − 1·movement fits exactly; with β ≥ 0 the optimum is on the α axis.
    const features = [
      { compute: 1, movement: 1 },
      { compute: 2, movement: 1 },
    ];
    const fit = fitEnergyScales(features, [1, 3]);
    expect(fit.movementScale).toBe(0);
    // Minimise (α·1 − 1)² / 1 + (α·2 − 3)² / 9: α = (1 + 6/9) / (1 + 4/9) = 15/13.
    expect(fit.computeScale).toBeCloseTo(15 / 13, 12);
  });

  it('parses MODEL,JOULES lines (header, comments, spaces) and says which line is bad', () => {
    expect(parseEnergySamples('model,joules\n# phone\na.onnx, 0.002\nb.onnx 0.5\n', 's.csv')).toEqual([
      { model: 'a.onnx', joules: 0.002 },
      { model: 'b.onnx', joules: 0.5 },
    ]);
    expect(() => parseEnergySamples('a.onnx,0.1\nb.onnx,-3\n', 's.csv')).toThrow("energy samples 's.csv': line 2: joules '-3' is not a positive number");
    expect(() => parseEnergySamples('# nothing\n', 's.csv')).toThrow('no MODEL,JOULES line');
  });

  it('calibrateEnergy: samples made from known constants on real models give those constants back', () => {
    const rpi4 = BUILTIN_PROFILES.find((p) => p.name === 'rpi4')!;
    const truth: EnergyConstants = { ...HOROWITZ_45NM_ENERGY, pjPerMac: { fp32: 9.2, fp16: 3, int8: 0.6 }, pjPerByteDram: 80, pjPerByteOnChip: 0.625 };
    const dir = tempDir('mbn-energy-fit-');
    const names = ['tiny_cnn', 'resnet_small', 'mobilenet_v2_w035', 'conv_mobilenet_v1_w025'];
    const lines = names.map((n) => {
      writeFileSync(join(dir, `${n}.onnx`), readFileSync(fixture(`models/${n}.onnx`)));
      const model = buildAndReadFile(join(dir, `${n}.onnx`));
      const joules = predictEnergy(model.report, model.links, { ...rpi4, energy: truth }).totals.energyMj! / 1e3;
      return `${n}.onnx,${joules}`;
    });
    writeFileSync(join(dir, 'samples.csv'), lines.join('\n') + '\n');
    const { profile, samples } = calibrateEnergy({ device: 'rpi4', samples: join(dir, 'samples.csv') });
    expect(profile.energy!.pjPerMac).toEqual({ fp32: 9.2, fp16: 3, int8: 0.6 });
    expect(profile.energy!.pjPerByteDram).toBe(80);
    expect(profile.energy!.pjPerByteOnChip).toBe(0.625);
    expect(profile.energy!.fit).toEqual({ samples: 4, from: 'samples.csv', rmsRelativeError: 0 });
    for (const s of samples) expect(s.fittedJ).toBeCloseTo(s.measuredJ, 15);
    // The CLI writes the fitted profile, which analyze then uses.
    const out = join(dir, 'fitted.json');
    const r = mbn(['calibrate', '--energy-samples', join(dir, 'samples.csv'), '--device', 'rpi4', '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('fp32 9.2 pJ/MAC, DRAM 80 pJ/byte');
    const a = JSON.parse(mbn(['analyze', join(dir, 'tiny_cnn.onnx'), '--device', out, '--format', 'json']).stdout);
    expect(a.totals.energyMj).toBeCloseTo(Number(lines[0].split(',')[1]) * 1e3, 12);
    expect(a.totals.energyBasis).toMatch(/fitted to 4 measured samples/);
  });

  it('--energy-samples needs --device; a missing file is one line', () => {
    expect(mbn(['calibrate', '--energy-samples', 'x.csv']).stderr).toBe('mbn: --energy-samples needs --device (the profile to fit: a built-in name such as rpi4, or a profile file)\n');
    const r = mbn(['calibrate', '--energy-samples', '/nonexistent/x.csv', '--device', 'rpi4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mbn: cannot read energy samples '/nonexistent/x.csv': no such file\n");
  });
});

describe('RAPL: measured joules around mbn bench', () => {
  it('reads the package zones (not their sub-zones) and counts a wrap of the counter', () => {
    const root = tempDir('mbn-powercap-');
    const zone = (name: string, label: string, uj: number, range: number) => {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'name'), `${label}\n`);
      writeFileSync(join(root, name, 'energy_uj'), `${uj}\n`);
      writeFileSync(join(root, name, 'max_energy_range_uj'), `${range}\n`);
    };
    zone('intel-rapl:0', 'package-0', 1_000_000, 262_143_328_850);
    zone('intel-rapl:0:0', 'core', 500, 262_143_328_850);
    zone('intel-rapl:1', 'package-1', 262_143_000_000, 262_143_328_850);
    const rapl = openRapl(root);
    if (!('read' in rapl)) throw new Error(energyMeasurementText(rapl.absent));
    expect(rapl.zones).toEqual(['intel-rapl:0 (package-0)', 'intel-rapl:1 (package-1)']);
    const before = rapl.read();
    expect(before).toEqual([1_000_000, 262_143_000_000]);
    writeFileSync(join(root, 'intel-rapl:0', 'energy_uj'), '3500000\n');
    // Package 1 wrapped: 328,850 µJ to the top, then 171,150 µJ more.
    writeFileSync(join(root, 'intel-rapl:1', 'energy_uj'), '171150\n');
    expect(rapl.joulesBetween(before, rapl.read())).toBeCloseTo(2.5 + 0.5, 12);
  });

  it('absent counters: one line that says so', () => {
    const root = tempDir('mbn-powercap-');
    const gone = openRapl(join(root, 'nothing'));
    const empty = openRapl(root);
    expect(gone).toEqual({ absent: { code: 'rapl-absent', root: join(root, 'nothing'), missing: 'folder' } });
    expect(empty).toEqual({ absent: { code: 'rapl-absent', root, missing: 'zone' } });
    expect(['absent' in gone ? energyMeasurementText(gone.absent) : '', 'absent' in empty ? energyMeasurementText(empty.absent) : '']).toEqual([
      `RAPL energy counters are absent (no ${join(root, 'nothing')}): energy cannot be measured on this machine`,
      `RAPL energy counters are absent (no intel-rapl:N zone in ${root}): energy cannot be measured on this machine`,
    ]);
  });

  it.skipIf(!loadOrt())('mbn bench --energy on this machine: measured joules, or one line saying why not (exit 0 either way)', () => {
    const here = openRapl();
    const r = mbn(['bench', fixture('models/tiny_cnn.onnx'), '--energy', '--runs', '3', '--warmup', '1', '--format', 'json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    if ('absent' in here) {
      expect(r.stderr).toBe(`mbn: --energy: ${energyMeasurementText(here.absent)}\n`);
      expect(doc.energy).toEqual({ measured: false, note: energyMeasurementText(here.absent), noteCode: here.absent });
      expect(doc.models[0].energy).toBeUndefined();
    } else {
      expect(doc.energy.measured).toBe(true);
      expect(doc.models[0].energy.packageJoulesPerRun).toBeGreaterThan(0);
    }
  });
});

function buildAndReadFile(path: string) {
  const model = readModelFile(path);
  const inferred = inferModel(model);
  return { report: buildReport(model, inferred), links: layerLinks(inferred) };
}
