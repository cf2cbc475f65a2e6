import type { Node } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { type ConvLayout, type RuleContext, ShapeError, defineOps, elements } from './define.js';
import { convOutputShape, convTraits } from './conv.js';
import { TFLITE_DOMAIN } from './tflite-common.js';

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
  return node.domain === '' ? (QUANTIZED_INPUTS[node.opType]?.weights ?? NONE) : NONE;
}

/** The scale and zero-point inputs of quantized ops: settings of the quantization, never parameters. */
export function quantizationSettingInputs(node: Node): readonly number[] {
  return node.domain === '' ? (QUANTIZED_INPUTS[node.opType]?.settings ?? NONE) : NONE;
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
    note: (text) => ctx.note(text),
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
