import type { Model, Node } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { type NewAttribute, type NewTensor, concatBytes, encodeNodeField, encodeTensorField, lengthField, varintField } from '../onnx/encode.js';
import { type MessageEdit, type Piece, emptyEdit, spliceMessage } from '../onnx/splice.js';
import { Reader, WireType } from '../onnx/wire.js';
import { type Range, roundHalfEven, uint8Params } from './histogram.js';
import { type OpsetRaise, floatScalar } from './opset.js';
import { type FloatTensor, type Int8Weight, type QuantLayer, type QuantizationPlan, int8Bias, outputPoints, quantizeWeight } from './plan.js';

/**
 * Writes a plan as ONNX bytes (pieces of the input plus new fields, through the splice writer):
 * - `qdq`: the quantized model. Each int8 layer reads its weight through DequantizeLinear of an int8 tensor
 *   (symmetric, per output channel: `axis`), its bias through DequantizeLinear of int32 at scale s_x·s_w (zero point
 *   0, ONNX Runtime's QLinearConv form), and its activation input through QuantizeLinear → DequantizeLinear of
 *   uint8 per tensor. Where its output stays 8-bit downstream, it is quantized too, at its output point (plan.ts
 *   `outputPoints`: after a Relu/Clip it alone feeds), by one QuantizeLinear → DequantizeLinear pair that every reader
 *   of that tensor then reads, so that ONNX Runtime sees DequantizeLinear → op → QuantizeLinear and fuses the layer
 *   into an integer kernel. The float layers keep float weights (equalized when CLE moved them).
 * - `float`: every layer float, with the plan's (equalized, corrected) weights: the model calibration runs on.
 * - `shadow`: `float`, plus beside each int8 layer a copy of it fed by the quantized form of its float input, with
 *   its output point's activation and pair as in `qdq`: the float and the copy's output (point) are exposed, so one
 *   run gives every layer's own quantization error (sensitivity).
 * `expose`: values added as graph outputs. The opset is raised (opset.ts) in every mode, so all copies run one graph.
 * The plan is read, never changed (the contract of rewrite/emit.ts too: a plan is data, the emitter writes).
 */
export interface QuantizationEmitOptions {
  mode: 'qdq' | 'float' | 'shadow';
  expose?: string[];
  /**
   * Quantized weights to reuse, by float weight: for a caller that emits the same plan many times with only layer
   * precisions changing (quantize --device predicts each choice as a written model). Valid only while no weight is
   * changed in place (equalization does that: it runs before).
   */
  weightCache?: Map<FloatTensor, Int8Weight>;
}

export interface EmittedQuantization {
  pieces: Piece[];
  /** Per int8 layer in `shadow` mode: its float output point and its quantized copy's. */
  shadows: Map<QuantLayer, { float: string; quantized: string }>;
}

export function emitQuantization(plan: QuantizationPlan, raise: OpsetRaise | null, options: QuantizationEmitOptions): EmittedQuantization {
  const model = plan.model;
  const names = namesOf(model);
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  const graphEdit = emptyEdit();
  const tensors: Uint8Array[] = [];
  const addTensor = (t: NewTensor) => tensors.push(encodeTensorField(t));
  const replaced = new Map<Node, Uint8Array[]>();
  const shadows: EmittedQuantization['shadows'] = new Map();
  const exposed: string[] = [...(options.expose ?? [])];
  const activation = new Map<string, string>();

  /** x → QuantizeLinear → DequantizeLinear (uint8 per tensor, at `range`) into `fields`; returns the dequantized name. */
  const quantizePair = (x: string, range: Range, fields: Uint8Array[], suffix: string): string => {
    const { scale, zeroPoint } = uint8Params(range);
    const s = unique(`${x}_scale${suffix}`);
    const z = unique(`${x}_zero_point${suffix}`);
    const q = unique(`${x}_quantized${suffix}`);
    const dq = unique(`${x}_dequantized${suffix}`);
    addTensor(floatScalar(s, scale));
    addTensor({ name: z, dtype: DataType.UINT8, dims: [], raw: Uint8Array.of(zeroPoint) });
    fields.push(
      encodeNodeField({ name: unique(`${x}_QuantizeLinear${suffix}`), opType: 'QuantizeLinear', domain: '', inputs: [x, s, z], outputs: [q], attributes: [] }),
      encodeNodeField({ name: unique(`${x}_DequantizeLinear${suffix}`), opType: 'DequantizeLinear', domain: '', inputs: [q, s, z], outputs: [dq], attributes: [] }),
    );
    return dq;
  };

  /** An int8 layer's input through QuantizeLinear → DequantizeLinear, once per tensor and suffix (an output point's pair if it is one). */
  const quantizeActivation = (x: string, fields: Uint8Array[], suffix: string): string => {
    const key = `${x}\u0000${suffix}`;
    const known = activation.get(key);
    if (known) return known;
    const dq = quantizePair(x, plan.ranges.get(x)!, fields, suffix);
    activation.set(key, dq);
    return dq;
  };

  // `qdq`: each output point (plan.ts: int8 layers' outputs, the Adds/Concats/pools between them) gets its pair right
  // after the node producing it, and every reader of the tensor reads the pair's output (`rewire`), as ORT's quantizer does.
  const points = outputPoints(plan);
  const after = new Map<Node, Uint8Array[]>();
  const rewire = new Map<string, string>();
  if (options.mode === 'qdq') {
    for (const [node, point] of points) {
      const range = plan.ranges.get(point.tensor);
      if (!range) continue;
      const fields: Uint8Array[] = [];
      const dq = quantizePair(point.tensor, range, fields, '');
      rewire.set(point.tensor, dq);
      activation.set(`${point.tensor}\u0000`, dq);
      after.set(point.activation ?? node, fields);
    }
  }
  /** A node re-encoded with its inputs rewired, followed by the pair its output point gets. */
  const encoded = (node: Node, inputs: string[], drop: string[], add: NewAttribute[]): Uint8Array[] =>
    [nodeField(model, node, inputs.map((i) => rewire.get(i) ?? i), drop, add), ...(after.get(node) ?? [])];

  const changes = new Map((raise?.changes ?? []).map((c) => [c.node, c]));
  for (const change of changes.values()) {
    for (const t of change.tensors) addTensor(t);
    replaced.set(change.node, encoded(change.node, change.inputs, change.drop, change.add));
  }

  /** The layer's weight (and bias) as int8/int32 behind DequantizeLinear; returns the dequantized names. */
  const quantizedWeights = (l: QuantLayer, fields: Uint8Array[], suffix: string): { weight: string; bias: string | null } => {
    const w = l.weight!;
    const q = options.weightCache?.get(w) ?? quantizeWeight(w, l.axis);
    options.weightCache?.set(w, q);
    const base = l.name;
    const wq = unique(`${base}_weight_quantized${suffix}`);
    const ws = unique(`${base}_weight_scale${suffix}`);
    const wz = unique(`${base}_weight_zero_point${suffix}`);
    const wdq = unique(`${base}_weight_dequantized${suffix}`);
    addTensor({ name: wq, dtype: DataType.INT8, dims: w.dims, raw: new Uint8Array(q.values.buffer) });
    addTensor({ name: ws, dtype: DataType.FLOAT, dims: [q.scales.length], raw: new Uint8Array(Float32Array.from(q.scales).buffer) });
    addTensor({ name: wz, dtype: DataType.INT8, dims: [q.scales.length], raw: new Uint8Array(q.scales.length) });
    const axis: NewAttribute[] = [{ name: 'axis', type: 'int', value: l.axis }];
    fields.push(encodeNodeField({ name: unique(`${base}_weight_DequantizeLinear${suffix}`), opType: 'DequantizeLinear', domain: '', inputs: [wq, ws, wz], outputs: [wdq], attributes: axis }));
    const bias = int8Bias(l);
    if (!bias) return { weight: wdq, bias: null };
    // The bias in int32 at s_x · s_w (per output channel), as QLinearConv takes it.
    const sx = uint8Params(plan.ranges.get(l.input)!).scale;
    const scales = Float32Array.from(q.scales, (sw) => Math.fround(sx) * Math.fround(sw));
    const values = Int32Array.from(bias, (b, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(b / scales[o]))));
    const bq = unique(`${base}_bias_quantized${suffix}`);
    const bs = unique(`${base}_bias_scale${suffix}`);
    const bz = unique(`${base}_bias_zero_point${suffix}`);
    const bdq = unique(`${base}_bias_dequantized${suffix}`);
    addTensor({ name: bq, dtype: DataType.INT32, dims: [values.length], raw: new Uint8Array(values.buffer) });
    addTensor({ name: bs, dtype: DataType.FLOAT, dims: [scales.length], raw: new Uint8Array(scales.buffer) });
    addTensor({ name: bz, dtype: DataType.INT32, dims: [scales.length], raw: new Uint8Array(scales.length * 4) });
    fields.push(encodeNodeField({ name: unique(`${base}_bias_DequantizeLinear${suffix}`), opType: 'DequantizeLinear', domain: '', inputs: [bq, bs, bz], outputs: [bdq], attributes: [{ name: 'axis', type: 'int', value: 0 }] }));
    return { weight: wdq, bias: bdq };
  };

  const floatWeights = (l: QuantLayer): { weight: string; bias: string | null } => {
    const weight = unique(`${l.name}_weight`);
    addTensor({ name: weight, dtype: DataType.FLOAT, dims: l.weight!.dims, raw: new Uint8Array(Float32Array.from(l.weight!.data).buffer) });
    if (!l.bias) return { weight, bias: null };
    const bias = unique(`${l.name}_bias`);
    addTensor({ name: bias, dtype: DataType.FLOAT, dims: [l.bias.length], raw: new Uint8Array(Float32Array.from(l.bias).buffer) });
    return { weight, bias };
  };

  const withInputs = (l: QuantLayer, input: string, w: { weight: string; bias: string | null }): string[] => {
    const inputs = l.node.inputs.slice();
    inputs[1 - l.weightInput] = input;
    inputs[l.weightInput] = w.weight;
    if (w.bias) {
      while (inputs.length < 3) inputs.push('');
      inputs[2] = w.bias;
    }
    return inputs;
  };

  for (const l of plan.layers) {
    if (!l.weight) continue;
    const fields: Uint8Array[] = [];
    const int8 = l.precision === 'int8';
    if (options.mode === 'qdq' && int8) {
      const x = quantizeActivation(l.input, fields, '');
      fields.push(...encoded(l.node, withInputs(l, x, quantizedWeights(l, fields, '')), [], []));
    } else {
      fields.push(...encoded(l.node, withInputs(l, l.input, floatWeights(l)), [], []));
      if (options.mode === 'shadow' && int8) {
        const x = quantizeActivation(l.input, fields, '_mbn_shadow');
        let out = unique(`${l.node.outputs[0]}_mbn_shadow`);
        const inputs = withInputs(l, x, quantizedWeights(l, fields, '_mbn_shadow'));
        fields.push(nodeField(model, l.node, inputs, [], [], { name: unique(`${l.name}_mbn_shadow`), outputs: [out] }));
        const point = points.get(l.node);
        const act = point?.activation;
        if (act) {
          // The absorbed activation, copied (in its opset-raised form) after the quantized copy.
          const change = changes.get(act);
          const actOut = unique(`${act.outputs[0]}_mbn_shadow`);
          const actInputs = [out, ...(change?.inputs ?? act.inputs).slice(1)];
          fields.push(nodeField(model, act, actInputs, change?.drop ?? [], change?.add ?? [], { name: unique(`${act.name || act.opType}_mbn_shadow`), outputs: [actOut] }));
          out = actOut;
        }
        const range = point && plan.ranges.get(point.tensor);
        if (range) out = quantizePair(out, range, fields, '');
        const float = point?.tensor ?? l.node.outputs[0];
        shadows.set(l, { float, quantized: out });
        exposed.push(float, out);
      }
    }
    replaced.set(l.node, fields);
    // The old weight and bias go (each is read by this node only: plan.ts keeps shared weights float).
    for (const src of [l.weightSource, l.biasSource]) {
      if (!src) continue;
      if (src.kind === 'constant') replaced.set(src.node, []);
      else {
        graphEdit.fields.set(src.tensor.span.tagStart, { kind: 'replace', fields: [] });
        for (const i of model.graph.inputs) if (i.name === src.tensor.name) graphEdit.fields.set(i.span.tagStart, { kind: 'replace', fields: [] });
      }
    }
  }
  // The other nodes that read a rewired tensor or write an output point.
  for (const node of model.graph.nodes) {
    if (replaced.has(node)) continue;
    if (after.has(node) || node.inputs.some((i) => rewire.has(i))) replaced.set(node, encoded(node, node.inputs, [], []));
  }
  for (const [node, fields] of replaced) graphEdit.fields.set(node.span.tagStart, { kind: 'replace', fields });
  graphEdit.append.push(...tensors);
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  for (const name of new Set(exposed)) if (!outputs.has(name)) graphEdit.append.push(floatOutput(name));

  const modelEdit: MessageEdit = emptyEdit();
  modelEdit.fields.set(model.graph.span.tagStart, { kind: 'nested', edit: graphEdit });
  if (raise) raiseFields(model, modelEdit, raise.to);
  return { pieces: spliceMessage(model.source, 0, model.size, modelEdit), shadows };
}

/** The node re-encoded with new inputs (attributes copied as their bytes, minus `drop`, plus `add`). */
export function nodeField(model: Model, node: Node, inputs: string[], drop: string[], add: NewAttribute[], rename?: { name: string; outputs: string[] }): Uint8Array {
  const attributes: NewAttribute[] = node.attributes
    .filter((a) => !drop.includes(a.name))
    .map((a) => ({ name: a.name, type: 'raw' as const, payload: model.source.view(a.span.start, a.span.end).slice() }));
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  return encodeNodeField({
    name: rename?.name ?? node.name,
    opType: node.opType,
    domain: node.domain,
    inputs,
    outputs: rename?.outputs ?? node.outputs,
    attributes: [...attributes, ...add],
    docString: node.docString,
  });
}

/** A graph output (GraphProto field 12) of type float, rank unknown. */
function floatOutput(name: string): Uint8Array {
  return lengthField(12, concatBytes(lengthField(1, name), lengthField(2, lengthField(1, varintField(1, DataType.FLOAT)))));
}

/** ir_version ≥ 7 (opset 13's) and the default domain's opset import set to `to`. */
function raiseFields(model: Model, edit: MessageEdit, to: number): void {
  const r = new Reader(model.source, 0, model.size);
  let opsetDone = false;
  const opset = lengthField(8, concatBytes(varintField(2, to)));
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1 && f.wireType === WireType.Varint && f.value < 7) edit.fields.set(f.tagStart, { kind: 'replace', fields: [varintField(1, 7)] });
    if (f.no === 8 && f.wireType === WireType.Len) {
      const sub = new Reader(model.source, f.start, f.end);
      let domain = '';
      for (let g = sub.field(); g; g = sub.field()) if (g.no === 1) domain = new TextDecoder().decode(model.source.view(g.start, g.end));
      if (domain === '' || domain === 'ai.onnx') {
        edit.fields.set(f.tagStart, { kind: 'replace', fields: opsetDone ? [] : [opset] });
        opsetDone = true;
      }
    }
  }
  if (!opsetDone) edit.append.push(opset);
}

function namesOf(model: Model): Set<string> {
  const names = new Set<string>();
  const g = model.graph;
  for (const n of g.nodes) {
    if (n.name) names.add(n.name);
    for (const o of n.outputs) names.add(o);
    for (const i of n.inputs) names.add(i);
  }
  for (const t of g.initializers) names.add(t.name);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) names.add(v.name);
  return names;
}
