import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { withSyntheticWeights } from '../src/bench/models.js';
import { advise, analyze, bench, calibrate, check, diff, init, MbnError, rewrite, separate } from '../src/index.js';
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

describe('library API: rewrite and init', () => {
  // EfficientNet-B0 (torchvision's graph, seeded stand-in weights in an external data file): 49 swish x·σ(x), one
  // after the stem and after each block's expansion/depthwise conv, and 16 squeeze-and-excite gates, one per block.
  const efficientNet = () => withSyntheticWeights(fixture('graph-only/zoo/efficientnet_b0.onnx'), tempDir('mbn-api-rewrite-'));

  it('rewrite (dry run): mbn.rewrite/1, the CLI\'s document, 49 HardSwish and 16 HardSigmoid planned, nothing written', async () => {
    const input = efficientNet();
    const r = await rewrite(input, { hardSwish: true, hardSigmoid: true, dryRun: true });
    expect(r.schema).toBe('mbn.rewrite/1');
    expect(r.output).toBeNull();
    expect(r.changes.filter((c) => c.kind === 'swish' && c.op === 'HardSwish')).toHaveLength(49);
    expect(r.changes.filter((c) => c.kind === 'gate' && c.op === 'HardSigmoid')).toHaveLength(16);
    // Every Sigmoid goes; each gate keeps its Mul (the scale), each swish loses its own.
    expect(r.before.ops).toEqual({ Sigmoid: 65, HardSigmoid: 0, HardSwish: 0, Mul: 65 });
    expect(r.after.ops).toEqual({ Sigmoid: 0, HardSigmoid: 16, HardSwish: 49, Mul: 16 });
    expect(r.after.macs).toBe(r.before.macs);
    expect(r.deviation).toBeNull();
    expect(r.deviationSkipped).toBe('the model keeps weights in external data: the dry run does not run it');
    expect(asJson(r)).toEqual(cliJson(['rewrite', input, '--hard-swish', '--hard-sigmoid', '--dry-run']));
    expect(readdirSync(join(input, '..')).sort()).toEqual(['efficientnet_b0.onnx', 'efficientnet_b0.onnx.data']);
  });

  it.skipIf(!loadOrt())('rewrite: writes the same model as the CLI and reports the same deviation in ONNX Runtime', async () => {
    const input = efficientNet();
    const [a, b] = [join(input, '../a'), join(input, '../b')];
    mkdirSync(a);
    mkdirSync(b);
    const r = await rewrite(input, { hardSwish: true, output: join(a, 'hs.onnx'), samples: 1, seed: 3, batch: 1 });
    const cli = cliJson(['rewrite', input, '--hard-swish', '-o', join(b, 'hs.onnx'), '--samples', '1', '--seed', '3', '--batch', '1']);
    expect(r.output).toBe(join(a, 'hs.onnx'));
    expect(asJson({ ...r, output: cli.output })).toEqual(cli);
    expect(r.deviation?.samples).toBe(1);
    expect(r.deviation?.outputs[0].maxAbsDiff).toBeGreaterThan(0);
    // The model refers to its own data file by name, so the two writes are the same bytes.
    for (const f of ['hs.onnx', 'hs.onnx.data']) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f)))).toBe(true);
    // Written once: a second run without force is refused, the file kept.
    await expect(rewrite(input, { hardSwish: true, output: join(a, 'hs.onnx') })).rejects.toMatchObject({ name: 'MbnError', code: 'output-exists' });
  });

  it('rewrite: bad options are usage errors, before the model is read', async () => {
    const missing = join(tempDir(), 'missing.onnx');
    await expect(rewrite(missing)).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('needs --hard-swish') });
    await expect(rewrite(missing, { hardSwish: true, samples: 0 })).rejects.toMatchObject({ code: 'usage' });
    await expect(rewrite(missing, { hardSwish: true, seed: -1 })).rejects.toMatchObject({ code: 'usage' });
    await expect(rewrite(missing, { hardSigmoid: true, batch: 1.5 })).rejects.toMatchObject({ code: 'usage' });
    await expect(rewrite(missing, { hardSigmoid: true, input: { x: [1, 0] } })).rejects.toMatchObject({ code: 'usage' });
    await expect(rewrite(missing, { hardSwish: true })).rejects.toMatchObject({ code: 'io' });
  });

  /** A folder with two models, one of them with a symbolic batch dim (which init warns about). */
  const initFolder = () => {
    const dir = tempDir('mbn-api-init-');
    mkdirSync(join(dir, 'models'));
    copyFileSync(TINY, join(dir, 'models/tiny_cnn.onnx'));
    copyFileSync(fixture('models/dynamic_batch.onnx'), join(dir, 'dynamic_batch.onnx'));
    return dir;
  };

  it('init: writes the config the CLI writes, from `cwd`; returns it, with what the CLI prints, and prints nothing', async () => {
    const [viaApi, viaCli] = [initFolder(), initFolder()];
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write');
    let r;
    try {
      r = await init({ cwd: viaApi });
      expect(stdout).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const cli = mbn(['init'], { cwd: viaCli });
    expect(cli.status).toBe(0);
    const written = readFileSync(join(viaApi, 'mbn.config.json'), 'utf8');
    expect(written).toBe(readFileSync(join(viaCli, 'mbn.config.json'), 'utf8'));
    expect(r.path).toBe(join(viaApi, 'mbn.config.json'));
    expect(r.file).toBe('mbn.config.json');
    expect(r.headroom).toBe(0.05);
    expect(JSON.parse(written)).toEqual(r.entries);
    expect(r.entries.map((e) => [e.name, e.model])).toEqual([['dynamic_batch', 'dynamic_batch.onnx'], ['tiny_cnn', 'models/tiny_cnn.onnx']]);
    // Each line of the CLI's summary names an entry and its limits.
    const lines = cli.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`wrote ${r.file}: 2 models, limits at the current figures + 5% (rounded up to 3 digits)`);
    expect(lines.slice(1)).toEqual(r.entries.map((e) => `  '${e.name}': MACs ${e.maxMacs}, FLOPs ${e.maxFlops}, params ${e.maxParams}, weights ${e.maxWeightBytes}, activations ${e.maxActivationBytes}`));
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^'dynamic_batch\.onnx' has symbolic input dims, taken as 1/);
    expect(cli.stderr).toBe(r.warnings.map((w) => `mbn: warning: ${w}\n`).join(''));
    // The limits hold the figures: `check` passes the models on the config init wrote.
    expect((await check({ cwd: viaApi })).passed).toBe(true);
  });

  it('init: named models and globs, another config file, a headroom as a fraction or as the CLI\'s text', async () => {
    const dir = initFolder();
    const tenth = await init({ cwd: dir, models: ['models/*.onnx'], config: 'a.json', headroom: 0.1 });
    const text = await init({ cwd: dir, models: ['models/tiny_cnn.onnx'], config: 'b.json', headroom: '10%' });
    expect(text.entries).toEqual(tenth.entries);
    expect(readFileSync(join(dir, 'a.json'), 'utf8')).toBe(readFileSync(join(dir, 'b.json'), 'utf8'));
    expect(tenth.warnings).toEqual([]);
    expect(existsSync(join(dir, 'mbn.config.json'))).toBe(false);
    expect(mbn(['init', 'models/*.onnx', '--config', 'c.json', '--headroom', '10%'], { cwd: dir }).status).toBe(0);
    expect(readFileSync(join(dir, 'c.json'), 'utf8')).toBe(readFileSync(join(dir, 'a.json'), 'utf8'));
  });

  it('init: an existing config is kept without force; bad options are usage errors; a missing model is io', async () => {
    const dir = initFolder();
    writeFileSync(join(dir, 'mbn.config.json'), 'kept');
    await expect(init({ cwd: dir })).rejects.toMatchObject({ name: 'MbnError', code: 'output-exists' });
    expect(readFileSync(join(dir, 'mbn.config.json'), 'utf8')).toBe('kept');
    expect((await init({ cwd: dir, force: true })).entries).toHaveLength(2);
    for (const headroom of [1.5, '150%', -0.1, 'abc', Number.NaN]) {
      await expect(init({ cwd: dir, force: true, config: 'x.json', headroom })).rejects.toMatchObject({ code: 'usage' });
    }
    await expect(init({ cwd: dir, config: 'x.json', models: 'models/tiny_cnn.onnx' as unknown as string[] })).rejects.toMatchObject({ code: 'usage' });
    await expect(init({ cwd: dir, config: 'x.json', models: ['none/*.onnx'] })).rejects.toMatchObject({ code: 'usage' });
    await expect(init({ cwd: dir, config: 'x.json', models: ['none.onnx'] })).rejects.toMatchObject({ code: 'io' });
    await expect(init({ cwd: tempDir() })).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('no .onnx or .tflite files below') });
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
  });
});
