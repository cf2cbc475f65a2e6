import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advise, analyze, bench, calibrate, check, diff, MbnError, separate } from '../src/index.js';
import { validateProfile } from '../src/latency/profile.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

/**
 * The library API returns exactly what each command's `--format json` prints: the same document, parsed. The CLI is
 * the reference here because it is the documented contract (and its own tests pin the numbers).
 */
const cliJson = (args: string[], cwd?: string) => {
  const r = mbn([...args, '--format', 'json'], { cwd });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
};
// What the document holds once written: JSON drops undefined members.
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));

const TINY = fixture('models/tiny_cnn.onnx');
const W025 = fixture('models/mobilenet_v1_w025.onnx');
const CONV_W025 = fixture('models/conv_mobilenet_v1_w025.onnx');

describe('library API = --format json', () => {
  it('analyze: mbn.analyze/1, `multiplier` as the contract names it, modules with depth', async () => {
    const r = await analyze(W025, { batch: 1, depth: 1 });
    expect(r.schema).toBe('mbn.analyze/1');
    expect(r.layers[0]).toHaveProperty('multiplier', 1);
    expect(r.layers[0]).not.toHaveProperty('executions');
    expect(asJson(r)).toEqual(cliJson(['analyze', W025, '--batch', '1', '--depth', '1']));
  });

  it('analyze: input shapes as a plain object or a Map, the same as --input', async () => {
    const dynamic = fixture('models/dynamic_batch.onnx');
    const viaObject = await analyze(dynamic, { input: { input: [2, 3, 16, 16] } });
    const viaMap = await analyze(dynamic, { input: new Map([['input', [2, 3, 16, 16]]]) });
    expect(viaObject).toEqual(viaMap);
    expect(asJson(viaObject)).toEqual(cliJson(['analyze', dynamic, '--input', 'input:2x3x16x16']));
    // /conv1/Conv: 3→8 channels, 3×3, 16×16 output, batch 2.
    expect(viaObject.layers[0].macs).toBe(2 * 16 * 16 * 8 * 3 * 9);
  });

  it('diff and advise', async () => {
    expect(asJson(await diff(CONV_W025, W025))).toEqual(cliJson(['diff', CONV_W025, W025]));
    expect(asJson(await advise(CONV_W025, { failOn: 'warning' }))).toEqual(cliJson(['advise', CONV_W025, '--fail-on', 'warning']));
  });

  it('check: the config and models are found from `cwd`; a failed budget is `passed: false`, not an exception', async () => {
    const dir = tempDir();
    copyFileSync(TINY, join(dir, 'a.onnx'));
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'a.onnx', maxMacs: 1000 }]));
    const r = await check({ cwd: dir });
    expect(r.schema).toBe('mbn.check/1');
    expect(r.passed).toBe(false);
    expect(asJson(r)).toEqual(JSON.parse(mbn(['check', '--format', 'json'], { cwd: dir }).stdout));
  });

  it('check: maxIncrease is a fraction (or the CLI\'s text), the same figure either way', async () => {
    const dir = tempDir();
    copyFileSync(TINY, join(dir, 'a.onnx'));
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'a.onnx' }]));
    // A baseline one MAC smaller than the model: any growth (the default, 0) fails; 1% allows it.
    const stored = await analyze(join(dir, 'a.onnx'));
    stored.totals.macs -= 1;
    writeFileSync(join(dir, 'base.json'), JSON.stringify(stored));
    expect((await check({ cwd: dir, baseline: 'base.json' })).passed).toBe(false);
    const fraction = await check({ cwd: dir, baseline: 'base.json', maxIncrease: 0.01 });
    expect(fraction.passed).toBe(true);
    expect(fraction.maxIncreasePercent).toBe(1);
    expect(await check({ cwd: dir, baseline: 'base.json', maxIncrease: '1%' })).toEqual(fraction);
    expect(asJson(fraction)).toEqual(JSON.parse(mbn(['check', '--baseline', 'base.json', '--max-increase', '0.01', '--format', 'json'], { cwd: dir }).stdout));
  });

  it('separate (dry run): mbn.separate/1, nothing written', async () => {
    const r = await separate(CONV_W025, { dryRun: true });
    expect(r.schema).toBe('mbn.separate/1');
    expect(r.output).toBeNull();
    expect(asJson(r)).toEqual(cliJson(['separate', CONV_W025, '--dry-run']));
  });

  it('bench: mbn.bench/1 with the MACs analyze counts', async () => {
    const r = await bench([TINY], { warmup: 0, runs: 2 });
    expect(r.schema).toBe('mbn.bench/1');
    expect(r.options).toEqual({ warmup: 0, runs: 2, threads: 1, minTimeMs: { warmup: 0, timed: 0 } });
    expect(r.models[0].timesMs).toHaveLength(2);
    expect(r.models[0].macs).toBe((await analyze(TINY)).totals.macs);
  });

  it.skipIf(!loadOrt())('calibrate: a valid mbn.device/1 profile, each step reported, bad counts refused', async () => {
    const steps: string[] = [];
    const profile = await calibrate({ runs: 2, name: 'api' }, (s) => steps.push(s));
    expect(validateProfile(JSON.parse(JSON.stringify(profile)), 'api')).toEqual(profile);
    expect(profile).toMatchObject({ schema: 'mbn.device/1', name: 'api', calibrated: true, threads: 1 });
    // The layout probe, then three rounds over every micro-benchmark.
    expect(steps[0]).toBe('layout probe');
    expect(steps.filter((s) => s.startsWith('conv ('))).toEqual(['conv (round 1 of 3)', 'conv (round 2 of 3)', 'conv (round 3 of 3)']);
    await expect(calibrate({ threads: 0 })).rejects.toMatchObject({ code: 'usage' });
    await expect(calibrate({ runs: 1.5 })).rejects.toMatchObject({ code: 'usage' });
  });

  it('bad input throws MbnError with its code; bad option values are usage errors', async () => {
    await expect(analyze(join(tempDir(), 'missing.onnx'))).rejects.toMatchObject({ name: 'MbnError', code: 'io' });
    await expect(analyze(TINY, { batch: 0 })).rejects.toBeInstanceOf(MbnError);
    await expect(analyze(TINY, { input: { input: [1, -3, 32, 32] } })).rejects.toMatchObject({ code: 'usage' });
    await expect(separate(TINY, { dryRun: true, minReduction: 1.5 })).rejects.toMatchObject({ code: 'usage' });
    await expect(advise(TINY, { minSaving: 2 })).rejects.toMatchObject({ code: 'usage' });
  });
});
