import type { Model } from '../ir/types.js';
import { concatBytes, lengthField } from '../onnx/encode.js';
import { type MessageEdit, type Piece, emptyEdit, spliceMessage } from '../onnx/splice.js';
import { Reader } from '../onnx/wire.js';

/**
 * `mbn analyze --annotate`: the model's bytes with new doc strings (NodeProto field 6) and, from IR version 10 on,
 * metadata_props entries (NodeProto field 9, StringStringEntryProto key = 1, value = 2) on the main graph's nodes.
 * Everything else is the splice writer's copy of the original bytes. Nodes inside If/Loop/Scan bodies and in
 * model-local functions are left as they are: a function body is shared by every call, and the node holding a
 * body carries the sums of what is inside it.
 */

/** metadata_props on NodeProto: IR version 10 (ONNX 1.16) on. */
export const NODE_METADATA_IR = 10;

const DOC_STRING = 6;
const METADATA_PROPS = 9;

export interface NodeText {
  /** The whole new doc string. */
  doc: string;
  /** metadata_props entries to add; existing entries whose key starts with `replacePrefix` are removed. */
  props: [string, string][];
}

/** The annotated model's pieces. `texts` is keyed by the node's index in the main graph. */
export function annotatePieces(model: Model, texts: ReadonlyMap<number, NodeText>, replacePrefix: string): Piece[] {
  const graphEdit = emptyEdit();
  const withProps = model.irVersion >= NODE_METADATA_IR;
  const decoder = new TextDecoder();
  for (const [index, text] of texts) {
    const node = model.graph.nodes[index];
    const edit: MessageEdit = emptyEdit();
    const docs: number[] = [];
    const r = new Reader(model.source, node.span.start, node.span.end);
    for (let f = r.field(); f; f = r.field()) {
      if (f.no === DOC_STRING) docs.push(f.tagStart);
      if (f.no === METADATA_PROPS && withProps) {
        const key = entryKey(model, f.start, f.end, decoder);
        if (key.startsWith(replacePrefix)) edit.fields.set(f.tagStart, { kind: 'replace', fields: [] });
      }
    }
    const doc = lengthField(DOC_STRING, text.doc);
    // The last doc_string field is the one readers keep: replace it, drop any before it.
    docs.forEach((at, i) => edit.fields.set(at, { kind: 'replace', fields: i === docs.length - 1 ? [doc] : [] }));
    if (docs.length === 0) edit.append.push(doc);
    if (withProps) {
      for (const [key, value] of text.props) edit.append.push(lengthField(METADATA_PROPS, concatBytes(lengthField(1, key), lengthField(2, value))));
    }
    graphEdit.fields.set(node.span.tagStart, { kind: 'nested', edit });
  }
  const modelEdit = emptyEdit();
  if (graphEdit.fields.size > 0) modelEdit.fields.set(model.graph.span.tagStart, { kind: 'nested', edit: graphEdit });
  return spliceMessage(model.source, 0, model.size, modelEdit);
}

function entryKey(model: Model, start: number, end: number, decoder: TextDecoder): string {
  const r = new Reader(model.source, start, end);
  let key = '';
  for (let f = r.field(); f; f = r.field()) if (f.no === 1) key = decoder.decode(model.source.view(f.start, f.end));
  return key;
}
