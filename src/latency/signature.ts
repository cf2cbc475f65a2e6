import type { LayerLink } from './graph.js';
import type { ConvPath } from './layout.js';

/**
 * A layer's shape signature, the key of a profile's lookup table (`mbn calibrate --lut`): what decides the time of
 * ONNX Runtime's kernel for it and nothing else (no names, no weight values). The op and its domain, its integer
 * and string attributes (kernel, strides, pads, group, perm, axis, mode…), the shapes and element types of its
 * inputs (weights included: a conv's weight shape is its channels and kernel) and the shape of its output, the ops
 * ORT runs inside the same kernel (a Conv's fused Relu, a QuickGelu's Sigmoid), and the conv's path in ORT's
 * blocked layout. Canonical JSON: keys in a fixed order, attributes sorted by name.
 */
export function layerSignature(link: LayerLink, fusedOps: readonly string[], path: ConvPath | null): string {
  const sorted = <T>(record: Record<string, T>) => Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
  return JSON.stringify({
    op: link.domain ? `${link.domain}:${link.op}` : link.op,
    attributes: { ...sorted(link.ints), ...sorted(link.strings) },
    inputs: link.inputShapes,
    types: link.inputDtypes,
    output: link.outputShape,
    fused: [...fusedOps].sort(),
    layout: path,
  });
}
