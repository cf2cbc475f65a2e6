import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/budget/config.js';
import { initEntries, limitFor, limitText, renderInitConfig, roundUpSignificant } from '../src/budget/init.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import type { Totals } from '../src/contract/analyze.js';

/** A 3×3 conv, 16 → `n` channels on 32×32 (pads 1): n·16·9·1024 MACs, n·16·9 params. */
function convModel(n: number): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 16, 32, 32] }],
    outputs: ['y'],
    initializers: [{ name: 'w', dtype: 1, dims: [n, 16, 3, 3], values: new Array(n * 16 * 9).fill(0.5) }],
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }],
  });
}

describe('init limits', () => {
  it('round up to three significant digits, exactly', () => {
    expect(roundUpSignificant(15_482_880)).toBe(15_500_000);
    expect(roundUpSignificant(15_400_000)).toBe(15_400_000);
    expect(roundUpSignificant(105)).toBe(105);
    expect(roundUpSignificant(1001)).toBe(1010);
    // 100 conv channels: 14,745,600 MACs; + 5% = 15,482,880 → 15.5M.
    expect(limitFor(100 * 16 * 9 * 1024, 0.05)).toBe(15_500_000);
    expect(limitFor(100, 0.05)).toBe(105);
    // 0.1 + 5% is 105.0000…01 in floating point; the integer arithmetic keeps it 105.
    expect(limitFor(100, 0.1 + 0.05 - 0.1)).toBe(105);
    expect(limitFor(1999, 0)).toBe(2000);
    expect(limitFor(0, 0.05)).toBe(0);
    // ResNet-18's MACs + 5%: 1,904,777,011.2 → 1.91G.
    expect(limitFor(1_814_073_344, 0.05)).toBe(1_910_000_000);
  });

  it('are written with units that read back to the same number', () => {
    expect(limitText('maxMacs', 1_910_000_000)).toBe('1.91G');
    expect(limitText('maxParams', 81_500)).toBe('81.5K');
    expect(limitText('maxWeightBytes', 49_100_000)).toBe('49.1MB');
    expect(limitText('maxActivationBytes', 413_000)).toBe('413KB');
    expect(limitText('maxMacs', 950)).toBe('950');
    expect(limitText('maxWeightBytes', 950)).toBe('950B');
  });

  it('the config text parses as a budget config, hostile paths included', () => {
    const totals = { macs: 10, flops: 20, otherFlops: 0, params: 3, weightBytes: 12, peakActivationBytes: 40 } as Totals;
    const entries = initEntries(
      [
        { model: 'a/net.onnx', totals },
        { model: 'b/net.onnx', totals },
        { model: 'x","maxMacs":"1"}, {"model":"y.onnx', totals },
      ],
      0.05,
    );
    // Two files named net.onnx: named by their paths.
    expect(entries.map((e) => e.name)).toEqual(['a/net.onnx', 'b/net.onnx', 'x","maxMacs":"1"}, {"model":"y']);
    const parsed = parseConfigText(renderInitConfig(entries), 'mbn.config.json');
    expect(parsed).toHaveLength(3);
    expect(parsed[2].model).toBe('x","maxMacs":"1"}, {"model":"y.onnx');
    expect(parsed[0].limits).toEqual({ maxMacs: 11, maxFlops: 21, maxParams: 4, maxWeightBytes: 13, maxActivationBytes: 42 });
  });
});

describe('mbn init', () => {
  it('writes budgets that `mbn check` passes; a model grown by 10% fails, one grown by 4% passes', () => {
    const dir = tempDir('mbn-init-');
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models/net.onnx'), convModel(100));
    // Skipped by the search: node_modules and dot folders.
    mkdirSync(join(dir, 'node_modules/pkg'), { recursive: true });
    copyFileSync(fixture('models/resnet_small.onnx'), join(dir, 'node_modules/pkg/other.onnx'));
    mkdirSync(join(dir, '.cache'));
    copyFileSync(fixture('models/resnet_small.onnx'), join(dir, '.cache/other.onnx'));

    const init = mbn(['init'], { cwd: dir });
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    expect(init.stdout).toContain("'net': MACs 15.5M");
    const config = JSON.parse(readFileSync(join(dir, 'mbn.config.json'), 'utf8'));
    // 14,400 weights (57,600 bytes), output 100×32×32 floats plus the 16×32×32 input live at once.
    expect(config).toEqual([
      {
        name: 'net',
        model: 'models/net.onnx',
        maxMacs: '15.5M',
        maxFlops: '31M',
        maxParams: '15.2K',
        maxWeightBytes: '60.5KB',
        maxActivationBytes: '499KB',
      },
    ]);
    expect(mbn(['check'], { cwd: dir }).status).toBe(0);

    writeFileSync(join(dir, 'models/net.onnx'), convModel(104));
    expect(mbn(['check'], { cwd: dir }).status).toBe(0);

    writeFileSync(join(dir, 'models/net.onnx'), convModel(110));
    const grown = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(grown.status).toBe(1);
    const failed = JSON.parse(grown.stdout).checks.filter((c: { passed: boolean }) => !c.passed).map((c: { metric: string }) => c.metric);
    // 110 channels: MACs, FLOPs, params and weights grow by 10%; peak activations by 8.6% (516,096 B > 499KB).
    expect(failed).toEqual(['macs', 'flops', 'params', 'weightBytes', 'peakActivationBytes']);
  });

  it('refuses to overwrite without --force, leaving the file as it was; --force and --headroom', () => {
    const dir = tempDir('mbn-init-');
    writeFileSync(join(dir, 'net.onnx'), convModel(100));
    writeFileSync(join(dir, 'mbn.config.json'), 'mine\n');
    const refused = mbn(['init'], { cwd: dir });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe("mbn: 'mbn.config.json' already exists; use --force to overwrite it\n");
    expect(readFileSync(join(dir, 'mbn.config.json'), 'utf8')).toBe('mine\n');

    const forced = mbn(['init', 'net.onnx', '--force', '--headroom', '10%'], { cwd: dir });
    expect(forced.status).toBe(0);
    // 14,745,600 · 1.1 = 16,220,160 → 16.3M.
    expect(JSON.parse(readFileSync(join(dir, 'mbn.config.json'), 'utf8'))[0].maxMacs).toBe('16.3M');
    // The atomic writer leaves no temporary file behind.
    expect(readdirSync(dir).sort()).toEqual(['mbn.config.json', 'net.onnx']);
  });

  it('bad input: no models, a missing model, a bad headroom (exit 2, nothing written)', () => {
    const dir = tempDir('mbn-init-');
    const none = mbn(['init'], { cwd: dir });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^mbn: no \.onnx or \.tflite files below .* \(node_modules and dot folders are skipped\); name them: mbn init models\/a\.onnx\n$/);
    const missing = mbn(['init', 'nope.onnx'], { cwd: dir });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("mbn: cannot read model 'nope.onnx': no such file\n");
    const bad = mbn(['init', '--headroom', 'lots'], { cwd: dir });
    expect(bad.status).toBe(2);
    const loose = mbn(['init', '--headroom', '150%'], { cwd: dir });
    expect(loose.status).toBe(2);
    expect(loose.stderr).toBe('mbn: --headroom 150% is more than 100%: a budget that loose would catch nothing (use 0.05 or 5%)\n');
    expect(existsSync(join(dir, 'mbn.config.json'))).toBe(false);
  });

  it('a file name with glob characters is escaped, so that mbn check reads it as that file', () => {
    const dir = tempDir('mbn-init-');
    writeFileSync(join(dir, 'net[1]*.onnx'), convModel(100));
    writeFileSync(join(dir, 'net1x.onnx'), convModel(200));
    expect(mbn(['init', '--headroom', '0'], { cwd: dir }).status).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'mbn.config.json'), 'utf8'));
    expect(config.map((e: { model: string }) => e.model)).toEqual(['net1x.onnx', 'net\\[1]\\*.onnx']);
    const check = JSON.parse(mbn(['check', '--format', 'json'], { cwd: dir }).stdout);
    expect(check.passed).toBe(true);
    expect(check.models.map((m: { model: string }) => m.model)).toEqual(['net1x.onnx', 'net[1]*.onnx']);
  });

  it('warns when a model has symbolic input dims', () => {
    const dir = tempDir('mbn-init-');
    copyFileSync(fixture('real/ppocr_mobile_v2_cls.onnx'), join(dir, 'cls.onnx'));
    const r = mbn(['init'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`mbn: warning: 'cls.onnx' has symbolic input dims, taken as 1: add "input"`);
  });
});
