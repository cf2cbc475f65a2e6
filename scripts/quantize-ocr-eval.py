"""`mbn quantize` against ONNX Runtime's quantize_static on PaddleOCR PP-OCRv4 rec and det, on rendered text
(scripts/make-ocr-eval.py). Run with the reference venv from the repository root:

    /usr/bin/python3 scripts/make-ocr-eval.py /tmp/mbn-ocr-eval
    /opt/mbn-venv/bin/python scripts/quantize-ocr-eval.py /tmp/mbn-ocr-eval REC.onnx KEYS.txt DET.onnx

Recognition: words read right out of 48 (CTC greedy decoding with PaddleOCR's dictionary). Detection: IoU of the
text map binarised at 0.3 (PaddleOCR's DB threshold) against the float model's, over 4 pages. Weights: stored bytes
of initializers and Constant nodes. Each quantizer gets the same calibration folders (QDQ, per-channel int8 weights,
uint8 activations for ORT as for mbn).
"""
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

DATA, REC, KEYS, DET = sys.argv[1:5]
OUT = os.path.join(DATA, 'models')
os.makedirs(OUT, exist_ok=True)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def batches(folder):
    return [np.load(f).astype(np.float32) for f in sorted(glob.glob(os.path.join(DATA, folder, '*.npy')))]


class Reader(CalibrationDataReader):
    def __init__(self, folder):
        self.items = iter([{'x': b} for b in batches(folder)])

    def get_next(self):
        return next(self.items, None)


def weight_bytes(path):
    m = onnx.load(path)
    n = sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer)
    for node in m.graph.node:
        if node.op_type == 'Constant':
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    n += numpy_helper.to_array(a.t).nbytes
    return n


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.log_severity_level = 4
    return ort.InferenceSession(path, o, providers=['CPUExecutionProvider'])


chars = [''] + [l.rstrip('\n') for l in open(KEYS, encoding='utf-8')] + [' ']
words = [l.strip() for l in open(os.path.join(DATA, 'rec_eval', 'words.txt'))]


def read_words(path):
    s = session(path)
    out = []
    for b in batches('rec_eval'):
        idx = s.run(None, {'x': b})[0][0].argmax(-1)
        text, prev = '', 0
        for i in idx:
            if i != prev and i != 0:
                text += chars[i] if i < len(chars) else ''
            prev = i
        out.append(text)
    return out


def det_maps(path):
    s = session(path)
    return [s.run(None, {'x': b})[0] > 0.3 for b in batches('det_eval')]


def mbn(model, calib, out, shape, extra=()):
    t = time.time()
    r = subprocess.run(['node', os.path.join(ROOT, 'bin/mbn.js'), 'quantize', model, '-o', out, '--force', '--calibrate', os.path.join(DATA, calib),
                        '--input', f'x:{shape}', '--format', 'json', *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return time.time() - t, json.loads(r.stdout)


def ort_static(model, calib, out, method, pre=False):
    t = time.time()
    if pre:
        # The Paddle exports keep their weights in Constant nodes, which quantize_static treats as activations (ORT's
        # quant_pre_process leaves them so too): moved to initializers here, they are quantized per channel as weights.
        m = onnx.load(model)
        keep = []
        for node in m.graph.node:
            if node.op_type == 'Constant' and len(node.attribute) == 1 and node.attribute[0].name == 'value':
                weight = onnx.TensorProto()
                weight.CopyFrom(node.attribute[0].t)
                weight.name = node.output[0]
                m.graph.initializer.append(weight)
            else:
                keep.append(node)
        del m.graph.node[:]
        m.graph.node.extend(keep)
        # Per-channel QDQ needs opset 13; quantize_static writes `axis` at the model's opset 9 anyway (an invalid model).
        m = onnx.version_converter.convert_version(m, 13)
        prepared = out + '.pre.onnx'
        onnx.save(m, prepared)
        model = prepared
    quantize_static(model, out, Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=method)
    return time.time() - t


rows = []
float_words = read_words(REC)
float_maps = det_maps(DET)
ok_float = sum(a == b for a, b in zip(float_words, words))
variants = {
    'mbn quantize': lambda kind, m, c, o, shape: mbn(m, c, o, shape)[0],
    'mbn quantize --no-bias-correction': lambda kind, m, c, o, shape: mbn(m, c, o, shape, ['--no-bias-correction'])[0],
    'mbn quantize --no-equalize': lambda kind, m, c, o, shape: mbn(m, c, o, shape, ['--no-equalize'])[0],
    'mbn quantize --method mse': lambda kind, m, c, o, shape: mbn(m, c, o, shape, ['--method', 'mse'])[0],
    'mbn quantize --method percentile': lambda kind, m, c, o, shape: mbn(m, c, o, shape, ['--method', 'percentile'])[0],
    'ORT quantize_static MinMax': lambda kind, m, c, o, shape: ort_static(m, c, o, CalibrationMethod.MinMax),
    'ORT quantize_static Percentile': lambda kind, m, c, o, shape: ort_static(m, c, o, CalibrationMethod.Percentile),
    'ORT quantize_static MinMax, Constants as initializers, opset 13': lambda kind, m, c, o, shape: ort_static(m, c, o, CalibrationMethod.MinMax, True),
    'ORT quantize_static Percentile, Constants as initializers, opset 13': lambda kind, m, c, o, shape: ort_static(m, c, o, CalibrationMethod.Percentile, True),
}
only = os.environ.get('EVAL_ONLY')
for name, run in variants.items():
    if only and only not in name:
        continue
    tag = name.replace(' ', '_').replace('-', '')
    rec_out = os.path.join(OUT, f'rec_{tag}.onnx')
    det_out = os.path.join(OUT, f'det_{tag}.onnx')
    t_rec = run('rec', REC, 'rec_calib', rec_out, '1x3x48x320')
    t_det = run('det', DET, 'det_calib', det_out, '1x3x640x640')
    got = read_words(rec_out)
    ok = sum(a == b for a, b in zip(got, words))
    maps = det_maps(det_out)
    inter = sum(np.logical_and(a, b).sum() for a, b in zip(maps, float_maps))
    union = sum(np.logical_or(a, b).sum() for a, b in zip(maps, float_maps))
    rows.append({'quantizer': name, 'rec_words': ok, 'det_iou': float(inter / union), 'rec_weights': weight_bytes(rec_out) / weight_bytes(REC),
                 'det_weights': weight_bytes(det_out) / weight_bytes(DET), 'rec_seconds': t_rec, 'det_seconds': t_det,
                 'wrong': [f'{w}->{g}' for w, g in zip(words, got) if w != g]})
print(json.dumps({'float_rec_words': ok_float, 'float_wrong': [f'{w}->{g}' for w, g in zip(words, float_words) if w != g], 'rows': rows}, indent=1))
print(f'| quantizer | rec words (float {ok_float}/48) | det IoU vs float | rec weights | det weights | time rec / det |')
print('| --- | --- | --- | --- | --- | --- |')
for r in rows:
    print(f"| {r['quantizer']} | {r['rec_words']}/48 | {r['det_iou']:.3f} | {r['rec_weights']:.2f}× | {r['det_weights']:.2f}× | {r['rec_seconds']:.1f} s / {r['det_seconds']:.1f} s |")
