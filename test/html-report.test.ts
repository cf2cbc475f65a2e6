import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { rollUpModules } from '../src/cost/modules.js';
import { readModel, readModelBytes } from '../src/onnx/read.js';
import { jsonForScript, renderHtml } from '../src/report/html-report.js';
import { clip, escapeHtml, squarify } from '../src/report/svg-charts.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';

const HOSTILE = `</script><script>alert(1)</script><img src=x onerror="alert('x')">\u2028\u0007&amp;`;

/** A conv whose node (and output) name is hostile markup. */
function hostileModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 2, 8, 8] }],
    outputs: [HOSTILE],
    initializers: [{ name: 'w', dtype: 1, dims: [4, 2, 3, 3], values: new Array(72).fill(0.25) }],
    nodes: [{ op: 'Conv', name: `/blk<b>/${HOSTILE}`, inputs: ['x', 'w'], outputs: [HOSTILE], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }],
  });
}

function hostileHtml(): string {
  const report = analyzeModel(readModelBytes(hostileModel(), 'hostile.onnx'));
  return renderHtml(report, { flops: false, modules: { depth: 2, rows: rollUpModules(report.layers, 2) }, version: '0.1.0' });
}

describe('HTML escaping', () => {
  it('escapes markup, quotes and control characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>\u0007`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;\\x07');
  });

  it('embeds JSON that cannot close its script block and parses back to the same value', () => {
    const value = { name: HOSTILE };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('a hostile layer name is text everywhere: two script blocks (ours), no injected tags', () => {
    const html = hostileHtml();
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;');
    const data = /<script type="application\/json" id="mbn-data">([^<]*)<\/script>/.exec(html);
    expect(JSON.parse(data![1]).layers[0].name).toBe(`/blk<b>/${HOSTILE}`);
  });

  it('is self-contained: no URL, no src or href, a CSP that forbids loading anything', () => {
    const model = readModel(fixture('graph-only/resnet18.onnx'));
    const report = analyzeModel(model);
    model.source.close();
    const resnet = renderHtml(report, { flops: true, modules: { depth: 1, rows: rollUpModules(report.layers, 1) }, version: '0.1.0' });
    for (const page of [resnet, hostileHtml()]) {
      expect(page).not.toMatch(/https?:\/\//);
      // In a tag, not in escaped text (the hostile name itself contains "src=").
      expect(page).not.toMatch(/<[^>]*\s(?:src|href)\s*=/);
      expect(page).not.toMatch(/url\(/);
      expect(page).toContain(`content="default-src 'none'`);
    }
  });

  it('middle ellipsis and a treemap that fills its box', () => {
    expect(clip('/layer1/layer1.0/conv1/Conv', 11)).toBe('/laye…/Conv');
    const rects = squarify([6, 6, 4, 3, 2, 2, 1], { x: 0, y: 0, w: 600, h: 400 });
    const area = rects.reduce((s, r) => s + r.w * r.h, 0);
    expect(area).toBeCloseTo(600 * 400, 6);
    // Proportional: the first item (6 of 24) gets a quarter of the area.
    expect(rects[0].w * rects[0].h).toBeCloseTo(60_000, 6);
    for (const r of rects) {
      expect(r.x).toBeGreaterThanOrEqual(-1e-9);
      expect(r.y).toBeGreaterThanOrEqual(-1e-9);
      expect(r.x + r.w).toBeLessThanOrEqual(600 + 1e-9);
      expect(r.y + r.h).toBeLessThanOrEqual(400 + 1e-9);
    }
  });
});

describe('mbn analyze --format html', () => {
  it('writes the page to stdout, or to -o FILE (refusing to overwrite without --force)', () => {
    const stdout = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html']);
    expect(stdout.status).toBe(0);
    expect(stdout.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(stdout.stdout).toContain('<div class="v">1.81G</div><div class="x">1,814,073,344</div>');
    const dir = tempDir('mbn-html-');
    const out = join(dir, 'report.html');
    const first = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html', '-o', out]);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(stdout.stdout);
    const again = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html', '-o', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(`mbn: '${out}' already exists; use --force to overwrite it\n`);
    expect(mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html', '-o', out, '--force']).status).toBe(0);
    // Never onto the model.
    const onto = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html', '-o', fixture('graph-only/resnet18.onnx'), '--force']);
    expect(onto.status).toBe(2);
    expect(onto.stderr).toMatch(/^mbn: refusing to write .*: it is the input/);
  });

  it('a model without / scopes says so instead of drawing one box', () => {
    const r = mbn(['analyze', fixture('real/ppocr_mobile_v2_cls.onnx'), '--format', 'html']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('No layer name has a <code>/</code> module scope');
    expect(r.stdout).not.toContain('class="chart treemap"');
  });
});

describe('mbn diff --format html', () => {
  it('totals and MACs per module before and after; a separated conv module holds its depthwise + pointwise pair', () => {
    const dir = tempDir('mbn-html-');
    const sep = join(dir, 'sep.onnx');
    expect(mbn(['separate', fixture('models/resnet_small.onnx'), '-o', sep]).status).toBe(0);
    const json = JSON.parse(mbn(['diff', fixture('models/resnet_small.onnx'), sep, '--format', 'json']).stdout);
    const html = mbn(['diff', fixture('models/resnet_small.onnx'), sep, '--format', 'html']);
    expect(html.status).toBe(0);
    expect(html.stdout).toContain(`${json.totals.macs.base.toLocaleString('en-US')} → ${json.totals.macs.head.toLocaleString('en-US')}`);
    // conv1 after: the MACs of the two layers the rewrite put in its place, from the layer diff.
    const pair = json.layers.filter((l: { name: string; status: string }) => l.status === 'added' && l.name.startsWith('/conv1/'));
    expect(pair).toHaveLength(2);
    const after = pair.reduce((s: number, l: { macs: { head: number } }) => s + l.macs.head, 0);
    const before = json.layers.find((l: { name: string }) => l.name === '/conv1/Conv').macs.base;
    const row = /<tr><td class="name">conv1<\/td><td class="n" data-v="(\d+)">[^<]*<\/td><td class="n" data-v="(\d+)">/.exec(html.stdout);
    expect(row).not.toBeNull();
    expect([Number(row![1]), Number(row![2])]).toEqual([before, after]);
    expect(html.stdout).toContain('<svg class="chart"');
  });
});

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`html-report: skipping the headless Chromium tests: ${CHROMIUM} is missing (Debian package chromium)`);

/** The page as Chromium renders it (after its script ran), via --dump-dom: no driver needed. */
function renderedDom(file: string): string {
  const profile = tempDir('mbn-chromium-');
  const r = spawnSync(
    CHROMIUM,
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, '--dump-dom', `file://${file}`,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!haveChromium)('the HTML report in headless Chromium', () => {
  it('ResNet-18: the script ran, the charts are there, and the exact total MACs', () => {
    const dir = tempDir('mbn-html-');
    const file = join(dir, 'resnet18.html');
    expect(mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--format', 'html', '-o', file]).status).toBe(0);
    const dom = renderedDom(file);
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).toContain('1,814,073,344');
    // The per-layer MACs chart shows ResNet-18's 21 conv and gemm layers as bars.
    const chart = /<div class="variant on" data-metric="macs" data-scale="linear">(.*?)<\/div>/s.exec(dom);
    expect(chart![1].match(/<rect /g)).toHaveLength(21);
    expect(dom).toContain('<svg class="chart treemap"');
    expect(dom).toMatch(/<text class="tm-label"[^>]*>layer1 · 462M<\/text>/);
  }, 150_000);

  it('the diff page: its script runs without the analyze page chart', () => {
    const dir = tempDir('mbn-html-');
    const sep = join(dir, 'sep.onnx');
    const file = join(dir, 'diff.html');
    expect(mbn(['separate', fixture('models/resnet_small.onnx'), '-o', sep]).status).toBe(0);
    expect(mbn(['diff', fixture('models/resnet_small.onnx'), sep, '--format', 'html', '-o', file]).status).toBe(0);
    const dom = renderedDom(file);
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).toContain('34,439,808 → ');
  }, 150_000);

  it('a hostile layer name does not inject markup into the rendered page', () => {
    const dir = tempDir('mbn-html-');
    const file = join(dir, 'hostile.html');
    writeFileSync(file, hostileHtml());
    const dom = renderedDom(file);
    // The script ran to its end: nothing in the data broke it.
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).not.toContain('<img');
    expect(dom).not.toContain('<b>');
    expect(dom.match(/<script/g)).toHaveLength(2);
    expect(dom).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  }, 150_000);
});
