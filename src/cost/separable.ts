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

export interface ConvShape {
  inChannels: number;
  outChannels: number;
  group: number;
  kernel: number[];
  outSpatial: number[];
  batch: number;
  hasBias: boolean;
}

/** Conv geometry from a layer's node and its inferred input/output states, or null when it is not a candidate. */
export function convShapeOf(node: Node, inputs: (TensorState | null)[], outputs: (TensorState | null)[]): ConvShape | null {
  if (node.opType !== 'Conv' || node.domain !== '') return null;
  const w = inputs[1]?.shape;
  const y = outputs[0]?.shape;
  if (!w || !y || w.length < 3) return null;
  const groupAttr = attr(node, 'group');
  const group = groupAttr && groupAttr.data.type === 'int' ? groupAttr.data.value : 1;
  return {
    inChannels: w[1] * group,
    outChannels: w[0],
    group,
    kernel: w.slice(2),
    outSpatial: y.slice(2),
    batch: y[0],
    hasBias: node.inputs.length > 2 && node.inputs[2] !== '',
  };
}

/** Whether a conv is a "standard" one that separation applies to: not depthwise, spatial kernel larger than 1. */
export function isSeparable(c: ConvShape): boolean {
  const k = product(c.kernel);
  const depthwise = c.group === c.inChannels && c.group > 1;
  return k > 1 && !depthwise;
}

export function separableCost(c: ConvShape, multiplier = 1): SeparableInfo {
  const K = product(c.kernel);
  const pixels = product([c.batch, ...c.outSpatial]);
  const M = c.inChannels;
  const N = c.outChannels;
  const g = c.group;
  const bias = c.hasBias ? N : 0;
  const macs = pixels * N * (M / g) * K;
  const params = N * (M / g) * K + bias;
  const depthwiseMacs = pixels * M * multiplier * K;
  const pointwiseMacs = pixels * N * ((M * multiplier) / g);
  return {
    M,
    N,
    group: g,
    kernel: c.kernel,
    featureMap: c.outSpatial,
    multiplier,
    macs,
    params,
    // A large depth multiplier can make the pair cost more than the conv itself: still a count, still bounded.
    macsAfter: checkCount(depthwiseMacs + pointwiseMacs, 'the separated MAC count'),
    paramsAfter: M * multiplier * K + N * ((M * multiplier) / g) + bias,
    reduction: multiplier * (g / N + 1 / K),
  };
}
