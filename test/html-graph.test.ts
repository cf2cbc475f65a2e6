import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../src/api/analyze.js';
import { escapeHtml } from '../src/report/svg-charts.js';
import { buildModel } from './helpers/build-model.js';
import { haveChromium, renderedDom, renderedDomAsync } from './helpers/chromium.js';
import { BIN, fixture, mbn, tempDir } from './helpers/cli.js';
import { pythonOnnx } from './helpers/python.js';

const DATA_BLOCK = /<script type="application\/json" id="mbn-data">([^<]*)<\/script>/;

interface GraphData {
  layers: { name: string; op: string; separable: boolean; uncounted: boolean; status: string | null }[];
  edges: number[];
  constant: number[];
  modules: { name: string; parent: number; depth: number }[];
  moduleOf: number[];
  figures: { key: string; values: (number | null)[]; colour: boolean; diverging: boolean }[];
}

function graphOf(page: string): GraphData {
  return JSON.parse(DATA_BLOCK.exec(page)![1]).graph;
}

/** Edges as "producer → consumer" layer names, sorted. */
function namedEdges(g: { layers: { name: string }[]; edges: number[] }): string[] {
  const out: string[] = [];
  for (let k = 0; k < g.edges.length; k += 2) out.push(`${g.layers[g.edges[k]].name} → ${g.layers[g.edges[k + 1]].name}`);
  return out.sort();
}

/** A branch, a residual add and a Constant shape: every edge worked out by hand. */
function branchModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', shape: [1, 2, 8, 8] }],
    outputs: ['y'],
    initializers: [{ name: 'w', dtype: 1, dims: [2, 2, 3, 3], values: new Array(36).fill(0.5) }],
    nodes: [
      { op: 'Conv', name: '/stem/conv/Conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', name: '/block/relu/Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'Constant', name: '/head/Constant', outputs: ['s'], attrs: { value: { tensor: { dtype: 7, dims: [2], values: [1, -1] } } } },
      { op: 'Add', name: '/block/Add', inputs: ['c', 'r'], outputs: ['a'] },
      { op: 'Reshape', name: '/head/Reshape', inputs: ['a', 's'], outputs: ['y'] },
    ],
  });
}

describe('dataflow (cost/dataflow.ts)', () => {
  it('edges along the tensors, each pair once; the Constant is a constant layer', () => {
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'branch.onnx');
    writeFileSync(path, branchModel());
    const { report, dataflow } = analyzeFile(path, { dataflow: true });
    expect(report.layers.map((l) => l.name)).toEqual(['/stem/conv/Conv', '/block/relu/Relu', '/head/Constant', '/block/Add', '/head/Reshape']);
    expect(dataflow!.edges).toEqual([0, 1, 0, 3, 1, 3, 3, 4, 2, 4]);
    expect(dataflow!.constant).toEqual([2]);
    expect(analyzeFile(path).dataflow).toBeNull();
  });

  it.skipIf(!pythonOnnx())('matches the producer → consumer pairs onnx (Python) reads from the real models', () => {
    for (const model of ['graph-only/resnet18.onnx', 'models/mobilenet_v2_w035.onnx', 'real/ppocr_mobile_v2_cls.onnx']) {
      const script = [
        'import onnx, sys',
        'g = onnx.load(sys.argv[1], load_external_data=False).graph',
        // mbn names a node without a name OP_INDEX.
        'name = lambda i, n: n.name or f"{n.op_type}_{i}"',
        'prod = {o: name(i, n) for i, n in enumerate(g.node) for o in n.output}',
        'pairs = sorted({f"{prod[t]} → {name(i, n)}" for i, n in enumerate(g.node) for t in n.input if t in prod and prod[t] != name(i, n)})',
        'print("\\n".join(pairs))',
      ].join('\n');
      const r = spawnSync('/usr/bin/python3', ['-c', script, fixture(model)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const page = mbn(['analyze', fixture(model), '--format', 'html']).stdout;
      const g = graphOf(page);
      expect(namedEdges(g), model).toEqual(r.stdout.trim().split('\n').sort());
    }
  });
});

describe('the graph view in the page', () => {
  it('one <g data-node> per layer, named as in the JSON report, hostile names escaped', () => {
    const model = fixture('graph-only/resnet18.onnx');
    const page = mbn(['analyze', model, '--format', 'html']).stdout;
    const json = JSON.parse(mbn(['analyze', model, '--format', 'json']).stdout);
    const svg = /<svg data-mbn-graph[^>]*>(.*?)<\/svg>/s.exec(page)![1];
    const names = [...svg.matchAll(/<g data-node="([^"]*)" data-i="(\d+)"/g)];
    expect(names.map((m) => m[1])).toEqual(json.layers.map((l: { name: string }) => escapeHtml(l.name)));
    expect(names.map((m) => Number(m[2]))).toEqual(json.layers.map((_: unknown, i: number) => i));
    // Separable convs are marked: ResNet-18's 17 standard convs with a kernel larger than 1×1.
    expect(svg.match(/class="gn sep"/g)).toHaveLength(json.totals.separableLayers);
    expect(json.totals.separableLayers).toBe(17);
    // The figures the page colours by are the JSON report's, layer for layer.
    const g = graphOf(page);
    expect(g.figures.find((f) => f.key === 'macs')!.values).toEqual(json.layers.map((l: { macs: number }) => l.macs));
    expect(g.figures.find((f) => f.key === 'params')!.values).toEqual(json.layers.map((l: { params: number }) => l.params));
  });

  it('uncounted layers are marked and their figures unknown (null), never 0', () => {
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'custom.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', shape: [1, 4] }],
        outputs: ['y'],
        nodes: [
          { op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['r'] },
          { op: 'Mystery', domain: 'com.example', name: 'mystery', inputs: ['r'], outputs: ['y'] },
        ],
        opsets: { '': 17, 'com.example': 1 },
      } as Parameters<typeof buildModel>[0]),
    );
    const r = mbn(['analyze', path, '--format', 'html']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/<g data-node="mystery" data-i="1" class="gn unc"/);
    const g = graphOf(r.stdout);
    expect(g.figures.find((f) => f.key === 'macs')!.values).toEqual([0, null]);
    expect(g.layers[1].uncounted).toBe(true);
  });

  it('a hostile layer name is an escaped attribute value and escaped text in the graph', () => {
    const HOSTILE = `</script><script>alert(1)</script><img src=x onerror="alert('x')">`;
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'hostile.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'x', shape: [1, 4] }],
        outputs: ['y'],
        nodes: [{ op: 'Relu', name: `/m"o'd/${HOSTILE}`, inputs: ['x'], outputs: ['y'] }],
      }),
    );
    const page = mbn(['analyze', path, '--format', 'html']).stdout;
    expect(page).toContain(`<g data-node="${escapeHtml(`/m"o'd/${HOSTILE}`)}" data-i="0"`);
    expect(page.match(/<script/g)).toHaveLength(2);
    // Its scopes, split at every '/' (the hostile part has three): modules by name, escaped by JSON for the script.
    expect(graphOf(page).modules.map((m) => m.name)).toEqual([`m"o'd`, `m"o'd/<`, `m"o'd/</script><script>alert(1)<`]);
  });
});

if (!haveChromium) console.log('html-graph: skipping the headless Chromium tests: /usr/bin/chromium is missing (Debian package chromium)');

/** Attribute values as Chromium serializes them (&amp; &quot; &lt; &gt; and &nbsp;). */
function unescapeAttr(text: string): string {
  return text.replace(/&(amp|quot|lt|gt|nbsp|#39);/g, (_, e: string) => ({ amp: '&', quot: '"', lt: '<', gt: '>', nbsp: '\u00a0', '#39': "'" })[e]!);
}

/** The rendered nodes: name, whether shown, and its transform. */
function renderedNodes(dom: string): { name: string; shown: boolean; transform: string | null }[] {
  return [...dom.matchAll(/<g data-node="([^"]*)"([^>]*)>/g)].map((m) => ({
    name: unescapeAttr(m[1]),
    shown: !m[2].includes('display: none'),
    transform: /transform="([^"]*)"/.exec(m[2])?.[1] ?? null,
  }));
}

describe.skipIf(!haveChromium)('the graph view in headless Chromium', () => {
  it('ResNet-18: laid out, every layer a visible node at its own place, the JSON report\'s names', () => {
    const dir = tempDir('mbn-graph-');
    const file = join(dir, 'resnet18.html');
    const model = fixture('graph-only/resnet18.onnx');
    expect(mbn(['analyze', model, '--format', 'html', '-o', file]).status).toBe(0);
    const json = JSON.parse(mbn(['analyze', model, '--format', 'json']).stdout);
    const dom = renderedDom(file);
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).toMatch(/<svg data-mbn-graph=""[^>]*data-graph="ready"/);
    // 49 layers, no module holds more than a handful at the start: all expanded, one box each.
    expect(/data-units="(\d+)"/.exec(dom)![1]).toBe('49');
    const nodes = renderedNodes(dom);
    expect(nodes.map((n) => n.name)).toEqual(json.layers.map((l: { name: string }) => l.name));
    expect(nodes.every((n) => n.shown && n.transform !== null)).toBe(true);
    expect(new Set(nodes.map((n) => n.transform)).size).toBe(49);
    // Top to bottom: the first layer (conv1) above the last (fc).
    const y = (t: string) => Number(/translate\([-\d.]+,([-\d.]+)\)/.exec(t)![1]);
    expect(y(nodes[0].transform!)).toBeLessThan(y(nodes[48].transform!));
    // The legend and the colour-by choices came from the data.
    expect(dom).toContain('<option value="0">MACs</option><option value="1">FLOPs</option><option value="2">Params</option><option value="3">Activation bytes</option>');
    expect(dom).toMatch(/<strong>MACs:<\/strong>/);
  }, 150_000);

  it('--device adds predicted latency to the colour choices', () => {
    const dir = tempDir('mbn-graph-');
    const file = join(dir, 'mnv1.html');
    expect(mbn(['analyze', fixture('models/conv_mobilenet_v1_w025.onnx'), '--format', 'html', '--device', 'rpi4', '-o', file]).status).toBe(0);
    const dom = renderedDom(file);
    expect(dom).toMatch(/data-graph="ready"/);
    expect(dom).toContain('<option value="4">Predicted latency (rpi4)</option>');
  }, 150_000);

  it('a hostile name renders as the attribute value it is, and the graph script runs to its end', () => {
    const HOSTILE = `</script><script>alert(1)</script><img src=x onerror="alert('x')">`;
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'hostile.onnx');
    const file = join(dir, 'hostile.html');
    writeFileSync(path, buildModel({ inputs: [{ name: 'x', shape: [1, 4] }], outputs: ['y'], nodes: [{ op: 'Relu', name: HOSTILE, inputs: ['x'], outputs: ['y'] }] }));
    expect(mbn(['analyze', path, '--format', 'html', '-o', file]).status).toBe(0);
    const dom = renderedDom(file);
    expect(dom).toMatch(/data-graph="ready"/);
    expect(dom.match(/<script/g)).toHaveLength(2);
    expect(dom).not.toContain('<img');
    expect(renderedNodes(dom).map((n) => n.name)).toEqual([HOSTILE]);
  }, 150_000);

  it('the diff page: every diff layer a node, the separated conv\'s pair marked added, coloured by the change', () => {
    const dir = tempDir('mbn-graph-');
    const sep = join(dir, 'sep.onnx');
    const file = join(dir, 'diff.html');
    expect(mbn(['separate', fixture('models/resnet_small.onnx'), '-o', sep]).status).toBe(0);
    expect(mbn(['diff', fixture('models/resnet_small.onnx'), sep, '--format', 'html', '-o', file]).status).toBe(0);
    const json = JSON.parse(mbn(['diff', fixture('models/resnet_small.onnx'), sep, '--format', 'json']).stdout);
    const page = readFileSync(file, 'utf8');
    const g = graphOf(page);
    expect(g.figures.find((f) => f.key === 'macs')!.values).toEqual(json.layers.map((l: { macs: { delta: number } }) => l.macs.delta));
    const dom = renderedDom(file);
    expect(dom).toMatch(/data-graph="ready"/);
    expect(renderedNodes(dom).map((n) => n.name)).toEqual(json.layers.map((l: { name: string }) => l.name));
    const added = json.layers.filter((l: { status: string }) => l.status === 'added').map((l: { name: string }) => l.name);
    expect(added.length).toBeGreaterThan(0);
    const marked = [...dom.matchAll(/<g data-node="([^"]*)" data-i="\d+" class="gn[^"]* st-added/g)].map((m) => unescapeAttr(m[1]));
    expect(marked).toEqual(added);
    // The added depthwise conv feeds the added pointwise conv: an edge of the merged graph.
    const dw = g.layers.findIndex((l) => l.name === '/conv1/Conv_depthwise');
    const pw = g.layers.findIndex((l) => l.name === '/conv1/Conv_pointwise');
    expect([dw, pw].every((i) => i >= 0)).toBe(true);
    const pairs = new Set(Array.from({ length: g.edges.length / 2 }, (_, k) => `${g.edges[2 * k]},${g.edges[2 * k + 1]}`));
    expect(pairs.has(`${dw},${pw}`)).toBe(true);
    expect(dom).toContain('<option value="0">ΔMACs</option><option value="1">ΔParams</option>');
  }, 150_000);
});

const TORCHVISION = existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import torchvision, onnx'], { encoding: 'utf8' }).status === 0;
if (!TORCHVISION) console.log('html-graph: skipping the ViT-B/16 test: /usr/bin/python3 has no torchvision (Debian python3-torchvision)');

describe.skipIf(!haveChromium || !TORCHVISION)('ViT-B/16 (torchvision, exported here) in headless Chromium', () => {
  it('opens collapsed to its 12 encoder layers, under 15 MB, every layer still a node', async () => {
    const dir = tempDir('mbn-graph-vit-');
    const model = join(dir, 'vit_b_16.onnx');
    const file = join(dir, 'vit.html');
    // Long runs without blocking the test worker.
    const run = promisify(execFile);
    await run(
      '/usr/bin/python3',
      ['-c', 'import sys, torch, torchvision\nm = torchvision.models.vit_b_16(weights=None).eval()\ntorch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1], opset_version=14)', model],
      { timeout: 300_000 },
    );
    await run(process.execPath, [BIN, 'analyze', model, '--format', 'html', '-o', file], { timeout: 300_000 });
    expect(statSync(file).size).toBeLessThan(15 * 1024 * 1024);
    const layers = graphOf(readFileSync(file, 'utf8')).layers.length;
    expect(layers).toBeGreaterThan(1000);
    const { dom, seconds } = await renderedDomAsync(file);
    console.log(`html-graph: ViT-B/16, ${layers} layers, ${(statSync(file).size / 1e6).toFixed(2)} MB page, rendered by headless Chromium in ${seconds.toFixed(1)} s`);
    expect(dom).toMatch(/data-graph="ready"/);
    const units = Number(/data-units="(\d+)"/.exec(dom)![1]);
    expect(units).toBeLessThanOrEqual(80);
    const modules = [...dom.matchAll(/<g class="gm[^"]*" data-module="([^"]*)"[^>]*>/g)].filter((m) => !m[0].includes('display: none')).map((m) => m[1]);
    const layerModules = modules.filter((m) => m.startsWith('encoder/layers/')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    expect(layerModules).toEqual(Array.from({ length: 12 }, (_, i) => `encoder/layers/encoder_layer_${i}`));
    expect(renderedNodes(dom)).toHaveLength(layers);
    // A link to a layer inside a collapsed module expands its modules and shows its figures.
    const json = JSON.parse((await run(process.execPath, [BIN, 'analyze', model, '--format', 'json'], { maxBuffer: 1 << 28 })).stdout);
    const name = '/encoder/layers/encoder_layer_3/self_attention/MatMul';
    const macs: number = json.layers.find((l: { name: string }) => l.name === name).macs;
    const linked = (await renderedDomAsync(`${file}#layer=${encodeURIComponent(name)}`)).dom;
    expect(Number(/data-units="(\d+)"/.exec(linked)![1])).toBeGreaterThan(units);
    expect(renderedNodes(linked).find((n) => n.name === name)!.shown).toBe(true);
    const detail = /<div id="graph-detail"[^>]*>(.*?)<\/table>/s.exec(linked)![1];
    expect(detail).toContain(`<div class="t">${name}</div>`);
    expect(detail).toContain(`<tr><td>MACs</td><td>${+(macs / 1e6).toPrecision(3)}M (${((100 * macs) / json.totals.macs).toFixed(1)}%)</td></tr>`);
  }, 600_000);
});

describe('the per-layer chart leaves out constant layers', () => {
  it('MobileNetV2 (0.35): its Clip bounds are Constant layers, off the axis; every other layer keeps its slot', () => {
    const model = fixture('models/mobilenet_v2_w035.onnx');
    const page = mbn(['analyze', model, '--format', 'html']).stdout;
    const layers: { op: string; macs: number }[] = JSON.parse(mbn(['analyze', model, '--format', 'json']).stdout).layers;
    const constants = layers.filter((l) => l.op === 'Constant').length;
    expect(constants).toBe(70);
    expect(page).toContain(`<p class="note">70 constant layers (Constant, Identity of a weight, arithmetic on constants) left out of the chart: 100 of 170 layers shown.</p>`);
    const chart = /<div class="variant on" data-metric="macs" data-scale="linear">(.*?)<\/div>/s.exec(page)![1];
    expect(chart).toContain('>layer 100</text>');
    // The bars: one per layer with MACs, in model order, at consecutive slots of the 100 (plot 1,128 wide, left 64).
    const charted = layers.map((l, i) => ({ ...l, i })).filter((l) => l.op !== 'Constant');
    const bars = [...chart.matchAll(/<rect class="[^"]*" data-i="(\d+)" x="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const expected = charted.flatMap((l, slot) => (l.macs > 0 ? [[l.i, Math.round((64 + slot * 11.28) * 100) / 100]] : []));
    expect(bars).toEqual(expected);
  });
});

/** A chain of `n` Relu layers with no module scope (nothing to collapse). */
function chainModel(n: number): Uint8Array {
  return buildModel({
    inputs: [{ name: 't0', shape: [1, 4] }],
    outputs: [`t${n}`],
    nodes: Array.from({ length: n }, (_, i) => ({ op: 'Relu', name: `relu${i}`, inputs: [`t${i}`], outputs: [`t${i + 1}`] })),
  });
}

describe('graphs too big to draw', () => {
  it('over 20,000 layers the page says the graph is left out, and carries no graph data or layout script', () => {
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'chain.onnx');
    writeFileSync(path, chainModel(20_001));
    const file = join(dir, 'chain.html');
    expect(mbn(['analyze', path, '--format', 'html', '-o', file]).status).toBe(0);
    const page = readFileSync(file, 'utf8');
    expect(page).toContain('<section id="graph"><h2>Graph</h2><p class="note">The graph view is left out above 20,000 layers (this model has 20,001): the page would be too big to open.</p></section>');
    expect(page).not.toContain('data-mbn-graph');
    expect(page).not.toContain('var dagre=');
    expect(JSON.parse(DATA_BLOCK.exec(page)![1]).graph).toBeUndefined();
  });

  it.skipIf(!haveChromium)('3,001 boxes with no module to collapse: the page refuses to lay them out, and says so', () => {
    const dir = tempDir('mbn-graph-');
    const path = join(dir, 'chain.onnx');
    const file = join(dir, 'chain.html');
    writeFileSync(path, chainModel(3001));
    expect(mbn(['analyze', path, '--format', 'html', '-o', file]).status).toBe(0);
    const dom = renderedDom(file);
    expect(dom).toMatch(/<html lang="en" data-ready="1">/);
    expect(dom).toMatch(/<svg data-mbn-graph=""[^>]*data-graph="too-large"/);
    expect(dom).toContain('<p class="warn" id="graph-status">3001 boxes are more than the page lays out (3000): collapse modules first.</p>');
  }, 150_000);
});
