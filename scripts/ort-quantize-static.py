"""ONNX Runtime's own static quantizer, as a reference for `mbn quantize` (npm run bench): QDQ, int8 weights per
channel, uint8 activations, one .npy batch per file for the model's single input.

    /opt/mbn-venv/bin/python scripts/ort-quantize-static.py MODEL CALIB_DIR OUT [MinMax|Percentile|Entropy]
"""
import glob
import os
import sys

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

model, folder, out = sys.argv[1:4]
method = getattr(CalibrationMethod, sys.argv[4] if len(sys.argv) > 4 else 'MinMax')
name = ort.InferenceSession(model, providers=['CPUExecutionProvider']).get_inputs()[0].name


class Reader(CalibrationDataReader):
    def __init__(self):
        self.files = iter(sorted(glob.glob(os.path.join(folder, '*.npy'))))

    def get_next(self):
        f = next(self.files, None)
        return None if f is None else {name: np.load(f).astype(np.float32)}


quantize_static(model, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, calibrate_method=method)
