import type { Node } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { type ConvLayout, type RuleContext, ShapeError, broadcast, defineOps, elements } from './define.js';
import { convOutputShape, convTraits } from './conv.js';
import { TFLITE_DOMAIN } from './tflite-common.js';
import { matmulDims } from './gemm.js';
import { poolSpatial } from './pool.js';

/**
 * Quantization ops.
 * - QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear: output has x's shape; 1 FLOP per element.
 *   QuantizeLinear's output type is the zero point's, else `output_dtype` (opset 21+), else uint8;
 *   DequantizeLinear's is the scale's (or `output_dtype`, opset 23+). DynamicQuantizeLinear also outputs a float
 *   scalar scale and a uint8 scalar zero point.
 * - QLinearConv (x = input 0, w = input 3, output type = y_zero_point's) and ConvInteger (x = 0, w = 1, int32
 *   output): shape as Conv, MACs as Conv: out_elements · (C_in/group) · prod(kernel). Zero-point shifts and
 *   requantization are not counted.
 */

/**
 * The inputs of quantized ops that hold a layer's weights (integer tensors, not floating point): QLinearConv's
 * w and bias, ConvInteger's w, MatMulInteger's and QLinearMatMul's two operands, DequantizeLinear's x. A constant
 * tensor read there is a parameter (see cost/params.ts).
 */
export function quantizedWeightInputs(node: Node): readonly number[] {
  if (node.domain === TFLITE_DOMAIN) return TFLITE_WEIGHT_INPUTS[node.opType] ?? NONE;
  return inputRoles(node)?.weights ?? NONE;
}

/** The scale and zero-point inputs of quantized ops: settings of the quantization, never parameters. */
export function quantizationSettingInputs(node: Node): readonly number[] {
  return inputRoles(node)?.settings ?? NONE;
}

function inputRoles(node: Node): { weights: readonly number[]; settings: readonly number[] } | undefined {
  if (node.domain === '' || node.domain === 'ai.onnx') return QUANTIZED_INPUTS[node.opType];
  if (node.domain === MICROSOFT) return MICROSOFT_INPUTS[node.opType] ?? (node.opType === 'QLinearConcat' ? concatRoles(node) : undefined);
  return undefined;
}

/** QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input. */
function concatRoles(node: Node): { weights: readonly number[]; settings: readonly number[] } {
  const settings = [0, 1];
  for (let i = 2; i < node.inputs.length; i += 3) settings.push(i + 1, i + 2);
  return { weights: NONE, settings };
}

const NONE: readonly number[] = [];

/**
 * TFLite ops whose integer constants are weights (int8 filters, int32 biases of full-integer models); their
 * scales and zero points are tensor metadata, not inputs.
 */
const TFLITE_WEIGHT_INPUTS: Record<string, readonly number[]> = {
  CONV_2D: [1, 2],
  DEPTHWISE_CONV_2D: [1, 2],
  FULLY_CONNECTED: [1, 2],
  TRANSPOSE_CONV: [1, 3],
  BATCH_MATMUL: [0, 1],
  DEQUANTIZE: [0],
};

const QUANTIZED_INPUTS: Record<string, { weights: readonly number[]; settings: readonly number[] }> = {
  QuantizeLinear: { weights: NONE, settings: [1, 2] },
  DequantizeLinear: { weights: [0], settings: [1, 2] },
  QLinearConv: { weights: [3, 8], settings: [1, 2, 4, 5, 6, 7] },
  ConvInteger: { weights: [1], settings: [2, 3] },
  MatMulInteger: { weights: [0, 1], settings: [2, 3] },
  QLinearMatMul: { weights: [0, 3], settings: [1, 2, 4, 5, 6, 7] },
};

const MICROSOFT = 'com.microsoft';
const MICROSOFT_INPUTS: Record<string, { weights: readonly number[]; settings: readonly number[] }> = {
  QuantizeLinear: { weights: NONE, settings: [1, 2] },
  DequantizeLinear: { weights: [0], settings: [1, 2] },
  QLinearAdd: { weights: [0, 3], settings: [1, 2, 4, 5, 6, 7] },
  QLinearMul: { weights: [0, 3], settings: [1, 2, 4, 5, 6, 7] },
  QLinearSigmoid: { weights: NONE, settings: [1, 2, 3, 4] },
  QLinearLeakyRelu: { weights: NONE, settings: [1, 2, 3, 4] },
  QLinearSoftmax: { weights: NONE, settings: [1, 2, 3, 4] },
  QLinearAveragePool: { weights: NONE, settings: [1, 2, 3, 4] },
  QLinearGlobalAveragePool: { weights: NONE, settings: [1, 2, 3, 4] },
  QGemm: { weights: [3, 6], settings: [1, 2, 4, 5, 7, 8] },
  MatMulIntegerToFloat: { weights: [1, 6], settings: [2, 3, 4, 5] },
  DynamicQuantizeMatMul: { weights: [1, 4], settings: [2, 3] },
};

/** A view of ctx whose inputs 0 and 1 are the given positions (so Conv's geometry applies). Delegates explicitly. */
function remap(ctx: RuleContext, x: number, w: number): RuleContext {
  const pick = (i: number): number => (i === 0 ? x : i === 1 ? w : -1);
  return {
    node: ctx.node,
    opset: ctx.opset,
    inputs: [ctx.inputs[x] ?? null, ctx.inputs[w] ?? null],
    input: (i) => ctx.input(pick(i)),
    shape: (i) => ctx.shape(pick(i)),
    values: (i) => ctx.values(pick(i)),
    has: (i) => pick(i) >= 0 && ctx.has(pick(i)),
    int: (n, d) => ctx.int(n, d),
    ints: (n, d) => ctx.ints(n, d),
    intsOrNull: (n) => ctx.intsOrNull(n),
    float: (n, d) => ctx.float(n, d),
    floats: (n, d) => ctx.floats(n, d),
    string: (n, d) => ctx.string(n, d),
    attribute: (n) => ctx.attribute(n),
    tensorValues: (t) => ctx.tensorValues(t),
    note: (message) => ctx.note(message),
    producerTraits: (i) => ctx.producerTraits(pick(i)),
  };
}

function convView(ctx: RuleContext): RuleContext {
  return ctx.node.opType === 'QLinearConv' ? remap(ctx, 0, 3) : ctx;
}

const CONV_LAYOUTS: Record<string, ConvLayout> = {
  QLinearConv: { form: 'qlinear', transposed: false, input: 0, weight: 3, bias: 8 },
  ConvInteger: { form: 'integer', transposed: false, input: 0, weight: 1, bias: null },
};

export const quantizedOps = defineOps({
  ops: ['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'QLinearConv', 'ConvInteger'],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    const shape = ctx.shape(0).slice();
    switch (op) {
      case 'QuantizeLinear': {
        const dtype = (ctx.has(2) ? ctx.inputs[2]?.dtype : 0) || ctx.int('output_dtype', 0) || DataType.UINT8;
        return [{ dtype, shape }];
      }
      case 'DequantizeLinear': {
        const dtype = ctx.int('output_dtype', 0) || ctx.inputs[1]?.dtype || DataType.FLOAT;
        return [{ dtype, shape }];
      }
      case 'DynamicQuantizeLinear':
        return [
          { dtype: DataType.UINT8, shape },
          { dtype: DataType.FLOAT, shape: [] },
          { dtype: DataType.UINT8, shape: [] },
        ];
      default: {
        const g = convOutputShape(convView(ctx));
        const dtype = op === 'ConvInteger' ? DataType.INT32 : ctx.inputs[7]?.dtype || x.dtype;
        return [{ dtype, shape: [g.batch, g.outChannels, ...g.outSpatial] }];
      }
    }
  },
  cost(ctx, outputs) {
    const op = ctx.node.opType;
    if (op === 'QLinearConv' || op === 'ConvInteger') {
      const w = convView(ctx).shape(1);
      if (w.length < 3) throw new ShapeError(`${op} weight must have rank ≥ 3`);
      return { macs: elements(outputs[0].shape!) * w[1] * elements(w.slice(2)), flops: 0 };
    }
    return { macs: 0, flops: elements(ctx.shape(0)) };
  },
  traits(ctx, outputs) {
    const conv = CONV_LAYOUTS[ctx.node.opType];
    if (conv) return convTraits(ctx, conv, outputs);
    switch (ctx.node.opType) {
      case 'DequantizeLinear':
        return { kind: 'dequantize', quantized: ctx.inputs[0]?.dtype ?? 0 };
      case 'QuantizeLinear':
        return { kind: 'quantize', quantized: outputs[0]?.dtype ?? 0 };
      default:
        return null;
    }
  },
  convLayout(node) {
    return CONV_LAYOUTS[node.opType] ?? null;
  },
});

/**
 * The quantized ops of ONNX Runtime's com.microsoft domain that its quantizer (QOperator format) and its graph
 * optimizer write. Shapes as their float counterparts; counting as the ai.onnx quantized ops (zero points, scales
 * and requantization not counted):
 * - QuantizeLinear, DequantizeLinear: as ai.onnx's.
 * - QLinearAdd, QLinearMul (A = 0, B = 3): broadcast shape, 1 FLOP per output element; output type A's.
 * - QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax: X's shape, 1 FLOP per element.
 * - QLinearAveragePool: AveragePool's shape and FLOPs (output elements × kernel); QLinearGlobalAveragePool:
 *   [N, C, 1…] (or [N, 1…, C] with channels_last = 1), 1 FLOP per input element.
 * - QLinearConcat (Y_scale, Y_zero_point, then X, scale, zero point per input): Concat's shape, no FLOPs.
 * - QGemm (A = 0, B = 3, C = 6): Gemm's M·K·N MACs; output type y_zero_point's, float without it.
 * - MatMulIntegerToFloat (A = 0, B = 1), DynamicQuantizeMatMul (float A = 0, B = 1): MatMul's MACs, float output.
 */
export const quantizedMicrosoftOps = defineOps({
  domain: MICROSOFT,
  ops: ['QuantizeLinear', 'DequantizeLinear', 'QLinearAdd', 'QLinearMul', 'QLinearSigmoid', 'QLinearLeakyRelu', 'QLinearSoftmax', 'QLinearAveragePool', 'QLinearGlobalAveragePool', 'QLinearConcat', 'QGemm', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul'],
  infer(ctx) {
    const op = ctx.node.opType;
    switch (op) {
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        return quantizedOps.infer(ctx);
      case 'QLinearAdd':
      case 'QLinearMul':
        return [{ dtype: ctx.input(0).dtype, shape: broadcast([ctx.shape(0), ctx.shape(3)], ctx.node) }];
      case 'QLinearAveragePool': {
        const x = ctx.shape(0);
        return [{ dtype: ctx.input(0).dtype, shape: [x[0], x[1], ...poolSpatial(ctx).out] }];
      }
      case 'QLinearGlobalAveragePool': {
        const x = ctx.shape(0);
        if (x.length < 3) throw new ShapeError(`${op} input must have rank ≥ 3`);
        const last = ctx.int('channels_last', 0) === 1;
        return [{ dtype: ctx.input(0).dtype, shape: last ? [x[0], ...x.slice(1, -1).map(() => 1), x[x.length - 1]] : [x[0], x[1], ...x.slice(2).map(() => 1)] }];
      }
      case 'QLinearConcat': {
        const parts: number[][] = [];
        for (let i = 2; i < ctx.node.inputs.length; i += 3) parts.push(ctx.shape(i));
        if (parts.length === 0) throw new ShapeError('QLinearConcat has no inputs');
        const axis = ctx.int('axis', 1) < 0 ? ctx.int('axis', 1) + parts[0].length : ctx.int('axis', 1);
        if (axis < 0 || axis >= parts[0].length) throw new ShapeError(`QLinearConcat axis ${ctx.int('axis', 1)} is out of range`);
        const out = parts[0].slice();
        out[axis] = parts.reduce((n, p) => n + p[axis], 0);
        return [{ dtype: ctx.input(2).dtype, shape: out }];
      }
      case 'QGemm': {
        const { m, n } = qgemmDims(ctx);
        return [{ dtype: ctx.inputs[8]?.dtype || DataType.FLOAT, shape: [m, n] }];
      }
      case 'MatMulIntegerToFloat':
      case 'DynamicQuantizeMatMul':
        return [{ dtype: DataType.FLOAT, shape: matmulDims(ctx.shape(0), ctx.shape(1), op).out }];
      default:
        return [{ dtype: ctx.input(0).dtype, shape: ctx.shape(0).slice() }];
    }
  },
  cost(ctx, outputs) {
    const op = ctx.node.opType;
    switch (op) {
      case 'QGemm': {
        const { m, k, n } = qgemmDims(ctx);
        return { macs: m * k * n, flops: 0 };
      }
      case 'MatMulIntegerToFloat':
      case 'DynamicQuantizeMatMul': {
        const d = matmulDims(ctx.shape(0), ctx.shape(1), op);
        return { macs: elements(d.batch) * d.m * d.k * d.n, flops: 0 };
      }
      case 'QLinearConcat':
        return { macs: 0, flops: 0 };
      case 'QLinearAveragePool':
        return { macs: 0, flops: elements(outputs[0].shape!) * elements(poolSpatial(ctx).kernel) };
      case 'QLinearGlobalAveragePool':
        return { macs: 0, flops: elements(ctx.shape(0)) };
      default:
        return { macs: 0, flops: elements(outputs[0].shape!) };
    }
  },
  traits(ctx, outputs) {
    switch (ctx.node.opType) {
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        return quantizedOps.traits!(ctx, outputs);
      case 'QGemm':
        return { kind: 'matmul', form: 'qlinear', operands: [0, 3], bias: ctx.has(6) ? 6 : null, gemm: true, general: false };
      // MatMulIntegerToFloat is the kernel ORT fuses a QDQ MatMul without a QuantizeLinear after into (MLAS's 8-bit
      // GEMM, as QLinearMatMul); DynamicQuantizeMatMul quantizes its float input first, as MatMulInteger's users do.
      case 'MatMulIntegerToFloat':
        return { kind: 'matmul', form: 'qlinear', operands: [0, 1], bias: ctx.has(6) ? 6 : null, gemm: false, general: false };
      case 'DynamicQuantizeMatMul':
        return { kind: 'matmul', form: 'integer', operands: [0, 1], bias: ctx.has(4) ? 4 : null, gemm: false, general: false };
      default:
        return null;
    }
  },
});

function qgemmDims(ctx: RuleContext): { m: number; k: number; n: number } {
  const a = ctx.shape(0);
  const b = ctx.shape(3);
  if (a.length !== 2 || b.length !== 2) throw new ShapeError(`QGemm needs 2-D inputs, got [${a.join(',')}] and [${b.join(',')}]`);
  const [m, k] = ctx.int('transA', 0) ? [a[1], a[0]] : a;
  const [k2, n] = ctx.int('transB', 0) ? [b[1], b[0]] : b;
  if (k !== k2) throw new ShapeError(`QGemm inner dims differ: A gives K=${k}, B gives K=${k2}`);
  return { m, k, n };
}
