import { MbnError, quote } from '../errors.js';
import type { Graph, Model, TensorRef } from '../ir/types.js';
import { bytesFor, dtypeName } from '../onnx/dtype.js';
import type { DataPart } from '../onnx/external.js';
import { type FieldEdit, type MessageEdit, emptyEdit, varint } from '../onnx/splice.js';
import { elementCount } from '../onnx/tensor-data.js';
import { Reader } from '../onnx/wire.js';

/**
 * A rewritten model that keeps weights in external data gets a data file of its own, holding every external tensor
 * it keeps (copied as the byte ranges they were) next to the new ones. The output then never depends on the input's
 * files and can be written to any folder. Tensors are found where ONNX's own external-data helper looks for them:
 * graph initializers and tensor attributes of nodes, in subgraphs too.
 */

/** New tensors and copied ones start at multiples of 64 bytes: mmap-friendly offsets at a small cost. */
const DATA_ALIGNMENT = 64;

export function alignmentPadding(offset: number): number {
  return (DATA_ALIGNMENT - (offset % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
}

/** TensorProto.external_data entries (field 13, StringStringEntryProto { key = 1, value = 2 }) as encoded fields. */
function encodeExternalEntries(entries: readonly [string, string][]): Uint8Array[] {
  return entries.map(([key, value]) => {
    const k = Buffer.from(key);
    const v = Buffer.from(value);
    const payload = Buffer.concat([varint((1 << 3) | 2), varint(k.length), k, varint((2 << 3) | 2), varint(v.length), v]);
    return Buffer.concat([varint((13 << 3) | 2), varint(payload.length), payload]);
  });
}

/**
 * Points every external tensor that a rewrite keeps at `location`, from `offset` on, by adding edits to `modelEdit`
 * (the rewrite's edit of the whole ModelProto) that replace the tensor's external_data entries; the checksum, of
 * unchanged bytes, is kept. A tensor or node that `modelEdit` removes is not copied. Returns the parts to append to
 * the output's data file.
 *
 * With `placed` (from externalLayout: each tensor's offset, by the start of its TensorProto in the model), the
 * tensors are pointed at a data file that already holds them all at those offsets, and nothing is returned to copy.
 */
export function relocateExternalTensors(model: Model, modelEdit: MessageEdit, location: string, offset: number, placed?: ReadonlyMap<number, number>): DataPart[] {
  const parts: DataPart[] = [];
  let at = offset;
  const relocate = (t: TensorRef): FieldEdit => {
    const count = elementCount(t);
    const length = bytesFor(t.dtype, count);
    if (!Number.isSafeInteger(length) || length < 0 || (length === 0 && count > 0)) {
      throw new MbnError('external-data', `external data of tensor ${quote(t.name)}: cannot copy data of type ${dtypeName(t.dtype)}`);
    }
    // Each tensor starts aligned; the file does not end with padding.
    const pad = placed ? 0 : alignmentPadding(at);
    if (pad) parts.push(new Uint8Array(pad)), (at += pad);
    const start = placed ? placed.get(t.span.start) : at;
    if (start === undefined) throw new Error(`relocate: tensor ${t.name} has no place in the layout`);
    const edit = emptyEdit();
    const r = new Reader(model.source, t.span.start, t.span.end);
    for (let f = r.field(); f; f = r.field()) if (f.no === 13) edit.fields.set(f.tagStart, { kind: 'replace', fields: [] });
    const entries: [string, string][] = [['location', location], ['offset', String(start)], ['length', String(length)]];
    if (t.external!.checksum !== null) entries.push(['checksum', t.external!.checksum]);
    edit.append.push(...encodeExternalEntries(entries));
    if (!placed) {
      parts.push({ tensor: t, length });
      at += length;
    }
    return { kind: 'nested', edit };
  };
  // Edits are addressed by a path of tag offsets from the ModelProto down; nested edits are made only where needed.
  const existing = (path: number[]): MessageEdit | null => {
    let edit = modelEdit;
    for (const tag of path) {
      const f = edit.fields.get(tag);
      if (f?.kind !== 'nested') return null;
      edit = f.edit;
    }
    return edit;
  };
  const editAt = (path: number[]): MessageEdit => {
    let edit = modelEdit;
    for (const tag of path) {
      const f = edit.fields.get(tag);
      if (f?.kind === 'nested') edit = f.edit;
      else {
        const inner = emptyEdit();
        edit.fields.set(tag, { kind: 'nested', edit: inner });
        edit = inner;
      }
    }
    return edit;
  };
  const visit = (g: Graph, path: number[]): void => {
    const graphEdit = existing(path);
    const removed = (tagStart: number): boolean => graphEdit?.fields.get(tagStart)?.kind === 'replace';
    for (const t of g.initializers) {
      if (t.storage === 'external' && !removed(t.span.tagStart)) editAt(path).fields.set(t.span.tagStart, relocate(t));
    }
    for (const n of g.nodes) {
      if (removed(n.span.tagStart)) continue;
      for (const a of n.attributes) {
        const d = a.data;
        const inAttribute = [...path, n.span.tagStart, a.span.tagStart];
        if (d.type === 'graph') visit(d.value, [...inAttribute, d.value.span.tagStart]);
        else if (d.type === 'graphs') for (const sub of d.value) visit(sub, [...inAttribute, sub.span.tagStart]);
        const tensors = d.type === 'tensor' ? [d.value] : d.type === 'tensors' ? d.value : [];
        for (const t of tensors) if (t.storage === 'external') editAt(inAttribute).fields.set(t.span.tagStart, relocate(t));
      }
    }
  };
  visit(model.graph, [model.graph.span.tagStart]);
  return parts;
}

/**
 * Every external tensor of the model laid out in one data file, as relocateExternalTensors copies them: the parts
 * of that file and each tensor's offset in it, by the start of its TensorProto in the model (see `placed` above).
 */
export function externalLayout(model: Model): { parts: DataPart[]; offsets: Map<number, number> } {
  const parts = relocateExternalTensors(model, emptyEdit(), 'layout', 0);
  const offsets = new Map<number, number>();
  let at = 0;
  for (const p of parts) {
    if (p instanceof Uint8Array) at += p.length;
    else offsets.set(p.tensor.span.start, at), (at += p.length);
  }
  return { parts, offsets };
}
