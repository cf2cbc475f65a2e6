import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_ENTRY } from '../src/budget/config.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import type { Totals } from '../src/contract/analyze.js';

/**
 * `mbn check`, `mbn diff` and `mbn analyze --max-*` through the real binary (bin/mbn.js over dist/, built once by
 * test/global-setup.ts), on fixtures copied into temp folders. Reference figures: fixtures/reference.json.
 */

const reference = JSON.parse(readFileSync(fixture('reference.json'), 'utf8')).fixtures;
const V1 = 'fixtures/graph-only/mobilenet_v1.onnx';
const V1_MACS = 568_740_352;
const V1_PARAMS = 4_221_032;
const CONV_W025 = 'fixtures/models/conv_mobilenet_v1_w025.onnx';
const W025 = 'fixtures/models/mobilenet_v1_w025.onnx';


let v1: Totals;

/** A temp project: files copied from fixtures (dest → fixture path under fixtures/) and text files. */
function project(files: Record<string, string>, copies: Record<string, string> = {}): string {
  const dir = tempDir('mbn-check-');
  for (const [dest, from] of Object.entries(copies)) {
    mkdirSync(dirname(join(dir, dest)), { recursive: true });
    copyFileSync(fixture(from.replace(/^fixtures\//, '')), join(dir, dest));
  }
  for (const [dest, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, dest)), { recursive: true });
    writeFileSync(join(dir, dest), text);
  }
  return dir;
}

const config = (entries: unknown) => JSON.stringify(entries, null, 2);
const json = (stdout: string) => JSON.parse(stdout);

/** The one-line error contract: exactly one line, "mbn: …". */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mbn: /);
  return lines[0];
}

beforeAll(() => {
  const r = mbn(['analyze', V1, '--format', 'json']);
  expect(r.status).toBe(0);
  v1 = json(r.stdout).totals;
});

describe('reference figures of mobilenet_v1 (what the boundary tests rely on)', () => {
  it('MACs and params match the independent Python reference', () => {
    expect(reference[V1].convLinearMacs).toBe(V1_MACS);
    expect(reference[V1].onnxParams).toBe(V1_PARAMS);
    expect(v1.macs).toBe(V1_MACS);
    expect(v1.params).toBe(V1_PARAMS);
    expect(v1.weightBytes).toBe(4 * V1_PARAMS);
    expect(v1.flops).toBe(2 * V1_MACS + v1.otherFlops);
  });
});

describe('mbn analyze --max-*', () => {
  it('at the exact MACs passes (exit 0)', () => {
    const r = mbn(['analyze', V1, '--max-macs', String(V1_MACS)]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('one MAC under fails (exit 1) with the "exceed … by" message', () => {
    const r = mbn(['analyze', V1, '--max-macs', String(V1_MACS - 1), '--format', 'json']);
    expect(r.status).toBe(1);
    expect(json(r.stdout).totals.macs).toBe(V1_MACS);
    expect(r.stderr).toBe('✖ MACs 568,740,352 exceed the budget of 568,740,351 by 1 (0.0%)\n');
  });

  it('units, several budgets, and a bad limit', () => {
    expect(mbn(['analyze', V1, '--max-macs', '569M', '--max-params', '4.3M', '--max-weight-bytes', '17MB']).status).toBe(0);
    const over = mbn(['analyze', V1, '--max-macs', '500M', '--max-weight-bytes', '16MiB', '--format', 'json']);
    expect(over.status).toBe(1);
    expect(over.stderr).toBe('✖ MACs 569M exceed the budget of 500M by 68.7M (13.7%)\n✖ Weight bytes 16.9MB exceed the budget of 16.8MB by 107KB (0.6%)\n');
    const bad = mbn(['analyze', V1, '--max-macs', '600X']);
    expect(bad.status).toBe(2);
    expect(oneLine(bad.stderr)).toBe("mbn: --max-macs '600X' is not a number such as 600M or 1.2G");
  });
});

describe('mbn check: budgets', () => {
  it('under, at and over every budget, exact to one unit', () => {
    const metrics = [
      ['maxMacs', 'macs'],
      ['maxFlops', 'flops'],
      ['maxParams', 'params'],
      ['maxWeightBytes', 'weightBytes'],
      ['maxActivationBytes', 'peakActivationBytes'],
    ] as const;
    for (const [key, total] of metrics) {
      const value = v1[total];
      for (const [limit, passed] of [
        [value + 1, true],
        [value, true],
        [value - 1, false],
      ] as const) {
        const dir = project({ 'mbn.config.json': config([{ name: 'v1', model: 'm/v1.onnx', [key]: limit }]) }, { 'm/v1.onnx': V1 });
        const r = mbn(['check', '--format', 'json'], { cwd: dir });
        expect(r.status, `${key} ${limit}`).toBe(passed ? 0 : 1);
        const out = json(r.stdout);
        expect(out.passed).toBe(passed);
        expect(out.checks).toEqual([
          { name: 'v1', model: 'm/v1.onnx', metric: total, kind: 'budget', passed, value, limit, margin: limit - value, marginPercent: (100 * (limit - value)) / limit, baseline: null, message: null, messageCode: null, complete: true },
        ]);
      }
    }
  });

  it('the table shows value, limit and margin, and says by how much a budget is exceeded', () => {
    const dir = project(
      { 'mbn.config.json': config([{ name: 'v1', model: 'm/v1.onnx', maxMacs: V1_MACS - 1, maxParams: '4.3M', maxWeightBytes: '16MiB' }]) },
      { 'm/v1.onnx': V1 },
    );
    const r = mbn(['check'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/\x1b\[/);
    expect(r.stdout).toContain('✖ v1 (m/v1.onnx): MACs 568,740,352 exceed the budget of 568,740,351 by 1 (0.0%)');
    expect(r.stdout).toContain('✖ v1 (m/v1.onnx): Weight bytes 16.9MB exceed the budget of 16.8MB by 107KB (0.6%)');
    expect(r.stdout).toContain('✖ 2 of 3 checks failed');
    // One row for the model, one column per figure with a budget: "value / limit" and its mark (margins: md, json).
    expect(r.stdout).toMatch(/│\s+│ Model\s+│\s+MACs │\s+Params │\s+Weight bytes │\n/);
    expect(r.stdout).toMatch(/│ ✖ FAIL │ v1\s+│ 568,740,352 \/ 568,740,351 ✖ │ 4\.22M \/ 4\.3M ✔ │ 16\.9MB \/ 16\.8MB ✖ │\n│\s+│ m\/v1\.onnx │/);
  });

  it('units in the config: 569M passes, 568.7M fails', () => {
    const dir = project({ 'mbn.config.json': config([{ model: 'v1.onnx', maxMacs: '569M' }, { name: 'tight', model: 'v1.onnx', maxMacs: '568.7M' }]) }, { 'v1.onnx': V1 });
    const out = json(mbn(['check', '--format', 'json'], { cwd: dir }).stdout);
    expect(out.checks.map((c: { name: string; limit: number; margin: number; passed: boolean }) => [c.name, c.limit, c.margin, c.passed])).toEqual([
      ['v1.onnx', 569_000_000, 569_000_000 - V1_MACS, true],
      ['tight', 568_700_000, 568_700_000 - V1_MACS, false],
    ]);
  });

  it('a glob entry checks every match; models are relative to the config folder', () => {
    const dir = project(
      { 'ci/budgets.json': config([{ name: 'all', model: '../models/**/*w025.onnx', maxMacs: '10M' }]) },
      { 'models/conv/conv_mobilenet_v1_w025.onnx': CONV_W025, 'models/mobilenet_v1_w025.onnx': W025, 'models/v1.onnx': V1 },
    );
    const r = mbn(['check', '--config', 'ci/budgets.json', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.models.map((m: { model: string; totals: Totals }) => [m.model, m.totals.macs])).toEqual([
      ['models/conv/conv_mobilenet_v1_w025.onnx', reference[CONV_W025].convLinearMacs],
      ['models/mobilenet_v1_w025.onnx', reference[W025].convLinearMacs],
    ]);
    expect(out.checks.map((c: { passed: boolean }) => c.passed)).toEqual([false, true]);
    expect(r.stderr).toBe('✖ all (models/conv/conv_mobilenet_v1_w025.onnx): MACs 25M exceed the budget of 10M by 15M (150.0%)\n');
  });

  it('input shapes and batch from the config', () => {
    const dir = project(
      { 'mbn.config.json': config([{ name: 'b4', model: 'd.onnx', batch: 4, maxMacs: 1 }, { name: 'in2', model: 'd.onnx', input: { input: [2, 3, 16, 16] }, maxMacs: 1 }]) },
      { 'd.onnx': 'fixtures/models/dynamic_batch.onnx' },
    );
    const one = json(mbn(['analyze', fixture('models/dynamic_batch.onnx'), '--batch', '1', '--format', 'json']).stdout).totals.macs;
    const out = json(mbn(['check', '--format', 'json'], { cwd: dir }).stdout);
    expect(out.models.map((m: { totals: Totals }) => m.totals.macs)).toEqual([4 * one, 2 * one]);
  });
});

describe('mbn check: where the config comes from', () => {
  const entry = [{ name: 'v1', model: 'v1.onnx', maxMacs: V1_MACS }];

  it('mbn.config.json in the working folder', () => {
    const dir = project({ 'mbn.config.json': config(entry) }, { 'v1.onnx': V1 });
    const r = mbn(['check'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('✔ all 1 check passed');
  });

  it('the "mbn" key of package.json', () => {
    const dir = project({ 'package.json': JSON.stringify({ name: 'app', version: '1.0.0', mbn: [{ ...entry[0], maxMacs: V1_MACS - 1 }] }) }, { 'v1.onnx': V1 });
    const r = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(json(r.stdout).checks[0].margin).toBe(-1);
  });

  it('mbn.config.json wins over package.json', () => {
    const dir = project({ 'mbn.config.json': config(entry), 'package.json': JSON.stringify({ mbn: [{ model: 'v1.onnx', maxMacs: 1 }] }) }, { 'v1.onnx': V1 });
    expect(mbn(['check'], { cwd: dir }).status).toBe(0);
  });

  it('--config FILE, with model paths relative to its folder; --config package.json reads its "mbn" key', () => {
    const dir = project(
      { 'conf/mbn.json': config([{ model: '../v1.onnx', maxMacs: V1_MACS }]), 'conf/package.json': JSON.stringify({ mbn: [{ model: '../v1.onnx', maxMacs: 1 }] }) },
      { 'v1.onnx': V1 },
    );
    expect(mbn(['check', '--config', 'conf/mbn.json'], { cwd: dir }).status).toBe(0);
    expect(mbn(['check', '--config', join(dir, 'conf/package.json')]).status).toBe(1);
  });

  it('no config: exit 2 with what to create', () => {
    const dir = project({ 'package.json': JSON.stringify({ name: 'app' }) });
    const r = mbn(['check'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe(
      `mbn: no budget config: create mbn.config.json with a JSON array such as [${EXAMPLE_ENTRY}], add an "mbn" key to package.json, or pass --config FILE`,
    );
  });

  it('--config naming a missing file: exit 2', () => {
    const r = mbn(['check', '--config', 'nope.json'], { cwd: project({}) });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("mbn: cannot read config 'nope.json': no such file");
  });
});

describe('mbn check: bad configs (exit 2, one line quoting the problem and showing a valid entry)', () => {
  const cases: [string, string, string][] = [
    ['unknown key', config([{ model: 'v1.onnx', maxMAC: '600M' }]), `mbn: mbn.config.json: entry 1: unknown key 'maxMAC' (did you mean 'maxMacs'?); known keys: name, model, maxMacs, maxFlops, maxParams, maxWeightBytes, maxActivationBytes, input, batch, advise, allowUncounted, maxLatencyMs, maxEnergyMj, device. A valid entry: ${EXAMPLE_ENTRY}`],
    ['bad unit', config([{ name: 'v1', model: 'v1.onnx', maxWeightBytes: '20 MiBs' }]), `mbn: mbn.config.json: entry 1 ('v1'): 'maxWeightBytes' is '20 MiBs', expected a size such as 20MB, 16MiB or 20000000. A valid entry: ${EXAMPLE_ENTRY}`],
    ['byte unit on a count', config([{ model: 'v1.onnx', maxMacs: '600MB' }]), `mbn: mbn.config.json: entry 1: 'maxMacs' is '600MB', expected a number such as 600M, 1.2G or 600000000. A valid entry: ${EXAMPLE_ENTRY}`],
    ['not an array', config({ model: 'v1.onnx', maxMacs: '600M' }), `mbn: mbn.config.json: must be a JSON array of budget entries, not an object '{"model":"v1.onnx","maxMacs":"600M"}'. A valid entry: ${EXAMPLE_ENTRY}`],
  ];
  it.each(cases)('%s', (_, text, message) => {
    const dir = project({ 'mbn.config.json': text }, { 'v1.onnx': V1 });
    const r = mbn(['check'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toBe(message);
  });

  it('invalid JSON', () => {
    const r = mbn(['check'], { cwd: project({ 'mbn.config.json': '[{"model": "v1.onnx",}]' }) });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^mbn: mbn.config.json is not valid JSON: /);
  });
});

describe('mbn check: a model mbn refuses is a failed row (exit 1), the others are still checked', () => {
  const W025_MACS = reference[W025].convLinearMacs;
  const W025_PARAMS = 212_906;
  const files = {
    'mbn.config.json': config([
      { name: 'small', model: 'w025.onnx', maxMacs: '10M', maxParams: '1M' },
      { name: 'broken', model: 'bad.onnx', maxMacs: '1M' },
      { name: 'big', model: 'v1.onnx', maxMacs: '500M', maxParams: '5M' },
    ]),
    'bad.onnx': 'this is not a model',
  };
  const copies = { 'w025.onnx': W025, 'v1.onnx': V1 };
  const budget = (name: string, model: string, metric: string, value: number, limit: number) => ({
    name, model, metric, kind: 'budget', passed: value <= limit, value, limit, margin: limit - value, marginPercent: (100 * (limit - value)) / limit, baseline: null, message: null, messageCode: null, complete: true,
  });
  const ERROR = "✖ broken (bad.onnx): cannot check this model: 'bad.onnx' is not an ONNX model";
  const OVER = '✖ big (v1.onnx): MACs 569M exceed the budget of 500M by 68.7M (13.7%)';

  it('table: one row per model, value / limit per budgeted figure, the corrupt one named with its reason', () => {
    const r = mbn(['check'], { cwd: project(files, copies) });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        '┌─────────┬───────────┬───────────────┬──────────────┐',
        '│         │ Model     │          MACs │       Params │',
        '├─────────┼───────────┼───────────────┼──────────────┤',
        '│ ✔ pass  │ small     │ 3.33M / 10M ✔ │  213K / 1M ✔ │',
        '│         │ w025.onnx │               │              │',
        '├─────────┼───────────┼───────────────┼──────────────┤',
        '│ ✖ error │ broken    │               │              │',
        '│         │ bad.onnx  │               │              │',
        '├─────────┼───────────┼───────────────┼──────────────┤',
        '│ ✖ FAIL  │ big       │ 569M / 500M ✖ │ 4.22M / 5M ✔ │',
        '│         │ v1.onnx   │               │              │',
        '└─────────┴───────────┴───────────────┴──────────────┘',
        ERROR,
        OVER,
        '✖ 2 of 5 checks failed',
        '',
      ].join('\n'),
    );
  });

  it('json: the corrupt model is an error record; the other two are checked and listed', () => {
    const r = mbn(['check', '--format', 'json'], { cwd: project(files, copies) });
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.passed).toBe(false);
    expect(out.models.map((m: { name: string; totals: Totals }) => [m.name, m.totals.macs, m.totals.params])).toEqual([
      ['small', W025_MACS, W025_PARAMS],
      ['big', V1_MACS, V1_PARAMS],
    ]);
    expect(out.checks).toEqual([
      budget('small', 'w025.onnx', 'macs', W025_MACS, 10_000_000),
      budget('small', 'w025.onnx', 'params', W025_PARAMS, 1_000_000),
      { name: 'broken', model: 'bad.onnx', metric: 'model', kind: 'error', passed: false, value: null, limit: null, margin: null, marginPercent: null, baseline: null, message: "'bad.onnx' is not an ONNX model", messageCode: { code: 'model-error', error: 'not-onnx', detail: "'bad.onnx' is not an ONNX model" }, complete: true },
      budget('big', 'v1.onnx', 'macs', V1_MACS, 500_000_000),
      budget('big', 'v1.onnx', 'params', V1_PARAMS, 5_000_000),
    ]);
    // stdout is the document; the failures go to stderr.
    expect(r.stderr).toBe(`${ERROR}\n${OVER}\n`);
  });

  it('md: the compact table, the failures, and every check folded in <details>', () => {
    const r = mbn(['check', '--format', 'md'], { cwd: project(files, copies) });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(
      [
        '### mbn check: ❌ 2 of 5 checks failed',
        '',
        '| | Model | MACs | Params |',
        '|---|---|---:|---:|',
        '| ✅ pass | small (`w025.onnx`) | 3.33M / 10M ✅ | 213K / 1M ✅ |',
        '| ❌ error | broken (`bad.onnx`) |  |  |',
        '| ❌ FAIL | big (`v1.onnx`) | 569M / 500M ❌ | 4.22M / 5M ✅ |',
        '',
        "- broken (bad.onnx): cannot check this model: 'bad.onnx' is not an ONNX model",
        '- big (v1.onnx): MACs 569M exceed the budget of 500M by 68.7M (13.7%)',
        '',
        '<details>',
        '<summary>All 5 checks</summary>',
        '',
        '| | Model | Check | Value | Limit | Margin |',
        '|---|---|---|---:|---:|---:|',
        '| ✅ | small (`w025.onnx`) | MACs | 3.33M | 10M | +6.67M (+66.7%) |',
        '| ✅ | small (`w025.onnx`) | Params | 213K | 1M | +787K (+78.7%) |',
        '| ❌ | broken (`bad.onnx`) | model |  |  | error |',
        '| ❌ | big (`v1.onnx`) | MACs | 569M | 500M | -68.7M (-13.7%) |',
        '| ✅ | big (`v1.onnx`) | Params | 4.22M | 5M | +779K (+15.6%) |',
        '',
        '</details>',
        '',
      ].join('\n'),
    );
  });

  it('a truncated model is a failed row too, annotated on its file; a bad config still ends the run (exit 2)', () => {
    const dir = project({ ...files, 'bad.onnx': '' }, copies);
    writeFileSync(join(dir, 'bad.onnx'), readFileSync(fixture('graph-only/mobilenet_v1.onnx')).subarray(0, 300));
    const r = mbn(['check'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::'))).toEqual([
      "::error file=bad.onnx,title=mbn budget::broken (bad.onnx): cannot check this model: 'bad.onnx': model is truncated or corrupt: field 7 declares 22034 bytes but only 277 remain at byte 23",
      '::error file=v1.onnx,title=mbn budget::big (v1.onnx): MACs 569M exceed the budget of 500M by 68.7M (13.7%25)',
    ]);
    // A config problem found while analyzing (an "input" naming no graph input) is a usage error, not a model's row.
    writeFileSync(join(dir, 'mbn.config.json'), config([{ model: 'v1.onnx', maxMacs: '1M', input: { nope: [1, 3, 224, 224] } }]));
    const bad = mbn(['check'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(oneLine(bad.stderr)).toBe(`mbn: mbn.config.json: entry 1 "input" names 'nope', which is not a graph input (inputs: input)`);
  });
});

describe('mbn check: missing models (exit 1)', () => {
  it('a path that does not exist', () => {
    const dir = project({ 'mbn.config.json': config([{ name: 'v1', model: 'v1.onnx', maxMacs: '1G' }, { name: 'gone', model: 'models/gone.onnx', maxMacs: '1G' }]) }, { 'v1.onnx': V1 });
    const r = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.checks[1]).toEqual({
      name: 'gone', model: 'models/gone.onnx', metric: 'model', kind: 'missing', passed: false, value: null, limit: null, margin: null, marginPercent: null, baseline: null,
      message: "model missing: 'models/gone.onnx' does not exist", messageCode: { code: 'model-missing', pattern: 'models/gone.onnx', glob: false }, complete: true,
    });
    expect(r.stderr).toBe("✖ gone (models/gone.onnx): model missing: 'models/gone.onnx' does not exist\n");
  });

  it('a glob that matches nothing', () => {
    const dir = project({ 'mbn.config.json': config([{ model: 'models/**/*.onnx', maxMacs: '1G' }]) }, { 'models/readme.txt': 'fixtures/README.md' });
    const r = mbn(['check'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("✖ models/**/*.onnx: model missing: no file matches 'models/**/*.onnx'");
    expect(r.stdout).toContain('✖ 1 of 1 check failed');
  });
});

describe('mbn check --baseline', () => {
  /** A stored analyze report of mobilenet_v1_w025 with its MACs replaced. */
  function storedReport(dir: string, macs?: number): string {
    const r = mbn(['analyze', 'models/net.onnx', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(0);
    const report = json(r.stdout);
    if (macs !== undefined) report.totals.macs = macs;
    writeFileSync(join(dir, 'base.json'), JSON.stringify(report));
    return report.totals.macs;
  }
  const W025_MACS = 3_331_072;

  it('unchanged figures pass with the default 0%', () => {
    const dir = project({ 'mbn.config.json': config([{ model: 'models/net.onnx' }]) }, { 'models/net.onnx': W025 });
    storedReport(dir);
    const r = mbn(['check', '--baseline', 'base.json', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(0);
    const out = json(r.stdout);
    expect(out.maxIncreasePercent).toBe(0);
    expect(out.checks.map((c: { metric: string; kind: string; margin: number }) => [c.metric, c.kind, c.margin])).toEqual([
      ['macs', 'baseline', 0], ['flops', 'baseline', 0], ['params', 'baseline', 0], ['weightBytes', 'baseline', 0], ['peakActivationBytes', 'baseline', 0],
    ]);
    expect(out.checks[0].value).toBe(W025_MACS);
  });

  it('the table shows only the figures with a budget or a change over the baseline', () => {
    const dir = project({ 'mbn.config.json': config([{ name: 'net', model: 'models/net.onnx', maxParams: '1M' }]) }, { 'models/net.onnx': W025 });
    storedReport(dir, 3_200_000);
    const r = mbn(['check', '--baseline', 'base.json', '--max-increase', '5%'], { cwd: dir });
    expect(r.status).toBe(0);
    // MACs grew 131,072 over 3.2M (+4.1%, within 5%); params have a budget and did not change; FLOPs, weight and
    // activation bytes neither changed nor have a budget: no column.
    expect(r.stdout).toBe(
      [
        '┌────────┬─────────────────┬─────────────────┬─────────────┐',
        '│        │ Model           │            MACs │      Params │',
        '├────────┼─────────────────┼─────────────────┼─────────────┤',
        '│ ✔ pass │ net             │ 3.33M (+4.1%) ✔ │ 213K / 1M ✔ │',
        '│        │ models/net.onnx │                 │ 213K (0%) ✔ │',
        '└────────┴─────────────────┴─────────────────┴─────────────┘',
        '(±%: change over the baseline base.json, allowed up to +5%)',
        '✔ all 6 checks passed',
        '',
      ].join('\n'),
    );
  });

  it('growth of exactly the threshold passes, one MAC more fails; default 0% fails any growth', () => {
    const dir = project({ 'mbn.config.json': config([{ name: 'net', model: 'models/net.onnx' }]) }, { 'models/net.onnx': W025 });
    // 3,172,450 × 1.05 = 3,331,072.5 → allowed up to 3,331,072 = the model's MACs.
    storedReport(dir, 3_172_450);
    const at = mbn(['check', '--baseline', 'base.json', '--max-increase', '5%', '--format', 'json'], { cwd: dir });
    expect(at.status).toBe(0);
    expect(json(at.stdout).checks[0]).toMatchObject({ metric: 'macs', passed: true, value: W025_MACS, limit: W025_MACS, margin: 0, baseline: 3_172_450 });
    // A bare number is a fraction, as --min-reduction and --headroom read it: 0.05 is 5%.
    expect(mbn(['check', '--baseline', 'base.json', '--max-increase', '0.05'], { cwd: dir }).status).toBe(0);
    expect(mbn(['check', '--baseline', 'base.json', '--max-increase', '0.049'], { cwd: dir }).status).toBe(1);
    expect(mbn(['check', '--baseline', 'base.json', '--max-increase', '4.9%'], { cwd: dir }).status).toBe(1);
    const dflt = mbn(['check', '--baseline', 'base.json'], { cwd: dir });
    expect(dflt.status).toBe(1);
    expect(dflt.stdout).toContain('✖ net (models/net.onnx): MACs grew +5.0% over the baseline (3.17M → 3.33M); allowed up to 3.17M, over by 159K');

    storedReport(dir, 3_172_449);
    const over = mbn(['check', '--baseline', 'base.json', '--max-increase', '5%'], { cwd: dir });
    expect(over.status).toBe(1);
    expect(over.stdout).toContain('✖ net (models/net.onnx): MACs grew +5.0% over the baseline (3.17M → 3.33M); allowed up to 3,331,071, over by 1');
  });

  it('a shrinking model passes; a model swapped for a costlier one fails', () => {
    const dir = project({ 'mbn.config.json': config([{ model: 'models/net.onnx' }]) }, { 'models/net.onnx': CONV_W025 });
    storedReport(dir);
    copyFileSync(fixture('models/mobilenet_v1_w025.onnx'), join(dir, 'models/net.onnx'));
    expect(mbn(['check', '--baseline', 'base.json'], { cwd: dir }).status).toBe(0);
    storedReport(dir);
    copyFileSync(fixture('models/conv_mobilenet_v1_w025.onnx'), join(dir, 'models/net.onnx'));
    const r = mbn(['check', '--baseline', 'base.json', '--max-increase', '100%', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const macs = json(r.stdout).checks[0];
    expect(macs).toMatchObject({ baseline: reference[W025].convLinearMacs, value: reference[CONV_W025].convLinearMacs, limit: 2 * reference[W025].convLinearMacs });
  });

  it('a stored `mbn check --format json` is a baseline too, matched per entry for several models', () => {
    const dir = project(
      { 'mbn.config.json': config([{ name: 'small', model: 'a.onnx', maxMacs: '5M' }, { name: 'big', model: 'b.onnx', maxMacs: '30M' }]) },
      { 'a.onnx': W025, 'b.onnx': CONV_W025 },
    );
    const stored = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(stored.status).toBe(0);
    writeFileSync(join(dir, 'base.json'), stored.stdout);
    const same = mbn(['check', '--baseline', 'base.json', '--format', 'json'], { cwd: dir });
    expect(same.status).toBe(0);
    expect(json(same.stdout).checks).toHaveLength(2 + 2 * 5);
    // Swap the files: each entry's figures move far from its own baseline.
    copyFileSync(fixture('models/conv_mobilenet_v1_w025.onnx'), join(dir, 'a.onnx'));
    copyFileSync(fixture('models/mobilenet_v1_w025.onnx'), join(dir, 'b.onnx'));
    const swapped = mbn(['check', '--baseline', 'base.json', '--format', 'json'], { cwd: dir });
    expect(swapped.status).toBe(1);
    const failed = json(swapped.stdout).checks.filter((c: { passed: boolean }) => !c.passed);
    expect(failed.map((c: { name: string; kind: string; metric: string }) => `${c.name}:${c.kind}:${c.metric}`)).toEqual([
      'small:budget:macs', 'small:baseline:macs', 'small:baseline:flops', 'small:baseline:params', 'small:baseline:weightBytes',
    ]);
  });

  it('a model without a baseline is reported, not failed', () => {
    const dir = project({ 'mbn.config.json': config([{ name: 'a', model: 'a.onnx' }, { name: 'b', model: 'b.onnx' }]) }, { 'a.onnx': W025, 'b.onnx': W025 });
    writeFileSync(join(dir, 'base.json'), JSON.stringify({ schema: 'mbn.check/1', models: [{ name: 'a', model: 'a.onnx', totals: { macs: 1e12, flops: 1e12, params: 1e12, weightBytes: 1e12, peakActivationBytes: 1e12 } }] }));
    const r = mbn(['check', '--baseline', 'base.json'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('• b (b.onnx): no baseline for this model in base.json (new model?): not compared');
  });

  it('usage errors: --max-increase without --baseline, a bad percentage, a baseline that is not a report', () => {
    const dir = project({ 'mbn.config.json': config([{ model: 'a.onnx' }]), 'other.json': '{"hello": 1}' }, { 'a.onnx': W025 });
    let r = mbn(['check', '--max-increase', '5%'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe('mbn: --max-increase needs --baseline FILE (a stored `mbn analyze --format json` or `mbn check --format json` report)');
    r = mbn(['check', '--baseline', 'other.json', '--max-increase', 'five'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("mbn: --max-increase 'five' is not a fraction or percentage such as 0.05 or 5%");
    // A bare 5 would be 500%: almost surely meant as 5%, so it is refused rather than read either way.
    r = mbn(['check', '--baseline', 'other.json', '--max-increase', '5'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("mbn: --max-increase '5' would allow 500% growth: write 5% for 5 percent, or a fraction such as 0.05");
    r = mbn(['check', '--baseline', 'other.json'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^mbn: other.json is not an mbn report \(schema is missing/);
    r = mbn(['check', '--baseline', 'missing.json'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("mbn: cannot read baseline 'missing.json': no such file");
  });
});

describe('mbn check: output for CI', () => {
  const files = { 'mbn.config.json': config([{ name: 'v1', model: 'models/v1.onnx', maxMacs: V1_MACS - 1, maxParams: '5M' }, { model: 'none/*.onnx', maxMacs: 1 }]) };

  it('GITHUB_ACTIONS=true adds ::error annotations to the table on stdout', () => {
    const dir = project(files, { 'models/v1.onnx': V1 });
    const r = mbn(['check'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(r.status).toBe(1);
    const annotations = r.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(annotations).toEqual([
      '::error file=models/v1.onnx,title=mbn budget::v1 (models/v1.onnx): MACs 568,740,352 exceed the budget of 568,740,351 by 1 (0.0%25)',
      "::error file=mbn.config.json,title=mbn budget::none/*.onnx: model missing: no file matches 'none/*.onnx'",
    ]);
    expect(mbn(['check'], { cwd: dir }).stdout).not.toContain('::error');
  });

  it('with --format json or md, stdout stays a clean document and annotations go to stderr', () => {
    const dir = project(files, { 'models/v1.onnx': V1 });
    const r = mbn(['check', '--format', 'json'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.schema).toBe('mbn.check/1');
    expect(out.passed).toBe(false);
    expect(r.stderr).toContain('::error file=models/v1.onnx,title=mbn budget::');
    const md = mbn(['check', '--format', 'md'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(md.stdout).not.toContain('::error');
    expect(md.stdout).toContain('### mbn check: ❌ 2 of 3 checks failed');
    expect(md.stdout).toContain('| ❌ | v1 (`models/v1.onnx`) | MACs | 568,740,352 | 568,740,351 | -1 (-0.0%) |');
    expect(md.stdout).toContain("| ❌ | `none/*.onnx` | model |  |  | missing |");
  });

  it('no colour off a terminal, with NO_COLOR or --no-color', () => {
    const dir = project(files, { 'models/v1.onnx': V1 });
    expect(mbn(['check'], { cwd: dir, env: { NO_COLOR: '' } }).stdout).not.toMatch(/\x1b\[/);
    expect(mbn(['check', '--no-color'], { cwd: dir }).stdout).not.toMatch(/\x1b\[/);
  });
});

describe('mbn diff', () => {
  it('conv MobileNet → separable MobileNet: totals delta is exactly the difference of their MACs', () => {
    const r = mbn(['diff', CONV_W025, W025, '--format', 'json']);
    expect(r.status).toBe(0);
    const d = json(r.stdout);
    const base = reference[CONV_W025].convLinearMacs;
    const head = reference[W025].convLinearMacs;
    expect([base, head]).toEqual([24_996_352, 3_331_072]);
    expect(d.schema).toBe('mbn.diff/1');
    expect(d.base.path).toBe(CONV_W025);
    expect(d.totals.macs).toEqual({ base, head, delta: head - base, percent: (100 * (head - base)) / base });
    expect(d.totals.macs.delta).toBe(-21_665_280);
    expect(d.totals.params).toEqual({
      base: reference[CONV_W025].onnxParams,
      head: reference[W025].onnxParams,
      delta: reference[W025].onnxParams - reference[CONV_W025].onnxParams,
      percent: (100 * (reference[W025].onnxParams - reference[CONV_W025].onnxParams)) / reference[CONV_W025].onnxParams,
    });
    // 13 full convs (and their ReLUs) become 13 depthwise + 13 pointwise convs (and ReLUs).
    expect(d.summary).toEqual({ added: 52, removed: 26, changed: 0, unchanged: d.layers.length - 78, renamed: 0 });
    const sum = (status: string) => d.layers.filter((l: { status: string }) => l.status === status).reduce((s: number, l: { macs: { delta: number } }) => s + l.macs.delta, 0);
    expect(sum('added') + sum('removed') + sum('changed')).toBe(head - base);
    expect(d.layers.find((l: { name: string }) => l.name === '/features/features.1/features.1.0/Conv')).toMatchObject({
      status: 'removed', op: 'Conv', macs: { base: 1_179_648, head: 0, delta: -1_179_648 },
    });
  });

  it('markdown: base vs head table for a pull request', () => {
    const r = mbn(['diff', CONV_W025, W025, '--format', 'md']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('### mbn diff 📉 MACs -21.7M (-86.7%)');
    expect(r.stdout).toContain(`Base \`${CONV_W025}\` → head \`${W025}\``);
    expect(r.stdout).toContain('| MACs | 25M | 3.33M | -21.7M | -86.7% |');
    expect(r.stdout).toContain('| Params | 1.77M | 213K | -1.56M | -88.0% |');
    expect(r.stdout).toContain('| ➖ | /features/features.1/features.1.0/Conv | Conv | 1.18M | -1.18M |  | 1.17K | -1.17K |');
    expect(r.stdout).toContain('<summary>Layers: 52 added, 26 removed, 0 changed, 5 unchanged (39 with a MACs or params change listed)</summary>');
  });

  it('table, and the same model twice', () => {
    const r = mbn(['diff', W025, W025]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/MACs\s+│\s+3\.33M │\s+3\.33M │\s+0 │\s+0% │/);
    expect(r.stdout).toContain('Layers: 0 added, 0 removed, 0 changed, 57 unchanged; 57 without a MACs or params change not listed (--all lists them)');
    const all = mbn(['diff', W025, W025, '--all', '--format', 'json']);
    expect(json(all.stdout).layers).toHaveLength(57);
  });

  it('a missing model is an input error (exit 2)', () => {
    const r = mbn(['diff', W025, 'nope.onnx']);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^mbn: .*'nope.onnx'/);
  });
});
