import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { BUILTIN_PROFILES } from '../src/latency/builtin.js';
import { rollUpModules } from '../src/cost/modules.js';
import { readModel, readModelBytes } from '../src/onnx/read.js';
import { jsonForScript } from '../src/report/html-page.js';
import { renderHtml } from '../src/report/html-report.js';
import { msText } from '../src/report/latency-report.js';
import { clip, escapeHtml, squarify } from '../src/report/svg-charts.js';
import { buildModel } from './helpers/build-model.js';
import { CHROMIUM, haveChromium, renderedDom } from './helpers/chromium.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';

/** A tag with a src or href attribute; attribute values are quoted (escapeHtml escapes quotes), so skipped whole. */
const SRC_OR_HREF = /<[a-z][a-z0-9-]*(?:\s+[^\s"'>=]+(?:="[^"]*")?)*\s+(?:src|href)\s*=/i;

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
      // In a tag, not in escaped text or a quoted attribute value (the hostile name itself contains "src=").
      expect(page).not.toMatch(SRC_OR_HREF);
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

/**
 * The hostile model through the CLI with `--device` naming a profile file whose name and description are hostile
 * too: the page with its latency section, written to `dir`.
 */
function hostileLatencyPage(dir: string): { file: string; page: string } {
  const model = join(dir, 'hostile.onnx');
  const profile = join(dir, 'hostile-device.json');
  const file = join(dir, 'hostile-latency.html');
  writeFileSync(model, hostileModel());
  writeFileSync(profile, JSON.stringify({ ...BUILTIN_PROFILES[0], name: HOSTILE, description: HOSTILE }));
  const r = mbn(['analyze', model, '--format', 'html', '--device', profile, '-o', file]);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe('');
  return { file, page: readFileSync(file, 'utf8') };
}

const DATA_BLOCK = /<script type="application\/json" id="mbn-data">([^<]*)<\/script>/;

describe('mbn analyze --format html --device', () => {
  interface TimedLayer {
    name: string;
    op: string;
    macs: number;
    latencyMs: number;
    bound: string | null;
    fusedInto: string | null;
    separation: { afterMs: number; timeRatio: number; macRatio: number } | null;
  }

  it('rpi4: total, uncalibrated marker, the costliest layers and their bars, exactly the JSON report\'s figures', () => {
    const model = fixture('models/conv_mobilenet_v1_w025.onnx');
    const r = mbn(['analyze', model, '--format', 'html', '--device', 'rpi4']);
    expect(r.status).toBe(0);
    const page = r.stdout;
    const json = JSON.parse(mbn(['analyze', model, '--format', 'json', '--device', 'rpi4']).stdout);
    const total = json.totals.latencyMs as number;
    const section = /<section id="latency">.*?<\/section>/s.exec(page)![0];
    expect(section).toContain('<h2>Predicted latency on rpi4</h2>');
    expect(section).toContain(`<div class="card" id="latency-total"><div class="k">Predicted latency</div><div class="v">${msText(total)}</div>`);
    expect(section).toContain('<span class="warn" id="uncalibrated">uncalibrated estimate</span>');
    expect(section).toContain(`<div class="v">${msText(json.totals.latencyIfSeparatedMs)}</div><div class="x">${json.totals.separableLayers} standard convs`);
    // The table: layers with a time of their own, costliest first (ties in model order), every figure exact in data-v.
    const layers = json.layers as TimedLayer[];
    const expected = layers.filter((l) => l.fusedInto === null && l.latencyMs > 0).sort((a, b) => b.latencyMs - a.latencyMs);
    expect(expected.length).toBeLessThanOrEqual(25);
    const rows = [...section.matchAll(/<tr( class="memory-bound")?><td class="name">([^<]*)<\/td><td>([^<]*)<\/td>(.*?)<\/tr>/g)];
    expect(rows.map((m) => m[2])).toEqual(expected.map((l) => l.name));
    rows.forEach((m, i) => {
      const l = expected[i];
      expect(m[3]).toBe(l.op);
      const values = [...m[4].matchAll(/data-v="([^"]*)"/g)].map((v) => v[1]);
      const s = l.separation;
      expect(values, l.name).toEqual([l.macs, l.latencyMs, l.latencyMs / total, ...(s ? [s.afterMs, s.timeRatio, s.macRatio] : [])].map(String));
      // Memory-bound: marked on the row and in the bound cell.
      expect(m[1] !== undefined, l.name).toBe(l.bound === 'memory');
      expect(m[4]).toContain(l.bound === 'memory' ? '<td class="mem"><strong>memory</strong></td>' : `<td>${l.bound}</td>`);
    });
    expect(rows.filter((m) => m[1]).length).toBeGreaterThan(0);
    expect(rows.filter((m) => m[4].includes('×')).length).toBe(json.totals.separableLayers);
    // The chart: the 15 costliest, memory-bound bars in their own colour.
    const chart = /<svg class="chart"[^>]*aria-label="Predicted time per layer \(the costliest\)">(.*?)<\/svg>/s.exec(section)![1];
    const top = expected.slice(0, 15);
    expect(chart.match(/<rect /g)).toHaveLength(top.length);
    expect(chart.match(/<rect class="k-mem"/g)).toHaveLength(top.filter((l) => l.bound === 'memory').length);
    expect(chart).toContain(`<text class="value" x="`);
    expect(chart).toContain(`>${msText(top[0].latencyMs)} · ${((100 * top[0].latencyMs) / total).toFixed(1)}% · ${top[0].bound}</text>`);
    // The page's data block carries the same totals.
    expect(JSON.parse(DATA_BLOCK.exec(page)![1]).totals.latencyMs).toBe(total);
  });

  it('without --device the page has no latency section; with it, the rest of the page is the same', () => {
    const model = fixture('models/resnet_small.onnx');
    const plain = mbn(['analyze', model, '--format', 'html']).stdout;
    const page = mbn(['analyze', model, '--format', 'html', '--device', 'rpi4']).stdout;
    expect(plain).not.toContain('<section id="latency">');
    expect(plain).not.toContain('Predicted latency');
    const section = /<section id="latency">.*?<\/section>\n/s.exec(page)![0];
    // The energy estimate's section follows it (test/energy.test.ts).
    const energy = /<section id="energy">.*?<\/section>\n/s.exec(page)![0];
    expect(page.replace(section, '').replace(energy, '').replace(DATA_BLOCK, '')).toBe(plain.replace(DATA_BLOCK, ''));
  });

  it('a hostile device name and layer name are text in the latency section too; still self-contained', () => {
    const { page } = hostileLatencyPage(tempDir('mbn-html-'));
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<b>');
    expect(page).toContain(`<h2>Predicted latency on ${escapeHtml(HOSTILE)}</h2>`);
    expect(page).toContain(`<p class="note">${escapeHtml(HOSTILE)}</p>`);
    expect(page).toContain(`<td class="name">${escapeHtml(`/blk<b>/${HOSTILE}`)}</td>`);
    expect(page).toContain(`>${escapeHtml(clip(`/blk<b>/${HOSTILE}`, 28))}</text>`);
    expect(JSON.parse(DATA_BLOCK.exec(page)![1]).totals.device).toBe(HOSTILE);
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(SRC_OR_HREF);
    expect(page).not.toMatch(/url\(/);
    expect(page).toContain(`content="default-src 'none'`);
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

if (!haveChromium) console.log(`html-report: skipping the headless Chromium tests: ${CHROMIUM} is missing (Debian package chromium)`);

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

  it('with --device: the latency section renders, and a hostile device name injects nothing', () => {
    const { file } = hostileLatencyPage(tempDir('mbn-html-'));
    const dom = renderedDom(file);
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).not.toContain('<img');
    expect(dom).not.toContain('<b>');
    expect(dom.match(/<script/g)).toHaveLength(2);
    expect(dom).toContain('<h2>Predicted latency on &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x');
    // One bar for the one conv.
    const chart = /<svg class="chart"[^>]*aria-label="Predicted time per layer \(the costliest\)">(.*?)<\/svg>/s.exec(dom);
    expect(chart![1].match(/<rect /g)).toHaveLength(1);
  }, 150_000);
});
