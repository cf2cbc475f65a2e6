import { isFloat, isInteger } from '../onnx/dtype.js';
import { quantizationSettingInputs, quantizedWeightInputs } from '../ops/quantized.js';
import type { LayerRecord, WeightUse } from '../shape/infer.js';
import type { SeparableInfo } from '../contract/analyze.js';

/**
 * What counts as a parameter (README, "Counting conventions"). A weight is a constant tensor feeding a layer (an
 * initializer or a Constant, also through Identity nodes); it is a parameter when it has more than one element
 * (a single element is an op setting: Clip bounds, scale factors) and it is either floating point or the integer
 * weight of a quantized op (quantizedWeightInputs). Scales and zero points of quantized ops are settings too, even
 * per channel. The answer is per tensor, whichever layer reads it first.
 */
export function parameterKeys(layers: readonly LayerRecord[]): Set<object> {
  const settings = new Set<object>();
  for (const l of layers) {
    for (const p of quantizationSettingInputs(l.node)) {
      const w = l.weightAt?.[p];
      if (w) settings.add(w.key);
    }
  }
  const keys = new Set<object>();
  for (const l of layers) {
    for (const w of l.weights) if (w.elements > 1 && isFloat(w.dtype) && !settings.has(w.key)) keys.add(w.key);
    for (const p of quantizedWeightInputs(l.node)) {
      const w = l.weightAt?.[p];
      if (w && w.elements > 1 && isInteger(w.dtype)) keys.add(w.key);
    }
  }
  return keys;
}

/**
 * The model's parameters if every standard conv with a constant weight were separated (multiplier 1), as
 * `mbn separate` writes it: each original weight tensor counted once, removed when every layer reading it is
 * separated; the new depthwise and pointwise weights added once per graph, weight and group (convs sharing a weight
 * in one graph share the new weights; each If/Loop body holds its own); biases kept.
 */
export function paramsAfterSeparation(
  layers: readonly LayerRecord[],
  separable: readonly (SeparableInfo | null)[],
  params: ReadonlySet<object>,
  total: number,
): number {
  const tally = new SeparationTally(params);
  layers.forEach((l, i) => tally.add(l, separable[i] ?? null));
  return tally.paramsAfter(total);
}

/**
 * paramsAfterSeparation one layer at a time, in layer order: what it needs of each record is kept, so the report can
 * drop the records as it goes (`buildReport`'s `release`).
 */
export class SeparationTally {
  private readonly readers = new Map<object, number>();
  private readonly separated = new Map<object, { weight: WeightUse; layers: number }>();
  private readonly added = new Map<string, number>();
  private readonly ids = new Map<object, number>();
  /** The weight behind each DequantizeLinear output seen so far. */
  private readonly dequantized = new Map<string, WeightUse>();
  constructor(private readonly params: ReadonlySet<object>) {}

  add(l: LayerRecord, s: SeparableInfo | null): void {
    for (const w of l.weights) this.readers.set(w.key, (this.readers.get(w.key) ?? 0) + 1);
    const t = l.traits;
    // A QDQ conv's weight is the integer tensor its DequantizeLinear reads.
    if (t?.kind === 'dequantize' && l.node.outputs[0] && l.weightAt?.[0]) this.dequantized.set(l.node.outputs[0], l.weightAt[0]);
    if (t?.kind !== 'conv') return;
    // `mbn separate` rewrites a conv whose weight is an initializer or a Constant in scope, read directly.
    const w = t.dequantizedWeight !== null ? this.dequantized.get(t.dequantizedWeight) : l.weightAt?.[t.weight];
    if (!s || !w || w.viaIdentity || !this.params.has(w.key)) return;
    const entry = this.separated.get(w.key) ?? { weight: w, layers: 0 };
    entry.layers++;
    this.separated.set(w.key, entry);
    if (!this.ids.has(w.key)) this.ids.set(w.key, this.ids.size);
    const K = s.kernel.reduce((a, b) => a * b, 1);
    this.added.set(`${this.ids.get(w.key)}\n${s.group}\n${l.scope}`, s.M * K + s.N * (s.M / s.group));
  }

  paramsAfter(total: number): number {
    let after = total;
    for (const [key, { weight, layers: n }] of this.separated) if (this.readers.get(key) === n) after -= weight.elements;
    for (const p of this.added.values()) after += p;
    return after;
  }
}
