import { DataType } from '../onnx/dtype.js';
import { convOutputShape } from './conv.js';
import { NO_COST, type RuleContext, ShapeError, UnknownShape, defineOps, elements } from './define.js';

/**
 * Detection and sampling operators: RoiAlign, MaxRoiPool, MaxUnpool, GridSample, AffineGrid, Col2Im, CenterCropPad,
 * DeformConv, NonMaxSuppression (shapes from onnx/defs/object_detection, nn, image and tensor defs).
 *
 * Counting convention (MACs only where there is a weight product; else FLOPs):
 * - Sampling follows Resize (resize.ts): linear interpolation costs 2 FLOPs per interpolated axis (two taps), cubic
 *   8 per axis (four taps), nearest 0.
 *   GridSample: per output element, 2·d (linear), 8·d (cubic), 0 (nearest), d = spatial rank.
 *   RoiAlign: per output element, samples · 2·2 (one bilinear sample over 2 axes per sampling point), plus
 *   samples − 1 for the avg/max over the points; samples = sampling_ratio², and for sampling_ratio 0 (adaptive,
 *   ceil(roi_size / output_size) per axis: it depends on the boxes) 2×2 = 4 is assumed, with a note.
 * - MaxRoiPool: each output element compares every element of its bin; the boxes are data, so a box covering the
 *   whole feature map is assumed (an upper bound): num_rois · C · H · W FLOPs.
 * - AffineGrid: the grid is a batched matmul of the homogeneous base grid [prod(spatial), r+1] by θᵀ [r+1, r]
 *   (as the spec's function body): MACs = N · prod(spatial) · r · (r+1), r = 2 (2-D) or 3 (3-D).
 * - Col2Im: one add per input element (overlapping blocks are summed).
 * - DeformConv: the Conv MACs, out_elements · (C/group) · prod(kernel), plus the sampling of the input at offset
 *   positions, N · C · prod(out spatial) · prod(kernel) · (4 + 1 with mask) FLOPs (one bilinear sample over 2 axes,
 *   and the mask multiply). Bias adds are not counted.
 * - MaxUnpool and CenterCropPad move data: 0.
 * - NonMaxSuppression: the number of selected boxes depends on the data, so the output [num_selected, 3] is unknown
 *   (UnknownShape, whose message gives the upper bound) and the layer is not counted; except that with
 *   max_output_boxes_per_class absent or 0 nothing is selected: [0, 3], cost 0.
 */

function spatialRank(ctx: RuleContext, x: number[], min = 3): number {
  if (x.length < min) throw new ShapeError(`${ctx.node.opType} input must have rank ≥ ${min}, got [${x.join(',')}]`);
  return x.length - 2;
}

/** The opset-16 mode names (bilinear, bicubic) mapped to the opset-20 ones. */
function gridMode(ctx: RuleContext): string {
  const m = ctx.string('mode', ctx.opset >= 20 ? 'linear' : 'bilinear');
  const mode = m === 'bilinear' ? 'linear' : m === 'bicubic' ? 'cubic' : m;
  if (!['linear', 'nearest', 'cubic'].includes(mode)) throw new ShapeError(`GridSample has an unknown mode '${m}'`);
  return mode;
}

function roiAlignSamples(ctx: RuleContext): number {
  const s = ctx.int('sampling_ratio', 0);
  if (s > 0) return s * s;
  ctx.note({ code: 'roi-align-adaptive-sampling' });
  return 4;
}

function maxUnpoolShape(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const n = spatialRank(ctx, x);
  if (ctx.has(2)) {
    const given = ctx.values(2).map(Math.trunc);
    if (given.length !== x.length) throw new ShapeError(`MaxUnpool output_shape [${given.join(',')}] has rank ${given.length}, input ${x.length}`);
    return given;
  }
  const kernel = ctx.intsOrNull('kernel_shape');
  if (!kernel || kernel.length !== n) throw new ShapeError(`MaxUnpool needs kernel_shape with ${n} values`);
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const pads = ctx.ints('pads', new Array(2 * n).fill(0));
  if (strides.length !== n || pads.length !== 2 * n) throw new ShapeError('MaxUnpool strides/pads do not match the spatial rank');
  const out = x.slice(0, 2);
  for (let i = 0; i < n; i++) {
    const d = (x[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n];
    if (d < 1) throw new ShapeError(`MaxUnpool output dim ${i} would be ${d}`);
    out.push(d);
  }
  return out;
}

function affineGrid(ctx: RuleContext): { out: number[]; r: number; n: number; spatial: number[] } {
  const theta = ctx.shape(0);
  const size = ctx.values(1).map(Math.trunc);
  if (size.length !== 4 && size.length !== 5) throw new ShapeError(`AffineGrid size must have 4 or 5 values, got [${size.join(',')}]`);
  const r = size.length - 2;
  if (theta.length !== 3 || theta[1] !== r || theta[2] !== r + 1 || theta[0] !== size[0]) {
    throw new ShapeError(`AffineGrid theta [${theta.join(',')}] does not match size [${size.join(',')}] (expected [${size[0]},${r},${r + 1}])`);
  }
  const spatial = size.slice(2);
  return { out: [size[0], ...spatial, r], r, n: size[0], spatial };
}

function col2im(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const image = ctx.values(1).map(Math.trunc);
  const block = ctx.values(2).map(Math.trunc);
  const n = image.length;
  if (x.length !== 3) throw new ShapeError(`Col2Im input must be [N, C·prod(block), L], got [${x.join(',')}]`);
  if (block.length !== n) throw new ShapeError(`Col2Im image_shape and block_shape differ in length`);
  const dil = ctx.ints('dilations', new Array(n).fill(1));
  const strides = ctx.ints('strides', new Array(n).fill(1));
  const pads = ctx.ints('pads', new Array(2 * n).fill(0));
  const kernelSize = elements(block);
  if (x[1] % kernelSize !== 0) throw new ShapeError(`Col2Im input dim 1 (${x[1]}) is not a multiple of prod(block_shape) ${kernelSize}`);
  let blocks = 1;
  for (let i = 0; i < n; i++) {
    const eff = (block[i] - 1) * dil[i] + 1;
    blocks *= Math.floor((image[i] + pads[i] + pads[i + n] - eff) / strides[i]) + 1;
  }
  if (blocks !== x[2]) throw new ShapeError(`Col2Im input has L = ${x[2]} blocks, image_shape/block_shape give ${blocks}`);
  return [x[0], x[1] / kernelSize, ...image];
}

function centerCropPad(ctx: RuleContext): number[] {
  const x = ctx.shape(0);
  const target = ctx.values(1).map(Math.trunc);
  const axes = ctx.ints('axes', x.map((_, i) => i)).map((a) => (a < 0 ? a + x.length : a));
  if (axes.length !== target.length) throw new ShapeError(`CenterCropPad shape has ${target.length} values for ${axes.length} axes`);
  const out = x.slice();
  axes.forEach((a, i) => {
    if (a < 0 || a >= x.length) throw new ShapeError(`CenterCropPad axis ${axes[i]} is out of range for rank ${x.length}`);
    out[a] = target[i];
  });
  return out;
}

export const visionOps = defineOps({
  ops: ['RoiAlign', 'MaxRoiPool', 'MaxUnpool', 'GridSample', 'AffineGrid', 'Col2Im', 'CenterCropPad', 'DeformConv', 'NonMaxSuppression'],
  infer(ctx) {
    const op = ctx.node.opType;
    const dtype = ctx.input(0).dtype;
    switch (op) {
      case 'RoiAlign': {
        const x = ctx.shape(0);
        const rois = ctx.shape(1);
        if (x.length !== 4) throw new ShapeError(`RoiAlign input must be [N,C,H,W], got [${x.join(',')}]`);
        if (rois.length !== 2 || rois[1] !== 4) throw new ShapeError(`RoiAlign rois must be [num_rois, 4], got [${rois.join(',')}]`);
        const idx = ctx.inputs[2]?.shape;
        if (idx && (idx.length !== 1 || idx[0] !== rois[0])) throw new ShapeError(`RoiAlign batch_indices [${idx.join(',')}] do not match ${rois[0]} rois`);
        return [{ dtype, shape: [rois[0], x[1], ctx.int('output_height', 1), ctx.int('output_width', 1)] }];
      }
      case 'MaxRoiPool': {
        const x = ctx.shape(0);
        const rois = ctx.shape(1);
        const pooled = ctx.intsOrNull('pooled_shape');
        if (!pooled || pooled.length !== 2) throw new ShapeError('MaxRoiPool needs pooled_shape [h, w]');
        if (x.length !== 4) throw new ShapeError(`MaxRoiPool input must be [N,C,H,W], got [${x.join(',')}]`);
        if (rois.length !== 2 || rois[1] !== 5) throw new ShapeError(`MaxRoiPool rois must be [num_rois, 5], got [${rois.join(',')}]`);
        return [{ dtype, shape: [rois[0], x[1], pooled[0], pooled[1]] }];
      }
      case 'MaxUnpool':
        return [{ dtype, shape: maxUnpoolShape(ctx) }];
      case 'GridSample': {
        const x = ctx.shape(0);
        const grid = ctx.shape(1);
        const n = spatialRank(ctx, x);
        gridMode(ctx);
        if (grid.length !== x.length || grid[0] !== x[0] || grid[grid.length - 1] !== n) {
          throw new ShapeError(`GridSample grid [${grid.join(',')}] does not match input [${x.join(',')}] (expected [N, …out, ${n}])`);
        }
        return [{ dtype, shape: [x[0], x[1], ...grid.slice(1, -1)] }];
      }
      case 'AffineGrid':
        return [{ dtype, shape: affineGrid(ctx).out }];
      case 'Col2Im':
        return [{ dtype, shape: col2im(ctx) }];
      case 'CenterCropPad':
        return [{ dtype, shape: centerCropPad(ctx) }];
      case 'DeformConv': {
        const g = convOutputShape(ctx);
        return [{ dtype, shape: [g.batch, g.outChannels, ...g.outSpatial] }];
      }
      default: {
        // NonMaxSuppression: [num_selected, 3] int64, num_selected known only at run time.
        const boxes = ctx.shape(0);
        const scores = ctx.shape(1);
        if (boxes.length !== 3 || boxes[2] !== 4) throw new ShapeError(`NonMaxSuppression boxes must be [N, boxes, 4], got [${boxes.join(',')}]`);
        if (scores.length !== 3 || scores[0] !== boxes[0] || scores[2] !== boxes[1]) {
          throw new ShapeError(`NonMaxSuppression scores [${scores.join(',')}] do not match boxes [${boxes.join(',')}]`);
        }
        // max_output_boxes_per_class absent (or 0) selects nothing: the output is [0, 3], known.
        const limit = ctx.has(2) ? ctx.inputs[2]?.value?.[0] : 0;
        if (limit !== undefined && limit <= 0) return [{ dtype: DataType.INT64, shape: [0, 3] }];
        const perClass = limit === undefined ? boxes[1] : Math.min(boxes[1], limit);
        throw new UnknownShape(`output shape unknown: [?, 3], the number of selected boxes (at most ${scores[0] * scores[1] * perClass}) is only known at run time`);
      }
    }
  },
  cost(ctx, outputs) {
    const op = ctx.node.opType;
    const out = outputs[0].shape!;
    switch (op) {
      case 'RoiAlign': {
        const s = roiAlignSamples(ctx);
        return { macs: 0, flops: elements(out) * (s * 4 + s - 1) };
      }
      case 'MaxRoiPool': {
        const x = ctx.shape(0);
        return { macs: 0, flops: out[0] * x[1] * x[2] * x[3] };
      }
      case 'GridSample': {
        const d = out.length - 2;
        const per = { linear: 2, cubic: 8, nearest: 0 }[gridMode(ctx)] ?? 0;
        return { macs: 0, flops: elements(out) * per * d };
      }
      case 'AffineGrid': {
        const { r, n, spatial } = affineGrid(ctx);
        return { macs: n * elements(spatial) * r * (r + 1), flops: 0 };
      }
      case 'Col2Im':
        return { macs: 0, flops: elements(ctx.shape(0)) };
      case 'DeformConv': {
        const g = convOutputShape(ctx);
        const w = ctx.shape(1);
        const macs = elements(out) * w[1] * elements(w.slice(2));
        const perSample = 4 + (ctx.has(4) ? 1 : 0);
        return { macs, flops: g.batch * g.inChannels * elements(g.outSpatial) * elements(g.kernel) * perSample };
      }
      default:
        return NO_COST;
    }
  },
});
