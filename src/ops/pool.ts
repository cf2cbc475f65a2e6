import { DataType } from '../onnx/dtype.js';
import { type RuleContext, ShapeError, defineOps, elements } from './define.js';

/**
 * Pooling. Shapes as Conv (see conv.ts) with eff_k = (k − 1)·d + 1, except that ceil_mode = 1 rounds up:
 *   NOTSET/VALID out = ceil((in + pads − eff_k) / s) + 1, then one less if that last window would start in the end
 *   padding, i.e. if (out − 1)·s ≥ in + pad_begin (onnx/onnx#5741, as ONNX Runtime does);
 *   SAME_* out = ceil(in / s) whatever ceil_mode. VALID (pads 0) honours ceil_mode too, as ONNX Runtime 1.2x
 *   computes it (checked: [6], k 3, s 2, VALID, ceil_mode 1 → 3; the spec's VALID formula ceil((in − eff_k + 1)/s)
 *   gives the floor-mode 2). ORT's own shape inference lacks the last-window rule; its kernels apply it.
 * MaxPool's optional Indices output is int64 with Y's shape.
 * Counting convention (FLOPs, no MACs): MaxPool/AveragePool/LpPool output elements × prod(kernel_shape) (padding
 * included); GlobalAveragePool/GlobalMaxPool/GlobalLpPool one per input element.
 */

export function poolSpatial(ctx: RuleContext): { out: number[]; kernel: number[] } {
  const x = ctx.shape(0);
  const op = ctx.node.opType;
  if (x.length < 3) throw new ShapeError(`${op} input must have rank ≥ 3, got [${x.join(',')}]`);
  const n = x.length - 2;
  const kernel = ctx.intsOrNull('kernel_shape');
  if (!kernel) throw new ShapeError(`${op} has no kernel_shape`);
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const dilations = ctx.ints('dilations', new Array(n).fill(1));
  const pads = ctx.ints('pads', new Array(2 * n).fill(0));
  const ceil = ctx.int('ceil_mode', 0) === 1;
  const autoPad = ctx.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw new ShapeError(`${op} has an invalid auto_pad '${autoPad}'`);
  for (const [name, list] of [['kernel_shape', kernel], ['strides', strides], ['dilations', dilations]] as const) {
    if (list.length !== n) throw new ShapeError(`${op} ${name} has ${list.length} values for ${n} spatial dims`);
    if (list.some((v) => !(v >= 1))) throw new ShapeError(`${op} has a non-positive ${name} value`);
  }
  if (pads.length !== 2 * n) throw new ShapeError(`${op} pads has ${pads.length} values for ${n} spatial dims`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = x[2 + i];
    const s = strides[i];
    const effK = (kernel[i] - 1) * dilations[i] + 1;
    let o: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') o = Math.ceil(input / s);
    else {
      const begin = autoPad === 'VALID' ? 0 : pads[i];
      const total = autoPad === 'VALID' ? 0 : pads[i] + pads[i + n];
      const span = input + total - effK;
      if (span < 0) throw new ShapeError(`${op} kernel ${kernel[i]} (dilated ${effK}) exceeds padded input ${input + total}`);
      o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      if (ceil && (o - 1) * s >= input + begin) o -= 1;
    }
    if (o < 1) throw new ShapeError(`${op} output dim ${i} would be ${o}`);
    out.push(o);
  }
  return { out, kernel };
}

const GLOBAL = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);

export const poolOps = defineOps({
  ops: ['MaxPool', 'AveragePool', 'LpPool', ...GLOBAL],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.shape(0);
    const dtype = ctx.input(0).dtype;
    if (GLOBAL.has(op)) {
      if (x.length < 2) throw new ShapeError(`${op} input must have rank ≥ 2, got [${x.join(',')}]`);
      return [{ dtype, shape: [x[0], x[1], ...x.slice(2).map(() => 1)] }];
    }
    const { out } = poolSpatial(ctx);
    const shape = [x[0], x[1], ...out];
    if (op === 'MaxPool') return [{ dtype, shape }, { dtype: DataType.INT64, shape: shape.slice() }];
    return [{ dtype, shape }];
  },
  cost(ctx, outputs) {
    if (GLOBAL.has(ctx.node.opType)) return { macs: 0, flops: elements(ctx.shape(0)) };
    const { kernel } = poolSpatial(ctx);
    return { macs: 0, flops: elements(outputs[0].shape!) * elements(kernel) };
  },
});
