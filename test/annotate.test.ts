import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/api/analyze.js';
import { human } from '../src/units.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';
import { pythonOnnx } from './helpers/python.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';

/**
 * `mbn analyze MODEL --annotate OUT.onnx`: the figures in each main-graph node's doc_string (and metadata_props from
 * IR 10), everything else as it was. "Everything else" is checked by onnx (Python): the copy with its doc strings
 * and mbn.* metadata put back as the original had them serializes to the original's bytes exactly.
 */

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Prints the annotated nodes' doc strings and mbn.* metadata as JSON, and "same" when the annotated model, with
 * those restored to the original's, serializes exactly as the original does.
 */
const COMPARE = [
  'import json, sys, onnx',
  'o, a = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])',
  'docs = [n.doc_string for n in a.graph.node]',
  'props = [{p.key: p.value for p in n.metadata_props} if hasattr(n, "metadata_props") else {} for n in a.graph.node]',
  'for x, y in zip(o.graph.node, a.graph.node):',
  // proto2: an empty string set is a field present; clear it where the original has none.
  '    y.ClearField("doc_string")',
  '    if x.HasField("doc_string"): y.doc_string = x.doc_string',
  '    if hasattr(y, "metadata_props"):',
  '        keep = [p for p in y.metadata_props if not p.key.startswith("mbn.")]',
  '        del y.metadata_props[:]',
  '        y.metadata_props.extend(keep)',
  'print(json.dumps({"docs": docs, "props": props, "same": o.SerializeToString() == a.SerializeToString()}))',
].join('\n');

function compare(python: string, original: string, annotated: string): { docs: string[]; props: Record<string, string>[]; same: boolean } {
  const r = spawnSync(python, ['-c', COMPARE, original, annotated], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

interface Layer {
  name: string;
  macs: number;
  params: number;
  outputShapes: (number[] | null)[];
  latencyMs: number;
}

const ort = loadOrt();

describe('mbn analyze --annotate', () => {
  it.skipIf(!pythonOnnx())('MobileNetV2: every node carries the JSON report\'s figures; all else byte for byte the original', () => {
    const dir = tempDir('mbn-annotate-');
    const model = fixture('models/mobilenet_v2_w035.onnx');
    const before = sha(model);
    const out = join(dir, 'annotated.onnx');
    const r = mbn(['analyze', model, '--annotate', out, '--device', 'rpi4', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    const layers: Layer[] = json.layers;
    const { docs, same } = compare('/usr/bin/python3', model, out);
    expect(same).toBe(true);
    expect(sha(model)).toBe(before);
    // One layer per node in this model, in file order.
    expect(docs).toHaveLength(layers.length);
    docs.forEach((doc, i) => {
      const l = layers[i];
      const lines = doc.split('\n');
      expect(lines[0]).toMatch(/^\[mbn\] figures from mbn \S+$/);
      expect(lines[1].startsWith(`MACs: ${l.macs.toLocaleString('en-US')} (`), l.name).toBe(true);
      expect(lines[1]).toContain(`${((100 * l.macs) / json.totals.macs).toFixed(2)}% of the model`);
      expect(lines[3]).toBe(`Params: ${l.params.toLocaleString('en-US')}`);
      expect(lines[4]).toBe(`Output: ${l.outputShapes.map((s) => (s ? `[${s.join('×')}]` : '?')).join(' ')}`);
      expect(lines[5]).toMatch(/^Predicted latency on rpi4: /);
    });
    // The first conv is a separable candidate: its doc says so.
    expect(docs[0]).toContain('Separable: 3 → 16, 3×3 kernel');
  });

  it.skipIf(!pythonOnnx())('Silero VAD: the If node carries its body\'s layers; the body\'s nodes are left as they were', () => {
    const dir = tempDir('mbn-annotate-');
    const model = fixture('real/silero_vad_v5.onnx');
    const out = join(dir, 'vad.onnx');
    const json = JSON.parse(mbn(['analyze', model, '--annotate', out, '--format', 'json']).stdout);
    const inside = (json.layers as { name: string }[]).filter((l) => l.name === 'If_0' || l.name.startsWith('If_0/'));
    const { docs, same } = compare('/usr/bin/python3', model, out);
    // `same` compares whole graphs, bodies included: only the main graph's doc strings changed.
    expect(same).toBe(true);
    const names = ['Constant_0', 'Equal_0', 'If_0'];
    const ifDoc = docs[names.indexOf('If_0')].split('\n');
    expect(ifDoc[0]).toMatch(new RegExp(`^\\[mbn\\] figures from mbn \\S+ \\(${inside.length} layers: this node and its body\\)$`));
    // Layers in its body are not counted (the JSON report says why): the node's MACs are unknown, never 0.
    expect(ifDoc[1]).toMatch(/^MACs: \? \(not counted: /);
  });

  it.skipIf(!ort)('ONNX Runtime gives the annotated copy the same outputs, bit for bit', async () => {
    const dir = tempDir('mbn-annotate-');
    for (const model of [fixture('models/mobilenet_v2_w035.onnx'), fixture('real/ppocr_mobile_v2_cls.onnx')]) {
      const out = join(dir, 'annotated.onnx');
      expect(mbn(['analyze', model, '--annotate', out, '--force']).status).toBe(0);
      const a = await runModel(model);
      const b = await runModel(out, a.feeds);
      expect(Object.keys(b.outputs)).toEqual(Object.keys(a.outputs));
      for (const name of Object.keys(a.outputs)) expect(b.outputs[name].data).toEqual(a.outputs[name].data);
    }
  });

  it.skipIf(!venvHas('onnx'))('IR 10: metadata_props too; annotating an annotated copy gives the same bytes', () => {
    const dir = tempDir('mbn-annotate-');
    const model = join(dir, 'ir10.onnx');
    writeFileSync(
      model,
      buildModel({
        irVersion: 10,
        opset: 21,
        inputs: [{ name: 'x', shape: [1, 2, 8, 8] }],
        outputs: ['y'],
        initializers: [{ name: 'w', dtype: 1, dims: [4, 2, 3, 3], values: new Array(72).fill(0.25) }],
        nodes: [
          { op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
          { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['y'] },
        ],
      }),
    );
    const once = join(dir, 'once.onnx');
    const twice = join(dir, 'twice.onnx');
    expect(mbn(['analyze', model, '--annotate', once]).status).toBe(0);
    const { props, same, docs } = compare(VENV_PYTHON, model, once);
    expect(same).toBe(true);
    // By hand: 4 out × 2 in × 3×3 × 8×8 outputs = 4,608 MACs; 72 weights; the Relu has none.
    expect(props).toEqual([
      { 'mbn.macs': '4608', 'mbn.flops': '9216', 'mbn.params': '72', 'mbn.output_shape': '[1×4×8×8]', 'mbn.share': '1.000000' },
      { 'mbn.macs': '0', 'mbn.flops': '256', 'mbn.params': '0', 'mbn.output_shape': '[1×4×8×8]', 'mbn.share': '0.000000' },
    ]);
    expect(docs[0].split('\n').slice(1, 4)).toEqual(['MACs: 4,608 (4.61K, 100.00% of the model)', 'FLOPs: 9.22K', 'Params: 72']);
    // A second annotation replaces the first: no stacked doc strings, no duplicate keys.
    expect(mbn(['analyze', once, '--annotate', twice]).status).toBe(0);
    expect(sha(twice)).toBe(sha(once));
  });

  it.skipIf(!pythonOnnx())('the library: analyze(path, { annotate }) writes the annotated copy too (no version in its mark)', async () => {
    const dir = tempDir('mbn-annotate-');
    const model = fixture('models/tiny_cnn.onnx');
    const out = join(dir, 'lib.onnx');
    const json = await analyze(model, { annotate: { path: out } });
    const { docs, same } = compare('/usr/bin/python3', model, out);
    expect(same).toBe(true);
    expect(docs.map((d) => d.split('\n')[0])).toEqual(docs.map(() => '[mbn] figures from mbn'));
    expect(docs[0].split('\n')[1]).toBe(`MACs: ${json.layers[0].macs.toLocaleString('en-US')} (${human(json.layers[0].macs)}, ${((100 * json.layers[0].macs) / json.totals.macs).toFixed(2)}% of the model)`);
    await expect(analyze(model, { annotate: { path: out } })).rejects.toThrow(/already exists; use --force/);
  });

  it('refuses to overwrite without --force, never writes onto the input, and keeps external data reachable', () => {
    const dir = tempDir('mbn-annotate-');
    const out = join(dir, 'a.onnx');
    writeFileSync(out, 'keep me');
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--annotate', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`mbn: '${out}' already exists; use --force to overwrite it\n`);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const model = join(dir, 'tiny.onnx');
    copyFileSync(fixture('models/tiny_cnn.onnx'), model);
    const onto = mbn(['analyze', model, '--annotate', model, '--force']);
    expect(onto.status).toBe(2);
    expect(onto.stderr).toMatch(/^mbn: refusing to write .*: it is the input/);
    const external = mbn(['analyze', fixture('graph-only/resnet18.onnx'), '--annotate', join(dir, 'r18.onnx')]);
    expect(external.status).toBe(2);
    expect(external.stderr).toBe(`mbn: '${fixture('graph-only/resnet18.onnx')}' keeps its weights in external data files: write the annotated copy in the same folder ('${fixture('graph-only')}') so that it finds them\n`);
    const same = mbn(['analyze', model, '--annotate', join(dir, 'b.onnx'), '-o', join(dir, 'b.onnx')]);
    expect(same.status).toBe(2);
    expect(same.stderr).toBe('mbn: --annotate and -o name the same file: the annotated model and the report need a file each\n');
  });
});
