import { DataType } from '../onnx/dtype.js';
import { type RuleContext, ShapeError, type TensorState, UnknownShape, axisOf, defineOps, elements } from './define.js';
import { TFLITE_DOMAIN, constantInts, fusedActivationFlops, nhwc, output, outputDtype } from './tflite-common.js';

/**
 * TFLite data movement: RESHAPE, SQUEEZE, EXPAND_DIMS, CONCATENATION, PAD/PADV2/MIRROR_PAD, TRANSPOSE, SLICE,
 * STRIDED_SLICE, GATHER, SPLIT/SPLIT_V, PACK/UNPACK, DEPTH_TO_SPACE/SPACE_TO_DEPTH, TILE, SHAPE. Shapes from the TFLite
 * kernels' definitions (tensorflow/lite/kernels/*.cc); they cost 0 FLOPs (README, "Counting conventions"), but a
 * CONCATENATION with a fused activation counts it. SHAPE carries its value, and the rules that move a small
 * vector (STRIDED_SLICE, PACK, CONCATENATION, RESHAPE…) keep it, so shape arithmetic folds.
 */

function reshape(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const given = ctx.has(1) && ctx.inputs[1]?.value ? constantInts(ctx, 1) : ctx.intsOrNull('new_shape');
  if (!given) throw new UnknownShape('the new shape is only known at run time');
  const total = elements(x);
  const known = given.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = given.map((d) => (d === -1 ? (known === 0 ? 0 : total / known) : d));
  if (given.filter((d) => d === -1).length > 1 || out.some((d) => !Number.isInteger(d) || d < 0) || elements(out) !== total) {
    throw new ShapeError(`RESHAPE cannot make [${x.join(',')}] into [${given.join(',')}]`);
  }
  return out;
}

/** A strided slice of a rank-1 tensor with known values (shape arithmetic: SHAPE → STRIDED_SLICE → PACK). */
function slicedValue(ctx: RuleContext, out: number[]): number[] | undefined {
  const x = ctx.inputs[0];
  if (!x?.value || x.shape?.length !== 1) return undefined;
  const dim = x.shape[0];
  const [b0] = constantInts(ctx, 1);
  const s = ctx.has(3) ? constantInts(ctx, 3)[0] : 1;
  const begin = (ctx.int('begin_mask', 0) & 1) ? (s > 0 ? 0 : dim - 1) : b0 < 0 ? b0 + dim : b0;
  const count = out.length === 0 ? 1 : out[0];
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(x.value[begin + i * s]);
  return values.every((v) => v !== undefined) ? values : undefined;
}

function stridedSlice(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const begin = constantInts(ctx, 1);
  const end = constantInts(ctx, 2);
  const strides = ctx.has(3) ? constantInts(ctx, 3) : begin.map(() => 1);
  if (ctx.int('ellipsis_mask', 0) || ctx.int('new_axis_mask', 0)) throw new UnknownShape('STRIDED_SLICE with an ellipsis or new axis mask is not inferred');
  const offset = ctx.int('offset', 0) !== 0;
  const out: number[] = [];
  x.forEach((dim, i) => {
    if (i >= begin.length) {
      out.push(dim);
      return;
    }
    const s = strides[i];
    if (!s) throw new ShapeError('STRIDED_SLICE has a zero stride');
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    const norm = (v: number) => (v < 0 ? v + dim : v);
    let b = (ctx.int('begin_mask', 0) >> i) & 1 ? (s > 0 ? 0 : dim - 1) : norm(begin[i]);
    let e = (ctx.int('end_mask', 0) >> i) & 1 ? (s > 0 ? dim : -1) : offset ? b + end[i] : norm(end[i]);
    if ((ctx.int('shrink_axis_mask', 0) >> i) & 1) return;
    b = s > 0 ? clamp(b, 0, dim) : clamp(b, -1, dim - 1);
    e = s > 0 ? clamp(e, 0, dim) : clamp(e, -1, dim - 1);
    out.push(Math.max(0, Math.ceil((e - b) / s)));
  });
  return out;
}

/** A reshaped tensor keeps its values (same order). */
function withValue(ctx: RuleContext, state: TensorState): TensorState {
  const value = ctx.inputs[0]?.value;
  return value ? { ...state, value } : state;
}

function infer(ctx: RuleContext): TensorState[] {
  const op = ctx.node.opType;
  switch (op) {
    case 'RESHAPE':
      return [withValue(ctx, output(ctx, reshape(ctx)))];
    case 'SQUEEZE': {
      const x = ctx.shape(0);
      const dims = new Set((ctx.intsOrNull('squeeze_dims') ?? []).map((a) => axisOf(a, x.length, ctx.node)));
      return [withValue(ctx, output(ctx, x.filter((d, i) => (dims.size ? !dims.has(i) : d !== 1))))];
    }
    case 'EXPAND_DIMS': {
      const x = ctx.shape(0);
      const axis = axisOf(constantInts(ctx, 1)[0] ?? 0, x.length + 1, ctx.node);
      return [withValue(ctx, output(ctx, [...x.slice(0, axis), 1, ...x.slice(axis)]))];
    }
    case 'CONCATENATION': {
      const shapes = ctx.node.inputs.map((_, i) => ctx.shape(i));
      const axis = axisOf(ctx.int('axis', 0), shapes[0].length, ctx.node);
      const out = shapes[0].slice();
      out[axis] = shapes.reduce((sum, s) => sum + s[axis], 0);
      const values = out.length === 1 ? ctx.inputs.map((i) => i?.value) : [];
      const state = output(ctx, out);
      return [values.length > 0 && values.every((v) => v) ? { ...state, value: values.flatMap((v) => v!) } : state];
    }
    case 'PAD':
    case 'PADV2':
    case 'MIRROR_PAD': {
      const x = ctx.shape(0);
      const p = constantInts(ctx, 1);
      if (p.length !== 2 * x.length) throw new ShapeError(`${op} paddings must be [${x.length}, 2], got ${p.length} values`);
      return [output(ctx, x.map((d, i) => d + p[2 * i] + p[2 * i + 1]))];
    }
    case 'TRANSPOSE': {
      const x = ctx.shape(0);
      const perm = constantInts(ctx, 1);
      if (perm.length !== x.length) throw new ShapeError(`TRANSPOSE perm [${perm.join(',')}] does not match rank ${x.length}`);
      return [output(ctx, perm.map((p) => x[axisOf(p, x.length, ctx.node)]))];
    }
    case 'SLICE': {
      const x = ctx.shape(0);
      const begin = constantInts(ctx, 1);
      const size = constantInts(ctx, 2);
      return [output(ctx, x.map((d, i) => (size[i] === -1 ? d - begin[i] : size[i])))];
    }
    case 'STRIDED_SLICE': {
      const state = output(ctx, stridedSlice(ctx));
      const value = slicedValue(ctx, state.shape!);
      return [value ? { ...state, value } : state];
    }
    case 'GATHER': {
      const x = ctx.shape(0);
      const indices = ctx.shape(1);
      const axis = axisOf(ctx.int('axis', 0), x.length, ctx.node);
      const batchDims = ctx.int('batch_dims', 0);
      return [output(ctx, [...x.slice(0, axis), ...indices.slice(batchDims), ...x.slice(axis + 1)])];
    }
    case 'SPLIT': {
      const x = ctx.shape(1);
      const axis = axisOf(constantInts(ctx, 0)[0] ?? 0, x.length, ctx.node);
      const n = ctx.int('num_splits', ctx.node.outputs.length);
      if (!(n >= 1) || x[axis] % n !== 0) throw new ShapeError(`SPLIT cannot cut ${x[axis]} into ${n} equal parts`);
      return ctx.node.outputs.map(() => output(ctx, x.map((d, i) => (i === axis ? d / n : d)), 1));
    }
    case 'SPLIT_V': {
      const x = ctx.shape(0);
      const axis = axisOf(constantInts(ctx, 2)[0] ?? 0, x.length, ctx.node);
      const sizes = constantInts(ctx, 1);
      const rest = x[axis] - sizes.reduce((s, v) => (v === -1 ? s : s + v), 0);
      return sizes.map((size) => output(ctx, x.map((d, i) => (i === axis ? (size === -1 ? rest : size) : d))));
    }
    case 'PACK': {
      const x = ctx.shape(0);
      const axis = axisOf(ctx.int('axis', 0), x.length + 1, ctx.node);
      const state = output(ctx, [...x.slice(0, axis), ctx.node.inputs.length, ...x.slice(axis)]);
      // Scalars packed into a shape vector (the flatten before a RESHAPE) keep their values.
      const values = x.length === 0 ? ctx.inputs.map((i) => i?.value) : [];
      return [values.length > 0 && values.every((v) => v) ? { ...state, value: values.flatMap((v) => v!) } : state];
    }
    case 'UNPACK': {
      const x = ctx.shape(0);
      const axis = axisOf(ctx.int('axis', 0), x.length, ctx.node);
      return ctx.node.outputs.map(() => output(ctx, x.filter((_, i) => i !== axis)));
    }
    case 'DEPTH_TO_SPACE':
    case 'SPACE_TO_DEPTH': {
      const [n, h, w, c] = nhwc(ctx, 0);
      const b = ctx.int('block_size', 0);
      if (!(b >= 1)) throw new ShapeError(`${op} has block_size ${b}`);
      if (op === 'DEPTH_TO_SPACE') {
        if (c % (b * b) !== 0) throw new ShapeError(`DEPTH_TO_SPACE channels ${c} are not a multiple of ${b * b}`);
        return [output(ctx, [n, h * b, w * b, c / (b * b)])];
      }
      if (h % b !== 0 || w % b !== 0) throw new ShapeError(`SPACE_TO_DEPTH ${h}×${w} is not a multiple of ${b}`);
      return [output(ctx, [n, h / b, w / b, c * b * b])];
    }
    case 'TILE': {
      const x = ctx.shape(0);
      const multiples = constantInts(ctx, 1);
      if (multiples.length !== x.length) throw new ShapeError(`TILE multiples [${multiples.join(',')}] do not match rank ${x.length}`);
      return [output(ctx, x.map((d, i) => d * multiples[i]))];
    }
    case 'SHAPE': {
      const x = ctx.shape(0);
      return [{ dtype: outputDtype(ctx, 0, DataType.INT32), shape: [x.length], value: x.slice() }];
    }
    default:
      throw new ShapeError(`no shape rule for ${op}`);
  }
}

export const tfliteLayoutOps = defineOps({
  domain: TFLITE_DOMAIN,
  ops: [
    'RESHAPE', 'SQUEEZE', 'EXPAND_DIMS', 'CONCATENATION', 'PAD', 'PADV2', 'MIRROR_PAD', 'TRANSPOSE', 'SLICE',
    'STRIDED_SLICE', 'GATHER', 'SPLIT', 'SPLIT_V', 'PACK', 'UNPACK', 'DEPTH_TO_SPACE', 'SPACE_TO_DEPTH', 'TILE', 'SHAPE',
  ],
  infer,
  cost(ctx, outputs) {
    return { macs: 0, flops: ctx.node.opType === 'CONCATENATION' ? fusedActivationFlops(ctx, outputs[0].shape!) : 0 };
  },
});
