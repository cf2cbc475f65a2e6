import { basename } from 'node:path';
import type { SeparableConv } from '../cost/separable.js';
import type { Graph, Model, Node } from '../ir/types.js';
import { hasExternalData } from '../ir/walk.js';
import { type NewAttribute, concatBytes, encodeNodeField, encodeTensorField, encodeValueInfoField, lengthField, varintField } from '../onnx/encode.js';
import type { DataPart } from '../onnx/external.js';
import { type MessageEdit, type Piece, emptyEdit, spliceMessage } from '../onnx/splice.js';
import { Reader } from '../onnx/wire.js';
import { encodeFloats } from '../tensor/float.js';
import { type CandidateLayer, FLOAT_DTYPES, type GraphIndex, type SeparationPlan, findWeight, sharedWeightKey } from './plan.js';
import { alignmentPadding, relocateExternalTensors } from './relocate.js';

/**
 * `mbn separate`'s emitter: turns a plan (plan.ts) into byte-range edits of the model through the one encoder
 * (onnx/encode.ts) and the splicer. Each chosen conv's node is replaced by its depthwise and pointwise convs, their
 * weights appended to the graph that holds the conv (once per shared weight: plan.ts, sharedWeightKey), the old
 * weight removed once nothing reads it. The plan is read, never changed.
 */

export interface EmittedSeparation {
  pieces: Piece[];
  /**
   * The output's own data file, when the model keeps weights outside: its name (beside the output) and contents,
   * the new weights and every external tensor the output keeps, so that it never refers to the input's files.
   */
  externalData: { location: string; parts: DataPart[] } | null;
  /** Names of the new nodes per rewritten layer, for reports. */
  newNodes: Map<CandidateLayer, { depthwise: string; pointwise: string; rank: number; depthwiseOutput: string }>;
  /** The main-graph output name of each extra output computed inside an If branch (see ExtraOutput.graph). */
  exposed: Map<string, string>;
}

/** A value to expose as an extra output of the main graph (calibration reads intermediate activations this way). */
export interface ExtraOutput {
  name: string;
  dtype: number;
  rank: number;
  /**
   * The graph that computes it, when an If branch (nested Ifs too): it becomes an extra output of that branch and
   * of its If node, up to the main graph; the other branch gives an empty tensor of the same type and rank there.
   * The main graph's output is then named `EmittedSeparation.exposed.get(name)`.
   */
  graph?: Graph;
}

/**
 * How many node inputs and graph outputs read each name, and every name, model-wide: the emitter needs them for new
 * names and to know when an old weight is no longer read. Made once per model on the first emit that adds anything
 * (a graph may have millions of names; calibration emits once per wave), never stored in the plan.
 */
interface NameIndex {
  readers: Map<string, number>;
  names: Set<string>;
}

const nameIndexes = new WeakMap<Model, NameIndex>();

function nameIndexOf(model: Model): NameIndex {
  const known = nameIndexes.get(model);
  if (known) return known;
  const index: NameIndex = { readers: new Map(), names: new Set() };
  const read = (name: string) => name && index.readers.set(name, (index.readers.get(name) ?? 0) + 1);
  const visit = (g: Graph) => {
    for (const t of g.initializers) index.names.add(t.name);
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) index.names.add(v.name);
    for (const o of g.outputs) read(o.name);
    for (const n of g.nodes) {
      if (n.name) index.names.add(n.name);
      for (const i of n.inputs) read(i);
      for (const o of n.outputs) index.names.add(o);
      for (const a of n.attributes) {
        const subs = a.data.type === 'graph' ? [a.data.value] : a.data.type === 'graphs' ? a.data.value : [];
        for (const sub of subs) visit(sub);
      }
    }
  };
  visit(model.graph);
  for (const fn of model.functions) for (const n of fn.nodes) if (n.name) index.names.add(n.name);
  nameIndexes.set(model, index);
  return index;
}

export interface SeparationEmitOptions {
  /** Names the output's external data file (`<basename>.data`), when the model keeps weights outside. */
  outputPath: string;
  /** Values added as graph outputs (calibration reads intermediate activations this way). */
  expose?: ExtraOutput[];
  /**
   * Calibration's scratch copies (calibrate/copies.ts): the external tensors the rewrite keeps are pointed at a data
   * file already holding them at the given offsets, and the output's own data file holds only the new tensors.
   */
  kept?: { location: string; offsets: ReadonlyMap<number, number> };
}

/** Turns a plan into byte edits of its model (see SeparationEmitOptions). */
export function emitSeparation(plan: SeparationPlan, options: SeparationEmitOptions): EmittedSeparation {
  const { model, index } = plan;
  const { outputPath, kept } = options;
  const extraOutputs = options.expose ?? [];
  const nameIndex = plan.chosen.length || extraOutputs.length ? nameIndexOf(model) : { readers: new Map<string, number>(), names: new Set<string>() };
  const usesExternal = hasExternalData(model);
  const externalLocation = `${basename(outputPath)}.data`;
  const external: DataPart[] = [];
  let externalOffset = 0;
  // New names and reader counts live beside the index, never in a copy of it (a graph may have millions of names).
  const added = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; nameIndex.names.has(name) || added.has(name); i++) name = `${base}_${i}`;
    added.add(name);
    return name;
  };
  const edits = new Map<Graph, MessageEdit>();
  const editOf = (g: Graph): MessageEdit => {
    let e = edits.get(g);
    if (!e) edits.set(g, (e = emptyEdit()));
    return e;
  };
  const newNodes: EmittedSeparation['newNodes'] = new Map();
  const shared = new Map<string, { dw: string; pw: string }>();
  const readersLeft = new Map<string, number>();

  for (const c of plan.chosen) {
    const graph = c.graph!;
    const node = c.node;
    const conv = c.conv!;
    const w = c.weights!;
    const dtype = c.weight!.tensor.dtype;
    const base = node.name || `${node.outputs[0]}_conv`;
    const key = sharedWeightKey(c);
    let weightNames = shared.get(key);
    const tensorField = (name: string, dims: number[], values: Float64Array): Uint8Array => {
      const raw = encodeFloats(values, FLOAT_DTYPES[dtype]);
      if (!usesExternal) return encodeTensorField({ name, dtype, dims, raw });
      external.push(raw);
      const field = encodeTensorField({ name, dtype, dims, external: { location: externalLocation, offset: externalOffset, length: raw.length } });
      externalOffset += raw.length;
      // ONNX aligns external tensors to 4 KiB pages only as an optimization; 64-byte alignment keeps mmap-friendly offsets.
      const pad = alignmentPadding(externalOffset);
      if (pad) external.push(new Uint8Array(pad)), (externalOffset += pad);
      return field;
    };
    if (!weightNames) {
      weightNames = { dw: unique(`${base}_dw_weight`), pw: unique(`${base}_pw_weight`) };
      shared.set(key, weightNames);
      // New weights live in the graph that holds the conv: an If/Loop body may hold initializers of its own.
      editOf(graph).append.push(tensorField(weightNames.dw, w.depthwise.dims, w.depthwise.data), tensorField(weightNames.pw, w.pointwise.dims, w.pointwise.data));
    }
    const dwOut = unique(`${node.outputs[0]}_dw`);
    const dwName = unique(`${base}_depthwise`);
    const pwName = unique(`${base}_pointwise`);
    const spatial = conv.kernel.length;
    const carried = unknownNodeFields(model, node);
    const copied: NewAttribute[] = node.attributes
      .filter((a) => a.name !== 'group' && a.name !== 'kernel_shape')
      .map((a) => ({ name: a.name, type: 'raw', payload: model.source.view(a.span.start, a.span.end).slice() }));
    const depthwise = encodeNodeField({
      name: dwName,
      opType: 'Conv',
      domain: node.domain,
      inputs: [node.inputs[0], weightNames.dw],
      outputs: [dwOut],
      attributes: [
        ...copied,
        { name: 'group', type: 'int', value: conv.inChannels },
        { name: 'kernel_shape', type: 'ints', value: conv.kernel },
      ],
      docString: `depthwise half of ${node.name || node.opType} (mbn separate)`,
      extraFields: carried,
    });
    const pwAttrs: NewAttribute[] = [{ name: 'kernel_shape', type: 'ints', value: new Array(spatial).fill(1) }];
    if (conv.group > 1) pwAttrs.push({ name: 'group', type: 'int', value: conv.group });
    // A data-driven refit brings its own bias (see refit.ts); the original one then goes once nothing reads it.
    let biasInput = conv.hasBias ? node.inputs[2] : null;
    if (w.bias) {
      biasInput = unique(`${base}_pw_bias`);
      editOf(graph).append.push(tensorField(biasInput, w.bias.dims, w.bias.data));
      if (conv.hasBias) {
        const left = (readersLeft.get(node.inputs[2]) ?? nameIndex.readers.get(node.inputs[2]) ?? 1) - 1;
        readersLeft.set(node.inputs[2], left);
        const old = findWeight(index, graph, node.inputs[2]);
        if (left === 0 && old) removeWeight(index, graph, node.inputs[2], old, editOf);
      }
    }
    const pointwise = encodeNodeField({
      name: pwName,
      opType: 'Conv',
      domain: node.domain,
      inputs: biasInput ? [dwOut, weightNames.pw, biasInput] : [dwOut, weightNames.pw],
      outputs: [node.outputs[0]],
      attributes: pwAttrs,
      docString: `pointwise half of ${node.name || node.opType} (mbn separate)`,
      extraFields: carried,
    });
    const edit = editOf(graph);
    edit.fields.set(node.span.tagStart, { kind: 'replace', fields: [depthwise, pointwise] });
    edit.append.push(encodeValueInfoField(dwOut, dtype, depthwiseOutputShape(graph, node.outputs[0], conv, w.rank)));
    newNodes.set(c, { depthwise: dwName, pointwise: pwName, rank: w.rank, depthwiseOutput: dwOut });

    // The old weight goes once nothing reads it any more.
    const weightName = node.inputs[1];
    const left = (readersLeft.get(weightName) ?? nameIndex.readers.get(weightName) ?? 1) - 1;
    readersLeft.set(weightName, left);
    if (left === 0) removeWeight(index, graph, weightName, c.weight!, editOf);
  }

  const exposed = new Map<string, string>();
  for (const o of extraOutputs) {
    const dims = new Array(o.rank).fill(null);
    let name = o.name;
    for (let g = o.graph ?? model.graph, p = index.parent.get(g); p; g = p.graph, p = index.parent.get(g)) {
      // An output of the branch, then of its If node (both branches must give the same number of outputs).
      editOf(g).append.push(encodeValueInfoField(name, o.dtype, dims, 12));
      for (const a of p.node.attributes) {
        if (a.data.type !== 'graph' || a.data.value === g) continue;
        const empty = unique(`${name}_mbn_empty`);
        const value = concatBytes(lengthField(1, 'value'), encodeTensorField({ name: '', dtype: o.dtype, dims: new Array(o.rank).fill(0), raw: new Uint8Array(0) }, 5), varintField(20, 4));
        editOf(a.data.value).append.push(
          encodeNodeField({ name: unique(`${name}_mbn_empty_node`), opType: 'Constant', domain: '', inputs: [], outputs: [empty], attributes: [{ name: 'value', type: 'raw', payload: value }] }),
          encodeValueInfoField(empty, o.dtype, dims, 12),
        );
      }
      const outer = unique(`${name}_mbn_exposed`);
      const nodeEdit = emptyEdit();
      nodeEdit.append.push(lengthField(2, outer));
      const graphEdit = editOf(p.graph);
      const existing = graphEdit.fields.get(p.node.span.tagStart);
      if (existing?.kind === 'nested') mergeEdits(existing.edit, nodeEdit);
      else graphEdit.fields.set(p.node.span.tagStart, { kind: 'nested', edit: nodeEdit });
      name = outer;
    }
    editOf(model.graph).append.push(encodeValueInfoField(name, o.dtype, dims, 12));
    if (name !== o.name) exposed.set(o.name, name);
  }
  let modelEdit = emptyEdit();
  for (const [graph, edit] of edits) modelEdit = nestEdit(index, model, graph, edit, modelEdit);
  if (usesExternal) for (const part of relocateExternalTensors(model, modelEdit, kept?.location ?? externalLocation, externalOffset, kept?.offsets)) external.push(part);
  const pieces = spliceMessage(model.source, 0, model.size, modelEdit);
  return { pieces, externalData: usesExternal ? { location: externalLocation, parts: external } : null, newNodes, exposed };
}

/**
 * The shape declared for the depthwise output: only what holds for every execution. Its channels are C·r (the
 * depthwise weight's dims) and its rank the weight's; batch and feature map are those the model itself declares for
 * the conv's output (same strides, pads and dilations), else unknown. Dims inferred by mbn are not written: they may
 * come from an assumed input dim, or from one If branch while the other branch runs with other sizes.
 */
function depthwiseOutputShape(graph: Graph, output: string, conv: SeparableConv, rank: number): (number | string | null)[] {
  const declared = [...graph.valueInfo, ...graph.outputs].find((v) => v.name === output)?.type;
  const spatial = conv.kernel.length;
  const shape = declared?.kind === 'tensor' && declared.shape?.length === spatial + 2 ? declared.shape : null;
  const dim = (i: number) => {
    const d = shape?.[i];
    return typeof d === 'string' || (typeof d === 'number' && d >= 0) ? d : null;
  };
  return [dim(0), conv.inChannels * rank, ...conv.kernel.map((_, i) => dim(i + 2))];
}

/** NodeProto fields beyond onnx 1.10's seven (metadata_props, overload, device_configurations, …), as bytes. */
function unknownNodeFields(model: Model, node: Node): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = new Reader(model.source, node.span.start, node.span.end);
  for (let f = r.field(); f; f = r.field()) {
    if (f.no > 7) out.push(model.source.view(f.tagStart, f.end).slice());
  }
  return out;
}

function removeWeight(index: GraphIndex, from: Graph, name: string, weight: NonNullable<CandidateLayer['weight']>, editOf: (g: Graph) => MessageEdit): void {
  for (let g: Graph | undefined = from; g; g = index.parent.get(g)?.graph) {
    if (weight.viaConstant) {
      if (g.nodes.includes(weight.viaConstant)) {
        editOf(g).fields.set(weight.viaConstant.span.tagStart, { kind: 'replace', fields: [] });
        return;
      }
      continue;
    }
    if (g.initializers.includes(weight.tensor)) {
      const e = editOf(g);
      e.fields.set(weight.tensor.span.tagStart, { kind: 'replace', fields: [] });
      // IR < 4 lists initializers among the graph inputs too; without its initializer it would become a real input.
      for (const input of g.inputs) if (input.name === name) e.fields.set(input.span.tagStart, { kind: 'replace', fields: [] });
      return;
    }
  }
}

/** Places a graph's edit inside the edits of its ancestors: model → graph → node → attribute → subgraph → … */
function nestEdit(index: GraphIndex, model: Model, graph: Graph, edit: MessageEdit, modelEdit: MessageEdit): MessageEdit {
  const path: number[] = [];
  for (let g = graph, p = index.parent.get(g); p; g = p.graph, p = index.parent.get(g)) {
    path.unshift(p.node.span.tagStart, p.attribute.span.tagStart, g.span.tagStart);
  }
  path.unshift(model.graph.span.tagStart);
  let target = modelEdit;
  for (let i = 0; i < path.length; i++) {
    const existing = target.fields.get(path[i]);
    if (i === path.length - 1) {
      if (existing && existing.kind === 'nested') mergeEdits(existing.edit, edit);
      else target.fields.set(path[i], { kind: 'nested', edit });
    } else if (existing && existing.kind === 'nested') {
      target = existing.edit;
    } else {
      const next = emptyEdit();
      target.fields.set(path[i], { kind: 'nested', edit: next });
      target = next;
    }
  }
  return modelEdit;
}

function mergeEdits(into: MessageEdit, from: MessageEdit): void {
  for (const [k, v] of from.fields) {
    const existing = into.fields.get(k);
    if (existing && existing.kind === 'nested' && v.kind === 'nested') mergeEdits(existing.edit, v.edit);
    else into.fields.set(k, v);
  }
  into.append.push(...from.append);
}
