import type { Model, TensorRef } from '../ir/types.js';
import { attr } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import type { CandidateLayer } from '../rewrite/plan.js';
import { decodeFloats } from '../tensor/float.js';

/**
 * How much each output channel's error counts for the alternating refit (rewrite/alternate.ts): when the conv's output
 * goes only into a BatchNormalization with constant scale γ and variance σ², that node multiplies channel n's error
 * by γ_n/√(σ²_n + ε), so its weight is that factor squared. A channel whose raw outputs are small but which BN
 * scales up matters as much downstream as a large one. Null (all alike) otherwise: a conv that feeds anything else,
 * or a BN whose parameters are computed.
 */
export function outputImportance(model: Model, c: CandidateLayer): Float64Array | null {
  const graph = c.graph!;
  const out = c.node.outputs[0];
  if (graph.outputs.some((o) => o.name === out)) return null;
  const users = graph.nodes.filter((n) => n.inputs.includes(out));
  if (users.length !== 1 || users[0].opType !== 'BatchNormalization' || users[0].domain !== '' || users[0].inputs[0] !== out) return null;
  const bn = users[0];
  const scale = constant(model, c, bn.inputs[1]);
  const variance = constant(model, c, bn.inputs[4]);
  const n = c.conv!.outChannels;
  if (!scale || !variance || scale.length !== n || variance.length !== n) return null;
  const e = attr(bn, 'epsilon');
  const epsilon = e && e.data.type === 'float' ? e.data.value : 1e-5;
  const w = Float64Array.from(scale, (g, i) => (g * g) / (variance[i] + epsilon));
  return w.every((v) => Number.isFinite(v) && v >= 0) && w.some((v) => v > 0) ? w : null;
}

/** An initializer or a Constant node's value in the conv's graph, decoded (float types only). */
function constant(model: Model, c: CandidateLayer, name: string | undefined): Float64Array | null {
  if (!name) return null;
  const graph = c.graph!;
  let t: TensorRef | undefined = graph.initializers.find((i) => i.name === name);
  if (!t) {
    const node = graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name);
    const a = node && attr(node, 'value');
    if (a && a.data.type === 'tensor') t = a.data.value;
  }
  if (!t) return null;
  const kind = t.dtype === DataType.FLOAT ? 'float32' : t.dtype === DataType.FLOAT16 ? 'float16' : t.dtype === DataType.DOUBLE ? 'float64' : t.dtype === DataType.BFLOAT16 ? 'bfloat16' : null;
  return kind ? decodeFloats(readTensorBytes(model, t), kind) : null;
}
