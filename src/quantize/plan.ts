import { MbnError, quote } from '../errors.js';
import type { Model, Node, TensorRef } from '../ir/types.js';
import { attr } from '../ir/types.js';
import { hasExternalData } from '../ir/walk.js';
import { DataType, dtypeName } from '../onnx/dtype.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import { decodeFloats } from '../tensor/float.js';
import type { InferResult, LayerRecord } from '../shape/infer.js';
import { type Range, roundHalfEven } from './histogram.js';
import type { EqualizedPair, FloatReason, NotEqualizedReason } from '../contract/quantize.js';
import { appendTo } from '../util/multimap.js';

/**
 * The quantization plan as plain data: which nodes get int8 weights, where their weights come from, the float
 * weights after cross-layer equalization and bias correction, each input tensor's range, and why a layer stayed
 * float. The emitter (emit.ts) turns it into QDQ nodes. The steps after planning each return a new plan
 * (`withLayers`): equalize.ts scales weights, run.ts adds ranges, corrections and errors from data, latency.ts
 * chooses precisions for a device.
 */

/** Ops (other than convs and matmuls, which their traits name) that mean the model is quantized already. */
const QUANTIZED = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'QLinearAdd', 'QLinearMul', 'QGemm']);

export interface FloatTensor {
  dims: number[];
  data: Float64Array;
}

/** Where a weight lives: a main-graph initializer or a Constant node's `value`. */
export type WeightSource = { kind: 'initializer'; tensor: TensorRef } | { kind: 'constant'; node: Node; tensor: TensorRef };

export interface QuantLayer {
  /** Node name, or `<op>_<index>` for an unnamed node. */
  name: string;
  node: Node;
  index: number;
  op: string;
  /** What the node is, from its op rule's traits (ops/define.ts): a conv (transposed or not) or a matrix product. */
  kind: 'conv' | 'matmul';
  transposed: boolean;
  /** The activation input (input 0; for MatMul the operand that is not the weight). */
  input: string;
  weightInput: number;
  weightSource: WeightSource | null;
  /** The weight as float (after equalization when applied), and the axis of its output channels. */
  weight: FloatTensor | null;
  axis: number;
  /** Conv group (1 for Gemm/MatMul). */
  group: number;
  /** The bias as float (Conv/ConvTranspose input 2), after equalization; null: none. */
  bias: Float64Array | null;
  /** Empirical bias correction, added to the bias of the int8 form only (a layer kept float keeps its bias). */
  correction: Float64Array | null;
  biasSource: WeightSource | null;
  precision: 'int8' | 'float32';
  /** Why the layer stays float (null when quantized). */
  why: FloatReason | null;
  /** Cross-layer equalization: the partner layer and the largest |log2 s| applied through this layer. */
  equalizedWith: string[];
  /** The largest |correction| (null: not corrected). */
  biasCorrection: number | null;
  /** Relative error of this layer's output quantized alone (its own input and weights), on held-back batches. */
  ownError: number | null;
}

export interface QuantizationPlan {
  model: Model;
  layers: QuantLayer[];
  /** Activation range per tensor name (uint8 asymmetric per tensor): int8 layers' inputs and output points. */
  ranges: Map<string, Range>;
  /** Cross-layer equalized pairs (first → second, through a ReLU or directly) and the largest |log₂ s| applied. */
  equalizedPairs: EqualizedPair[];
  /** Pairs CLE could not take, with the reason. */
  notEqualized: { first: string; second: string; why: NotEqualizedReason }[];
}

/**
 * A copy of the plan with some layers changed: `change` returns a layer's new fields, or null to share it as it is.
 * Every step after planning (equalize.ts, run.ts, latency.ts) goes through this: a step returns a new plan and never
 * edits the one it was given, so a caller can probe variants (other precisions) of one plan side by side.
 */
export function withLayers(plan: QuantizationPlan, change: (layer: QuantLayer) => Partial<QuantLayer> | null, rest: Partial<Omit<QuantizationPlan, 'model' | 'layers'>> = {}): QuantizationPlan {
  return {
    ...plan,
    ...rest,
    layers: plan.layers.map((l) => {
      const changed = change(l);
      return changed ? { ...l, ...changed } : l;
    }),
  };
}

/** The plan with the layers named in `float` (by node index) float for the reason given, and the other candidates int8. */
export function withPrecisions(plan: QuantizationPlan, candidates: ReadonlySet<number>, float: ReadonlyMap<number, FloatReason>): QuantizationPlan {
  return withLayers(plan, (l) => {
    if (!candidates.has(l.index)) return null;
    const why = float.get(l.index) ?? null;
    return { precision: why ? 'float32' : 'int8', why };
  });
}

export function layerName(node: Node, index: number): string {
  return node.name || `${node.opType}_${index}`;
}

/** Readers of each value in the main graph (node inputs and graph outputs). */
export function readersOf(model: Model): Map<string, Node[]> {
  const readers = new Map<string, Node[]>();
  for (const n of model.graph.nodes) for (const i of n.inputs) if (i) appendTo(readers, i, n);
  return readers;
}

export function constantSources(model: Model): Map<string, WeightSource> {
  const out = new Map<string, WeightSource>();
  for (const t of model.graph.initializers) out.set(t.name, { kind: 'initializer', tensor: t });
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Constant' || n.domain !== '') continue;
    const v = attr(n, 'value');
    if (v?.data.type === 'tensor') out.set(n.outputs[0], { kind: 'constant', node: n, tensor: v.data.value });
  }
  return out;
}

export function readFloat(model: Model, t: TensorRef): FloatTensor {
  return { dims: t.dims.slice(), data: decodeFloats(readTensorBytes(model, t), 'float32') };
}

/** Refuses, in one line each, what quantize cannot take: quantized already, external data. */
export function checkQuantizable(model: Model, shapes: InferResult): void {
  const quantized = (r: LayerRecord) =>
    QUANTIZED.has(r.node.opType) || (r.traits?.kind === 'conv' && r.traits.form !== 'float') || (r.traits?.kind === 'matmul' && r.traits.form !== 'float');
  const q = shapes.layers.find(quantized)?.node;
  if (q) throw new MbnError('unsupported', `the model is quantized already (it has ${q.opType} node ${quote(q.name || q.opType)}); quantize its float original`);
  if (hasExternalData(model)) throw new MbnError('unsupported', 'the model keeps its weights in external data files, which mbn quantize does not read yet; save it as one file (onnx.save_model(..., save_as_external_data=False))');
}

/**
 * Finds every conv and matrix product of the main graph (by its traits: Conv, ConvTranspose, Gemm, MatMul) with a
 * constant weight; those it cannot quantize stay float with the reason. `select` applies --include/--exclude.
 */
export function planQuantization(model: Model, shapes: InferResult, select: (name: string) => FloatReason | null): QuantizationPlan {
  checkQuantizable(model, shapes);
  const sources = constantSources(model);
  const readers = readersOf(model);
  const layers: QuantLayer[] = [];
  const dtypes = new Set<number>();
  const indexOf = new Map(model.graph.nodes.map((n, i) => [n, i]));
  // Convs and matrix products inside If/Loop/Scan bodies or functions: not quantized (yet), and named when nothing else is.
  let nested = 0;
  for (const record of shapes.layers) {
    const node = record.node;
    const index = indexOf.get(node);
    const traits = record.traits;
    if (index === undefined && (traits?.kind === 'conv' || traits?.kind === 'matmul')) nested++;
    if (index === undefined || !traits || node.domain !== '') continue;
    if (traits.kind === 'conv' && traits.form !== 'float') continue;
    if (traits.kind === 'matmul' && (traits.form !== 'float' || traits.general)) continue;
    if (traits.kind !== 'conv' && traits.kind !== 'matmul') continue;
    let weightInput = traits.kind === 'conv' ? traits.weight : traits.operands[1];
    // A constant left operand (x·W written W·x is not per output channel): only the right one is a weight.
    if (traits.kind === 'matmul' && !sources.has(node.inputs[weightInput])) {
      if (sources.has(node.inputs[traits.operands[0]])) weightInput = traits.operands[0];
      else continue; // activation × activation (attention): nothing to quantize per channel
    }
    const weightName = node.inputs[weightInput];
    const src = sources.get(weightName) ?? null;
    if (!src) continue;
    const name = layerName(node, index);
    const transposed = traits.kind === 'conv' && traits.transposed;
    const activation = traits.kind === 'conv' ? traits.input : traits.operands[0] === weightInput ? traits.operands[1] : traits.operands[0];
    const layer: QuantLayer = {
      name, node, index, op: node.opType, kind: traits.kind, transposed, input: node.inputs[activation], weightInput, weightSource: src, weight: null, axis: 0, group: 1,
      bias: null, correction: null, biasSource: null, precision: 'float32', why: null, equalizedWith: [], biasCorrection: null, ownError: null,
    };
    layers.push(layer);
    const t = src.tensor;
    dtypes.add(t.dtype);
    if (t.dtype !== DataType.FLOAT) {
      layer.why = { code: 'weight-dtype', dtype: dtypeName(t.dtype) };
      continue;
    }
    const dims = t.dims;
    const why = (reason: FloatReason) => void (layer.why = reason);
    if (dims.length < 2) {
      why({ code: 'weight-rank', rank: dims.length });
      continue;
    }
    if (traits.kind === 'conv') {
      layer.group = traits.geometry.group;
      if (transposed && layer.group !== 1) {
        why({ code: 'grouped-conv-transpose' });
        continue;
      }
      layer.axis = transposed ? 1 : 0;
    } else if (traits.gemm) {
      if (weightInput !== traits.operands[1] || attrInt(node, 'transA')) {
        why({ code: 'gemm-first-operand' });
        continue;
      }
      layer.axis = attrInt(node, 'transB') ? 0 : 1;
    } else {
      if (dims.length !== 2 || weightInput !== traits.operands[1]) {
        why({ code: 'matmul-weight-not-right-2d' });
        continue;
      }
      layer.axis = 1;
    }
    if ((readers.get(weightName) ?? []).length > 1) {
      why({ code: 'shared-weight' });
      continue;
    }
    layer.weight = readFloat(model, t);
    const biasName = traits.kind === 'conv' && traits.bias !== null ? node.inputs[traits.bias] : undefined;
    if (biasName) {
      const b = sources.get(biasName);
      if (!b || b.tensor.dtype !== DataType.FLOAT) {
        layer.weight = null;
        why({ code: 'bias-not-float32' });
        continue;
      }
      layer.bias = readFloat(model, b.tensor).data;
      layer.biasSource = (readers.get(biasName) ?? []).length === 1 ? b : null;
    }
    const excluded = select(name);
    if (excluded) {
      why(excluded);
      continue;
    }
    layer.precision = 'int8';
  }
  if (!layers.length && nested > 0) {
    throw new MbnError('unsupported', `nothing to quantize: the model's ${nested} convs and matrix products are inside If/Loop/Scan bodies or functions, which mbn quantize does not enter yet`);
  }
  if (!layers.length) throw new MbnError('unsupported', 'nothing to quantize: the model has no Conv, ConvTranspose, Gemm or MatMul with constant weights');
  if (!layers.some((l) => l.weight)) {
    const kinds = [...dtypes].map((d) => dtypeName(d)).join(', ');
    throw new MbnError('unsupported', `nothing to quantize: no float32 conv or matmul weights (the weights are ${kinds})`);
  }
  return { model, layers, ranges: new Map(), equalizedPairs: [], notEqualized: [] };
}

export function attrInt(node: Node, name: string): number | null {
  const a = attr(node, name);
  return a?.data.type === 'int' ? a.data.value : null;
}

/** Elements per output channel and how to walk them: weight index = (outer·C + channel)·inner + k. */
function channelLayout(w: FloatTensor, axis: number): { channels: number; outer: number; inner: number } {
  const channels = w.dims[axis];
  const outer = w.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { channels, outer, inner };
}

/** Per-output-channel max |w|. */
export function channelMaxAbs(w: FloatTensor, axis: number): Float64Array {
  const { channels, outer, inner } = channelLayout(w, axis);
  const out = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let k = 0; k < inner; k++) out[c] = Math.max(out[c], Math.abs(w.data[base + k]));
    }
  }
  return out;
}

export interface Int8Weight {
  values: Int8Array;
  scales: Float64Array;
}

/** int8 symmetric per output channel: s = max|w| / 127, q = round(w / s) in [−127, 127], zero point 0. */
export function quantizeWeight(w: FloatTensor, axis: number): Int8Weight {
  const { channels, outer, inner } = channelLayout(w, axis);
  const scales = Float64Array.from(channelMaxAbs(w, axis), (m) => (m > 0 ? m / 127 : 1));
  const values = new Int8Array(w.data.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let k = 0; k < inner; k++) values[base + k] = Math.max(-127, Math.min(127, roundHalfEven(w.data[base + k] / scales[c])));
    }
  }
  return { values, scales };
}

export function dequantizeWeight(q: Int8Weight, w: FloatTensor, axis: number): Float64Array {
  const { channels, outer, inner } = channelLayout(w, axis);
  const out = new Float64Array(q.values.length);
  for (let o = 0; o < outer; o++) for (let c = 0; c < channels; c++) for (let k = 0; k < inner; k++) out[(o * channels + c) * inner + k] = q.values[(o * channels + c) * inner + k] * q.scales[c];
  return out;
}

/**
 * Empirical bias correction (Nagel et al. 2019, §4.2): the int8 weights shift each output channel's mean by
 * E[(Ŵ − W)·x] = Σ_j Σ_k (Ŵ − W)[o, j, k] · E[x_j]; that much is subtracted from the bias. `means`: the per-channel
 * means of the conv's input over the calibration data (pixels next to the zero padding are counted as interior ones).
 * Returns the correction, per output channel.
 */
export function biasCorrection(layer: QuantLayer, means: Float64Array): Float64Array {
  const w = layer.weight!;
  const q = dequantizeWeight(quantizeWeight(w, 0), w, 0);
  const out = w.dims[0];
  const cg = w.dims[1];
  const inner = w.dims.slice(2).reduce((a, b) => a * b, 1);
  const perGroup = out / layer.group;
  const correction = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    const g = Math.floor(o / perGroup);
    let shift = 0;
    for (let j = 0; j < cg; j++) {
      const mean = means[g * cg + j];
      const base = (o * cg + j) * inner;
      let d = 0;
      for (let k = 0; k < inner; k++) d += q[base + k] - w.data[base + k];
      shift += d * mean;
    }
    correction[o] = -shift;
  }
  return correction;
}

/** The bias the int8 form uses: the float bias plus the correction (either may be absent); null when both are. */
export function int8Bias(layer: QuantLayer): Float64Array | null {
  if (!layer.correction) return layer.bias;
  return Float64Array.from(layer.correction, (c, o) => c + (layer.bias?.[o] ?? 0));
}

/** Activations a QuantizeLinear after them absorbs (ORT's ReluQuantFusion / ClipQuantFusion; its quantizer's QDQRemovableActivation). */
const ABSORBED_ACTIVATIONS = new Set(['Relu', 'Clip']);
/** Ops ONNX Runtime runs on 8-bit tensors in QDQ form (QLinearAdd, QLinearConcat, the QLinear pools, MaxPool on uint8). */
const EIGHT_BIT_OPS = new Set(['Add', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool']);

export interface OutputPoint {
  /** The tensor whose QuantizeLinear → DequantizeLinear pair all its readers share. */
  tensor: string;
  /** The Relu/Clip between the producing node and `tensor` (null: none). */
  activation: Node | null;
}

/**
 * The activations quantized where they are produced (one QuantizeLinear → DequantizeLinear pair right after the
 * producing node, read by all their readers), by producing node, so that ONNX Runtime sees DequantizeLinear → op →
 * QuantizeLinear around each int8 layer and fuses it into QLinearConv/QLinearMatMul, and the same around the Adds,
 * Concats and pools between int8 layers (QLinearAdd, QLinearConcat…). As ONNX Runtime's quantizer places them
 * (qdq_quantizer.py, `try_replacing_upstream_output`): after the Relu or Clip that is a node output's only reader, the
 * range taken after that activation (ORT folds that activation into the QuantizeLinear); otherwise on the output.
 * - An int8 layer's, or an Add/Concat/pool's (of non-constant, non-input tensors), output is quantized where every
 *   reader keeps it 8-bit: an int8 layer reading it as its activation, or such an Add/Concat/pool. A tensor read by a
 *   float op (hard-swish, sigmoid, a layer kept float, a bias Add of a constant) or a graph output is not: the
 *   requantization would cost accuracy for no integer consumer.
 * - Each input of such an Add/Concat/pool is quantized too (ORT fuses it only when every input is dequantized), where
 *   it is produced: a float op's output (e.g. BlazeFace's zero channels from ConstantOfShape) gets its pair there;
 *   but not a tensor a layer kept float reads or writes (that op then stays float).
 */
export function outputPoints(plan: QuantizationPlan): Map<Node, OutputPoint> {
  const model = plan.model;
  const readers = readersOf(model);
  const constants = new Set(constantSources(model).keys());
  const int8Inputs = new Map(plan.layers.filter((l) => l.weight && l.precision === 'int8').map((l) => [l.node, l.input]));
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const graphInputs = new Set(model.graph.inputs.map((o) => o.name));
  const producers = new Map(model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  // A layer kept float must stay so: ORT 1.30 quantizes a float conv's weight itself when a DequantizeLinear feeds it
  // and a QuantizeLinear reads it (its WeightBiasQuantization), so no pair goes on a tensor such a layer reads or writes.
  const floatLayers = plan.layers.filter((l) => !int8Inputs.has(l.node)).map((l) => l.node);
  const floatTouched = new Set(floatLayers.flatMap((n) => [...n.inputs, ...n.outputs]));
  const eightBitOp = (n: Node) =>
    n.domain === '' && EIGHT_BIT_OPS.has(n.opType) && n.inputs.length > 0 && n.inputs.every((i) => i && !constants.has(i) && !graphInputs.has(i) && !floatTouched.has(i));
  const keepsEightBit = (tensor: string, reader: Node) => int8Inputs.get(reader) === tensor || eightBitOp(reader);
  const out = new Map<Node, OutputPoint>();
  const quantized = new Set<string>();
  for (const node of model.graph.nodes) {
    if (!int8Inputs.has(node) && !eightBitOp(node)) continue;
    const y = node.outputs[0];
    const next = readers.get(y) ?? [];
    const act = next.length === 1 && !graphOutputs.has(y) && next[0].domain === '' && ABSORBED_ACTIVATIONS.has(next[0].opType) && next[0].inputs[0] === y ? next[0] : null;
    const tensor = act ? act.outputs[0] : y;
    const consumers = readers.get(tensor) ?? [];
    if (!tensor || graphOutputs.has(tensor) || !consumers.length || !consumers.every((r) => keepsEightBit(tensor, r))) continue;
    out.set(node, { tensor, activation: act });
    quantized.add(tensor);
  }
  for (const [node] of [...out]) {
    if (!eightBitOp(node)) continue;
    for (const x of node.inputs) {
      const producer = producers.get(x);
      if (quantized.has(x) || !producer || out.has(producer)) continue;
      out.set(producer, { tensor: x, activation: null });
      quantized.add(x);
    }
  }
  return out;
}
