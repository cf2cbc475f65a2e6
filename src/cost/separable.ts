import type { ConvGeometry, ConvTraits, OpTraits } from '../ops/define.js';
import { checkCount, product } from '../util/count.js';
import type { SeparableInfo } from '../contract/analyze.js';

/**
 * A conv as separation sees it: channels, groups and kernel (its geometry, from the weight) and whether it has a
 * bias. No feature-map size: the rewrite needs none, and MACs take the output pixels apart.
 */
export type SeparableConv = Pick<ConvGeometry, 'inChannels' | 'outChannels' | 'group' | 'kernel'> & { hasBias: boolean };

/** The layer's conv traits, or null when it is no conv. */
export function convTraitsOf(traits: OpTraits | null | undefined): ConvTraits | null {
  return traits?.kind === 'conv' ? traits : null;
}

/** What separation needs of a conv's traits. */
export function separableConv(t: ConvTraits): SeparableConv {
  const { inChannels, outChannels, group, kernel } = t.geometry;
  return { inChannels, outChannels, group, kernel, hasBias: t.bias !== null };
}

/**
 * Whether a conv is a "standard" one that separation applies to: not transposed, not depthwise, and not pointwise
 * (its spatial kernel is larger than 1). Any form: a quantized conv has the same geometry to separate.
 */
export function isSeparable(t: ConvTraits): boolean {
  return !t.transposed && !t.geometry.depthwise && !t.geometry.pointwise;
}

/** The separation figures of a standard conv whose output shape is known, at multiplier r; null otherwise. */
export function separableCost(t: ConvTraits, multiplier = 1): SeparableInfo | null {
  if (!isSeparable(t) || t.batch === null || t.outSpatial === null) return null;
  const pixels = product([t.batch, ...t.outSpatial]);
  const figures = separationFigures(separableConv(t), multiplier, pixels);
  return { ...figures, featureMap: t.outSpatial, macs: figures.macs!, macsAfter: figures.macsAfter! };
}

/** SeparableInfo without a feature map: MACs are null when the output size is unknown (params and ratio are not). */
export type SeparationFigures = Omit<SeparableInfo, 'featureMap' | 'macs' | 'macsAfter'> & { macs: number | null; macsAfter: number | null };

/**
 * The figures of separating one conv at multiplier r. Params and the ratio r·(g/N + 1/K) need only the weight's
 * geometry; MACs need the number of output pixels (batch × feature map), null when unknown.
 */
export function separationFigures(c: SeparableConv, multiplier: number, pixels: number | null): SeparationFigures {
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

/** What the "if separated" projections read of a layer's report row. */
export interface ProjectedLayer {
  macs: number;
  executions: number;
  separable: SeparableInfo | null;
}

/**
 * The separation the projections take for a layer (the totals, the module rows and `mbn separate` by default): a
 * standard conv whose pair would cost less; null for one whose pair would cost more or the same (left alone).
 */
export function takenSeparation(l: ProjectedLayer): SeparableInfo | null {
  return l.separable && l.separable.reduction < 1 ? l.separable : null;
}

/**
 * Whether a layer is one of the convs "Separating N" counts: a taken separation in a layer that runs (a conv in an If
 * branch that is not counted, ×0, saves nothing and is not counted).
 */
export function countsAsSeparated(l: ProjectedLayer): boolean {
  return takenSeparation(l) !== null && l.executions > 0;
}

/** A layer's MACs per inference once the projection's convs are separated. */
export function separatedMacs(l: ProjectedLayer): number {
  const s = takenSeparation(l);
  return s ? s.macsAfter * l.executions : l.macs;
}
