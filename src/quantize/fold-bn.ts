import type { Model, Node } from '../ir/types.js';
import { attr } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { encodeTensorField } from '../onnx/encode.js';
import { readModelBytes } from '../onnx/read.js';
import type { InferResult } from '../shape/infer.js';
import { PieceSource, emptyEdit, piecesLength, spliceMessage } from '../onnx/splice.js';
import { nodeField } from './emit.js';
import { type FloatTensor, type WeightSource, attrInt, constantSources, readFloat, readersOf } from './plan.js';

/**
 * Conv → BatchNormalization folded into one Conv before quantizing, as ONNX Runtime's quantization pre-processing
 * (`quant_pre_process`), PyTorch's `fuse_modules` and the TFLite converter do. ONNX Runtime folds such a pair itself
 * when it loads a float model (its ConvBNFusion), but not once the conv's weight comes out of a DequantizeLinear: then
 * the BatchNormalization runs on its own, in float, between the conv and the QuantizeLinear that would have fused the
 * conv into a QLinearConv. PaddleOCR's direction classifier quantized without folding kept 35 BatchNormalization
 * nodes and ran at twice the float model's time.
 *
 * With s = γ / √(σ² + ε) per output channel: W' = W·s, b' = (b − μ)·s + β. Folded only where the result is the same
 * function: a Conv (not ConvTranspose) whose output only this BatchNormalization reads and is not a graph output, with
 * a constant float32 weight and bias read by nothing else, and a BatchNormalization in inference form (one output, no
 * training_mode, spatial) with constant float32 parameters.
 */
export interface FoldedModel {
  model: Model;
  /** Conv node names (or `Conv_<index>`) that took a BatchNormalization. */
  convs: string[];
}

export function foldBatchNorms(model: Model, shapes: InferResult): FoldedModel | null {
  const g = model.graph;
  const sources = constantSources(model);
  const readers = readersOf(model);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  // Each float Conv (by its op traits: not ConvTranspose, not an integer or QDQ form) by the tensor it writes.
  const convOf = new Map<string, { node: Node; weight: number; bias: number | null }>();
  for (const r of shapes.layers) {
    const t = r.traits;
    if (t?.kind === 'conv' && !t.transposed && t.form === 'float' && r.node.domain === '') convOf.set(r.node.outputs[0], { node: r.node, weight: t.weight, bias: t.bias });
  }
  const index = new Map(g.nodes.map((n, i) => [n, i]));
  /** A constant float32 tensor read only by `node`, or null. */
  const own = (name: string | undefined, node: Node): { source: WeightSource; value: FloatTensor } | null => {
    const source = name ? sources.get(name) : undefined;
    if (!name || !source || source.tensor.dtype !== DataType.FLOAT || (readers.get(name) ?? []).some((r) => r !== node)) return null;
    return { source, value: readFloat(model, source.tensor) };
  };
  const edit = emptyEdit();
  const drop = (source: WeightSource) => {
    if (source.kind === 'constant') edit.fields.set(source.node.span.tagStart, { kind: 'replace', fields: [] });
    else {
      edit.fields.set(source.tensor.span.tagStart, { kind: 'replace', fields: [] });
      for (const i of g.inputs) if (i.name === source.tensor.name) edit.fields.set(i.span.tagStart, { kind: 'replace', fields: [] });
    }
  };
  const taken = new Set(g.nodes.flatMap((n) => [n.name, ...n.inputs, ...n.outputs]).concat(g.initializers.map((t) => t.name)));
  const unique = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const convs: string[] = [];
  for (const bn of g.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.domain !== '') continue;
    if (bn.outputs.filter(Boolean).length !== 1 || !bn.outputs[0]) continue;
    if (attrInt(bn, 'training_mode') || attrInt(bn, 'spatial') === 0) continue;
    const x = bn.inputs[0];
    const found = convOf.get(x);
    if (!found || graphOutputs.has(x) || (readers.get(x) ?? []).length !== 1) continue;
    const conv = found.node;
    const biasName = found.bias === null ? undefined : conv.inputs[found.bias] || undefined;
    const w = own(conv.inputs[found.weight], conv);
    const bias = biasName ? own(biasName, conv) : null;
    if (!w || (biasName && !bias)) continue;
    const params = bn.inputs.slice(1, 5).map((name) => own(name, bn));
    if (params.length !== 4 || params.some((p) => !p)) continue;
    const [gamma, beta, mean, variance] = params.map((p) => p!.value.data);
    const channels = w.value.dims[0];
    if ([gamma, beta, mean, variance].some((v) => v.length !== channels) || (bias && bias.value.data.length !== channels)) continue;
    const epsilon = attrFloat(bn, 'epsilon') ?? 1e-5;
    const scale = Float64Array.from(gamma, (gm, o) => gm / Math.sqrt(variance[o] + epsilon));
    const inner = w.value.data.length / channels;
    const weight = Float32Array.from(w.value.data, (v, i) => v * scale[Math.floor(i / inner)]);
    const b = Float32Array.from(scale, (s, o) => ((bias?.value.data[o] ?? 0) - mean[o]) * s + beta[o]);
    const name = conv.name || `Conv_${index.get(conv)}`;
    const wName = unique(`${name}_bn_folded_weight`);
    const bName = unique(`${name}_bn_folded_bias`);
    edit.append.push(
      encodeTensorField({ name: wName, dtype: DataType.FLOAT, dims: w.value.dims, raw: new Uint8Array(weight.buffer) }),
      encodeTensorField({ name: bName, dtype: DataType.FLOAT, dims: [channels], raw: new Uint8Array(b.buffer) }),
    );
    // The conv writes the BatchNormalization's output; the BatchNormalization and the old constants go.
    const inputs = conv.inputs.slice();
    inputs[found.weight] = wName;
    while (inputs.length < 3) inputs.push('');
    inputs[found.bias ?? 2] = bName;
    edit.fields.set(conv.span.tagStart, { kind: 'replace', fields: [nodeField(model, conv, inputs, [], [], { name: conv.name, outputs: [bn.outputs[0]] })] });
    edit.fields.set(bn.span.tagStart, { kind: 'replace', fields: [] });
    for (const p of [w, bias, ...params]) if (p) drop(p.source);
    convs.push(name);
  }
  if (!convs.length) return null;
  const modelEdit = emptyEdit();
  modelEdit.fields.set(g.span.tagStart, { kind: 'nested', edit });
  const pieces = spliceMessage(model.source, 0, model.size, modelEdit);
  const bytes = new PieceSource(pieces, model.source).view(0, piecesLength(pieces)).slice();
  return { model: readModelBytes(bytes, 'the model with BatchNormalization folded'), convs };
}

function attrFloat(node: Node, name: string): number | null {
  const a = attr(node, name);
  return a?.data.type === 'float' ? a.data.value : null;
}
