import { MbnError, quote } from '../errors.js';
import type {
  Attribute,
  ByteSource,
  AttrValue,
  ExternalRef,
  FunctionDef,
  Graph,
  Model,
  Node,
  Span,
  TensorRef,
  TypeInfo,
  ValueInfo,
} from '../ir/types.js';
import { BufferSource, readWithSource } from './source.js';
import { type Field, Reader, WireType, expectWire, readRepeatedFloat, readRepeatedVarint } from './wire.js';

/**
 * Reads ONNX ModelProto bytes into the layer IR. Field numbers are onnx.proto's (through IR 13). Unknown fields are
 * skipped here; writers keep them because they copy untouched byte ranges. Weight payloads are never read: a tensor
 * records the spans of its data.
 */

/** Subgraph nesting deeper than this is refused rather than risking the stack. */
export const MAX_GRAPH_DEPTH = 64;

const utf8Lenient = new TextDecoder('utf-8');

function spanOf(f: Field): Span {
  return { tagStart: f.tagStart, start: f.start, end: f.end };
}

function lenient(r: Reader, f: Field): string {
  return utf8Lenient.decode(r.bytes(f));
}

function readStringEntry(r: Reader): [string, string] {
  let key = '';
  let value = '';
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1) (expectWire(f, WireType.Len, 'StringStringEntryProto', 'key'), (key = r.string(f, 'a metadata key')));
    else if (f.no === 2) (expectWire(f, WireType.Len, 'StringStringEntryProto', 'value'), (value = lenient(r, f)));
  }
  return [key, value];
}

function readOpset(r: Reader): [string, number] {
  let domain = '';
  let version = 0;
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1) (expectWire(f, WireType.Len, 'OperatorSetIdProto', 'domain'), (domain = r.string(f, 'an opset domain')));
    else if (f.no === 2) (expectWire(f, WireType.Varint, 'OperatorSetIdProto', 'version'), (version = f.value));
  }
  return [domain === 'ai.onnx' ? '' : domain, version];
}

function parseDecimal(text: string, key: string, tensor: string): number {
  if (!/^[0-9]+$/.test(text)) {
    throw new MbnError('external-data', `external data of tensor ${quote(tensor)}: ${key} ${quote(text)} is not a non-negative integer`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new MbnError('external-data', `external data of tensor ${quote(tensor)}: ${key} ${quote(text)} is too large`);
  }
  return n;
}

export function readTensor(r: Reader, span: Span): TensorRef {
  const t: TensorRef = {
    name: '',
    dtype: 0,
    dims: [],
    storage: 'none',
    dataSpans: [],
    external: null,
    span,
    docString: '',
  };
  const entries: [string, string][] = [];
  let location = 0;
  for (let f = r.field(); f; f = r.field()) {
    switch (f.no) {
      case 1:
        readRepeatedVarint(r, f, t.dims, 'TensorProto', 'dims');
        break;
      case 2:
        expectWire(f, WireType.Varint, 'TensorProto', 'data_type');
        t.dtype = f.value;
        break;
      case 8:
        expectWire(f, WireType.Len, 'TensorProto', 'name');
        t.name = r.string(f, 'a tensor name');
        break;
      case 9:
        expectWire(f, WireType.Len, 'TensorProto', 'raw_data');
        t.dataSpans.push({ field: 9, start: f.start, end: f.end, packed: true });
        break;
      case 4: case 5: case 7: case 10: case 11:
        t.dataSpans.push({ field: f.no, start: f.start, end: f.end, packed: f.wireType === WireType.Len });
        break;
      case 6:
        expectWire(f, WireType.Len, 'TensorProto', 'string_data');
        t.dataSpans.push({ field: 6, start: f.start, end: f.end, packed: false });
        break;
      case 12:
        expectWire(f, WireType.Len, 'TensorProto', 'doc_string');
        t.docString = lenient(r, f);
        break;
      case 13:
        expectWire(f, WireType.Len, 'TensorProto', 'external_data');
        entries.push(readStringEntry(r.sub(f)));
        break;
      case 14:
        expectWire(f, WireType.Varint, 'TensorProto', 'data_location');
        location = f.value;
        break;
      default:
        break;
    }
  }
  for (const d of t.dims) {
    if (d < 0) throw new MbnError('invalid-model', `tensor ${quote(t.name)} has a negative dim ${d}`);
  }
  if (location === 1) {
    const ext: ExternalRef = { location: '', offset: null, length: null, checksum: null, unknownKeys: [] };
    let sawLocation = false;
    for (const [key, value] of entries) {
      if (key === 'location') (ext.location = value), (sawLocation = true);
      else if (key === 'offset') ext.offset = parseDecimal(value, 'offset', t.name);
      else if (key === 'length') ext.length = parseDecimal(value, 'length', t.name);
      else if (key === 'checksum') ext.checksum = value;
      else ext.unknownKeys.push(key);
    }
    if (!sawLocation) throw new MbnError('external-data', `external data of tensor ${quote(t.name)} has no location`);
    t.external = ext;
    t.storage = 'external';
  } else if (t.dataSpans.length > 0) {
    t.storage = t.dataSpans[0].field === 9 ? 'raw' : 'typed';
  }
  return t;
}

function readDim(r: Reader): number | string | null {
  let dim: number | string | null = null;
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1) (expectWire(f, WireType.Varint, 'Dimension', 'dim_value'), (dim = f.value));
    else if (f.no === 2) (expectWire(f, WireType.Len, 'Dimension', 'dim_param'), (dim = r.string(f, 'a dim name')));
  }
  // paddle2onnx writes dim_value −1 for a dynamic dim: a negative dim is one nothing fixed, like an unnamed one.
  return typeof dim === 'number' && dim < 0 ? null : dim;
}

function readTensorType(r: Reader, kind: TypeInfo['kind']): TypeInfo {
  const info: TypeInfo = { kind, elemType: 0, shape: null };
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1) (expectWire(f, WireType.Varint, 'TypeProto.Tensor', 'elem_type'), (info.elemType = f.value));
    else if (f.no === 2) {
      expectWire(f, WireType.Len, 'TypeProto.Tensor', 'shape');
      const shape: (number | string | null)[] = [];
      const sr = r.sub(f);
      for (let d = sr.field(); d; d = sr.field()) {
        if (d.no === 1) (expectWire(d, WireType.Len, 'TensorShapeProto', 'dim'), shape.push(readDim(sr.sub(d))));
      }
      info.shape = shape;
    }
  }
  return info;
}

function readType(r: Reader): TypeInfo {
  for (let f = r.field(); f; f = r.field()) {
    if (f.wireType !== WireType.Len) continue;
    if (f.no === 1) return readTensorType(r.sub(f), 'tensor');
    if (f.no === 8) return readTensorType(r.sub(f), 'sparse_tensor');
    if (f.no === 4) return { kind: 'sequence', elemType: 0, shape: null };
    if (f.no === 5) return { kind: 'map', elemType: 0, shape: null };
    if (f.no === 9) return { kind: 'optional', elemType: 0, shape: null };
  }
  return { kind: 'unknown', elemType: 0, shape: null };
}

function readValueInfo(r: Reader, span: Span): ValueInfo {
  const v: ValueInfo = { name: '', type: null, span };
  for (let f = r.field(); f; f = r.field()) {
    if (f.no === 1) (expectWire(f, WireType.Len, 'ValueInfoProto', 'name'), (v.name = r.string(f, 'a value name')));
    else if (f.no === 2) (expectWire(f, WireType.Len, 'ValueInfoProto', 'type'), (v.type = readType(r.sub(f))));
  }
  return v;
}

function readAttribute(r: Reader, span: Span, depth: number): Attribute {
  const a: Attribute = { name: '', refAttrName: null, data: { type: 'other', value: null }, span };
  let declared = 0;
  let f_: number | null = null;
  let i_: number | null = null;
  let s: Uint8Array | null = null;
  let t: TensorRef | null = null;
  let g: Graph | null = null;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: Uint8Array[] = [];
  const tensors: TensorRef[] = [];
  const graphs: Graph[] = [];
  for (let f = r.field(); f; f = r.field()) {
    switch (f.no) {
      case 1: expectWire(f, WireType.Len, 'AttributeProto', 'name'); a.name = r.string(f, 'an attribute name'); break;
      case 21: expectWire(f, WireType.Len, 'AttributeProto', 'ref_attr_name'); a.refAttrName = r.string(f, 'an attribute reference'); break;
      case 20: expectWire(f, WireType.Varint, 'AttributeProto', 'type'); declared = f.value; break;
      case 2: expectWire(f, WireType.Fixed32, 'AttributeProto', 'f'); f_ = r.fieldFloat32(f); break;
      case 3: expectWire(f, WireType.Varint, 'AttributeProto', 'i'); i_ = f.value; break;
      case 4: expectWire(f, WireType.Len, 'AttributeProto', 's'); s = r.bytes(f); break;
      case 5: expectWire(f, WireType.Len, 'AttributeProto', 't'); t = readTensor(r.sub(f), spanOf(f)); break;
      case 6: expectWire(f, WireType.Len, 'AttributeProto', 'g'); g = readGraph(r.sub(f), spanOf(f), depth + 1); break;
      case 7: readRepeatedFloat(r, f, floats, 'AttributeProto', 'floats'); break;
      case 8: readRepeatedVarint(r, f, ints, 'AttributeProto', 'ints'); break;
      case 9: expectWire(f, WireType.Len, 'AttributeProto', 'strings'); strings.push(r.bytes(f)); break;
      case 10: expectWire(f, WireType.Len, 'AttributeProto', 'tensors'); tensors.push(readTensor(r.sub(f), spanOf(f))); break;
      case 11: expectWire(f, WireType.Len, 'AttributeProto', 'graphs'); graphs.push(readGraph(r.sub(f), spanOf(f), depth + 1)); break;
      default: break;
    }
  }
  // AttributeProto.type is authoritative since IR 2; older writers leave it 0 and set exactly one value field.
  const type =
    declared ||
    (f_ !== null ? 1 : i_ !== null ? 2 : s !== null ? 3 : t ? 4 : g ? 5 : floats.length ? 6 : ints.length ? 7 : strings.length ? 8 : tensors.length ? 9 : graphs.length ? 10 : 0);
  let data: AttrValue;
  switch (type) {
    case 1: data = { type: 'float', value: f_ ?? 0 }; break;
    case 2: data = { type: 'int', value: i_ ?? 0 }; break;
    case 3: data = { type: 'string', value: s ?? new Uint8Array(0) }; break;
    case 4: data = t ? { type: 'tensor', value: t } : { type: 'other', value: null }; break;
    case 5: data = g ? { type: 'graph', value: g } : { type: 'other', value: null }; break;
    case 6: data = { type: 'floats', value: floats }; break;
    case 7: data = { type: 'ints', value: ints }; break;
    case 8: data = { type: 'strings', value: strings }; break;
    case 9: data = { type: 'tensors', value: tensors }; break;
    case 10: data = { type: 'graphs', value: graphs }; break;
    default: data = { type: 'other', value: null };
  }
  a.data = data;
  return a;
}

/** Scratch lists for readNode (not re-entrant across nodes: attributes are read into their own list). */
const nodeInputs: string[] = [];
const nodeOutputs: string[] = [];
const NO_ATTRIBUTES = Object.freeze([]) as unknown as Attribute[];
const NO_NAMES = Object.freeze([]) as unknown as string[];
/**
 * Op types and domains repeat across a graph's nodes: one string each, not one per node. Bounded, so that a file of
 * a million distinct op types costs no more than one without the cache.
 */
const names = new Map<string, string>();
function shared(text: string): string {
  const known = names.get(text);
  if (known !== undefined) return known;
  if (names.size < 4096) names.set(text, text);
  return text;
}

/**
 * A node mostly reads what the nodes just before it made: its input names are those strings, and a list of inputs
 * equal to the previous node's outputs is that list (lists and names are never modified once read). A cache only:
 * what it holds may come from another graph or model, and is used only when equal.
 */
const recentOutputs: string[] = new Array<string>(8).fill('');
let recentAt = 0;
let previousOutputs: string[] = [];
function knownName(name: string): string {
  for (let i = 0; i < recentOutputs.length; i++) if (recentOutputs[i] === name) return recentOutputs[i];
  return name;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One node. A large graph has millions of them, so each holds only what it needs: lists of exactly their length
 * (a list grown by push keeps room for 16 more), and no list at all for a node without attributes.
 */
function readNode(r: Reader, span: Span, depth: number): Node {
  // No list literals inside: V8 would allocate them with the node, in the old generation, only to be replaced.
  const n: Node = { name: '', opType: '', domain: '', inputs: NO_NAMES, outputs: NO_NAMES, attributes: NO_ATTRIBUTES, docString: '', span };
  nodeInputs.length = 0;
  nodeOutputs.length = 0;
  let attributes: Attribute[] | null = null;
  for (let f = r.field(); f; f = r.field()) {
    switch (f.no) {
      case 1: expectWire(f, WireType.Len, 'NodeProto', 'input'); nodeInputs.push(knownName(r.string(f, 'a node input name'))); break;
      case 2: expectWire(f, WireType.Len, 'NodeProto', 'output'); nodeOutputs.push(r.string(f, 'a node output name')); break;
      case 3: expectWire(f, WireType.Len, 'NodeProto', 'name'); n.name = r.string(f, 'a node name'); break;
      case 4: expectWire(f, WireType.Len, 'NodeProto', 'op_type'); n.opType = shared(r.string(f, 'an op type')); break;
      case 5: {
        expectWire(f, WireType.Len, 'NodeProto', 'attribute');
        // Read before the scratch lists are copied: a subgraph attribute reads nodes of its own.
        const inputs = nodeInputs.slice();
        const outputs = nodeOutputs.slice();
        (attributes ??= []).push(readAttribute(r.sub(f), spanOf(f), depth));
        nodeInputs.length = 0;
        nodeOutputs.length = 0;
        nodeInputs.push(...inputs);
        nodeOutputs.push(...outputs);
        break;
      }
      case 6: expectWire(f, WireType.Len, 'NodeProto', 'doc_string'); n.docString = lenient(r, f); break;
      case 7: expectWire(f, WireType.Len, 'NodeProto', 'domain'); n.domain = shared(r.string(f, 'a node domain')); break;
      default: break;
    }
  }
  if (n.domain === 'ai.onnx') n.domain = '';
  n.inputs = sameNames(nodeInputs, previousOutputs) ? previousOutputs : nodeInputs.slice();
  n.outputs = nodeOutputs.slice();
  if (attributes) n.attributes = attributes;
  previousOutputs = n.outputs;
  for (const o of n.outputs) {
    recentOutputs[recentAt] = o;
    recentAt = (recentAt + 1) % recentOutputs.length;
  }
  return n;
}

export function readGraph(r: Reader, span: Span, depth: number): Graph {
  if (depth > MAX_GRAPH_DEPTH) {
    throw new MbnError('unsupported', `subgraphs are nested more than ${MAX_GRAPH_DEPTH} levels deep (at byte ${span.tagStart})`);
  }
  const g: Graph = {
    name: '',
    nodes: [],
    initializers: [],
    sparseInitializerNames: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
    span,
  };
  for (let f = r.field(); f; f = r.field()) {
    switch (f.no) {
      case 1: expectWire(f, WireType.Len, 'GraphProto', 'node'); g.nodes.push(readNode(r.sub(f), spanOf(f), depth)); break;
      case 2: expectWire(f, WireType.Len, 'GraphProto', 'name'); g.name = r.string(f, 'a graph name'); break;
      case 5: expectWire(f, WireType.Len, 'GraphProto', 'initializer'); g.initializers.push(readTensor(r.sub(f), spanOf(f))); break;
      case 11: expectWire(f, WireType.Len, 'GraphProto', 'input'); g.inputs.push(readValueInfo(r.sub(f), spanOf(f))); break;
      case 12: expectWire(f, WireType.Len, 'GraphProto', 'output'); g.outputs.push(readValueInfo(r.sub(f), spanOf(f))); break;
      case 13: expectWire(f, WireType.Len, 'GraphProto', 'value_info'); g.valueInfo.push(readValueInfo(r.sub(f), spanOf(f))); break;
      case 15: {
        expectWire(f, WireType.Len, 'GraphProto', 'sparse_initializer');
        // SparseTensorProto: values (1) is a TensorProto whose name is the initializer's name.
        const sr = r.sub(f);
        for (let sf = sr.field(); sf; sf = sr.field()) {
          if (sf.no === 2 && sf.wireType === WireType.Len) {
            const values = readTensor(sr.sub(sf), spanOf(sf));
            g.sparseInitializerNames.push(values.name);
          }
        }
        break;
      }
      default: break;
    }
  }
  return g;
}

function readFunction(r: Reader, span: Span): FunctionDef {
  const fn: FunctionDef = {
    name: '',
    domain: '',
    overload: '',
    inputs: [],
    outputs: [],
    attributeNames: [],
    attributeDefaults: [],
    nodes: [],
    opsetImports: new Map(),
    span,
  };
  for (let f = r.field(); f; f = r.field()) {
    switch (f.no) {
      case 1: expectWire(f, WireType.Len, 'FunctionProto', 'name'); fn.name = r.string(f, 'a function name'); break;
      case 4: expectWire(f, WireType.Len, 'FunctionProto', 'input'); fn.inputs.push(r.string(f, 'a function input')); break;
      case 5: expectWire(f, WireType.Len, 'FunctionProto', 'output'); fn.outputs.push(r.string(f, 'a function output')); break;
      case 6: expectWire(f, WireType.Len, 'FunctionProto', 'attribute'); fn.attributeNames.push(r.string(f, 'a function attribute')); break;
      case 11: expectWire(f, WireType.Len, 'FunctionProto', 'attribute_proto'); fn.attributeDefaults.push(readAttribute(r.sub(f), spanOf(f), 1)); break;
      case 7: expectWire(f, WireType.Len, 'FunctionProto', 'node'); fn.nodes.push(readNode(r.sub(f), spanOf(f), 1)); break;
      case 9: {
        expectWire(f, WireType.Len, 'FunctionProto', 'opset_import');
        const [d, v] = readOpset(r.sub(f));
        fn.opsetImports.set(d, v);
        break;
      }
      case 10: expectWire(f, WireType.Len, 'FunctionProto', 'domain'); fn.domain = r.string(f, 'a function domain'); break;
      case 13: expectWire(f, WireType.Len, 'FunctionProto', 'overload'); fn.overload = r.string(f, 'a function overload'); break;
      default: break;
    }
  }
  return fn;
}

/** How a Git LFS pointer file starts (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md). */
const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1';

/** Names a few formats that users hand us by mistake, from their first bytes. */
function sniffForeign(head: Uint8Array): string | null {
  const text = Buffer.from(head.subarray(0, 16)).toString('latin1');
  if (head.length === 0) return 'the file is empty';
  if (text.startsWith('PK\u0003\u0004')) return 'it is a zip archive (a PyTorch .pt/.pth checkpoint or a .zip?); export it with torch.onnx.export first';
  if (text.startsWith('\u0089HDF')) return 'it is an HDF5 file (a Keras .h5 model?)';
  if (text.startsWith('TFL3') || text.slice(4, 8) === 'TFL3') return 'it is a TensorFlow Lite model, which this command does not take (mbn analyze, check, diff and advise read .tflite)';
  if (/^\s*[{[]/.test(text)) return 'it looks like JSON';
  if (/^\s*ir_version\s*:/.test(text)) return 'it is an ONNX model in protobuf text format; convert it to binary first';
  if (/^\s*</.test(text)) return 'it looks like XML or HTML';
  if (head[0] === 0x80 && head[1] <= 5) return 'it is a Python pickle';
  return null;
}

/** ModelProto's fields (onnx.proto) with their wire types: what tells a model from another protobuf message. */
const MODEL_FIELDS: Record<number, { name: string; wire: WireType }> = {
  1: { name: 'ir_version', wire: WireType.Varint },
  2: { name: 'producer_name', wire: WireType.Len },
  3: { name: 'producer_version', wire: WireType.Len },
  4: { name: 'domain', wire: WireType.Len },
  5: { name: 'model_version', wire: WireType.Varint },
  6: { name: 'doc_string', wire: WireType.Len },
  7: { name: 'graph', wire: WireType.Len },
  8: { name: 'opset_import', wire: WireType.Len },
  14: { name: 'metadata_props', wire: WireType.Len },
  20: { name: 'training_info', wire: WireType.Len },
  25: { name: 'functions', wire: WireType.Len },
};

/** Fields a model's first byte may open with (what exporters write first). */
const FIRST_FIELDS = [1, 2, 3, 4, 5, 6, 7, 8, 14];

/** Cheap check on the first bytes: a ModelProto starts with a known field number and its wire type. */
function looksLikeModel(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const tag = head[0];
  const no = tag >> 3;
  return tag < 0x80 && FIRST_FIELDS.includes(no) && MODEL_FIELDS[no].wire === (tag & 7);
}

export function readModelFrom(source: ByteSource, path: string | null): Model {
  const label = path ?? 'input';
  const head = source.view(0, Math.min(64, source.size));
  // A clone without Git LFS has a ~130-byte text pointer where the model should be: say how to fetch the model.
  if (Buffer.from(head).toString('latin1').startsWith(LFS_POINTER)) {
    throw new MbnError('not-onnx', `${quote(label)}: this is a Git LFS pointer: fetch with \`git lfs pull\` (actions/checkout: \`lfs: true\`)`);
  }
  const foreign = sniffForeign(head);
  if (foreign) throw new MbnError('not-onnx', `${quote(label)} is not an ONNX model: ${foreign}`);
  // Nothing of the file's content is echoed: a config can point mbn at any file, and its bytes are not ours to print.
  if (!looksLikeModel(head)) throw new MbnError('not-onnx', `${quote(label)} is not an ONNX model`);
  const model: Partial<Model> & { opsetImports: Map<string, number>; metadata: Map<string, string> } = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    opsetImports: new Map(),
    metadata: new Map(),
    functions: [],
    trainingInfoCount: 0,
    source,
    path,
    size: source.size,
  };
  const r = new Reader(source, 0, source.size);
  try {
    for (let f = r.field(); f; f = r.field()) {
      const known = MODEL_FIELDS[f.no];
      if (known && f.wireType !== known.wire && !model.graph) {
        // A top-level field of the wrong wire type before any graph: another protobuf message (often a TensorProto
        // .pb from a test data set, whose data_type is field 2 as a varint), not a damaged model. Told apart by field
        // numbers and wire types, as Netron does.
        throw new MbnError(
          'not-onnx',
          `${quote(label)} is not an ONNX model: it may be another protobuf message, such as a TensorProto (.pb); ModelProto.${known.name} (field ${f.no}) has wire type ${f.wireType}, expected ${known.wire}, at byte ${f.tagStart}`,
        );
      }
      switch (f.no) {
        case 1: expectWire(f, WireType.Varint, 'ModelProto', 'ir_version'); model.irVersion = f.value; break;
        case 2: expectWire(f, WireType.Len, 'ModelProto', 'producer_name'); model.producerName = lenient(r, f); break;
        case 3: expectWire(f, WireType.Len, 'ModelProto', 'producer_version'); model.producerVersion = lenient(r, f); break;
        case 4: expectWire(f, WireType.Len, 'ModelProto', 'domain'); model.domain = lenient(r, f); break;
        case 5: expectWire(f, WireType.Varint, 'ModelProto', 'model_version'); model.modelVersion = f.value; break;
        case 6: expectWire(f, WireType.Len, 'ModelProto', 'doc_string'); model.docString = lenient(r, f); break;
        case 7:
          expectWire(f, WireType.Len, 'ModelProto', 'graph');
          if (model.graph) throw new MbnError('invalid-model', 'model has more than one graph');
          model.graph = readGraph(r.sub(f), spanOf(f), 0);
          break;
        case 8: {
          expectWire(f, WireType.Len, 'ModelProto', 'opset_import');
          const [d, v] = readOpset(r.sub(f));
          model.opsetImports.set(d, v);
          break;
        }
        case 14: {
          expectWire(f, WireType.Len, 'ModelProto', 'metadata_props');
          const [k, v] = readStringEntry(r.sub(f));
          model.metadata.set(k, v);
          break;
        }
        case 20: expectWire(f, WireType.Len, 'ModelProto', 'training_info'); model.trainingInfoCount! += 1; break;
        case 25: expectWire(f, WireType.Len, 'ModelProto', 'functions'); model.functions!.push(readFunction(r.sub(f), spanOf(f))); break;
        default: break;
      }
    }
  } catch (error) {
    if (error instanceof MbnError && error.code === 'corrupt') {
      throw new MbnError('corrupt', `${quote(label)}: ${error.message}`);
    }
    if (error instanceof RangeError) {
      throw new MbnError('corrupt', `${quote(label)}: model is too large or too deeply nested to read (${error.message})`);
    }
    throw error;
  }
  if (!model.graph) throw new MbnError('not-onnx', `${quote(label)} is not an ONNX model: it has no graph`);
  if (!model.irVersion) throw new MbnError('not-onnx', `${quote(label)} is not an ONNX model: it has no ir_version`);
  if (model.opsetImports.size === 0 && model.irVersion >= 3) {
    throw new MbnError('invalid-model', `${quote(label)} declares no opset_import`);
  }
  return model as Model;
}

/** Reads a model file. The caller closes model.source when done with the model (writers still need it). */
export function readModel(path: string): Model {
  return readWithSource(path, (source) => readModelFrom(source, path));
}

export function readModelBytes(bytes: Uint8Array, label: string | null = null): Model {
  return readModelFrom(new BufferSource(bytes), label);
}
