import { DataType } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';

/**
 * ONNX Runtime's LayerNormFusion (core/optimizer/layer_norm_fusion.cc): a layer norm written out as nine ops, as
 * PyTorch exports nn.LayerNorm at opset < 17,
 *   X → ReduceMean → Sub(X, mean) → Pow → ReduceMean → Add(ε) → Sqrt → Div(Sub, Sqrt) → Mul(γ) → Add(β)
 * runs as one LayerNormalization kernel. The wake-word MLPs of OpenWakeWord have two of them: ORT's optimized graph
 * and its profile show one `LayerNormalization` node each; at nine kernels the model was predicted 13–53% slow.
 * What this matches, as ORT checks it: every op in the default domain on float tensors, the same scope (ORT fuses
 * inside an If's branches too); each intermediate read once and never a graph output, except the Sub's output,
 * read by the Pow and the Div; both ReduceMeans over the last axis alone; γ and β constant 1-D tensors of one
 * length. (ORT also takes a duplicated Sub from older exports and a Cast before the Pow; those are left unfused.)
 * Returns each member's index → the index of the Mul by γ, the kernel the group runs as: ORT names the fused node
 * after it (`Mul_11/LayerNormFusion/`), so that its time in a profile lands on that layer.
 */
export function layerNormGroups(links: readonly LayerLink[], graphOutputs: readonly string[]): Map<number, number> {
  const producer = new Map<string, number>();
  const readers = new Map<string, number[]>();
  links.forEach((l, i) => {
    for (const o of l.outputs) if (o) producer.set(o, i);
    for (const x of l.inputs) if (x) readers.set(x, [...(readers.get(x) ?? []), i]);
  });
  const outputs = new Set(graphOutputs);
  const groups = new Map<number, number>();
  /** The one layer that reads `i`'s output, when it is of `op` in `i`'s scope and `i`'s output is no graph output. */
  const onlyReader = (i: number, op: string): number | null => {
    const out = links[i].outputs[0];
    const r = out ? (readers.get(out) ?? []) : [];
    return r.length === 1 && !outputs.has(out) && isFloatOp(links[r[0]], op, links[i].scope) ? r[0] : null;
  };
  links.forEach((mean, m) => {
    if (!isFloatOp(mean, 'ReduceMean', mean.scope) || groups.has(m)) return;
    const x = mean.inputs[0];
    const sub = onlyReader(m, 'Sub');
    if (!overLastAxis(mean) || sub === null || links[sub].inputs[0] !== x || links[sub].inputs[1] !== mean.outputs[0]) return;
    const d = links[sub].outputs[0];
    const dReaders = readers.get(d) ?? [];
    if (dReaders.length !== 2 || outputs.has(d)) return;
    const pow = dReaders.find((j) => isFloatOp(links[j], 'Pow', mean.scope) && links[j].inputs[0] === d);
    const div = dReaders.find((j) => isFloatOp(links[j], 'Div', mean.scope) && links[j].inputs[0] === d);
    if (pow === undefined || div === undefined) return;
    const variance = onlyReader(pow, 'ReduceMean');
    if (variance === null || !overLastAxis(links[variance])) return;
    const eps = onlyReader(variance, 'Add');
    const sqrt = eps === null ? null : onlyReader(eps, 'Sqrt');
    if (sqrt === null || links[div].inputs[1] !== links[sqrt].outputs[0]) return;
    const scale = onlyReader(div, 'Mul');
    const shift = scale === null ? null : onlyReader(scale, 'Add');
    if (scale === null || shift === null) return;
    const gamma = constantVectorLength(links[scale], links[div].outputs[0]);
    const beta = constantVectorLength(links[shift], links[scale].outputs[0]);
    if (gamma === null || gamma !== beta) return;
    for (const j of [m, sub, pow, variance, eps!, sqrt, div, shift]) groups.set(j, scale);
  });
  return groups;
}

function isFloatOp(l: LayerLink, op: string, scope: string): boolean {
  return l.op === op && l.domain === '' && l.scope === scope && FLOAT_TYPES.has(l.inputDtypes[0]);
}
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE]);

/**
 * A ReduceMean over its input's last dim alone, with keepdims (the mean is subtracted from its input). ORT 1.30
 * fuses axes [-1] or [rank − 1] and leaves [1] or the two trailing axes [1, 2] of a [1, 4, 32] input unfused (its
 * optimized graph). Axes come from the attribute (opset < 18) or the second input.
 */
function overLastAxis(l: LayerLink): boolean {
  const rank = l.inputShapes[0]?.length;
  const axes = l.ints.axes ?? (l.inputs[1] ? l.inputValues[1] : null);
  if (rank === undefined || !axes || axes.length !== 1 || (l.ints.keepdims?.[0] ?? 1) !== 1) return false;
  return (axes[0] < 0 ? axes[0] + rank : axes[0]) === rank - 1;
}

/** Length of the 1-D constant (weight) a Mul or Add takes beside `other`; null when it has none. */
function constantVectorLength(l: LayerLink, other: string): number | null {
  const k = l.inputs.findIndex((name) => name !== other);
  if (k < 0 || l.inputs.length !== 2 || l.inputs[1 - k] !== other || !l.weightInputs.includes(l.inputs[k])) return null;
  const shape = l.inputShapes[k];
  return shape && shape.length === 1 ? shape[0] : null;
}
