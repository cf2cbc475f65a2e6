#!/usr/bin/env python3
# /opt/mbn-venv/bin/python scripts/ort-int8-kernels.py   (wrap in `flock /work/measure.lock` on a shared machine)
#
# The single-kernel evidence behind src/latency/int8.ts's QLinearConv path rule (symmetricConvKernel) and the
# timing of ONNX Runtime's 8-bit elementwise ops: one QDQ op per model (uint8 activations, int8 weights with zero
# point 0, as quantize_static per channel and mbn quantize write), ORT 1.30 on one thread, each kernel's fastest
# time over 400 profiled runs. Depthwise 3×3 convs on 16·k channels (MLAS's symmetric kernels) against others
# (its generic depthwise kernel); 1×1 and 3×3 dense convs whose channels meet MLAS's alignment or not; QLinearAdd
# and QLinearConcat beside the float ops.
import json, os, tempfile
import numpy as np
import onnxruntime as ort
from onnx import TensorProto as T, helper as h, numpy_helper as nh

PROFILE_DIR = tempfile.mkdtemp(prefix='mbn-int8-kernels-')


def model(nodes, inputs, inits, output):
    g = h.make_graph(nodes, 'g', inputs, [h.make_tensor_value_info(output, T.FLOAT, None)], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)])
    m.ir_version = 8
    return m


def fastest(m, feeds, runs=400):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(PROFILE_DIR, 'p')
    s = ort.InferenceSession(m.SerializeToString(), so, providers=['CPUExecutionProvider'])
    for _ in range(20 + runs):
        s.run(None, feeds)
    path = s.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    best = {}
    for e in events:
        if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time'):
            op = e['args']['op_name']
            best[op] = min(best.get(op, 1e18), e['dur'])
    return best


def qdq_conv(cin, cout, hw, k, group):
    w = np.random.default_rng(0).integers(-8, 8, size=(cout, cin // group, k, k)).astype(np.int8)
    inits = [nh.from_array(w, 'w'), nh.from_array(np.array(0.01, np.float32), 's'), nh.from_array(np.array(128, np.uint8), 'z'),
             nh.from_array(np.array(0, np.int8), 'wz'), nh.from_array(np.array(0.02, np.float32), 'so')]
    p = (k - 1) // 2
    nodes = [h.make_node('QuantizeLinear', ['x', 's', 'z'], ['xq']), h.make_node('DequantizeLinear', ['xq', 's', 'z'], ['xd']),
             h.make_node('DequantizeLinear', ['w', 's', 'wz'], ['wd']),
             h.make_node('Conv', ['xd', 'wd'], ['y'], group=group, kernel_shape=[k, k], pads=[p] * 4),
             h.make_node('QuantizeLinear', ['y', 'so', 'z'], ['yq']), h.make_node('DequantizeLinear', ['yq', 'so', 'z'], ['yd'])]
    m = model(nodes, [h.make_tensor_value_info('x', T.FLOAT, [1, cin, hw, hw])], inits, 'yd')
    us = fastest(m, {'x': np.random.rand(1, cin, hw, hw).astype(np.float32)})['QLinearConv']
    macs = hw * hw * cout * k * k * (cin // group)
    return us, macs / us / 1e3


print('depthwise 3×3 (QLinearConv): channels, size, µs, GMAC/s')
for c, hw in [(64, 56), (48, 65), (32, 79), (16, 112), (24, 91), (40, 71), (28, 84), (36, 75)]:
    us, rate = qdq_conv(c, c, hw, 3, c)
    print(f'  {c:3d}  {hw}×{hw}  {us:6.0f}  {rate:6.1f}')
print('dense (QLinearConv): in→out, kernel, 32×32, µs, GMAC/s')
for cin, cout, k in [(32, 32, 1), (32, 36, 1), (32, 40, 1), (36, 32, 1), (34, 32, 1), (32, 12, 1), (36, 42, 1), (32, 32, 3), (32, 36, 3), (34, 32, 3)]:
    us, rate = qdq_conv(cin, cout, 32, k, 1)
    print(f'  {cin}→{cout}  {k}×{k}  {us:6.0f}  {rate:6.1f}')


def binary(op, c, hw, qdq):
    inits = [nh.from_array(np.array(0.01, np.float32), 's'), nh.from_array(np.array(128, np.uint8), 'z'), nh.from_array(np.array(0.02, np.float32), 's2')]
    a, b, nodes = 'x', 'x2', []
    if qdq:
        nodes += [h.make_node('QuantizeLinear', ['x', 's', 'z'], ['xq']), h.make_node('DequantizeLinear', ['xq', 's', 'z'], ['xd']),
                  h.make_node('QuantizeLinear', ['x2', 's2', 'z'], ['x2q']), h.make_node('DequantizeLinear', ['x2q', 's2', 'z'], ['x2d'])]
        a, b = 'xd', 'x2d'
    nodes.append(h.make_node(op, [a, b], ['y'], **({'axis': 1} if op == 'Concat' else {})))
    out = 'y'
    if qdq:
        nodes += [h.make_node('QuantizeLinear', ['y', 's', 'z'], ['yq']), h.make_node('DequantizeLinear', ['yq', 's', 'z'], ['yd'])]
        out = 'yd'
    shape = [1, c, hw, hw]
    m = model(nodes, [h.make_tensor_value_info('x', T.FLOAT, shape), h.make_tensor_value_info('x2', T.FLOAT, shape)], inits, out)
    best = fastest(m, {'x': np.random.rand(*shape).astype(np.float32), 'x2': np.random.rand(*shape).astype(np.float32)})
    return best[('QLinear' + op) if qdq else op]


print('8-bit elementwise ops against float: op, input elements, float µs, QLinear µs')
for op in ['Add', 'Concat']:
    for c, hw in [(24, 64), (48, 32), (96, 16)]:
        print(f'  {op:6s} {c * hw * hw:7d}  {binary(op, c, hw, False):4.0f}  {binary(op, c, hw, True):4.0f}')
