import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataflow } from '../cost/dataflow.js';
import { scopeOf } from '../cost/modules.js';
import type { LatencyReport } from '../latency/model.js';
import { clip, escapeHtml } from './svg-charts.js';
import { shapeText } from './units.js';
import type { LayerReport, Report } from '../contract/analyze.js';
import type { DiffResult, LayerStatus } from '../contract/diff.js';

/**
 * The graph view of the HTML reports (`mbn analyze --format html`, `mbn diff --format html`): the dataflow graph,
 * top to bottom, one node per layer, coloured by a chosen figure, collapsible by module (name scope).
 *
 * The page holds the nodes as static SVG (`<svg data-mbn-graph>` with one `<g data-node="LAYER NAME">` per layer,
 * written and escaped here) and the graph as data (modules, edges, figures) in the page's JSON block. The layout is
 * computed in the page by dagre (@dagrejs/dagre, MIT, 49 KB minified with its graphlib; bundled inline below), on
 * the *visible* graph only: modules start collapsed to the deepest module depth that keeps the view under
 * `MAX_UNITS` boxes (torchvision's ViT-B/16, 1,024 layers, opens as its stem, 12 encoder layers and head), and
 * expanding a module lays out again.
 * A layout in Node could not follow the user's expand/collapse; one in the page over every layer would spend
 * seconds on big models before showing anything. dagre rather than elkjs: a layered (Sugiyama) layout is what a
 * dataflow graph needs, dagre is about a thirtieth of elkjs's size (elk.bundled.js, 1.6 MB) and MIT (elkjs is EPL-2.0 or GPL-3.0).
 *
 * The script builds markup only with createElementNS / setAttribute / textContent, so a hostile name stays text.
 */

export interface GraphLayer {
  name: string;
  op: string;
  /** Output shapes, as text. */
  shape: string;
  separable: boolean;
  uncounted: boolean;
  /** In a diff: how the layer changed. */
  status?: LayerStatus;
}

export interface GraphFigure {
  key: string;
  label: string;
  unit: 'count' | 'bytes' | 'ms';
  /** One per layer; null where unknown (an uncounted layer). */
  values: (number | null)[];
  /** The model's total, for the share in the details; null: no share. */
  total: number | null;
  /** Offered in "colour by" (else only listed in the details). */
  colour: boolean;
  /** A change (diff): coloured on a diverging scale around 0. */
  diverging: boolean;
}

export interface GraphInput {
  layers: GraphLayer[];
  /** Producer → consumer pairs of layer indices, flat (cost/dataflow.ts). */
  edges: number[];
  /** Layers that read no activation (cost/dataflow.ts): drawn inside the layer that reads them unless asked. */
  constant: number[];
  figures: GraphFigure[];
}

const flopsOf = (l: LayerReport) => 2 * l.macs + l.otherFlops;

/** The analyze report's graph: MACs, FLOPs, params, activation bytes and, with `--device`, predicted latency. */
export function analyzeGraph(report: LatencyReport, flow: Dataflow, flops: boolean): GraphInput {
  const t = report.totals;
  const counted = (v: (l: LayerReport) => number) => report.layers.map((l) => (l.counted ? v(l) : null));
  const figures: GraphFigure[] = [
    { key: 'macs', label: 'MACs', unit: 'count', values: counted((l) => l.macs), total: t.macs, colour: true, diverging: false },
    { key: 'flops', label: 'FLOPs', unit: 'count', values: counted(flopsOf), total: t.flops, colour: true, diverging: false },
    { key: 'params', label: 'Params', unit: 'count', values: report.layers.map((l) => l.params), total: t.params, colour: true, diverging: false },
    { key: 'activations', label: 'Activation bytes', unit: 'bytes', values: report.layers.map((l) => l.activationBytes), total: null, colour: true, diverging: false },
  ];
  if (flops) figures.unshift(figures.splice(1, 1)[0]);
  if (t.latencyMs !== undefined) {
    figures.push({ key: 'latency', label: `Predicted latency (${t.device})`, unit: 'ms', values: report.layers.map((l) => l.latencyMs ?? null), total: t.latencyMs, colour: true, diverging: false });
  }
  return {
    layers: report.layers.map((l) => ({ name: l.name, op: l.op, shape: l.outputShapes.map(shapeText).join(' '), separable: l.separable !== null, uncounted: !l.counted })),
    edges: flow.edges,
    constant: flow.constant,
    figures,
  };
}

/**
 * The diff's graph: every layer of the diff (head's, and base's removed ones), edges from both sides mapped onto
 * the diff's layers, coloured by the change in MACs or params.
 */
export function diffGraph(diff: DiffResult, base: Report, head: Report, flows: { base: Dataflow; head: Dataflow }): GraphInput {
  // Each side's k-th layer of a name is the diff's k-th layer of that name on that side (budget/diff.ts pairs them so).
  const indexOf = (report: Report, side: 'base' | 'head'): number[] => {
    const queues = new Map<string, number[]>();
    diff.layers.forEach((l, i) => {
      if (l.status === (side === 'base' ? 'added' : 'removed')) return;
      const name = side === 'base' ? (l.renamedFrom ?? l.name) : l.name;
      const q = queues.get(name) ?? [];
      q.push(i);
      queues.set(name, q);
    });
    return report.layers.map((l) => queues.get(l.name)?.shift() ?? -1);
  };
  const pairs = new Set<string>();
  const merged: number[] = [];
  const constant = new Set<number>();
  for (const [report, side] of [[head, 'head'], [base, 'base']] as const) {
    const at = indexOf(report, side);
    for (const c of flows[side].constant) if (at[c] >= 0) constant.add(at[c]);
    const flat = flows[side].edges;
    for (let k = 0; k < flat.length; k += 2) {
      const a = at[flat[k]];
      const b = at[flat[k + 1]];
      if (a < 0 || b < 0 || pairs.has(`${a},${b}`)) continue;
      pairs.add(`${a},${b}`);
      merged.push(a, b);
    }
  }
  const change = (key: 'macs' | 'params') => diff.layers.map((l) => (l.uncounted.base || l.uncounted.head ? null : l[key].delta));
  return {
    layers: diff.layers.map((l) => ({ name: l.name, op: l.op, shape: '', separable: false, uncounted: l.uncounted.base || l.uncounted.head, status: l.status })),
    edges: merged,
    constant: [...constant].sort((a, b) => a - b),
    figures: [
      { key: 'macs', label: 'ΔMACs', unit: 'count', values: change('macs'), total: null, colour: true, diverging: true },
      { key: 'params', label: 'ΔParams', unit: 'count', values: change('params'), total: null, colour: true, diverging: true },
      { key: 'macs-base', label: 'MACs (base)', unit: 'count', values: diff.layers.map((l) => l.macs.base), total: null, colour: false, diverging: false },
      { key: 'macs-head', label: 'MACs (head)', unit: 'count', values: diff.layers.map((l) => l.macs.head), total: null, colour: false, diverging: false },
    ],
  };
}

/** Most boxes the view opens with: modules collapse until the view has at most this many. */
export const MAX_UNITS = 80;
/** Most boxes the page lays out at once (dagre takes ~1.5 s for ViT-B/16's 1,024 layers, and grows faster than linearly). */
export const MAX_LAYOUT = 3000;
/** Layers past which the report leaves the graph out: 250 bytes of SVG per node would outgrow the page. */
export const MAX_GRAPH_LAYERS = 20_000;

const GRAPH_CSS = `
.graph-box { position: relative; height: 72vh; min-height: 420px; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fbfcfd; }
svg[data-mbn-graph] { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; touch-action: none; }
svg[data-mbn-graph] .box { fill: #fff; stroke: #8a96a3; stroke-width: 1; }
svg[data-mbn-graph] .back { fill: #fff; stroke: #8a96a3; stroke-width: 1; }
svg[data-mbn-graph] text { font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; fill: var(--fg); pointer-events: none; }
svg[data-mbn-graph] text.op { font: 600 12px system-ui, sans-serif; }
svg[data-mbn-graph] .dark text { fill: #fff; }
svg[data-mbn-graph] .gn, svg[data-mbn-graph] .gm { cursor: pointer; }
svg[data-mbn-graph] .gm .box { stroke: #1d232b; stroke-width: 1.5; }
svg[data-mbn-graph] .sep .box { stroke: #e8823a; stroke-width: 3.5; }
svg[data-mbn-graph] .unc .box { stroke: #9a6700; stroke-width: 2; stroke-dasharray: 5 3; }
svg[data-mbn-graph] .st-added .box { stroke: #8250df; stroke-width: 3; }
svg[data-mbn-graph] .st-removed { opacity: .6; } svg[data-mbn-graph] .st-removed .box { stroke-dasharray: 3 3; }
svg[data-mbn-graph] .sel .box, svg[data-mbn-graph] .gn:hover .box, svg[data-mbn-graph] .gm:hover .box { stroke: #d1242f; stroke-width: 3; }
svg[data-mbn-graph] .ge { fill: none; stroke: #9aa4ae; stroke-width: 1.3; }
svg[data-mbn-graph] .ga { fill: #9aa4ae; }
#graph-legend i { width: 16px; height: 12px; border: 1px solid #d0d7de; border-radius: 2px; margin-right: 0; }
#graph-legend .k-sep { border: 3px solid #e8823a; } #graph-legend .k-unc { border: 2px dashed #9a6700; }
#graph-legend .k-mod { border: 1.5px solid #1d232b; box-shadow: 3px 3px 0 #fff, 3px 3px 0 1px #8a96a3; }
#graph-legend .k-added { border: 3px solid #8250df; } #graph-legend .k-removed { border: 1px dashed #8a96a3; opacity: .6; }
#graph-detail { position: absolute; right: 8px; top: 8px; width: 360px; max-height: calc(100% - 16px); overflow: auto; background: rgba(255,255,255,.97);
  border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; font-size: 12px; display: none; word-break: break-all; }
#graph-detail .t { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-weight: 600; }
#graph-detail table { margin: 4px 0; } #graph-detail td { padding: 1px 6px 1px 0; border: 0; }
#graph-controls button { font: inherit; padding: 2px 8px; }
`;

/** Node box size in SVG units (the script lays boxes of this size out). */
const NODE = { w: 200, h: 38 };

/** The end of a module path that fits in `max` characters (`…/features.2/conv`): the innermost scopes say most. */
function tailPath(segments: readonly string[], max: number): string {
  let text = segments[segments.length - 1] ?? '';
  for (let i = segments.length - 2; i >= 0 && text.length + segments[i].length + 3 <= max; i--) text = `${segments[i]}/${text}`;
  return clip(text.length < segments.join('/').length ? `…/${text}` : text, max);
}

/** Where a layer's box says which layer it is: its module path's end, or the name when it has none. */
function shortName(name: string): string {
  const scope = scopeOf(name);
  return scope.length > 0 ? tailPath(scope, 28) : clip(name, 28);
}

/**
 * The modules (name scopes, as `--depth` rolls them up: cost/modules.ts's scopeOf) as a tree: each with its parent's
 * index, and each layer's innermost module (-1 outside any).
 */
function moduleTree(layers: readonly GraphLayer[]): { modules: { name: string; parent: number; depth: number }[]; moduleOf: number[] } {
  const modules: { name: string; parent: number; depth: number }[] = [];
  const ids = new Map<string, number>();
  const moduleOf = layers.map((l) => {
    const path = scopeOf(l.name);
    let parent = -1;
    for (let d = 1; d <= path.length; d++) {
      // Keyed on the segments: a segment may itself contain any character.
      const key = JSON.stringify(path.slice(0, d));
      let id = ids.get(key);
      if (id === undefined) {
        id = modules.length;
        ids.set(key, id);
        modules.push({ name: path.slice(0, d).join('/'), parent, depth: d });
      }
      parent = id;
    }
    return parent;
  });
  return { modules, moduleOf };
}

/** Whether the page gets the graph (its SVG, data and script). */
export function graphShown(input: GraphInput): boolean {
  return input.layers.length <= MAX_GRAPH_LAYERS;
}

/** The graph's part of the page's JSON block (`graph`), read by GRAPH_SCRIPT. */
export function graphData(input: GraphInput) {
  const { modules, moduleOf } = moduleTree(input.layers);
  return {
    layers: input.layers.map((l) => ({ name: l.name, op: l.op, shape: l.shape, separable: l.separable, uncounted: l.uncounted, status: l.status ?? null })),
    modules,
    moduleOf,
    edges: input.edges,
    constant: input.constant,
    figures: input.figures,
    node: NODE,
    maxUnits: MAX_UNITS,
    maxLayout: MAX_LAYOUT,
  };
}

/** The graph section: controls, legend, and the static SVG with one `<g data-node>` per layer (laid out by the script). */
export function renderGraphSection(input: GraphInput, diff: boolean): string {
  const e = escapeHtml;
  if (!graphShown(input)) {
    return `<section id="graph"><h2>Graph</h2><p class="note">The graph view is left out above ${MAX_GRAPH_LAYERS.toLocaleString('en-US')} layers (this model has ${input.layers.length.toLocaleString('en-US')}): the page would be too big to open.</p></section>`;
  }
  const out: string[] = [`<section id="graph"><style>${GRAPH_CSS}</style><h2>Graph</h2>`];
  out.push('<div class="controls" id="graph-controls"><label>Colour by <select id="graph-metric" aria-label="colour nodes by"></select></label>');
  out.push('<label>Modules <select id="graph-depth" aria-label="collapse modules to depth"></select></label>');
  out.push('<label title="Constant, Identity of a weight, arithmetic on constants: drawn inside the layer that reads them unless shown"><input type="checkbox" id="graph-constants"> constants</label>');
  out.push('<button type="button" id="graph-expand">Expand all</button><button type="button" id="graph-collapse">Collapse</button>');
  out.push('<button type="button" id="graph-zoom-in" aria-label="zoom in">+</button><button type="button" id="graph-zoom-out" aria-label="zoom out">−</button><button type="button" id="graph-fit">Fit</button></div>');
  out.push('<div class="controls legend" id="graph-legend"></div><p class="warn" id="graph-status"></p>');
  out.push('<div class="graph-box"><svg data-mbn-graph role="img" aria-label="Dataflow graph"><g class="g-edges"></g><g class="g-modules"></g><g class="g-nodes">');
  input.layers.forEach((l, i) => {
    const cls = ['gn', l.separable ? 'sep' : '', l.uncounted ? 'unc' : '', l.status ? `st-${l.status}` : ''].filter(Boolean).join(' ');
    const mark = l.uncounted ? ' · not counted' : l.separable ? ' · separable' : l.status === 'added' || l.status === 'removed' ? ` · ${l.status}` : '';
    out.push(
      `<g data-node="${e(l.name)}" data-i="${i}" class="${cls}" style="display:none"><rect class="box" width="${NODE.w}" height="${NODE.h}" rx="4"/><text class="op" x="8" y="16">${e(clip(l.op, 16) + mark)}</text><text x="8" y="31">${e(shortName(l.name))}</text></g>`,
    );
  });
  out.push('</g></svg><div id="graph-detail" aria-live="polite"></div></div>');
  out.push(
    `<p class="note">Top to bottom along the tensors. Click a module (stacked box) to expand it, a layer for its figures; drag to pan, scroll to move, Ctrl+scroll or +/− to zoom; <code>#layer=NAME</code> after the file name opens on a layer. Modules are name scopes, as <code>--depth</code> rolls them up${diff ? '; colours show the change from base to head' : ''}.</p></section>`,
  );
  return out.join('\n');
}

let dagreSource: string | null = null;

/** dagre's minified build, read once from its package (a dependency of mbn), checked to be safe inline. */
function dagreScript(): string {
  if (dagreSource === null) {
    const require = createRequire(import.meta.url);
    const file = join(dirname(require.resolve('@dagrejs/dagre/package.json')), 'dist/dagre.min.js');
    const text = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '').replace('/*! For license information please see dagre.min.js.LEGAL.txt */', '');
    // Inline in a <script> block: nothing in it may end the block or open an HTML comment.
    if (/<\/script|<!--|[\u2028\u2029]/i.test(text)) throw new Error(`${file}: cannot be inlined (contains </script, <!-- or a line separator)`);
    dagreSource = `/*! @dagrejs/dagre, MIT License, Copyright (c) 2012-2014 Chris Pettitt (its LEGAL.txt) */\n${text}`;
  }
  return dagreSource;
}

/** dagre and the graph view's script, run after the report's own script (html-assets.ts). */
export function graphScript(): string {
  return `${dagreScript()}\n${GRAPH_SCRIPT}`;
}

const GRAPH_SCRIPT = `
(function () {
  'use strict';
  var svg = document.querySelector('svg[data-mbn-graph]');
  if (!svg) return;
  var G = JSON.parse(document.getElementById('mbn-data').textContent).graph;
  var NS = svg.namespaceURI, W = G.node.w, H = G.node.h, L = G.layers, M = G.modules, N = L.length;
  var tip = document.getElementById('tip'), detail = document.getElementById('graph-detail');
  var nodesG = svg.querySelector('.g-nodes'), modsG = svg.querySelector('.g-modules'), edgesG = svg.querySelector('.g-edges');
  var layerEls = [], found = nodesG.querySelectorAll('g[data-node]'), i, k;
  for (i = 0; i < found.length; i++) layerEls[+found[i].getAttribute('data-i')] = found[i];
  var members = M.map(function () { return []; }), chains = [], maxDepth = 0;
  for (i = 0; i < N; i++) {
    var c = [];
    for (var m = G.moduleOf[i]; m >= 0; m = M[m].parent) { c.unshift(m); members[m].push(i); }
    chains.push(c);
  }
  for (k = 0; k < M.length; k++) maxDepth = Math.max(maxDepth, M[k].depth);
  var expanded = {}, unit = new Array(N), modEls = {}, pos = {}, selected = null;
  // Constant layers (no activation in) go into the box of the first layer that reads them, unless shown.
  var isConst = {}, consumer = {}, showConst = document.getElementById('graph-constants');
  G.constant.forEach(function (c) { isConst[c] = true; });
  for (k = 0; k < G.edges.length; k += 2) if (consumer[G.edges[k]] === undefined) consumer[G.edges[k]] = G.edges[k + 1];
  // A layer's box: its outermost collapsed module that holds more than one layer, else its own.
  function unitOf(i) {
    for (var hop = 0; hop < 64 && !showConst.checked && isConst[i] && consumer[i] !== undefined; hop++) i = consumer[i];
    var c = chains[i];
    for (var k = 0; k < c.length; k++) if (members[c[k]].length > 1 && !expanded[c[k]]) return 'm' + c[k];
    return 'l' + i;
  }
  function setDepth(d) { expanded = {}; for (var k = 0; k < M.length; k++) if (M[k].depth < d) expanded[k] = true; }
  function unitCount() { var seen = {}, n = 0; for (var i = 0; i < N; i++) { var u = unitOf(i); if (!seen[u]) { seen[u] = 1; n++; } } return n; }
  // The deepest depth whose view stays under maxUnits boxes (maxDepth + 1: everything expanded).
  function autoDepth() { var best = 1; for (var d = 1; d <= maxDepth + 1; d++) { setDepth(d); if (unitCount() <= G.maxUnits) best = d; else break; } return best; }

  function fmtNum(v) {
    var a = Math.abs(v), u = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
    for (var i = 0; i < u.length; i++) if (a >= u[i][0]) return +(v / u[i][0]).toPrecision(3) + u[i][1];
    return String(+v.toPrecision(3));
  }
  function fmt(f, v) {
    if (v === null) return '?';
    var s = f.unit === 'ms' ? +v.toPrecision(3) + ' ms' : fmtNum(v) + (f.unit === 'bytes' ? 'B' : '');
    return f.diverging && v > 0 ? '+' + s : s;
  }
  function tailPath(name, max) {
    var segs = name.split('/'), text = segs[segs.length - 1];
    for (var i = segs.length - 2; i >= 0 && text.length + segs[i].length + 3 <= max; i--) text = segs[i] + '/' + text;
    return clip(text.length < name.length ? '\u2026/' + text : text, max);
  }
  function clip(t, n) { if (t.length <= n) return t; var h = Math.ceil((n - 1) / 2); return t.slice(0, h) + '\\u2026' + t.slice(t.length - (n - 1 - h)); }
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function layersOf(u) { return u.charAt(0) === 'm' ? members[+u.slice(1)] : [+u.slice(1)]; }
  // A box's figure: the layer's, or the sum of a module's known values (unknown: how many are not known).
  function valueOf(f, u) {
    var ls = layersOf(u), sum = 0, known = 0;
    for (var i = 0; i < ls.length; i++) { var v = f.values[ls[i]]; if (v !== null) { sum += v; known++; } }
    return { v: known ? sum : null, unknown: ls.length - known };
  }

  // Colour by: the figures the report offers.
  var metric = document.getElementById('graph-metric'), colourFigures = G.figures.filter(function (f) { return f.colour; });
  colourFigures.forEach(function (f, i) { var o = document.createElement('option'); o.value = String(i); o.textContent = f.label; metric.appendChild(o); });
  var SEQ = ['#eaf1fb', '#cfe0f6', '#abc8ef', '#82abe6', '#5a8ed9', '#3771c8', '#2356a8', '#143c7c'];
  var UP = ['#fbe0dd', '#f3aba4', '#e3685d', '#c42b20'], DOWN = ['#dcf2e1', '#a3dcb1', '#58b870', '#1f7f38'];
  var legend = document.getElementById('graph-legend');
  function swatch(colour, label, cls) {
    var s = document.createElement('span'), b = document.createElement('i');
    if (colour) b.style.background = colour;
    if (cls) b.className = cls;
    s.appendChild(b); s.appendChild(document.createTextNode(label)); legend.appendChild(s);
  }
  function colour() {
    var f = colourFigures[+metric.value], units = Object.keys(pos), vals = {}, lo = Infinity, hi = 0;
    units.forEach(function (u) { var r = valueOf(f, u); vals[u] = r; if (r.v !== null && r.v !== 0) { var a = Math.abs(r.v); lo = Math.min(lo, a); hi = Math.max(hi, a); } });
    var span = hi > lo ? Math.log(hi) - Math.log(lo) : 0;
    units.forEach(function (u) {
      var r = vals[u], v = r.v, fill = '#fff', dark = false;
      if (v === null) fill = '#f2f2f2';
      else if (v !== 0 && f.diverging) {
        var b = Math.min(3, Math.floor((Math.abs(v) / hi) * 4));
        fill = (v > 0 ? UP : DOWN)[b]; dark = b === 3;
      } else if (v !== 0) {
        var t = span ? (Math.log(Math.abs(v)) - Math.log(lo)) / span : 1, bin = Math.min(7, Math.floor(t * 8));
        fill = SEQ[bin]; dark = bin >= 5;
      }
      var g = boxOf(u);
      g.querySelector('.box').style.fill = fill;
      g.classList.toggle('dark', dark);
    });
    legend.textContent = '';
    var t = document.createElement('strong'); t.textContent = f.label + ':'; legend.appendChild(t);
    if (hi === 0) swatch('#fff', 'all 0');
    else if (f.diverging) {
      for (var b = 3; b >= 0; b--) swatch(DOWN[b], b === 3 ? fmt(f, -hi) : '');
      swatch('#fff', '0');
      for (b = 0; b < 4; b++) swatch(UP[b], b === 3 ? fmt(f, hi) : '');
      swatch(null, 'added', 'k-added'); swatch(null, 'removed', 'k-removed');
    } else {
      swatch('#fff', '0');
      for (var s = 0; s < 8; s++) swatch(SEQ[s], s === 0 ? fmt(f, lo) : s === 7 ? fmt(f, hi) + (span ? ' (log scale)' : '') : '');
    }
    swatch('#f2f2f2', 'not known', 'k-unc'); swatch(null, 'separable conv', 'k-sep'); swatch(null, 'module (click to expand)', 'k-mod');
  }

  function moduleBox(m) {
    if (modEls[m]) return modEls[m];
    var ls = members[m], sep = 0, unc = 0;
    for (var i = 0; i < ls.length; i++) { if (L[ls[i]].separable) sep++; if (L[ls[i]].uncounted) unc++; }
    var g = el('g', { 'class': 'gm' + (sep ? ' sep' : '') + (unc ? ' unc' : ''), 'data-module': M[m].name, 'data-m': String(m) });
    g.appendChild(el('rect', { 'class': 'back', x: 4, y: 4, width: W, height: H, rx: 6 }));
    g.appendChild(el('rect', { 'class': 'box', width: W, height: H, rx: 6 }));
    g.appendChild(el('text', { 'class': 'op', x: 8, y: 16 }, tailPath(M[m].name, 26)));
    g.appendChild(el('text', { x: 8, y: 31 }, ls.length + ' layers' + (sep ? ' \\u00b7 ' + sep + ' sep.' : '') + (unc ? ' \\u00b7 ' + unc + ' ?' : '')));
    modsG.appendChild(g);
    return (modEls[m] = g);
  }
  function boxOf(u) { return u.charAt(0) === 'm' ? moduleBox(+u.slice(1)) : layerEls[+u.slice(1)]; }

  var view = { x: 0, y: 0, w: 1, h: 1 }, size = { w: 1, h: 1 };
  function applyView() { svg.setAttribute('viewBox', [view.x, view.y, view.w, view.h].map(function (v) { return Math.round(v * 10) / 10; }).join(' ')); }
  function box() { var r = svg.getBoundingClientRect(); return { w: r.width || 1000, h: r.height || 600 }; }
  // All of it when that stays readable; else the top at a readable size, or the full width of a wide graph (a long
  // chain is read by scrolling down from its top).
  function fit() {
    var b = box(), s = Math.min(1.2, Math.max(Math.min(b.w / size.w, b.h / size.h), Math.min(b.w / size.w, 1)));
    view.w = b.w / s; view.h = b.h / s; view.x = (size.w - view.w) / 2; view.y = 0; applyView();
  }
  function zoom(factor, cx, cy) {
    var b = box(), px = view.x + (cx === undefined ? 0.5 : cx / b.w) * view.w, py = view.y + (cy === undefined ? 0.5 : cy / b.h) * view.h;
    view.w *= factor; view.h *= factor;
    view.x = px - (cx === undefined ? 0.5 : cx / b.w) * view.w; view.y = py - (cy === undefined ? 0.5 : cy / b.h) * view.h; applyView();
  }

  // Lays out the visible boxes; refuses (false, nothing changed) past maxLayout boxes, which would hang the page.
  var status = document.getElementById('graph-status');
  function layout(anchor) {
    if (unitCount() > G.maxLayout) {
      status.textContent = unitCount() + ' boxes are more than the page lays out (' + G.maxLayout + '): collapse modules first.';
      return false;
    }
    status.textContent = '';
    var before = anchor === undefined ? null : pos[unit[anchor]];
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 30, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    for (var i = 0; i < N; i++) { unit[i] = unitOf(i); if (!g.hasNode(unit[i])) g.setNode(unit[i], { width: W, height: H }); }
    var E = G.edges;
    for (var k = 0; k < E.length; k += 2) { var a = unit[E[k]], b = unit[E[k + 1]]; if (a !== b && !g.hasEdge(a, b)) g.setEdge(a, b); }
    dagre.layout(g);
    pos = {};
    g.nodes().forEach(function (u) { var n = g.node(u); pos[u] = { x: n.x, y: n.y }; });
    for (i = 0; i < N; i++) { var shown = unit[i] === 'l' + i; layerEls[i].style.display = shown ? '' : 'none'; }
    for (var m in modEls) modEls[m].style.display = 'none';
    g.nodes().forEach(function (u) {
      var e = boxOf(u), p = pos[u];
      e.style.display = '';
      e.setAttribute('transform', 'translate(' + Math.round(p.x - W / 2) + ',' + Math.round(p.y - H / 2) + ')');
    });
    edgesG.textContent = '';
    g.edges().forEach(function (ed) {
      var pts = g.edge(ed).points, d = '';
      for (var j = 0; j < pts.length; j++) d += (j ? 'L' : 'M') + Math.round(pts[j].x) + ' ' + Math.round(pts[j].y);
      edgesG.appendChild(el('path', { 'class': 'ge', d: d }));
      var p = pts[pts.length - 1], q = pts[pts.length - 2], ang = Math.atan2(p.y - q.y, p.x - q.x), s = 6;
      var tri = [[p.x, p.y], [p.x - s * Math.cos(ang - 0.45), p.y - s * Math.sin(ang - 0.45)], [p.x - s * Math.cos(ang + 0.45), p.y - s * Math.sin(ang + 0.45)]];
      edgesG.appendChild(el('polygon', { 'class': 'ga', points: tri.map(function (t) { return Math.round(t[0] * 10) / 10 + ',' + Math.round(t[1] * 10) / 10; }).join(' ') }));
    });
    var gg = g.graph();
    size = { w: gg.width || 1, h: gg.height || 1 };
    svg.setAttribute('data-units', String(g.nodeCount()));
    colour();
    if (before) { var after = pos[unit[anchor]]; view.x += after.x - before.x; view.y += after.y - before.y; applyView(); }
    else fit();
    return true;
  }
  // A change of what is expanded or shown, undone when the result is too big to lay out.
  function change(apply, anchor) {
    var saved = {}, k;
    for (k in expanded) saved[k] = expanded[k];
    var constants = showConst.checked, d = depth.value;
    apply();
    if (layout(anchor)) return;
    expanded = saved; showConst.checked = constants; depth.value = d;
  }

  function describe(u) {
    var ls = layersOf(u), rows = [];
    G.figures.forEach(function (f) {
      var r = valueOf(f, u), share = f.total && r.v !== null && !f.diverging ? ' (' + (100 * r.v / f.total).toFixed(1) + '%)' : '';
      rows.push([f.label, fmt(f, r.v) + share + (r.unknown && r.v !== null ? ' + ' + r.unknown + ' not known' : '')]);
    });
    if (u.charAt(0) === 'm') return { title: M[+u.slice(1)].name, sub: ls.length + ' layers (click to expand)', rows: rows };
    var l = L[ls[0]], marks = [];
    if (l.separable) marks.push('separable conv');
    if (l.uncounted) marks.push('not counted');
    if (l.status) marks.push(l.status);
    if (l.shape) rows.unshift(['Output', l.shape]);
    return { title: l.name, sub: l.op + (marks.length ? ' \\u00b7 ' + marks.join(', ') : ''), rows: rows };
  }
  function showDetail(u) {
    var d = describe(u);
    detail.textContent = '';
    var t = document.createElement('div'); t.className = 't'; t.textContent = d.title; detail.appendChild(t);
    var s = document.createElement('div'); s.textContent = d.sub; detail.appendChild(s);
    var tb = document.createElement('table');
    d.rows.forEach(function (r) { var tr = tb.insertRow(); tr.insertCell().textContent = r[0]; tr.insertCell().textContent = r[1]; });
    detail.appendChild(tb);
    if (u.charAt(0) === 'l') {
      var c = chains[+u.slice(1)].filter(function (m) { return members[m].length > 1; });
      if (c.length) {
        var m = c[c.length - 1], btn = document.createElement('button');
        btn.type = 'button'; btn.textContent = 'Collapse ' + clip(M[m].name, 40);
        btn.addEventListener('click', function () { detail.style.display = 'none'; change(function () { expanded[m] = false; }, +u.slice(1)); });
        detail.appendChild(btn);
      }
    }
    detail.style.display = 'block';
  }
  function unitAt(target) {
    var g = target && target.closest ? target.closest('g[data-node], g[data-module]') : null;
    if (!g) return null;
    return g.hasAttribute('data-module') ? 'm' + g.getAttribute('data-m') : 'l' + g.getAttribute('data-i');
  }

  // Pan by dragging, scroll to move, Ctrl/⌘ + scroll to zoom at the pointer.
  var drag = null, moved = false;
  svg.addEventListener('pointerdown', function (e) { drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; moved = false; });
  window.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var b = box(), dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    view.x = drag.vx - dx * view.w / b.w; view.y = drag.vy - dy * view.h / b.h; applyView();
  });
  window.addEventListener('pointerup', function () { drag = null; });
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect();
    if (e.ctrlKey || e.metaKey) zoom(Math.exp(e.deltaY * 0.002), e.clientX - r.left, e.clientY - r.top);
    else { var b = box(); view.x += e.deltaX * view.w / b.w; view.y += e.deltaY * view.h / b.h; applyView(); }
  }, { passive: false });
  svg.addEventListener('click', function (e) {
    if (moved) return;
    var u = unitAt(e.target);
    if (!u) { detail.style.display = 'none'; return; }
    if (selected) selected.classList.remove('sel');
    if (u.charAt(0) === 'm') { var m = +u.slice(1); change(function () { expanded[m] = true; }, members[m][0]); return; }
    selected = boxOf(u); selected.classList.add('sel');
    showDetail(u);
  });
  svg.addEventListener('mousemove', function (e) {
    var u = drag ? null : unitAt(e.target);
    if (!u) { tip.style.display = 'none'; return; }
    var d = describe(u), f = colourFigures[+metric.value];
    tip.textContent = d.title + ' (' + d.sub + '): ' + f.label + ' ' + fmt(f, valueOf(f, u).v);
    tip.style.display = 'block';
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 540) + 'px';
    tip.style.top = (e.clientY + 14) + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });

  var depth = document.getElementById('graph-depth'), start = autoDepth();
  for (var d = 1; d <= maxDepth + 1; d++) {
    var o = document.createElement('option');
    o.value = String(d); o.textContent = d > maxDepth ? 'all expanded' : 'depth ' + d; o.selected = d === start;
    depth.appendChild(o);
  }
  depth.addEventListener('change', function () { var d = +depth.value; change(function () { setDepth(d); }); });
  metric.addEventListener('change', colour);
  showConst.addEventListener('change', function () { var on = showConst.checked; showConst.checked = !on; change(function () { showConst.checked = on; }); });
  document.getElementById('graph-expand').addEventListener('click', function () { change(function () { depth.value = String(maxDepth + 1); setDepth(maxDepth + 1); }); });
  document.getElementById('graph-collapse').addEventListener('click', function () { var d = autoDepth(); change(function () { depth.value = String(d); setDepth(d); }); });
  document.getElementById('graph-fit').addEventListener('click', function () { var b = box(); var s = Math.min(b.w / size.w, b.h / size.h); view.w = b.w / s; view.h = b.h / s; view.x = (size.w - view.w) / 2; view.y = (size.h - view.h) / 2; applyView(); });
  document.getElementById('graph-zoom-in').addEventListener('click', function () { zoom(1 / 1.3); });
  document.getElementById('graph-zoom-out').addEventListener('click', function () { zoom(1.3); });
  setDepth(start);
  var laidOut = layout();
  // A link to a layer (page.html#layer=NAME, the name URI-encoded): its modules expanded, the view on it, its figures.
  function showLayer(name) {
    for (var i = 0; i < N; i++) if (L[i].name === name) break;
    if (i === N) return;
    var target = i;
    change(function () {
      if (isConst[target]) showConst.checked = true;
      chains[target].forEach(function (m) { expanded[m] = true; });
    });
    var u = unit[target], p = pos[u];
    if (!p) return;
    view.x = p.x - view.w / 2; view.y = p.y - view.h / 3; applyView();
    if (selected) selected.classList.remove('sel');
    selected = boxOf(u); selected.classList.add('sel');
    showDetail(u);
  }
  var hash = /^#layer=(.*)$/.exec(location.hash);
  if (laidOut && hash) { try { showLayer(decodeURIComponent(hash[1])); } catch (e) { /* a malformed link: the page as it opens */ } }
  // Reached only when the graph is laid out (or found too big to): the tests look for it.
  svg.setAttribute('data-graph', laidOut ? 'ready' : 'too-large');
})();
`;
