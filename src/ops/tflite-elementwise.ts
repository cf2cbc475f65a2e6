import { DataType } from '../onnx/dtype.js';
import { broadcast, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, fusedActivationFlops, outputDtype } from './tflite-common.js';

/**
 * TFLite elementwise ops: binary arithmetic and comparisons with numpy broadcasting, unary math and activations.
 * 1 FLOP per output element (README, "Counting conventions"), and 1 more for a fused activation (ADD, SUB, MUL, DIV);
 * SQUARED_DIFFERENCE counts 2 (ONNX's Sub then Mul); ADD_N counts n − 1. Comparisons give bool.
 */
const BINARY = [
  'ADD', 'SUB', 'MUL', 'DIV', 'MAXIMUM', 'MINIMUM', 'POW', 'FLOOR_DIV', 'FLOOR_MOD', 'SQUARED_DIFFERENCE', 'PRELU',
  'ATAN2', 'LESS', 'LESS_EQUAL', 'GREATER', 'GREATER_EQUAL', 'EQUAL', 'NOT_EQUAL', 'LOGICAL_AND', 'LOGICAL_OR',
];
const COMPARISONS = new Set(['LESS', 'LESS_EQUAL', 'GREATER', 'GREATER_EQUAL', 'EQUAL', 'NOT_EQUAL']);
const UNARY = [
  'RELU', 'RELU6', 'RELU_N1_TO_1', 'RELU_0_TO_1', 'LOGISTIC', 'TANH', 'HARD_SWISH', 'LEAKY_RELU', 'ELU', 'GELU', 'EXP',
  'LOG', 'SQRT', 'RSQRT', 'ABS', 'NEG', 'SQUARE', 'FLOOR', 'CEIL', 'ROUND', 'SIN', 'COS', 'SIGN', 'LOGICAL_NOT',
];

export const tfliteElementwiseOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: [...BINARY, ...UNARY, 'ADD_N'],
  infer(ctx) {
    const op = ctx.node.opType;
    const shapes = ctx.node.inputs.map((_, i) => ctx.shape(i));
    const shape = shapes.length === 1 ? shapes[0].slice() : broadcast(shapes, ctx.node);
    return [{ dtype: outputDtype(ctx, 0, COMPARISONS.has(op) ? DataType.BOOL : ctx.input(0).dtype), shape }];
  },
  cost(ctx, outputs) {
    const out = outputs[0].shape!;
    const n = elements(out);
    const op = ctx.node.opType;
    const per = op === 'SQUARED_DIFFERENCE' ? 2 : op === 'ADD_N' ? Math.max(0, ctx.node.inputs.length - 1) : 1;
    return { macs: 0, flops: per * n + fusedActivationFlops(ctx, out) };
  },
});
