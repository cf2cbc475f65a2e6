import type { Node } from '../ir/types.js';
import { type ConvGeometry, type ConvLayout, type ConvTraits, type RuleContext, ShapeError, type TensorState, defineOps, elements } from './define.js';

/**
 * Conv and ConvTranspose. Shape formulas from onnx/defs/nn/defs.cc (the ONNX operator spec:
 * https://onnx.ai/onnx/operators/onnx__Conv.html; the cost is the README's "Counting conventions"): eff_k = (k − 1)·d + 1;
 * NOTSET out = floor((in + pads − eff_k) / s) + 1; VALID out = floor((in − eff_k) / s) + 1; SAME_* out = ceil(in / s).
 */

/** Conv's and ConvTranspose's inputs: X, W, B. */
const FORWARD: ConvLayout = { form: 'float', transposed: false, input: 0, weight: 1, bias: 2 };
const TRANSPOSED: ConvLayout = { ...FORWARD, transposed: true };

/** A conv's output as its shape rule works it out from the input: the geometry is in the traits (ConvGeometry). */
export interface ConvOutputShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  group: number;
  kernel: number[];
  /** Begin pads then end pads, as ONNX orders them; resolved for auto_pad. */
  pads: number[];
  inSpatial: number[];
  outSpatial: number[];
}

function autoPadOf(ctx: RuleContext): string {
  const raw = ctx.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(raw)) {
    throw new ShapeError(`${ctx.node.opType} has an invalid auto_pad '${raw}'`);
  }
  return raw;
}

/**
 * Checks a conv's weight and attributes against each other, before its input is needed: ONNX Runtime refuses a
 * model where they disagree, so such a conv is never counted nor rewritten. Returns the spatial rank.
 */
function checkConvAttributes(ctx: RuleContext, w: readonly number[]): void {
  const op = ctx.node.opType;
  if (w.length < 3) throw new ShapeError(`${op} weight must have rank ≥ 3, got [${w.join(',')}]`);
  const n = w.length - 2;
  const group = ctx.int('group', 1);
  if (group < 1) throw new ShapeError(`${op} group must be ≥ 1, got ${group}`);
  const kernel = ctx.intsOrNull('kernel_shape');
  if (kernel && (kernel.length !== n || kernel.some((k, i) => k !== w[i + 2]))) {
    throw new ShapeError(`${op} kernel_shape [${kernel.join(',')}] does not match its weight [${w.join(',')}]`);
  }
  if (w.slice(2).some((k) => k < 1)) throw new ShapeError(`${op} weight [${w.join(',')}] has an empty kernel`);
  for (const name of ['strides', 'dilations']) {
    const list = ctx.intsOrNull(name);
    if (list && list.length !== n) throw new ShapeError(`${op} ${name} [${list.join(',')}] must have ${n} values, one per spatial dim`);
    if (list) for (const v of list) if (!(v >= 1)) throw new ShapeError(`${op} has a non-positive ${name.slice(0, -1)} ${v}`);
  }
  const pads = ctx.intsOrNull('pads');
  if (pads && pads.length !== 2 * n) throw new ShapeError(`${op} pads [${pads.join(',')}] must have ${2 * n} values, a begin and an end per spatial dim`);
  if (pads) for (const v of pads) if (v < 0) throw new ShapeError(`${op} has a negative pad ${v}`);
  autoPadOf(ctx);
}

/** A conv's optional bias (input `index`) must be one value per output channel. */
function checkBias(ctx: RuleContext, index: number, outChannels: number): void {
  if (!ctx.has(index)) return;
  const b = ctx.inputs[index]?.shape;
  if (b && (b.length !== 1 || b[0] !== outChannels)) {
    throw new ShapeError(`${ctx.node.opType} bias [${b.join(',')}] must have one value per output channel (${outChannels})`);
  }
}

/**
 * What a Conv's own definition must satisfy whatever its input: weight, bias and attributes that agree. Unlike the
 * shape rule it needs no input size, so `mbn separate` can refuse an invalid conv without mistaking an output that
 * an assumed (symbolic) input dim made too small for a broken model.
 */
export function checkConvDefinition(ctx: RuleContext, layout: ConvLayout = FORWARD): void {
  const w = ctx.shape(layout.weight);
  checkConvAttributes(ctx, w);
  const group = ctx.int('group', 1);
  if (w[0] % group !== 0) throw new ShapeError(`Conv output channels ${w[0]} are not divisible by group ${group}`);
  if (layout.bias !== null) checkBias(ctx, layout.bias, w[0]);
  const x = ctx.inputs[layout.input]?.shape;
  if (x && x.length === w.length && x[1] !== w[1] * group) {
    throw new ShapeError(`Conv input has ${x[1]} channels but weight [${w.join(',')}] with group ${group} expects ${w[1] * group}`);
  }
}

export function convOutputShape(ctx: RuleContext): ConvOutputShape {
  const w = ctx.shape(1);
  checkConvAttributes(ctx, w);
  const x = ctx.shape(0);
  if (x.length < 3) throw new ShapeError(`Conv input must have rank ≥ 3, got [${x.join(',')}]`);
  if (w.length !== x.length) throw new ShapeError(`Conv weight rank ${w.length} does not match input rank ${x.length}`);
  const n = x.length - 2;
  const group = ctx.int('group', 1);
  const kernel = ctx.ints('kernel_shape', w.slice(2));
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const dilations = ctx.ints('dilations', new Array(n).fill(1));
  const autoPad = autoPadOf(ctx);
  if (x[1] !== w[1] * group) {
    throw new ShapeError(`Conv input has ${x[1]} channels but weight [${w.join(',')}] with group ${group} expects ${w[1] * group}`);
  }
  if (w[0] % group !== 0) throw new ShapeError(`Conv output channels ${w[0]} are not divisible by group ${group}`);
  const pads = ctx.ints('pads', new Array(2 * n).fill(0)).slice();
  const inSpatial = x.slice(2);
  const outSpatial: number[] = [];
  for (let i = 0; i < n; i++) {
    const effK = (kernel[i] - 1) * dilations[i] + 1;
    let out: number;
    if (autoPad === 'VALID') {
      out = Math.floor((inSpatial[i] - effK) / strides[i]) + 1;
      pads[i] = 0;
      pads[i + n] = 0;
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      out = Math.ceil(inSpatial[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + effK - inSpatial[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i];
    } else {
      out = Math.floor((inSpatial[i] + pads[i] + pads[i + n] - effK) / strides[i]) + 1;
    }
    if (out < 1) throw new ShapeError(`Conv output dim ${i} would be ${out} (input ${inSpatial[i]}, kernel ${kernel[i]})`);
    outSpatial.push(out);
  }
  return { batch: x[0], inChannels: x[1], outChannels: w[0], group, kernel, pads, inSpatial, outSpatial };
}

/**
 * A conv's geometry from its weight's dims and its attributes alone (no input size): Conv's weight is
 * [C_out, C_in/group, k…], ConvTranspose's [C_in, C_out/group, k…]. Throws ShapeError when they disagree. The one
 * definition of depthwise (one input channel per group, several groups) and pointwise (a 1×1 kernel, not depthwise).
 */
export function convGeometryOf(ctx: RuleContext, w: readonly number[], transposed = false): ConvGeometry {
  checkConvAttributes(ctx, w);
  if (!w.every((d) => Number.isInteger(d) && d > 0)) throw new ShapeError(`${ctx.node.opType} weight [${w.join(',')}] has an empty dim`);
  const n = w.length - 2;
  const group = ctx.int('group', 1);
  const inChannels = transposed ? w[0] : w[1] * group;
  const outChannels = transposed ? w[1] * group : w[0];
  if (w[0] % group !== 0) throw new ShapeError(`${ctx.node.opType} weight [${w.join(',')}] does not divide into ${group} groups`);
  const kernel = w.slice(2);
  const depthwise = group > 1 && inChannels === group;
  return {
    inChannels,
    outChannels,
    group,
    kernel,
    strides: ctx.ints('strides', new Array(n).fill(1)),
    dilations: ctx.ints('dilations', new Array(n).fill(1)),
    pads: ctx.ints('pads', new Array(2 * n).fill(0)),
    autoPad: autoPadOf(ctx),
    depthwise,
    pointwise: !depthwise && kernel.every((k) => k === 1),
  };
}

/**
 * The traits of a conv node (Conv, ConvTranspose, QLinearConv, ConvInteger), from its weight's dims: a float conv
 * whose weight comes from a DequantizeLinear is a QDQ conv.
 */
export function convTraits(ctx: RuleContext, layout: ConvLayout, outputs: readonly (TensorState | null)[]): ConvTraits {
  const w = ctx.shape(layout.weight);
  const transposed = layout.transposed;
  const geometry = convGeometryOf(ctx, w, transposed);
  const producer = layout.form === 'float' ? ctx.producerTraits(layout.weight) : null;
  const dequantized = producer?.kind === 'dequantize' ? producer : null;
  const y = outputs[0]?.shape;
  const known = y && y.length === w.length;
  return {
    kind: 'conv',
    form: dequantized ? 'qdq' : layout.form,
    transposed,
    geometry,
    input: layout.input,
    weight: layout.weight,
    bias: layout.bias !== null && ctx.has(layout.bias) ? layout.bias : null,
    weightDtype: dequantized ? dequantized.quantized : (ctx.inputs[layout.weight]?.dtype ?? 0),
    dequantizedWeight: dequantized ? ctx.node.inputs[layout.weight] : null,
    batch: known ? y[0] : null,
    outSpatial: known ? y.slice(2) : null,
  };
}

function convTransposeShape(ctx: RuleContext): { out: number[]; macs: number } {
  const w = ctx.shape(1);
  checkConvAttributes(ctx, w);
  const n = w.length - 2;
  const group = ctx.int('group', 1);
  const outputPadding = ctx.intsOrNull('output_padding');
  if (outputPadding && outputPadding.length !== n) {
    throw new ShapeError(`ConvTranspose output_padding [${outputPadding.join(',')}] must have ${n} values, one per spatial dim`);
  }
  // W is (C, M/group, k…): the output has W[1]·group channels, and the bias one value per output channel.
  const outChannels = w[1] * group;
  checkBias(ctx, 2, outChannels);
  const x = ctx.shape(0);
  if (w.length !== x.length) throw new ShapeError(`ConvTranspose input [${x.join(',')}] and weight [${w.join(',')}] do not match`);
  if (x[1] !== w[0]) throw new ShapeError(`ConvTranspose input has ${x[1]} channels but weight [${w.join(',')}] expects ${w[0]}`);
  if (w[0] % group !== 0) throw new ShapeError(`ConvTranspose input channels ${w[0]} are not divisible by group ${group}`);
  const kernel = w.slice(2);
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const dilations = ctx.ints('dilations', new Array(n).fill(1));
  const pads = ctx.ints('pads', new Array(2 * n).fill(0));
  const autoPad = autoPadOf(ctx);
  const explicit = ctx.intsOrNull('output_shape');
  const spatial: number[] = [];
  for (let i = 0; i < n; i++) {
    if (explicit) spatial.push(explicit[explicit.length - n + i]);
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') spatial.push(x[2 + i] * strides[i]);
    else {
      const effK = (kernel[i] - 1) * dilations[i] + 1;
      const p = autoPad === 'VALID' ? 0 : pads[i] + pads[i + n];
      spatial.push(strides[i] * (x[2 + i] - 1) + (outputPadding?.[i] ?? 0) + effK - p);
    }
  }
  // Every input element is multiplied by every weight of its group: in·(M/group)·K.
  const macs = elements(x) * (outChannels / group) * elements(kernel);
  return { out: [x[0], outChannels, ...spatial], macs };
}

function convLayout(node: Node): ConvLayout {
  return node.opType === 'ConvTranspose' ? TRANSPOSED : FORWARD;
}

export const convOps = defineOps({
  ops: ['Conv', 'ConvTranspose'],
  infer(ctx) {
    const dtype = ctx.input(0).dtype;
    if (ctx.node.opType === 'ConvTranspose') return [{ dtype, shape: convTransposeShape(ctx).out }];
    const w = ctx.shape(1);
    checkConvAttributes(ctx, w);
    checkBias(ctx, 2, w[0]);
    const g = convOutputShape(ctx);
    return [{ dtype, shape: [g.batch, g.outChannels, ...g.outSpatial] }];
  },
  traits(ctx, outputs) {
    return convTraits(ctx, convLayout(ctx.node), outputs);
  },
  convLayout,
  cost(ctx, outputs) {
    if (ctx.node.opType === 'ConvTranspose') return { macs: convTransposeShape(ctx).macs, flops: 0 };
    const w = ctx.shape(1);
    // out_elements · (C_in/group) · prod(kernel); the bias add is not a MAC.
    const macs = elements(outputs[0].shape!) * w[1] * elements(w.slice(2));
    return { macs, flops: 0 };
  },
});
