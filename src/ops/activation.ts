import { DataType } from '../onnx/dtype.js';
import { type RuleContext, type TensorState, ShapeError, defineOps, elements } from './define.js';
import { foldBroadcast } from './elementwise.js';
import { FOLD_LIMIT, fitValue } from './values.js';

/**
 * Activations and other unary elementwise ops: the output has the input's shape.
 * Counting convention: 1 FLOP per output element for every op here, composite ones included (HardSwish, Gelu, Mish,
 * Selu, Softplus…). This is a deliberate, simple convention: it keeps activations visible without pretending to know
 * how a runtime evaluates a transcendental function. Dropout counts 1 per element too (its optional mask output has
 * the same shape). No MACs.
 *
 * Values fold for the ops that matter to shape arithmetic (Neg, Abs, Relu, Sign, Floor, Ceil, Round, Clip, Not…).
 */

const FOLD: Record<string, (x: number, ctx: RuleContext) => number> = {
  Relu: (x) => Math.max(0, x),
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Sign: (x) => Math.sign(x),
  Floor: (x) => Math.floor(x),
  Ceil: (x) => Math.ceil(x),
  Round: (x) => roundHalfEven(x),
  Not: (x) => +!x,
  BitwiseNot: (x) => Number(~BigInt(Math.trunc(x))),
  Sqrt: (x) => Math.sqrt(x),
  Exp: (x) => Math.exp(x),
  Log: (x) => Math.log(x),
  Reciprocal: (x) => 1 / x,
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: (x) => Math.tanh(x),
  IsNaN: (x) => +Number.isNaN(x),
  IsInf: (x, ctx) => +((x === Infinity && ctx.int('detect_positive', 1) === 1) || (x === -Infinity && ctx.int('detect_negative', 1) === 1)),
};

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const OTHERS = [
  'LeakyRelu', 'PRelu', 'HardSigmoid', 'HardSwish', 'Elu', 'Selu', 'Celu', 'Gelu', 'Softplus', 'Softsign', 'Mish',
  'Clip', 'Erf', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh',
  'ThresholdedRelu', 'Shrink', 'Dropout',
];

const BOOL_OUT = new Set(['IsNaN', 'IsInf']);

export const activationOps = defineOps({
  ops: [...Object.keys(FOLD), ...OTHERS],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    // Shapes are never modified once made: the output shares its input's (one array less per layer).
    const shape = ctx.shape(0);
    const dtype = BOOL_OUT.has(op) ? DataType.BOOL : x.dtype;
    const out: TensorState = { dtype, shape };
    if (op === 'PRelu') {
      // Slope broadcasts unidirectionally to X.
      const slope = ctx.shape(1);
      // Older exporters give a per-channel slope [C] against [N, C, …] (the pre-opset-7 layout); ONNX Runtime
      // accepts it, so do we.
      const legacy = slope.length === 1 && shape.length > 2 && slope[0] === shape[1] && slope[0] !== shape[shape.length - 1];
      if (legacy) ctx.note({ code: 'prelu-legacy-slope', channels: slope[0] });
      for (let i = 0; !legacy && i < slope.length; i++) {
        const j = shape.length - slope.length + i;
        if (j < 0 || (slope[i] !== 1 && slope[i] !== shape[j])) {
          throw new ShapeError(`PRelu slope [${slope.join(',')}] does not broadcast to [${shape.join(',')}]`);
        }
      }
    }
    if (x.value && elements(shape) <= FOLD_LIMIT) {
      const value = foldUnary(ctx, x, dtype);
      if (value) out.value = value;
    }
    if (op === 'Dropout') {
      // Mask: same type as the data before opset 10, bool from 10.
      return [out, { dtype: ctx.opset > 0 && ctx.opset < 10 ? x.dtype : DataType.BOOL, shape: shape.slice() }];
    }
    return [out];
  },
  cost(_ctx, outputs) {
    return { macs: 0, flops: elements(outputs[0].shape!) };
  },
});

function foldUnary(ctx: RuleContext, x: TensorState, dtype: number): number[] | undefined {
  const op = ctx.node.opType;
  if (op === 'Clip') {
    let lo = -Infinity;
    let hi = Infinity;
    if (ctx.opset > 0 && ctx.opset < 11) {
      lo = ctx.float('min', -Infinity);
      hi = ctx.float('max', Infinity);
    } else {
      if (ctx.has(1)) {
        const v = ctx.inputs[1]?.value;
        if (!v || v.length !== 1) return undefined;
        lo = v[0];
      }
      if (ctx.has(2)) {
        const v = ctx.inputs[2]?.value;
        if (!v || v.length !== 1) return undefined;
        hi = v[0];
      }
    }
    return x.value!.map((v) => fitValue(Math.min(hi, Math.max(lo, v)), dtype));
  }
  if (op === 'Dropout') return x.value!.slice();
  const f = FOLD[op];
  if (!f) return undefined;
  return foldBroadcast([x], x.shape!, dtype, ([v]) => f(v, ctx));
}
