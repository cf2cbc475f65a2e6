import { attr, type Node } from '../ir/types.js';
import type { TensorState } from '../ops/define.js';
import { checkCount, product } from '../util/count.js';

/**
 * What separating a convolution would cost, in the MobileNet paper's terms: M input channels, N output channels,
 * D_K the kernel, D_F the output feature map. Standard: D_K²·M·N·D_F²; depthwise + pointwise (multiplier r):
 * r·(D_K²·M·D_F² + M·N·D_F²). For a grouped conv the pointwise keeps the groups, so the per-group reduction is
 * r·(g/N + 1/K) — the MobileNet 1/N + 1/D_K² with N/g outputs per group.
 */
export interface SeparableInfo {
  M: number;
  N: number;
  group: number;
  kernel: number[];
  /** Output spatial dims (D_F). */
  featureMap: number[];
  multiplier: number;
  macs: number;
  params: number;
  macsAfter: number;
  paramsAfter: number;
  /** Theoretical ratio after/before: r·(g/N + 1/prod(kernel)). */
  reduction: number;
}

/** What the rewrite needs: channels, groups and kernel, all read from the weight; no feature-map size. */
export interface ConvGeometry {
  inChannels: number;
  outChannels: number;
  group: number;
  kernel: number[];
  hasBias: boolean;
}

/** A conv whose output shape is known too, so that its MACs can be counted. */
export interface ConvShape extends ConvGeometry {
  outSpatial: number[];
  batch: number;
}

/** Conv geometry from its node and its weight's dims, or null when it is not a plain Conv with a usable weight. */
export function convGeometry(node: Node, weightDims: readonly number[] | null | undefined): ConvGeometry | null {
  if (node.opType !== 'Conv' || node.domain !== '') return null;
  if (!weightDims || weightDims.length < 3 || !weightDims.every((d) => Number.isInteger(d) && d > 0)) return null;
  const groupAttr = attr(node, 'group');
  const group = groupAttr && groupAttr.data.type === 'int' ? groupAttr.data.value : 1;
  if (!(group > 0) || weightDims[0] % group !== 0) return null;
  return {
    inChannels: weightDims[1] * group,
    outChannels: weightDims[0],
    group,
    kernel: weightDims.slice(2),
    hasBias: node.inputs.length > 2 && node.inputs[2] !== '',
  };
}

/** Conv geometry from a layer's node and its inferred input/output states, or null when it is not a candidate. */
export function convShapeOf(node: Node, inputs: (TensorState | null)[], outputs: (TensorState | null)[]): ConvShape | null {
  const g = convGeometry(node, inputs[1]?.shape);
  const y = outputs[0]?.shape;
  if (!g || !y) return null;
  return { ...g, outSpatial: y.slice(2), batch: y[0] };
}

/** Whether a conv is a "standard" one that separation applies to: not depthwise, spatial kernel larger than 1. */
export function isSeparable(c: ConvGeometry): boolean {
  const k = product(c.kernel);
  const depthwise = c.group === c.inChannels && c.group > 1;
  return k > 1 && !depthwise;
}

export function separableCost(c: ConvShape, multiplier = 1): SeparableInfo {
  const pixels = product([c.batch, ...c.outSpatial]);
  const figures = separationFigures(c, multiplier, pixels);
  return { ...figures, featureMap: c.outSpatial, macs: figures.macs!, macsAfter: figures.macsAfter! };
}

/** SeparableInfo without a feature map: MACs are null when the output size is unknown (params and ratio are not). */
export type SeparationFigures = Omit<SeparableInfo, 'featureMap' | 'macs' | 'macsAfter'> & { macs: number | null; macsAfter: number | null };

/**
 * The figures of separating one conv at multiplier r. Params and the ratio r·(g/N + 1/K) need only the weight's
 * geometry; MACs need the number of output pixels (batch × feature map), null when unknown.
 */
export function separationFigures(c: ConvGeometry, multiplier: number, pixels: number | null): SeparationFigures {
  const K = product(c.kernel);
  const M = c.inChannels;
  const N = c.outChannels;
  const g = c.group;
  const bias = c.hasBias ? N : 0;
  return {
    M,
    N,
    group: g,
    kernel: c.kernel,
    multiplier,
    macs: pixels === null ? null : pixels * N * (M / g) * K,
    params: N * (M / g) * K + bias,
    // A large depth multiplier can make the pair cost more than the conv itself: still a count, still bounded.
    macsAfter: pixels === null ? null : checkCount(pixels * M * multiplier * K + pixels * N * ((M * multiplier) / g), 'the separated MAC count'),
    paramsAfter: M * multiplier * K + N * ((M * multiplier) / g) + bias,
    reduction: multiplier * (g / N + 1 / K),
  };
}
