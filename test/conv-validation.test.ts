import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AttrSpec, buildModel } from './helpers/build-model.js';
import { mbn, tempDir } from './helpers/cli.js';
import { loadOrt, runModel } from './helpers/ort.js';

/**
 * A conv's weight, bias and attributes must agree (issue 15, item 9). ONNX Runtime refuses every model below; mbn
 * analyze lists the conv as not counted with the reason, and mbn separate refuses the model instead of rewriting it.
 */
const ort = loadOrt();
if (!ort) console.warn('skipping ONNX Runtime checks: onnxruntime-node is not installed (npm install)');

interface Case {
  name: string;
  op?: 'Conv' | 'ConvTranspose';
  x: number[];
  w: number[];
  b?: number[];
  attrs?: Record<string, AttrSpec>;
  reason: string;
}

const CASES: Case[] = [
  { name: 'kernel_shape disagrees with the weight', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { kernel_shape: [5, 5] }, reason: 'Conv kernel_shape [5,5] does not match its weight [16,4,3,3]' },
  { name: 'kernel_shape of the wrong rank', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { kernel_shape: [3] }, reason: 'Conv kernel_shape [3] does not match its weight [16,4,3,3]' },
  { name: 'a 5-element bias on a 16-output conv', x: [1, 4, 8, 8], w: [16, 4, 3, 3], b: [5], reason: 'Conv bias [5] must have one value per output channel (16)' },
  { name: 'a 2-D bias', x: [1, 4, 8, 8], w: [16, 4, 3, 3], b: [16, 1], reason: 'Conv bias [16,1] must have one value per output channel (16)' },
  { name: 'input channels ≠ W.shape[1]·group', x: [1, 4, 8, 8], w: [16, 3, 3, 3], reason: 'Conv input has 4 channels but weight [16,3,3,3] with group 1 expects 3' },
  { name: 'output channels not divisible by group', x: [1, 8, 8, 8], w: [6, 2, 3, 3], attrs: { group: 4 }, reason: 'Conv output channels 6 are not divisible by group 4' },
  { name: 'strides of the wrong length', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { strides: [2] }, reason: 'Conv strides [2] must have 2 values, one per spatial dim' },
  { name: 'dilations of the wrong length', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { dilations: [1, 1, 1] }, reason: 'Conv dilations [1,1,1] must have 2 values, one per spatial dim' },
  { name: 'pads of the wrong length', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { pads: [1, 1] }, reason: 'Conv pads [1,1] must have 4 values, a begin and an end per spatial dim' },
  { name: 'a negative pad', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { pads: [1, -1, 1, 1] }, reason: 'Conv has a negative pad -1' },
  { name: 'an unknown auto_pad', x: [1, 4, 8, 8], w: [16, 4, 3, 3], attrs: { auto_pad: 'SAME' }, reason: "Conv has an invalid auto_pad 'SAME'" },
  { name: 'ConvTranspose: kernel_shape disagrees with the weight', op: 'ConvTranspose', x: [1, 4, 8, 8], w: [4, 6, 3, 3], attrs: { kernel_shape: [2, 2] }, reason: 'ConvTranspose kernel_shape [2,2] does not match its weight [4,6,3,3]' },
  { name: 'ConvTranspose: a bias that is not one per output channel', op: 'ConvTranspose', x: [1, 4, 8, 8], w: [4, 6, 3, 3], b: [4], reason: 'ConvTranspose bias [4] must have one value per output channel (6)' },
  { name: 'ConvTranspose: input channels ≠ W.shape[0]', op: 'ConvTranspose', x: [1, 4, 8, 8], w: [5, 6, 3, 3], reason: 'ConvTranspose input has 4 channels but weight [5,6,3,3] expects 5' },
];

const filled = (dims: number[]) => Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => ((i % 7) - 3) / 10);

function write(dir: string, c: Case, index: number): string {
  const op = c.op ?? 'Conv';
  const initializers = [{ name: 'w', dtype: 1, dims: c.w, values: filled(c.w) }];
  if (c.b) initializers.push({ name: 'b', dtype: 1, dims: c.b, values: filled(c.b) });
  const path = join(dir, `case${index}.onnx`);
  writeFileSync(
    path,
    buildModel({
      inputs: [{ name: 'x', dtype: 1, shape: c.x }],
      outputs: [{ name: 'y', dtype: 1 }],
      initializers,
      nodes: [{ op, name: 'conv', inputs: c.b ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attrs: c.attrs }],
    }),
  );
  return path;
}

let dir: string;
const paths: string[] = [];
beforeAll(() => {
  dir = tempDir('mbn-conv-validation-');
  CASES.forEach((c, i) => paths.push(write(dir, c, i)));
});

describe('a conv whose weight, bias and attributes disagree', () => {
  CASES.forEach((c, i) => {
    it(`${c.name}: ONNX Runtime refuses it, analyze does not count it, separate refuses it`, async () => {
      const path = paths[i];
      if (ort) await expect(runModel(path)).rejects.toThrow();

      const analyzed = mbn(['analyze', path, '--format', 'json']);
      expect(analyzed.stderr).toBe('');
      expect(analyzed.status).toBe(0);
      const report = JSON.parse(analyzed.stdout);
      const layer = report.layers.find((l: { name: string }) => l.name === 'conv');
      expect(layer).toMatchObject({ counted: false, reason: c.reason, macs: 0, separable: null });
      expect(report.totals.notCounted).toBe(1);

      const separated = mbn(['separate', path, '-o', join(dir, `case${i}.out.onnx`)]);
      if ((c.op ?? 'Conv') === 'Conv') {
        expect(separated.stderr).toBe(`mbn: Conv 'conv' is invalid: ${c.reason} (ONNX Runtime refuses such a model)\n`);
        expect(separated.status).toBe(2);
      } else {
        // ConvTranspose is never rewritten: separate changes nothing and says why it left the model alone.
        expect(separated.status).toBe(0);
      }
    });
  });

  it('a valid conv beside them is still counted (the checks accept what ONNX Runtime accepts)', async () => {
    const ok: Case = { name: 'valid', x: [1, 4, 8, 8], w: [16, 4, 3, 3], b: [16], attrs: { kernel_shape: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], auto_pad: 'NOTSET' }, reason: '' };
    const path = write(dir, ok, 99);
    if (ort) expect((await runModel(path)).outputs.y.dims).toEqual([1, 16, 8, 8]);
    const r = mbn(['analyze', path, '--format', 'json']);
    expect(r.status).toBe(0);
    // 1·16·8·8 outputs × 4 input channels × 3·3 kernel.
    expect(JSON.parse(r.stdout).layers[0]).toMatchObject({ counted: true, macs: 36_864, reason: null });
  });
});
