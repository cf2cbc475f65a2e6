import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/calibrate/npy.js';
import { readModel } from '../src/onnx/read.js';
import { readTensorBytes } from '../src/onnx/tensor-data.js';
import { BIN, fixture, separateJson, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';

/**
 * `separate --calibrate` on models that keep their weights in external data: ONNX Runtime loads the calibration's
 * copies of the model from a scratch folder beside the output that holds one copy of the input's external tensors
 * (src/calibrate/copies.ts). The same model with its weights inside and outside must give the same fit, the same
 * output errors and the same weights; the input and its data file are only read; no temporary file is left, after
 * success or an interrupt.
 */

const { onnx } = onnxProto;
const ort = loadOrt();
const cls = fixture('real/ppocr_mobile_v2_cls.onnx');
const det = fixture('real/ppocr_v4_det.onnx');
const clsData = fixture('calibration/ppocr_cls');
const detData = fixture('calibration/ppocr_det');
const DET = ['--input', 'x:1x3x96x96'];

/**
 * The same graph twice, from one decoding of `source`: inline/NAME (every tensor inside) and external/NAME with
 * every tensor of 1 KiB or more (the threshold of onnx's save_model) in external/NAME.data, at 64-byte aligned
 * offsets. `initializers`: Constant nodes become initializers first, as torch.onnx.export writes weights; otherwise
 * the weights stay tensor attributes of Constant nodes, as PaddleOCR's export has them.
 */
function pair(source: string, folder: string, name: string, initializers: boolean): { inline: string; external: string; data: string } {
  const m = onnx.ModelProto.decode(readFileSync(source));
  const graph = m.graph!;
  if (initializers) {
    const nodes = [];
    for (const n of graph.node!) {
      const t = n.opType === 'Constant' && n.attribute!.length === 1 ? n.attribute![0].t : null;
      if (t) graph.initializer!.push({ ...t, name: n.output![0] });
      else nodes.push(n);
    }
    graph.node = nodes;
  }
  mkdirSync(join(folder, 'inline'), { recursive: true });
  mkdirSync(join(folder, 'external'), { recursive: true });
  const inline = join(folder, 'inline', name);
  writeFileSync(inline, onnx.ModelProto.encode(m).finish());
  // Tensors of If/Loop bodies too, where ONNX's external-data helper looks for them.
  const tensors: onnxProto.onnx.ITensorProto[] = [];
  const collect = (g: onnxProto.onnx.IGraphProto): void => {
    tensors.push(...(g.initializer ?? []));
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t) tensors.push(a.t);
        if (a.g) collect(a.g);
        for (const sub of a.graphs ?? []) collect(sub);
      }
    }
  };
  collect(graph);
  const chunks: Uint8Array[] = [];
  let at = 0;
  let moved = 0;
  for (const t of tensors) {
    const raw = t.rawData;
    if (!raw || raw.length < 1024) continue;
    const pad = (64 - (at % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad)), (at += pad);
    t.externalData = [
      { key: 'location', value: `${name}.data` },
      { key: 'offset', value: String(at) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array();
    chunks.push(raw);
    at += raw.length;
    moved++;
  }
  expect(moved).toBeGreaterThan(10);
  const external = join(folder, 'external', name);
  writeFileSync(external, onnx.ModelProto.encode(m).finish());
  writeFileSync(`${external}.data`, Buffer.concat(chunks));
  return { inline, external, data: `${external}.data` };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const listing = (folder: string) => readdirSync(folder).sort();

/** Every tensor of the main graph (initializers, and Constant values by their output name) as sha256 of its bytes. */
function weights(path: string): Map<string, string> {
  const model = readModel(path);
  try {
    const out = new Map<string, string>();
    for (const t of model.graph.initializers) out.set(t.name, createHash('sha256').update(readTensorBytes(model, t)).digest('hex'));
    for (const n of model.graph.nodes) {
      for (const a of n.attributes) {
        if (a.data.type === 'tensor') out.set(`${n.outputs[0]}:${a.name}`, createHash('sha256').update(readTensorBytes(model, a.data.value)).digest('hex'));
      }
    }
    return out;
  } finally {
    model.source.close();
  }
}

/** What the calibration reports, without the paths that differ by where the model is. */
function fitted(json: { calibration: object; layers: object; totals: object }) {
  return { calibration: json.calibration, layers: json.layers, totals: json.totals };
}

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-calibrate-external-');
});

describe.skipIf(!ort)('separate --calibrate on a model with external data', () => {
  it('PaddleOCR cls, weights as initializers: the same fit, output errors and weights as with the weights inside', async () => {
    const work = join(dir, 'cls');
    const m = pair(cls, work, 'cls.onnx', true);
    const before = { model: sha(m.external), data: sha(m.data), inline: sha(m.inline) };
    const out = join(work, 'out');
    mkdirSync(out);
    const a = separateJson([m.inline, '-o', join(out, 'a.onnx'), '--calibrate', clsData]);
    const b = separateJson([m.external, '-o', join(out, 'b.onnx'), '--calibrate', clsData]);
    expect(a.calibration.layers).toHaveLength(1);
    expect(a.calibration.layers[0].refitError).toBeLessThan(a.calibration.layers[0].svdError);
    expect(fitted(b)).toEqual(fitted(a));
    // The written weights are the same bytes, inside one and in the other's own data file.
    const wa = weights(join(out, 'a.onnx'));
    expect(weights(join(out, 'b.onnx'))).toEqual(wa);
    expect(wa.size).toBeGreaterThan(50);
    // The external output runs in ONNX Runtime from its own data file, and gives the inline output's values.
    expect(listing(out)).toEqual(['a.onnx', 'b.onnx', 'b.onnx.data']);
    for (const f of ['06.npy', '07.npy']) {
      const x = parseNpy(readFileSync(join(clsData, f)), f);
      const feeds = { x: { type: 'float32', dims: x.shape, data: Float32Array.from(x.data) } };
      const ya = Object.values((await runModel(join(out, 'a.onnx'), feeds)).outputs)[0].data;
      const yb = Object.values((await runModel(join(out, 'b.onnx'), feeds)).outputs)[0].data;
      expect(yb).toEqual(ya);
    }
    // The inputs are only read, and nothing else is left beside them.
    expect({ model: sha(m.external), data: sha(m.data), inline: sha(m.inline) }).toEqual(before);
    expect(statSync(m.data).nlink).toBe(1);
    expect(listing(join(work, 'external'))).toEqual(['cls.onnx', 'cls.onnx.data']);
    expect(listing(join(work, 'inline'))).toEqual(['cls.onnx']);
  });

  it('PaddleOCR det, weights as Constant tensors, 6 layers at rank 2: the same as inside, written and in a dry run with --refit-depthwise', () => {
    const work = join(dir, 'det');
    const m = pair(det, work, 'det.onnx', false);
    const before = { model: sha(m.external), data: sha(m.data) };
    const out = join(work, 'out');
    mkdirSync(out);
    const args = [...DET, '--multiplier', '2', '--calibrate', detData];
    const a = separateJson([m.inline, '-o', join(out, 'a.onnx'), ...args]);
    const b = separateJson([m.external, '-o', join(out, 'b.onnx'), ...args]);
    expect(a.calibration.layers).toHaveLength(6);
    expect(fitted(b)).toEqual(fitted(a));
    expect(weights(join(out, 'b.onnx'))).toEqual(weights(join(out, 'a.onnx')));
    // The default output goes beside the input: the scratch copies are made there, and removed.
    const dry = [...DET, '--refit-depthwise', '--calibrate', detData, '--dry-run'];
    const c = separateJson([m.inline, ...dry]);
    const d = separateJson([m.external, ...dry]);
    expect(fitted(d)).toEqual(fitted(c));
    expect(d.calibration.layers.some((l: { filterRounds: number }) => l.filterRounds > 0)).toBe(true);
    expect({ model: sha(m.external), data: sha(m.data) }).toEqual(before);
    expect(listing(join(work, 'external'))).toEqual(['det.onnx', 'det.onnx.data']);
    expect(listing(out)).toEqual(['a.onnx', 'b.onnx', 'b.onnx.data']);
  });

  it('Silero VAD, external tensors inside If bodies: the same output checks as with the weights inside', () => {
    const work = join(dir, 'vad');
    const m = pair(fixture('real/silero_vad_v5.onnx'), work, 'vad.onnx', false);
    const before = { model: sha(m.external), data: sha(m.data) };
    const data = join(work, 'data');
    for (const d of ['input', 'state', 'sr']) mkdirSync(join(data, d), { recursive: true });
    ['a.npy', 'b.npy', 'c.npy'].forEach((f, k) => {
      writeFileSync(join(data, 'input', f), encodeNpy([1, 512], Array.from({ length: 512 }, (_, i) => 0.3 * Math.sin((i * (k + 1)) / 7))));
      writeFileSync(join(data, 'state', f), encodeNpy([2, 1, 128], new Array(256).fill(0)));
      writeFileSync(join(data, 'sr', f), encodeNpy([], [16000], '<i8'));
    });
    const args = ['--dry-run', '--input', 'input:1x512', '--calibrate', data];
    const a = separateJson([m.inline, ...args]);
    const b = separateJson([m.external, ...args]);
    // The separated convs are in If bodies: their new weights go to the copies' own data files from there.
    expect(b.calibration.layers.length).toBeGreaterThan(0);
    expect(b.calibration.outputs.map((o: { name: string }) => o.name).sort()).toEqual(['output', 'stateN']);
    expect(fitted(b)).toEqual(fitted(a));
    expect({ model: sha(m.external), data: sha(m.data) }).toEqual(before);
    expect(listing(join(work, 'external'))).toEqual(['vad.onnx', 'vad.onnx.data']);
  });

  it('an interrupt while calibrating removes the scratch copies: exit 130, nothing written, the input untouched', async () => {
    const work = join(dir, 'interrupt');
    const m = pair(det, work, 'det.onnx', false);
    const before = { model: sha(m.external), data: sha(m.data) };
    const out = join(work, 'out');
    mkdirSync(out);
    // Enough random batches that the run is still calibrating when the scratch folder appears.
    const child = spawn(process.execPath, [BIN, 'separate', m.external, '-o', join(out, 'o.onnx'), ...DET, '--multiplier', '2', '--calibrate', 'random:400'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!readdirSync(out).some((f) => f.endsWith('.tmp')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const scratch = readdirSync(out).find((f) => f.endsWith('.tmp'));
    expect(scratch).toMatch(/^\.o\.onnx\.\d+\.[0-9a-f]{8}\.tmp$/);
    // The shared copy of the input's external tensors is in it, next to the model copies.
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(join(out, scratch!))).toContain('weights.data');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toBe('mbn: interrupted; nothing was written\n');
    expect(listing(out)).toEqual([]);
    expect({ model: sha(m.external), data: sha(m.data) }).toEqual(before);
    expect(listing(join(work, 'external'))).toEqual(['det.onnx', 'det.onnx.data']);
  });
});
