import type { Node } from '../ir/types.js';
import { type RuleContext, ShapeError, defineOps, elements } from './define.js';

/**
 * Conv and ConvTranspose. Shape formulas from onnx/defs/nn/defs.cc (the ONNX operator spec:
 * https://onnx.ai/onnx/operators/onnx__Conv.html; the cost is the README's "Counting conventions"): eff_k = (k − 1)·d + 1;
 * NOTSET out = floor((in + pads − eff_k) / s) + 1; VALID out = floor((in − eff_k) / s) + 1; SAME_* out = ceil(in / s).
 */

export interface ConvGeometry {
  batch: number;
  inChannels: number;
  outChannels: number;
  group: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, as ONNX orders them; resolved for auto_pad. */
  pads: number[];
  autoPad: string;
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

export function convGeometry(ctx: RuleContext): ConvGeometry {
  const x = ctx.shape(0);
  const w = ctx.shape(1);
  const node = ctx.node;
  if (x.length < 3) throw new ShapeError(`Conv input must have rank ≥ 3, got [${x.join(',')}]`);
  if (w.length !== x.length) throw new ShapeError(`Conv weight rank ${w.length} does not match input rank ${x.length}`);
  const n = x.length - 2;
  const group = ctx.int('group', 1);
  const kernel = ctx.ints('kernel_shape', w.slice(2));
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const dilations = ctx.ints('dilations', new Array(n).fill(1));
  const autoPad = autoPadOf(ctx);
  if (group < 1) throw new ShapeError(`Conv group must be ≥ 1, got ${group}`);
  if (x[1] !== w[1] * group) {
    throw new ShapeError(`Conv input has ${x[1]} channels but weight [${w.join(',')}] with group ${group} expects ${w[1] * group}`);
  }
  if (w[0] % group !== 0) throw new ShapeError(`Conv output channels ${w[0]} are not divisible by group ${group}`);
  checkLengths(node, n, kernel, strides, dilations);
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
  return { batch: x[0], inChannels: x[1], outChannels: w[0], group, kernel, strides, dilations, pads, autoPad, inSpatial, outSpatial };
}

function checkLengths(node: Node, n: number, ...lists: number[][]): void {
  for (const list of lists) {
    if (list.length !== n) throw new ShapeError(`${node.opType} expects ${n} spatial values per attribute, got [${list.join(',')}]`);
    for (const v of list) if (!(v >= 1)) throw new ShapeError(`${node.opType} has a non-positive kernel/stride/dilation ${v}`);
  }
}

function convTransposeShape(ctx: RuleContext): { out: number[]; macs: number } {
  const x = ctx.shape(0);
  const w = ctx.shape(1);
  const n = x.length - 2;
  if (n < 1 || w.length !== x.length) throw new ShapeError(`ConvTranspose input [${x.join(',')}] and weight [${w.join(',')}] do not match`);
  const group = ctx.int('group', 1);
  const kernel = ctx.ints('kernel_shape', w.slice(2));
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const dilations = ctx.ints('dilations', new Array(n).fill(1));
  const outputPadding = ctx.ints('output_padding', new Array(n).fill(0));
  const pads = ctx.ints('pads', new Array(2 * n).fill(0));
  const autoPad = autoPadOf(ctx);
  const explicit = ctx.intsOrNull('output_shape');
  checkLengths(ctx.node, n, kernel, strides, dilations);
  const outChannels = w[1] * group;
  const spatial: number[] = [];
  for (let i = 0; i < n; i++) {
    if (explicit) spatial.push(explicit[explicit.length - n + i]);
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') spatial.push(x[2 + i] * strides[i]);
    else {
      const effK = (kernel[i] - 1) * dilations[i] + 1;
      const p = autoPad === 'VALID' ? 0 : pads[i] + pads[i + n];
      spatial.push(strides[i] * (x[2 + i] - 1) + outputPadding[i] + effK - p);
    }
  }
  // Every input element is multiplied by every weight of its group: in·(M/group)·K.
  const macs = elements(x) * (outChannels / group) * elements(kernel);
  return { out: [x[0], outChannels, ...spatial], macs };
}

export const convOps = defineOps({
  ops: ['Conv', 'ConvTranspose'],
  infer(ctx) {
    const dtype = ctx.input(0).dtype;
    if (ctx.node.opType === 'ConvTranspose') return [{ dtype, shape: convTransposeShape(ctx).out }];
    const g = convGeometry(ctx);
    return [{ dtype, shape: [g.batch, g.outChannels, ...g.outSpatial] }];
  },
  cost(ctx, outputs) {
    if (ctx.node.opType === 'ConvTranspose') return { macs: convTransposeShape(ctx).macs, flops: 0 };
    const w = ctx.shape(1);
    // out_elements · (C_in/group) · prod(kernel); the bias add is not a MAC.
    const macs = elements(outputs[0].shape!) * w[1] * elements(w.slice(2));
    return { macs, flops: 0 };
  },
});
