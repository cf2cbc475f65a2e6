import { type RuleContext, ShapeError, type TensorState, elements } from './define.js';

/**
 * What the TFLite op families (src/ops/tflite-*.ts) share. TFLite nodes come from src/tflite/read.ts: domain
 * `tflite`, op type the builtin's name, builtin options as attributes named as in schema.fbs, and `output_dtypes`
 * the element types of the output tensors as the file declares them (TFLite states every tensor's type; ops such
 * as QUANTIZE and CAST take theirs from it). Activations are NHWC.
 */
export const TFLITE_DOMAIN = 'tflite';

/**
 * TFLite builtins that compute what one default-domain ONNX op does, for the pattern finders (advice) that know
 * models by those ops: activations, and the elementwise arithmetic of residuals, gates and hard-swish.
 */
export const ONNX_EQUIVALENTS: Readonly<Record<string, string>> = {
  ADD: 'Add', SUB: 'Sub', MUL: 'Mul', DIV: 'Div', RELU: 'Relu', RELU6: 'Relu6', RELU_N1_TO_1: 'Clip', RELU_0_TO_1: 'Clip',
  LOGISTIC: 'Sigmoid', TANH: 'Tanh', HARD_SWISH: 'HardSwish', LEAKY_RELU: 'LeakyRelu', PRELU: 'PRelu', ELU: 'Elu',
  GELU: 'Gelu',
};

/** schema.fbs ActivationFunctionType, by value. */
export const FUSED_ACTIVATIONS: readonly string[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

/** The attribute holding the output tensors' ONNX DataType codes. */
export const OUTPUT_DTYPES = 'output_dtypes';

/** Output i's element type as the file declares it, else `fallback`. */
export function outputDtype(ctx: RuleContext, i: number, fallback: number): number {
  return ctx.ints(OUTPUT_DTYPES, [])[i] || fallback;
}

/** Output 0 with the declared type (else the input's). */
export function output(ctx: RuleContext, shape: number[], input = 0): TensorState {
  return { dtype: outputDtype(ctx, 0, ctx.inputs[input]?.dtype ?? 0), shape };
}

/**
 * A fused activation (options' fused_activation_function: RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT) costs what the
 * separate ONNX activation would: 1 FLOP per output element.
 */
export function fusedActivationFlops(ctx: RuleContext, out: readonly number[]): number {
  return ctx.int('fused_activation_function', 0) !== 0 ? elements(out) : 0;
}

/** One spatial dim of a windowed op (conv, pool): TFLite's padding SAME 0 → ceil(in / s); VALID 1 → floor((in − eff_k) / s) + 1. */
export function windowOutput(ctx: RuleContext, input: number, kernel: number, stride: number, dilation: number, axis: string): number {
  if (!(stride >= 1)) throw new ShapeError(`${ctx.node.opType} has stride_${axis} ${stride}`);
  if (!(dilation >= 1)) throw new ShapeError(`${ctx.node.opType} has dilation_${axis}_factor ${dilation}`);
  const padding = ctx.int('padding', 0);
  const effective = (kernel - 1) * dilation + 1;
  const out = padding === 1 ? Math.floor((input - effective) / stride) + 1 : Math.ceil(input / stride);
  if (padding !== 0 && padding !== 1) throw new ShapeError(`${ctx.node.opType} has an unknown padding ${padding}`);
  if (out < 1) throw new ShapeError(`${ctx.node.opType} output ${axis} would be ${out} (input ${input}, kernel ${kernel})`);
  return out;
}

/** SAME's pads (begin, end) along one dim, as TFLite applies them: the odd one at the end. */
export function samePads(input: number, out: number, kernel: number, stride: number, dilation: number): [number, number] {
  const total = Math.max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - input);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** An NHWC activation's shape, checked to be rank 4. */
export function nhwc(ctx: RuleContext, i: number): [number, number, number, number] {
  const s = ctx.shape(i);
  if (s.length !== 4) throw new ShapeError(`${ctx.node.opType} input ${i} must be NHWC (rank 4), got [${s.join(',')}]`);
  return [s[0], s[1], s[2], s[3]];
}

/** The constant integer values of input i (shapes, axes, paddings), or UnknownShape when only known at run time. */
export function constantInts(ctx: RuleContext, i: number): number[] {
  return ctx.values(i).map((v) => Math.trunc(v));
}
