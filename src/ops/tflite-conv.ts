import type { Node } from '../ir/types.js';
import { isInteger } from '../onnx/dtype.js';
import { type ConvForm, type ConvLayout, type ConvTraits, type RuleContext, ShapeError, type TensorState, defineOps, elements } from './define.js';
import { FUSED_ACTIVATIONS, TFLITE_DOMAIN, fusedActivationFlops, nhwc, output, samePads, windowOutput } from './tflite-common.js';

/**
 * TFLite convolutions (schema.fbs; kernels in tensorflow/lite/kernels/conv.cc, depthwise_conv.cc, transpose_conv.cc).
 * Activations NHWC. CONV_2D: input [N, H, W, C], filter [O, KH, KW, I] (I = C / groups), bias [O]; MACs
 * out_elements · KH · KW · I. DEPTHWISE_CONV_2D: filter [1, KH, KW, C·multiplier]; MACs out_elements · KH · KW.
 * TRANSPOSE_CONV: inputs (output_shape, filter [O, KH, KW, I], input, bias?); MACs input_elements · O · KH · KW.
 * Padding SAME/VALID; a fused activation costs what ONNX's separate activation would (README, "Counting conventions").
 */

/** A TFLite conv's geometry, in ONNX Conv's terms (channels, groups, kernel, strides, dilations, begin/end pads). */
export interface TfliteConvGeometry {
  batch: number;
  inChannels: number;
  outChannels: number;
  group: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right]: ONNX's begin pads then end pads. */
  pads: [number, number, number, number];
  inSpatial: [number, number];
  outSpatial: [number, number];
  depthwise: boolean;
  multiplier: number;
}

export function tfliteConvGeometry(ctx: RuleContext): TfliteConvGeometry {
  const op = ctx.node.opType;
  const w = ctx.shape(1);
  if (w.length !== 4) throw new ShapeError(`${op} filter must have rank 4, got [${w.join(',')}]`);
  const [n, h, wd, c] = nhwc(ctx, 0);
  const depthwise = op === 'DEPTHWISE_CONV_2D';
  let outChannels: number;
  let group: number;
  let multiplier = 1;
  if (depthwise) {
    if (w[0] !== 1) throw new ShapeError(`DEPTHWISE_CONV_2D filter must be [1, KH, KW, C·multiplier], got [${w.join(',')}]`);
    outChannels = w[3];
    if (outChannels % c !== 0) throw new ShapeError(`DEPTHWISE_CONV_2D filter has ${outChannels} channels, not a multiple of the input's ${c}`);
    multiplier = outChannels / c;
    const declared = ctx.int('depth_multiplier', 0);
    if (declared > 0 && declared !== multiplier) ctx.note({ code: 'depth-multiplier-mismatch', declared, used: multiplier });
    group = c;
  } else {
    outChannels = w[0];
    if (w[3] < 1 || c % w[3] !== 0) throw new ShapeError(`CONV_2D input has ${c} channels, not a multiple of the filter's ${w[3]}`);
    group = c / w[3];
  }
  const bias = ctx.inputs[2]?.shape;
  if (ctx.has(2) && bias && elements(bias) !== outChannels) {
    throw new ShapeError(`${op} bias [${bias.join(',')}] must have one value per output channel (${outChannels})`);
  }
  const kernel: [number, number] = [w[1], w[2]];
  const strides: [number, number] = [ctx.int('stride_h', 0), ctx.int('stride_w', 0)];
  const dilations: [number, number] = [ctx.int('dilation_h_factor', 1), ctx.int('dilation_w_factor', 1)];
  const outH = windowOutput(ctx, h, kernel[0], strides[0], dilations[0], 'h');
  const outW = windowOutput(ctx, wd, kernel[1], strides[1], dilations[1], 'w');
  const same = ctx.int('padding', 0) === 0;
  const [top, bottom] = same ? samePads(h, outH, kernel[0], strides[0], dilations[0]) : [0, 0];
  const [left, right] = same ? samePads(wd, outW, kernel[1], strides[1], dilations[1]) : [0, 0];
  return {
    batch: n,
    inChannels: c,
    outChannels,
    group,
    kernel,
    strides,
    dilations,
    pads: [top, left, bottom, right],
    inSpatial: [h, wd],
    outSpatial: [outH, outW],
    depthwise,
    multiplier,
  };
}

function transposeConvShape(ctx: RuleContext): number[] {
  const w = ctx.shape(1);
  if (w.length !== 4) throw new ShapeError(`TRANSPOSE_CONV filter must have rank 4, got [${w.join(',')}]`);
  const [n, h, wd, c] = nhwc(ctx, 2);
  if (c !== w[3]) throw new ShapeError(`TRANSPOSE_CONV input has ${c} channels but its filter [${w.join(',')}] expects ${w[3]}`);
  const given = ctx.inputs[0]?.value;
  if (given && given.length === 4) return given.slice();
  const sh = ctx.int('stride_h', 0);
  const sw = ctx.int('stride_w', 0);
  if (!(sh >= 1 && sw >= 1)) throw new ShapeError(`TRANSPOSE_CONV has strides ${sh}×${sw}`);
  // The output_shape tensor is computed at run time: SAME gives in·s, VALID (in − 1)·s + k.
  const valid = ctx.int('padding', 0) === 1;
  return [n, valid ? (h - 1) * sh + w[1] : h * sh, valid ? (wd - 1) * sw + w[2] : wd * sw, w[0]];
}

const FORWARD: ConvLayout = { form: 'float', transposed: false, input: 0, weight: 1, bias: 2 };
const TRANSPOSED: ConvLayout = { form: 'float', transposed: true, input: 2, weight: 1, bias: 3 };

function convLayout(node: Node): ConvLayout {
  return node.opType === 'TRANSPOSE_CONV' ? TRANSPOSED : FORWARD;
}

/**
 * How a TFLite conv computes, from its tensors' types: integer activations are a full-integer conv (ONNX's
 * QLinearConv), integer weights on float activations a hybrid one (weights dequantized on the fly, as ONNX's QDQ
 * form), else float (float16 weights come through a DEQUANTIZE and compute in float).
 */
function formOf(ctx: RuleContext, layout: ConvLayout): ConvForm {
  if (isInteger(ctx.inputs[layout.input]?.dtype ?? 0)) return 'qlinear';
  return isInteger(ctx.inputs[layout.weight]?.dtype ?? 0) ? 'qdq' : 'float';
}

/**
 * The conv traits of a TFLite conv (ops/define.ts, ConvTraits) in ONNX Conv's terms, so separation figures, advice
 * and latency treat it as any conv: geometry from the filter (groups and a depth multiplier need the input's
 * channels; without them a CONV_2D is taken as ungrouped), SAME as SAME_UPPER (TFLite pads the odd pixel at the end),
 * and the output's batch and spatial dims from NHWC. `fusedActivation` names the activation the conv applies.
 */
function tfliteConvTraits(ctx: RuleContext, outputs: readonly (TensorState | null)[]): ConvTraits {
  const layout = convLayout(ctx.node);
  const w = ctx.shape(layout.weight);
  if (w.length !== 4) throw new ShapeError(`${ctx.node.opType} filter must have rank 4, got [${w.join(',')}]`);
  const x = ctx.inputs[layout.input]?.shape;
  const c = x && x.length === 4 ? x[3] : null;
  let inChannels: number;
  let outChannels: number;
  let group: number;
  if (ctx.node.opType === 'DEPTHWISE_CONV_2D') {
    const multiplier = c ? w[3] / c : Math.max(1, ctx.int('depth_multiplier', 1));
    inChannels = w[3] / multiplier;
    outChannels = w[3];
    group = inChannels;
  } else if (layout.transposed) {
    [inChannels, outChannels, group] = [w[3], w[0], 1];
  } else {
    [inChannels, outChannels, group] = [c ?? w[3], w[0], c && c % w[3] === 0 ? c / w[3] : 1];
  }
  if (!Number.isInteger(inChannels) || !Number.isInteger(group) || group < 1) throw new ShapeError(`${ctx.node.opType} filter [${w.join(',')}] does not fit its input`);
  const kernel = [w[1], w[2]];
  const depthwise = group > 1 && group === inChannels;
  const y = outputs[0]?.shape;
  const known = y && y.length === 4;
  const activation = ctx.int('fused_activation_function', 0);
  return {
    kind: 'conv',
    form: formOf(ctx, layout),
    transposed: layout.transposed,
    geometry: {
      inChannels,
      outChannels,
      group,
      kernel,
      strides: [ctx.int('stride_h', 1), ctx.int('stride_w', 1)],
      dilations: [ctx.int('dilation_h_factor', 1), ctx.int('dilation_w_factor', 1)],
      pads: [0, 0, 0, 0],
      autoPad: ctx.int('padding', 0) === 1 ? 'VALID' : 'SAME_UPPER',
      depthwise,
      pointwise: !depthwise && kernel.every((k) => k === 1),
    },
    input: layout.input,
    weight: layout.weight,
    bias: layout.bias !== null && ctx.has(layout.bias) ? layout.bias : null,
    weightDtype: ctx.inputs[layout.weight]?.dtype ?? 0,
    dequantizedWeight: null,
    batch: known ? y[0] : null,
    outSpatial: known ? [y[1], y[2]] : null,
    fusedActivation: activation !== 0 ? (FUSED_ACTIVATIONS[activation] ?? `activation ${activation}`) : null,
  };
}

export const tfliteConvOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: ['CONV_2D', 'DEPTHWISE_CONV_2D', 'TRANSPOSE_CONV'],
  infer(ctx) {
    if (ctx.node.opType === 'TRANSPOSE_CONV') return [output(ctx, transposeConvShape(ctx), 2)];
    const g = tfliteConvGeometry(ctx);
    return [output(ctx, [g.batch, ...g.outSpatial, g.outChannels])];
  },
  traits: tfliteConvTraits,
  convLayout,
  cost(ctx, outputs) {
    const out = outputs[0].shape!;
    const w = ctx.shape(1);
    const flops = fusedActivationFlops(ctx, out);
    switch (ctx.node.opType) {
      case 'TRANSPOSE_CONV':
        // Every input element is multiplied by every filter weight of its channel: in · O · KH · KW.
        return { macs: elements(ctx.shape(2)) * w[0] * w[1] * w[2], flops };
      case 'DEPTHWISE_CONV_2D':
        return { macs: elements(out) * w[1] * w[2], flops };
      default:
        return { macs: elements(out) * w[1] * w[2] * w[3], flops };
    }
  },
});
