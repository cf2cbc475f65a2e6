import { NO_COST, ShapeError, UnknownShape, defineOps } from './define.js';
import { bracketed, foldable, state, transposeValues } from './values.js';

/** DepthToSpace, SpaceToDepth: a data-movement family; its folding and cost conventions are in ops/values.ts. */

export const depthSpaceOps = defineOps({
  ops: ['DepthToSpace', 'SpaceToDepth'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (x.shape.length !== 4) throw new ShapeError(`${ctx.node.opType} needs a rank-4 input, got ${bracketed(x.shape)}`);
    const b = ctx.int('blocksize', 0);
    if (b < 1) throw new ShapeError(`${ctx.node.opType} needs a positive blocksize`);
    const [n, c, h, w] = x.shape;
    if (ctx.node.opType === 'DepthToSpace') {
      if (c % (b * b) !== 0) throw new ShapeError(`DepthToSpace channels ${c} are not divisible by blocksize² ${b * b}`);
      const out = [n, c / (b * b), h * b, w * b];
      let value: number[] | undefined;
      if (x.value && foldable(out)) {
        // DCR: [N, b, b, C', H, W] → perm [0,3,4,1,5,2]; CRD (opset 11): [N, C', b, b, H, W] → perm [0,1,4,2,5,3].
        const crd = ctx.opset >= 11 && ctx.string('mode', 'DCR') === 'CRD';
        const tmp = crd ? [n, c / (b * b), b, b, h, w] : [n, b, b, c / (b * b), h, w];
        value = transposeValues(x.value, tmp, crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]);
      }
      return [state(x.dtype, out, value)];
    }
    if (h % b !== 0 || w % b !== 0) throw new ShapeError(`SpaceToDepth input ${bracketed(x.shape)} is not divisible by blocksize ${b}`);
    const out = [n, c * b * b, h / b, w / b];
    const value = x.value && foldable(out) ? transposeValues(x.value, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4]) : undefined;
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});
