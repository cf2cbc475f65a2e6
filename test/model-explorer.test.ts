import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixture, mbn } from './helpers/cli.js';
import { pythonOnnx } from './helpers/python.js';

/**
 * `--format model-explorer`: Model Explorer's ModelNodeData (node_data_builder.py in google-ai-edge/model-explorer),
 * keyed as its ONNX adapter (model-explorer-onnx) keys graphs and nodes. The graph and node ids come from onnx
 * (Python) here, not from mbn.
 */

const GRADIENT = [
  { stop: 0, bgColor: '#ffffff' },
  { stop: 0.5, bgColor: '#f5b041' },
  { stop: 1, bgColor: '#c0392b' },
];

/** The main graph's name and, per node, [Model Explorer's id, mbn's layer name]. */
function onnxIds(model: string): { graph: string; nodes: [string, string][] } {
  const script = [
    'import json, onnx, sys',
    'g = onnx.load(sys.argv[1], load_external_data=False).graph',
    'print(json.dumps({"graph": g.name, "nodes": [[n.name or f"<node_{i}>", n.name or f"{n.op_type}_{i}"] for i, n in enumerate(g.node)]}))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, model], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function run(args: string[]) {
  const r = mbn(['analyze', ...args]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

interface Layer {
  name: string;
  macs: number;
  otherFlops: number;
  counted: boolean;
  latencyMs?: number;
}

describe.skipIf(!pythonOnnx())('mbn analyze --format model-explorer', () => {
  it('tiny CNN: {graphId: {results: {nodeId: {value: MACs}}, gradient}}, exactly', () => {
    const model = fixture('models/tiny_cnn.onnx');
    const { graph, nodes } = onnxIds(model);
    const layers: Layer[] = JSON.parse(run([model, '--format', 'json'])).layers;
    const macs = new Map(layers.map((l) => [l.name, l.macs]));
    const expected = { [graph]: { results: Object.fromEntries(nodes.map(([id, name]) => [id, { value: macs.get(name)! }])), gradient: GRADIENT } };
    expect(graph).toBe('torch_jit');
    const text = run([model, '--format', 'model-explorer']);
    expect(JSON.parse(text)).toEqual(expected);
    // Keys in node order, as the file lists them; values are the layers' MACs (221,184 for conv1, by hand:
    // 16 out channels × 3 in × 3×3 kernel × 16×16 outputs... as the JSON report says).
    expect(Object.keys(JSON.parse(text)[graph].results)).toEqual(nodes.map(([id]) => id));
    expect(JSON.parse(text)[graph].results['/conv1/Conv']).toEqual({ value: macs.get('/conv1/Conv') });
  });

  it('PaddleOCR classifier: unnamed nodes are <node_I>, values are FLOPs with --flops, uncounted nodes left out', () => {
    const model = fixture('real/ppocr_mobile_v2_cls.onnx');
    const { graph, nodes } = onnxIds(model);
    expect(nodes.filter(([id]) => id.startsWith('<node_')).length).toBeGreaterThan(0);
    const layers: Layer[] = JSON.parse(run([model, '--format', 'json'])).layers;
    const flops = new Map(layers.map((l) => [l.name, 2 * l.macs + l.otherFlops]));
    // Without --input its width is unknown from the first MaxPool on: those layers are not counted, so no value.
    const uncounted = new Set(layers.filter((l) => !l.counted).map((l) => l.name));
    expect(uncounted.size).toBe(11);
    expect(uncounted.has('p2o.MatMul.0')).toBe(true);
    const data = JSON.parse(run([model, '--format', 'model-explorer', '--flops']));
    expect(Object.keys(data)).toEqual([graph]);
    const expected = nodes.filter(([, name]) => !uncounted.has(name)).map(([id, name]) => [id, { value: flops.get(name)! }]);
    expect(data[graph].results).toEqual(Object.fromEntries(expected));
    expect(Object.keys(data[graph].results)).toHaveLength(nodes.length - 11);
    expect(data[graph].gradient).toEqual(GRADIENT);
  });

  it('--device: predicted latency in ms per node, the JSON report\'s figures', () => {
    const model = fixture('models/conv_mobilenet_v1_w025.onnx');
    const { graph, nodes } = onnxIds(model);
    const layers: Layer[] = JSON.parse(run([model, '--format', 'json', '--device', 'rpi4'])).layers;
    const ms = new Map(layers.map((l) => [l.name, l.latencyMs!]));
    const data = JSON.parse(run([model, '--format', 'model-explorer', '--device', 'rpi4']));
    expect(data[graph].results).toEqual(Object.fromEntries(nodes.map(([id, name]) => [id, { value: ms.get(name)! }])));
  });

  it('a node holding layers mbn could not count is left out (unknown, not 0): Silero VAD\'s If', () => {
    const model = fixture('real/silero_vad_v5.onnx');
    const layers: Layer[] = JSON.parse(run([model, '--format', 'json'])).layers;
    expect(layers.some((l) => l.name.startsWith('If_0/') && !l.counted)).toBe(true);
    const { graph } = onnxIds(model);
    const results = JSON.parse(run([model, '--format', 'model-explorer']))[graph].results;
    expect(Object.keys(results)).not.toContain('If_0');
    expect(results.Equal_0).toEqual({ value: 0 });
  });

  it('--depth is refused: Model Explorer groups nodes itself', () => {
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'model-explorer', '--depth', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('mbn: --depth works with --format table, md, json and html, not model-explorer (Model Explorer groups nodes itself)\n');
  });
});
