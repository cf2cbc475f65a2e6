import { type RuleContext, ShapeError, UnknownShape, axisOf, defineOps, elements } from './define.js';

/**
 * Resize (opsets 10, 11, 13, 18, 19) and Upsample (1, 7, 9; deprecated at 10).
 *
 * Output shape, as onnx's shape inference (onnx/defs/tensor/utils.cc) and ONNX Runtime compute it:
 * - from scales: out[i] = floor(float32(in[i]) · scales[i]) in float32 arithmetic. The roi input is ignored for the
 *   shape (also for tf_crop_and_resize), as both do.
 * - from sizes (opset 11+; used when the sizes input is present and non-empty): out = sizes, except with
 *   keep_aspect_ratio_policy (opset 18) not_larger / not_smaller: scale = min / max over the resized axes of
 *   sizes[i] / in[i] (float32), out[axis] = round(scale · in[axis]) (round half away from zero, like std::roundf).
 * - axes (opset 18) lists the axes that scales / sizes refer to; the others keep their size.
 *
 * Cost convention (flops per output element; macs 0): nearest 0; linear 2·a; cubic 8·a, where a is the number of
 * axes whose size changes. Linear interpolation along one axis is one multiply-add per output element per side
 * (2 flops), cubic four taps (8 flops); separable filters apply once per resized axis.
 */

function floatAttrScales(ctx: RuleContext, rank: number): number[] {
  if (ctx.opset < 7) {
    // Upsample-1: 4-D NCHW only, height_scale / width_scale attributes.
    if (rank !== 4) throw new ShapeError(`Upsample-1 needs a 4-D input, got rank ${rank}`);
    return [1, 1, ctx.float('height_scale', 1), ctx.float('width_scale', 1)];
  }
  return ctx.floats('scales', []);
}

function fromScales(x: number[], scales: number[], axes: number[], op: string): number[] {
  if (scales.length !== axes.length) throw new ShapeError(`${op} has ${scales.length} scales for ${axes.length} axes`);
  const out = x.slice();
  axes.forEach((a, i) => {
    const s = scales[i];
    if (!(s > 0)) throw new ShapeError(`${op} scale ${s} must be positive`);
    out[a] = Math.floor(Math.fround(Math.fround(x[a]) * Math.fround(s)));
  });
  return out;
}

function outputShape(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const r = x.length;
  const op = ctx.node.opType;
  const all = x.map((_, i) => i);
  if (op === 'Upsample') {
    const scales = ctx.opset < 9 ? floatAttrScales(ctx, r) : ctx.values(1);
    return fromScales(x, scales, all, op);
  }
  if (ctx.opset < 11) return fromScales(x, ctx.values(1), all, op);
  let axes = all;
  if (ctx.opset >= 18) {
    const given = ctx.intsOrNull('axes');
    if (given) {
      axes = given.map((a) => axisOf(a, r, ctx.node));
      if (new Set(axes).size !== axes.length) throw new ShapeError(`Resize has repeated axes [${given.join(',')}]`);
    }
  }
  // sizes is used when present and non-empty; an empty scales tensor marks "not given" (opsets 11–12 require it).
  if (ctx.has(3)) {
    const sizesShape = ctx.shape(3);
    if (elements(sizesShape) > 0) {
      const sizes = ctx.values(3).map((v) => Math.trunc(v));
      if (sizes.length !== axes.length) throw new ShapeError(`Resize has ${sizes.length} sizes for ${axes.length} axes`);
      const policy = ctx.opset >= 18 ? ctx.string('keep_aspect_ratio_policy', 'stretch') : 'stretch';
      const out = x.slice();
      if (policy === 'stretch') {
        axes.forEach((a, i) => (out[a] = sizes[i]));
      } else if (policy === 'not_larger' || policy === 'not_smaller') {
        let scale = policy === 'not_larger' ? Infinity : -Infinity;
        axes.forEach((a, i) => {
          const s = Math.fround(sizes[i] / x[a]);
          scale = policy === 'not_larger' ? Math.min(scale, s) : Math.max(scale, s);
        });
        axes.forEach((a) => (out[a] = Math.round(Math.fround(scale * x[a]))));
      } else throw new ShapeError(`Resize has an unknown keep_aspect_ratio_policy '${policy}'`);
      if (out.some((d) => d < 0)) throw new ShapeError(`Resize sizes [${sizes.join(',')}] are negative`);
      return out;
    }
  }
  if (!ctx.has(2)) throw new ShapeError('Resize needs scales or sizes');
  const scales = ctx.values(2);
  if (scales.length === 0) throw new ShapeError('Resize has empty scales and no sizes');
  return fromScales(x, scales, axes, op);
}

function mode(ctx: RuleContext): string {
  const m = ctx.string('mode', 'nearest').toLowerCase();
  if (m === 'bilinear' || m === 'trilinear') return 'linear';
  return m;
}

export const resizeOps = defineOps({
  ops: ['Resize', 'Upsample'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const m = mode(ctx);
    if (!['nearest', 'linear', 'cubic'].includes(m)) throw new ShapeError(`${ctx.node.opType} has an unknown mode '${m}'`);
    return [{ dtype: x.dtype, shape: outputShape(ctx) }];
  },
  cost(ctx, outputs) {
    const x = ctx.shape(0);
    const out = outputs[0].shape!;
    const resized = out.filter((d, i) => d !== x[i]).length;
    const perElement = { nearest: 0, linear: 2, cubic: 8 }[mode(ctx)] ?? 0;
    return { macs: 0, flops: elements(out) * perElement * resized };
  },
});
