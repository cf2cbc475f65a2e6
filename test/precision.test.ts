import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { buildAndRead } from './helpers/build-model.js';
import { fixture, tempDir } from './helpers/cli.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';

/**
 * Per-layer precision (src/cost/precision.ts) and the per-precision breakdown, worked out by hand on small QDQ and
 * QOperator models, and checked against the initializers of a model ORT's own quantizer wrote.
 */
const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const INT32 = 6;
const FLOAT16 = 10;
const scalar = (name: string, dtype: number, value: number) => ({ name, dtype, dims: [], values: [value] });
const filled = (name: string, dtype: number, dims: number[], value: number) => ({ name, dtype, dims, values: new Array(dims.reduce((a, b) => a * b, 1)).fill(value) });

describe('precision per layer and by precision', () => {
  it('a QDQ conv is uint8/int8 (its conversions with it); a float16-weight conv after it is float32/float16', () => {
    const model = buildAndRead({
      inputs: [{ name: 'x', dtype: FLOAT, shape: [1, 4, 4, 4] }],
      outputs: [{ name: 'y', dtype: FLOAT, shape: [1, 2, 4, 4] }],
      initializers: [
        scalar('s', FLOAT, 0.05), scalar('z', UINT8, 128),
        filled('w', INT8, [4, 4, 3, 3], 3), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0),
        filled('b', INT32, [4], 7), scalar('bs', FLOAT, 0.0005), scalar('bz', INT32, 0),
        // float16 weights, cast up to float32 before the conv that reads them (1.0 is 0x3c00).
        filled('w16', FLOAT16, [2, 4, 1, 1], 1),
      ],
      nodes: [
        { op: 'QuantizeLinear', name: 'q_x', inputs: ['x', 's', 'z'], outputs: ['xq'] },
        { op: 'DequantizeLinear', name: 'dq_x', inputs: ['xq', 's', 'z'], outputs: ['xd'] },
        { op: 'DequantizeLinear', name: 'dq_w', inputs: ['w', 'ws', 'wz'], outputs: ['wd'] },
        { op: 'DequantizeLinear', name: 'dq_b', inputs: ['b', 'bs', 'bz'], outputs: ['bd'] },
        { op: 'Conv', name: 'conv1', inputs: ['xd', 'wd', 'bd'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'QuantizeLinear', name: 'q_c1', inputs: ['c1', 's', 'z'], outputs: ['c1q'] },
        { op: 'DequantizeLinear', name: 'dq_c1', inputs: ['c1q', 's', 'z'], outputs: ['c1d'] },
        { op: 'Cast', name: 'cast_w16', inputs: ['w16'], outputs: ['w32'], attrs: { to: FLOAT } },
        { op: 'Conv', name: 'conv2', inputs: ['c1d', 'w32'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } },
      ],
    });
    const report = analyzeModel(model);
    expect(Object.fromEntries(report.layers.map((l) => [l.name, l.precision]))).toEqual({
      q_x: 'uint8', dq_x: 'uint8/int8', dq_w: 'uint8/int8', dq_b: 'uint8/int8', conv1: 'uint8/int8', q_c1: 'uint8/int8',
      // Its reader is a float conv (the weight is no DequantizeLinear): the plain 8-bit side.
      dq_c1: 'uint8', cast_w16: 'float32/float16', conv2: 'float32/float16',
    });
    // conv1: 4·4·4 outputs × 4·9 = 2,304 MACs; params w 144 + b 4; bytes w 144, b 16, ws 4, wz 1, bs 4, bz 4 = 173.
    // conv2: 2·4·4 outputs × 4 = 128 MACs; 8 float16 params, 16 bytes. q_x reads s (4 bytes) and z (1) first.
    expect(report.byPrecision).toEqual([
      { precision: 'uint8/int8', layers: 5, macs: 2304, params: 148, weightBytes: 173 },
      { precision: 'float32/float16', layers: 2, macs: 128, params: 8, weightBytes: 16 },
      { precision: 'uint8', layers: 2, macs: 0, params: 0, weightBytes: 5 },
    ]);
  });

  it('QOperator ops name their types: QLinearConv with int8 weights is uint8/int8, MatMulInteger on uint8 is uint8', () => {
    const model = buildAndRead({
      inputs: [{ name: 'x', dtype: UINT8, shape: [1, 2, 3, 3] }, { name: 'a', dtype: UINT8, shape: [2, 4] }],
      outputs: [{ name: 'y', dtype: UINT8, shape: [1, 3, 3, 3] }, { name: 'm', dtype: INT32, shape: [2, 5] }],
      initializers: [
        scalar('xs', FLOAT, 0.1), scalar('xz', UINT8, 128), filled('w', INT8, [3, 2, 1, 1], 2), scalar('ws', FLOAT, 0.01), scalar('wz', INT8, 0),
        scalar('ys', FLOAT, 0.2), scalar('yz', UINT8, 128), filled('b', INT32, [3], 1),
        filled('wm', UINT8, [4, 5], 130), scalar('az', UINT8, 128), scalar('mz', UINT8, 128),
      ],
      nodes: [
        { op: 'QLinearConv', name: 'qconv', inputs: ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['y'], attrs: { kernel_shape: [1, 1] } },
        { op: 'MatMulInteger', name: 'mmi', inputs: ['a', 'wm', 'az', 'mz'], outputs: ['m'] },
      ],
    });
    const report = analyzeModel(model);
    expect(report.layers.map((l) => l.precision)).toEqual(['uint8/int8', 'uint8']);
    // qconv: 27 outputs × 2 = 54 MACs; params w 6 + b 3; bytes w 6, b 12, three scales 12, three zero points 3 = 33.
    // mmi: 2·5 outputs × 4 = 40 MACs; params wm 20; bytes wm 20 + az 1 + mz 1 = 22.
    expect(report.byPrecision).toEqual([
      { precision: 'uint8/int8', layers: 1, macs: 54, params: 9, weightBytes: 33 },
      { precision: 'uint8', layers: 1, macs: 40, params: 20, weightBytes: 22 },
    ]);
  });

  it.skipIf(!venvHas('onnxruntime.quantization', 'onnx'))('on PP-OCR cls quantized by ORT (quantize_static, QDQ, per channel): every MAC is uint8 (weights in Constant nodes are quantized as activations); params are its constants', () => {
    const dir = tempDir();
    const out = join(dir, 'cls.qdq.onnx');
    // The fixture keeps its weights in Constant nodes, not initializers: ORT's quantizer then treats them as
    // activations, per tensor to uint8 (whatever per_channel and weight_type say) through a QuantizeLinear in the
    // graph (ORT folds it when it loads the model), so the file still stores float weights.
    const script = [
      'import sys, json, numpy as np, onnx',
      'from onnx import numpy_helper',
      'from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader',
      'class R(CalibrationDataReader):',
      "    def __init__(self): self.d = iter([{'x': np.random.default_rng(i).standard_normal((1, 3, 48, 192)).astype(np.float32)} for i in range(2)])",
      '    def get_next(self): return next(self.d, None)',
      'quantize_static(sys.argv[1], sys.argv[2], R(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)',
      'm = onnx.load(sys.argv[2])',
      "tensors = [(t.name, numpy_helper.to_array(t)) for t in m.graph.initializer] + [(n.output[0], numpy_helper.to_array(a.t)) for n in m.graph.node if n.op_type == 'Constant' for a in n.attribute if a.name == 'value']",
      // Parameters: float and integer tensors of more than one element that are no quantization scale or zero point.
      "params = sum(a.size for name, a in tensors if a.size > 1 and a.dtype in (np.float32, np.int8, np.int32) and not name.endswith(('_scale', '_zero_point')))",
      "print(json.dumps({'params': int(params), 'int8': int(sum(a.size for _, a in tensors if a.dtype == np.int8 and a.size > 1))}))",
    ].join('\n');
    const r = spawnSync(VENV_PYTHON, ['-c', script, fixture('real/ppocr_mobile_v2_cls.onnx'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const reference = JSON.parse(r.stdout.trim().split('\n').pop()!) as { params: number; int8: number };
    const shape = new Map([['x', [1, 3, 48, 192]]]);
    const float = analyzeModel(readModel(fixture('real/ppocr_mobile_v2_cls.onnx')), { inputShapes: shape });
    const quantized = analyzeModel(readModel(out), { inputShapes: shape });
    const uint8 = quantized.byPrecision.find((p) => p.precision === 'uint8')!;
    expect(uint8.macs).toBe(float.totals.macs);
    expect(quantized.byPrecision.filter((p) => p !== uint8).map((p) => p.macs)).toEqual(quantized.byPrecision.slice(1).map(() => 0));
    expect(reference.int8).toBe(0);
    expect(quantized.totals.params).toBe(reference.params);
    expect(uint8.params).toBe(reference.params);
    // Stored float weights (and the quantizer's scales): no smaller than the float model's.
    expect(quantized.totals.weightBytes).toBeGreaterThan(float.totals.weightBytes);
  }, 120_000);
});
