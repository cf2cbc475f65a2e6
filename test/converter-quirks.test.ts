import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnx from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/api/analyze.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { buildModel } from './helpers/build-model.js';

const { onnx: o } = onnx;

/**
 * Quirks of converters that third-party models carry. paddle2onnx (before it named dims p2o.DynamicDimension.N)
 * wrote dim_value −1 for a dynamic dim; TensorFlow converters give NHWC and RGBA inputs.
 */
describe('paddle2onnx dim_value −1 is a dynamic dim', () => {
  // The real PP-OCRv4 detector (paddle2onnx), its input dims written as −1, as older paddle2onnx versions did.
  const dir = tempDir();
  const path = join(dir, 'ppocr_v4_det_minus1.onnx');
  const model = o.ModelProto.decode(readFileSync(fixture('real/ppocr_v4_det.onnx')));
  for (const dim of model.graph!.input![0].type!.tensorType!.shape!.dim!) {
    if (dim.dimParam) {
      dim.dimParam = undefined;
      dim.dimValue = -1;
    }
  }
  writeFileSync(path, o.ModelProto.encode(model).finish());

  it('--input x:1x3x320x320 is accepted and gives the figures of the model with named dims', async () => {
    const minus1 = await analyze(path, { input: { x: [1, 3, 320, 320] } });
    const named = await analyze(fixture('real/ppocr_v4_det.onnx'), { input: { x: [1, 3, 320, 320] } });
    expect(minus1.model.inputs[0].shape).toEqual([1, 3, 320, 320]);
    expect(minus1.totals).toEqual(named.totals);
    expect(minus1.totals.macs).toBeGreaterThan(0);
    const r = mbn(['analyze', path, '--input', 'x:1x3x320x320', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('without --input the −1 dims are unknown (declared null), assumed 1 with a note in the model’s layout', async () => {
    const json = await analyze(path);
    expect(json.model.inputs[0].declaredShape).toEqual([null, 3, null, null]);
    expect(json.model.inputs[0].assumedDims).toEqual([0, 2, 3]);
    expect(json.notes).toContain("input 'x' dim 2 (unknown) is not fixed; assumed 1 (set it with --input x:Nx3xD2xD3)");
  });
});

describe('--input suggestions keep the model’s own layout', () => {
  it('an NHWC RGBA input (as TensorFlow converters write) is suggested as NxHxWx4', async () => {
    const dir = tempDir();
    const path = join(dir, 'nhwc.onnx');
    writeFileSync(
      path,
      buildModel({
        inputs: [{ name: 'image', dtype: 1, shape: ['batch', 'H', 'W', 4] }],
        outputs: [{ name: 'y', dtype: 1, shape: null }],
        nodes: [{ op: 'Relu', inputs: ['image'], outputs: ['y'] }],
        opset: 13,
      }),
    );
    const json = await analyze(path);
    expect(json.notes).toContain("input 'image' dim 1 ('H') is not fixed; assumed 1 (set it with --input image:NxHxWx4)");
    const r = mbn(['analyze', path, '--max-macs', '1G']);
    expect(r.stdout + r.stderr).toContain('--input image:1xHxWx4');
  });

  it('a TFLite model’s batch dim is suggested in NHWC', async () => {
    const json = await analyze(fixture('tflite/mobilenet_v2_035_96_float.tflite'));
    expect(json.notes).toContain("input 'serving_default_keras_tensor:0' dim 0 ('batch') is not fixed; assumed 1 (set it with --batch N or --input serving_default_keras_tensor:0:Nx96x96x3)");
  });
});
