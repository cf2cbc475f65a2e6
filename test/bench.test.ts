import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepWarming, quantile, summarize } from '../src/bench/run.js';
import { fixture, mbn, ROOT, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

/** `mbn bench`: ONNX Runtime latency next to MAC ratios. No timed assertions: speed is for `npm run bench`. */
const CONV = fixture('models/conv_mobilenet_v1_w025.onnx');
const SEP = fixture('models/mobilenet_v1_w025.onnx');

function analyzeMacs(path: string): number {
  const r = mbn(['analyze', path, '--format', 'json']);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout).totals.macs;
}

describe.skipIf(!loadOrt())('mbn bench', () => {
  it('reports one record per model, latency and the MAC ratio of analyze', () => {
    const r = mbn(['bench', CONV, SEP, '--runs', '3', '--warmup', '1', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.schema).toBe('mbn.bench/1');
    // Counts given on the command line are exact: no time floor.
    expect(out.options).toEqual({ warmup: 1, runs: 3, threads: 1, minTimeMs: { warmup: 0, timed: 0 } });
    for (const m of out.models) expect(m.warmupRuns).toBe(1);
    expect(out.models.map((m: { path: string }) => m.path)).toEqual([CONV, SEP]);
    const convMacs = analyzeMacs(CONV);
    const sepMacs = analyzeMacs(SEP);
    // The conv/linear MACs of fixtures/reference.json: analyze counts nothing else as MACs in these models.
    expect(convMacs).toBe(24_996_352);
    expect(sepMacs).toBe(3_331_072);
    for (const m of out.models) {
      expect(m.inputs).toEqual([{ name: 'input', type: 'float32', dims: [1, 3, 64, 64] }]);
      expect(m.timesMs).toHaveLength(3);
      expect(m.latencyMs.median).toBeGreaterThan(0);
      expect(m.latencyMs.p10).toBeLessThanOrEqual(m.latencyMs.median);
      expect(m.latencyMs.p90).toBeGreaterThanOrEqual(m.latencyMs.median);
    }
    expect(out.models[0].macs).toBe(convMacs);
    expect(out.models[1].macs).toBe(sepMacs);
    expect(out.models[0].macRatio).toBe(1);
    expect(out.models[1].macRatio).toBe(sepMacs / convMacs);
    expect(out.models[0].latencyRatio).toBe(1);
    expect(out.models[1].latencyRatio).toBe(out.models[1].latencyMs.median / out.models[0].latencyMs.median);
  });

  it('prints a table by default, and nothing on stderr outside a terminal; --batch sets a symbolic batch', () => {
    const r = mbn(['bench', fixture('models/dynamic_batch.onnx'), '--runs', '2', '--warmup', '0', '--batch', '2']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('dynamic_batch.onnx');
    expect(r.stdout).toContain('2x3x16x16');
    expect(r.stdout).toMatch(/MAC ratio/);
    expect(r.stdout).toContain('warm-up + timed runs per model: 0 + 2;');
  });

  it('without --runs and --warmup, a fast model gets more runs: 0.1 s of warm-up and 0.5 s of timed runs', () => {
    const r = mbn(['bench', fixture('models/tiny_cnn.onnx'), '--format', 'json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.options).toEqual({ warmup: 3, runs: 20, threads: 1, minTimeMs: { warmup: 100, timed: 500 } });
    const m = out.models[0];
    // tiny_cnn runs in well under a millisecond: 20 runs cannot fill 0.5 s, so the floor decides.
    expect(m.timesMs.length).toBeGreaterThan(20);
    const timed = m.timesMs.reduce((s: number, t: number) => s + t, 0);
    expect(timed >= 500 || m.timesMs.length === 10_000).toBe(true);
    // Only the last run may cross the floor: without it the total is still under 0.5 s.
    expect(timed - m.timesMs[m.timesMs.length - 1]).toBeLessThan(500);
    // tiny_cnn's 2,000 calls take under 0.15 s: the warm-up makes at least that many (V8's warm-up of the call).
    expect(m.warmupRuns).toBeGreaterThanOrEqual(2000);
  });

  it('rejects a file that is not ONNX with one error line and exit 2', () => {
    const dir = tempDir();
    const path = join(dir, 'notes.onnx');
    writeFileSync(path, 'this is not a model\n');
    const r = mbn(['bench', CONV, path, '--runs', '1', '--warmup', '0', '--format', 'json']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mbn: .*notes\.onnx.* not an ONNX model/);
  });

  it('rejects bad option values and unknown --input names', () => {
    const runs = mbn(['bench', CONV, '--runs', '0']);
    expect(runs.status).toBe(2);
    expect(runs.stderr).toMatch(/^mbn: --runs '0' is not a positive integer/);
    const input = mbn(['bench', CONV, '--input', 'nope:1x3x64x64']);
    expect(input.status).toBe(2);
    expect(input.stderr).toMatch(/^mbn: --input names 'nope'/);
  });
});

describe('mbn bench without onnxruntime-node', () => {
  // The bundle has everything but onnxruntime-node: a copy outside the project cannot find it.
  it.skipIf(!existsSync(join(ROOT, 'dist/mbn.cjs')))('says how to install it, in one line, exit 2', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'dist'));
    copyFileSync(join(ROOT, 'bin/mbn.js'), join(dir, 'bin/mbn.js'));
    copyFileSync(join(ROOT, 'bin/package.json'), join(dir, 'bin/package.json'));
    // The command's own bundle where the build made one (bin/mbn.js prefers it), else the whole CLI.
    for (const bundle of ['dist/mbn.cjs', 'dist/mbn-bench.cjs']) if (existsSync(join(ROOT, bundle))) copyFileSync(join(ROOT, bundle), join(dir, bundle));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    const r = spawnSync(process.execPath, [join(dir, 'bin/mbn.js'), 'bench', CONV], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
    expect(r.stderr).toBe('mbn: mbn bench needs onnxruntime-node: npm install onnxruntime-node\n');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('the default warm-up', () => {
  // Runs of a fixed time t: the warm-up stops at the first run count where keepWarming says no.
  const warmupRunsAt = (t: number, count = 3, floorMs = 100) => {
    let runs = 0;
    while (keepWarming(runs, runs * t, count, floorMs)) runs++;
    return runs;
  };
  it('lasts 0.1 s, and 2,000 calls where those take at most 0.15 s', () => {
    expect(warmupRunsAt(0.01)).toBe(10_000); // 10 µs: 0.1 s would be 10,000 runs, the most it makes
    expect(warmupRunsAt(0.02)).toBe(5000); // 0.1 s
    expect(warmupRunsAt(0.06)).toBe(2000); // 2,000 calls, 0.12 s
    expect(warmupRunsAt(0.1)).toBe(1500); // 2,000 calls would take 0.2 s: 0.15 s
    expect(warmupRunsAt(1)).toBe(150);
    expect(warmupRunsAt(40)).toBe(4); // past both floors after 4 runs (160 ms)
    expect(warmupRunsAt(60)).toBe(3); // the count asked for
  });
  it('keeps to a count given (no floor)', () => {
    expect(warmupRunsAt(0.01, 7, 0)).toBe(7);
    expect(warmupRunsAt(0.01, 0, 0)).toBe(0);
  });
});

describe('latency statistics', () => {
  it('interpolates quantiles between sorted values', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20], 0.1)).toBe(11);
    expect(summarize([5, 1, 3])).toEqual({ median: 3, p10: 1.4, p90: 4.6, min: 1, max: 5, mean: 3 });
  });
});
