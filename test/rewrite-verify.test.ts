import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { writeFiles } from '../src/onnx/write-file.js';
import { BufferSource } from '../src/onnx/source.js';
import { buildModel } from './helpers/build-model.js';
import { mbn, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';
import { mulberry32 } from '../src/util/random.js';

/**
 * A rewritten model is checked in ONNX Runtime before it is put in place, external data included: the model and its
 * own data file are staged under their final names in a private folder, run from there, and renamed into place only
 * once they pass. A model that fails leaves no output and no temporary file; the input is never touched.
 */

const { onnx } = onnxProto;
const ort = loadOrt();
const DOUBLE = 11;
const FLOAT = 1;

/**
 * A squeeze-and-excite style gate, y = x·Sigmoid(x + w), with `w` in an external data file `location`. In float64
 * ONNX Runtime runs it (Add, Sigmoid and Mul have double kernels) but would not run a HardSigmoid: its CPU kernel
 * is float only, so mbn leaves a float64 gate alone.
 */
function gateModel(dtype: number, location: string): { model: Uint8Array; data: Uint8Array } {
  const bytes = buildModel({
    opset: 14,
    inputs: [{ name: 'x', dtype, shape: [1, 4] }],
    outputs: [{ name: 'y', dtype, shape: [1, 4] }],
    initializers: [{ name: 'w', dtype, dims: [1, 4], values: [0.5, -0.25, 1, 2] }],
    nodes: [
      { op: 'Add', inputs: ['x', 'w'], outputs: ['a'], name: 'add' },
      { op: 'Sigmoid', inputs: ['a'], outputs: ['s'], name: 'gate' },
      { op: 'Mul', inputs: ['x', 's'], outputs: ['y'], name: 'scale' },
    ],
  });
  const m = onnx.ModelProto.decode(bytes);
  const w = m.graph!.initializer![0];
  const data = w.rawData!;
  w.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: String(data.length) }];
  w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  w.rawData = new Uint8Array();
  return { model: onnx.ModelProto.encode(m).finish(), data };
}

function writeGateModel(folder: string, dtype: number): { model: string; data: string } {
  const model = join(folder, 'gate.onnx');
  const files = gateModel(dtype, 'gate.onnx.data');
  writeFileSync(model, files.model);
  writeFileSync(`${model}.data`, files.data);
  return { model, data: `${model}.data` };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const listing = (folder: string) => readdirSync(folder).sort();

describe('mbn rewrite: a model with external data is checked before it is put in place', () => {
  it.skipIf(!ort)('a float64 gate is left as it is (ORT has no float64 HardSigmoid): a note, and the output still runs', async () => {
    const work = tempDir('mbn-rewrite-verify-');
    const input = writeGateModel(work, DOUBLE);
    const before = [sha(input.model), sha(input.data)];
    // The input runs in ONNX Runtime (Add, Sigmoid and Mul have double kernels); HardSigmoid would not.
    await runModel(input.model);
    const out = join(work, 'hard.onnx');
    const r = mbn(['rewrite', input.model, '--hard-sigmoid', '-o', out, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.changes).toEqual([]);
    expect(report.notes).toContain("1 pattern(s) on a type other than float32 left as they are: ONNX Runtime's CPU provider runs HardSigmoid and HardSwish in float32 only");
    expect(listing(work)).toEqual(['gate.onnx', 'gate.onnx.data', 'hard.onnx', 'hard.onnx.data']);
    expect([sha(input.model), sha(input.data)]).toEqual(before);
    await runModel(out);
  });

  it.skipIf(!ort)('the rewrite runs: model and data file in place, the deviation measured on them, nothing else left', async () => {
    const work = tempDir('mbn-rewrite-verify-');
    const input = writeGateModel(work, FLOAT);
    const before = [sha(input.model), sha(input.data)];
    const out = join(work, 'out', 'hard.onnx');
    mkdirSync(join(work, 'out'));
    const r = mbn(['rewrite', input.model, '--hard-sigmoid', '-o', out, '--format', 'json', '--samples', '1', '--seed', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(listing(join(work, 'out'))).toEqual(['hard.onnx', 'hard.onnx.data']);
    expect(listing(work)).toEqual(['gate.onnx', 'gate.onnx.data', 'out']);
    expect([sha(input.model), sha(input.data)]).toEqual(before);
    const report = JSON.parse(r.stdout);
    expect(report.deviationSkipped).toBeNull();
    // The deviation was measured on the staged files. By hand, on mbn's seeded input (mulberry32(3), uniform in
    // [-1, 1), float32): max |x·σ(x + w) − x·min(1, max(0, (x + w)/6 + 1/2))|.
    const next = mulberry32(3);
    const x = Float32Array.from({ length: 4 }, () => 2 * next() - 1);
    const w = [0.5, -0.25, 1, 2];
    const expected = Math.max(...[...x].map((v, i) => Math.abs(v / (1 + Math.exp(-(v + w[i]))) - v * Math.min(1, Math.max(0, (v + w[i]) / 6 + 0.5)))));
    expect(expected).toBeGreaterThan(1e-3);
    expect(report.deviation.outputs[0].maxAbsDiff).toBeCloseTo(expected, 6);
    // The model in place computes the hard gate in ONNX Runtime.
    const b = await runModel(out, { x: { type: 'float32', dims: [1, 4], data: x } });
    b.outputs.y.data.forEach((v, i) => expect(v).toBeCloseTo(x[i] * Math.min(1, Math.max(0, (x[i] + w[i]) / 6 + 0.5)), 6));
  });
});

describe('writeFiles with a check: the staged files, under their final names, in a private folder', () => {
  it.skipIf(!ort)('a failed check removes both files and the folder; a passed one puts both in place', async () => {
    const work = tempDir('mbn-write-verify-');
    const target = join(work, 'model.onnx');
    const files = gateModel(FLOAT, 'model.onnx.data');
    const writes = [
      { target: { path: `${target}.data`, force: false, protect: [] }, pieces: [files.data], source: new BufferSource(files.data) },
      { target: { path: target, force: false, protect: [] }, pieces: [files.model], source: new BufferSource(files.model) },
    ];
    let seen: string[] = [];
    const failing = writeFiles(writes, async (paths) => {
      seen = paths;
      // The staged model finds its data file by its relative location: ONNX Runtime runs it where it stands.
      const run = await runModel(paths[1], undefined, { seed: 1 });
      expect(run.outputs.y.dims).toEqual([1, 4]);
      throw new Error('rejected by the check');
    });
    await expect(failing).rejects.toThrow(/^rejected by the check; nothing was written$/);
    expect(seen.map((p) => p.slice(work.length + 1))).toEqual([
      expect.stringMatching(/^\.model\.onnx\.data\.\d+\.[0-9a-f]{8}\.tmp\/model\.onnx\.data$/),
      expect.stringMatching(/^\.model\.onnx\.data\.\d+\.[0-9a-f]{8}\.tmp\/model\.onnx$/),
    ]);
    expect(listing(work)).toEqual([]);

    await writeFiles(writes, async (paths) => void (await runModel(paths[1])));
    expect(listing(work)).toEqual(['model.onnx', 'model.onnx.data']);
    expect(readFileSync(target).equals(Buffer.from(files.model))).toBe(true);
    expect(readFileSync(`${target}.data`).equals(Buffer.from(files.data))).toBe(true);
  });

  it('a staging folder left by a killed process is removed by the next write of that target', async () => {
    const work = tempDir('mbn-write-verify-');
    // A pid that is not running: the folder's owner is gone.
    let pid = 4_000_000;
    for (; ; pid++) {
      try {
        process.kill(pid, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') break;
      }
    }
    const stale = join(work, `.m.onnx.${pid}.0badc0de.tmp`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'm.onnx'), 'half');
    writeFileSync(join(stale, 'm.onnx.data'), 'half');
    const bytes = new Uint8Array([1, 2, 3]);
    await writeFiles([{ target: { path: join(work, 'm.onnx'), force: false, protect: [] }, pieces: [bytes], source: new BufferSource(bytes) }], async () => undefined);
    expect(listing(work)).toEqual(['m.onnx']);
  });
});
