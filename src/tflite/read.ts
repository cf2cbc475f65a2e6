import { MbnError, quote } from '../errors.js';
import type { Attribute, AttrValue, Graph, Model, Node, Span, TensorQuantization, TensorRef, ValueInfo } from '../ir/types.js';
import type { ByteSource } from '../ir/types.js';
import { OUTPUT_DTYPES, TFLITE_DOMAIN } from '../ops/tflite-common.js';
import { FlatBuffer, type Table } from './flatbuffer.js';
import { BUILTIN_NAMES, CUSTOM, F, FILE_IDENTIFIER, OPTIONS, PLACEHOLDER_FOR_GREATER_OP_CODES, TENSOR_TYPES } from './schema.js';
import type { ModelNote } from '../contract/messages.js';

/**
 * TFLite (LiteRT) flatbuffers → the layer IR. Operators become nodes of the `tflite` domain named by their builtin
 * (CONV_2D, …) or custom code, with their builtin options as attributes; tensors with data become initializers whose
 * data span is located in the file, never read; subgraph 0 is the main graph, and WHILE/IF subgraphs hang from
 * their nodes as graph attributes, as ONNX's Loop and If bodies do. Each tensor keeps its quantization parameters.
 */


/** Whether the first bytes are a TFLite flatbuffer: the `TFL3` identifier at bytes 4–7 (the cheap signature check). */
export function isTflite(head: Uint8Array): boolean {
  return head.length >= 8 && Buffer.from(head.subarray(4, 8)).toString('latin1') === FILE_IDENTIFIER;
}

interface OpCode {
  name: string;
  custom: boolean;
}

interface BufferSpan {
  start: number;
  end: number;
}

const NO_SPAN: Span = { tagStart: 0, start: 0, end: 0 };

export function readTfliteFrom(source: ByteSource, path: string | null): Model {
  const label = path ?? '<buffer>';
  const fb = new FlatBuffer(source, label);
  if (!isTflite(source.view(0, Math.min(8, source.size)))) fb.fail('it has no TFL3 file identifier');
  const root = fb.root();
  const version = root.u32(F.model.version, 0);
  const codes = root.tables(F.model.operatorCodes).map((c) => opCodeOf(c, fb));
  const bufferTables = root.tables(F.model.buffers);
  const buffers: (BufferSpan | null)[] = bufferTables.map((b) => bufferSpan(b, fb));
  const subgraphs = root.tables(F.model.subgraphs);
  if (subgraphs.length === 0) fb.fail('it has no subgraph');
  const notes: ModelNote[] = [];
  const reader = new SubgraphReader(fb, codes, buffers, subgraphs, notes);
  const graph = reader.graph(0);
  for (let k = 1; k < subgraphs.length; k++) {
    if (!reader.reached.has(k)) {
      notes.push({ code: 'tflite-subgraph-not-called', subgraph: k, name: subgraphs[k].string(F.subgraph.name) ?? '' });
    }
  }
  const signatures = root.tables(F.model.signatureDefs);
  const elsewhere = signatures.filter((s) => s.u32(F.signatureDef.subgraphIndex, 0) !== 0);
  if (elsewhere.length > 0) {
    notes.push({ code: 'tflite-signatures-elsewhere', signatures: elsewhere.map((s) => s.string(F.signatureDef.key) ?? '') });
  }
  const metadata = new Map<string, string>();
  for (const m of root.tables(F.model.metadata)) {
    const name = m.string(F.metadata.name) ?? '';
    const span = buffers[m.u32(F.metadata.buffer, 0)] ?? null;
    metadata.set(name, span ? metadataText(fb, span) : '');
  }
  return {
    irVersion: 0,
    producerName: 'TFLite',
    producerVersion: root.string(F.model.description) ?? '',
    domain: '',
    modelVersion: 0,
    docString: '',
    opsetImports: new Map([[TFLITE_DOMAIN, version]]),
    metadata,
    graph,
    functions: [],
    trainingInfoCount: 0,
    source,
    path,
    size: source.size,
    format: 'tflite',
    notes,
  };
}

/** A metadata buffer as text when it is short and printable (min_runtime_version), else its size. */
function metadataText(fb: FlatBuffer, span: BufferSpan): string {
  const length = span.end - span.start;
  if (length <= 64) {
    const text = fb.text(span.start, span.end).replace(/\0+$/, '');
    if (/^[\x20-\x7e]*$/.test(text)) return text;
  }
  return `${length} bytes`;
}

function opCodeOf(c: Table, fb: FlatBuffer): OpCode {
  const deprecated = c.i8(F.operatorCode.deprecatedBuiltinCode, 0);
  // Codes above 127 do not fit the old int8 field: it then holds 127 and the real code is in `builtin_code`.
  const code = deprecated === PLACEHOLDER_FOR_GREATER_OP_CODES || deprecated < 0 ? c.i32(F.operatorCode.builtinCode, 0) : Math.max(deprecated, c.i32(F.operatorCode.builtinCode, 0));
  if (code === CUSTOM) return { name: c.string(F.operatorCode.customCode) || 'CUSTOM', custom: true };
  if (code < 0) fb.fail(`operator code ${code} is negative`);
  // A builtin newer than this schema: a layer of its own that no rule counts (listed, never silently 0).
  return { name: BUILTIN_NAMES[code] || `BUILTIN_${code}`, custom: false };
}

/** Where a buffer's bytes are: its `data` vector, or (models past 2 GB) `offset`/`size` from the file's start. */
function bufferSpan(b: Table, fb: FlatBuffer): BufferSpan | null {
  const offset = b.u64(F.buffer.offset, 0);
  const size = b.u64(F.buffer.size, 0);
  // The converter writes offset 1 as a placeholder while it lays out a large model: data are past offset 1.
  if (offset > 1 && size > 0) {
    if (offset + size > fb.size) fb.fail(`a buffer's data (bytes ${offset}–${offset + size}) run past the end of the file`);
    return { start: offset, end: offset + size };
  }
  const data = b.vector(F.buffer.data, 1);
  return data && data.length > 0 ? { start: data.start, end: data.start + data.length } : null;
}

class SubgraphReader {
  /** Subgraphs reached from the main graph (by WHILE, IF and the like). */
  readonly reached = new Set<number>([0]);
  private depth = 0;

  constructor(
    private readonly fb: FlatBuffer,
    private readonly codes: OpCode[],
    private readonly buffers: (BufferSpan | null)[],
    private readonly subgraphs: Table[],
    private readonly notes: ModelNote[],
  ) {}

  graph(index: number): Graph {
    if (this.depth > 32) this.fb.fail('subgraphs call each other recursively');
    this.depth++;
    const sg = this.subgraphs[index];
    const tensors = sg.tables(F.subgraph.tensors);
    // Values are named by tensor name, made unique (TFLite does not require it); a subgraph other than the main one
    // gets its own prefix so that its names never resolve to the main graph's.
    const prefix = index === 0 ? '' : `@${index}/`;
    const names = new Array<string>(tensors.length);
    const dtypes = new Array<number>(tensors.length);
    const used = new Set<string>();
    tensors.forEach((t, i) => {
      let name = prefix + (t.string(F.tensor.name) || `tensor_${i}`);
      if (used.has(name)) name = `${name}#${i}`;
      used.add(name);
      names[i] = name;
    });
    const nameOf = (i: number, what: string): string => {
      if (i === -1) return '';
      if (!(i >= 0 && i < tensors.length)) this.fb.fail(`${what} refers to tensor ${i} of ${tensors.length} in subgraph ${index}`);
      return names[i];
    };
    const initializers: TensorRef[] = [];
    const valueInfo: ValueInfo[] = [];
    const quantization = new Map<string, TensorQuantization>();
    const declared = new Map<number, ValueInfo>();
    tensors.forEach((t, i) => {
      const type = t.i8(F.tensor.type, 0);
      const dtype = TENSOR_TYPES[type] ?? 0;
      dtypes[i] = dtype;
      const dims = t.i32s(F.tensor.shape) ?? [];
      const q = t.table(F.tensor.quantization);
      if (q) {
        const scale = q.f32s(F.quantization.scale);
        if (scale && scale.length > 0) {
          quantization.set(names[i], { scale, zeroPoint: q.i64s(F.quantization.zeroPoint) ?? [], axis: q.i32(F.quantization.quantizedDimension, 0) });
        }
      }
      const data = this.buffers[t.u32(F.tensor.buffer, 0)] ?? null;
      if (data && !t.bool(F.tensor.isVariable, false)) {
        if (t.has(F.tensor.sparsity)) {
          this.notes.push({ code: 'tflite-tensor-sparse', tensor: names[i] });
        }
        initializers.push({
          name: names[i],
          dtype,
          dims,
          storage: 'raw',
          dataSpans: [{ field: 0, start: data.start, end: data.end, packed: false }],
          external: null,
          span: { tagStart: t.at, start: data.start, end: data.end },
          docString: '',
        });
        return;
      }
      // shape_signature marks dynamic dims with −1: the first one is the batch, others are unknown.
      const signature = t.i32s(F.tensor.shapeSignature);
      const shape = dims.map((d, k) => {
        const s = signature && signature.length === dims.length ? signature[k] : d;
        if (s >= 0) return s;
        return k === 0 ? 'batch' : null;
      });
      const info: ValueInfo = { name: names[i], type: { kind: 'tensor', elemType: dtype, shape }, span: { tagStart: t.at, start: t.at, end: t.at } };
      declared.set(i, info);
      valueInfo.push(info);
    });
    const ios = (field: number, what: string): ValueInfo[] =>
      (sg.i32s(field) ?? []).map((i) => declared.get(i) ?? { name: nameOf(i, what), type: null, span: NO_SPAN });
    const nodes = sg.tables(F.subgraph.operators).map((op, k) => this.node(op, k, index, nameOf, dtypes));
    this.depth--;
    return {
      name: sg.string(F.subgraph.name) ?? '',
      nodes,
      initializers,
      sparseInitializerNames: [],
      inputs: ios(F.subgraph.inputs, 'an input of the subgraph'),
      outputs: ios(F.subgraph.outputs, 'an output of the subgraph'),
      valueInfo,
      span: { tagStart: sg.at, start: sg.at, end: sg.at },
      quantization,
    };
  }

  private node(op: Table, k: number, subgraph: number, nameOf: (i: number, what: string) => string, dtypes: readonly number[]): Node {
    const codeIndex = op.u32(F.operator.opcodeIndex, 0);
    const code = this.codes[codeIndex];
    if (!code) this.fb.fail(`operator ${k} of subgraph ${subgraph} has opcode index ${codeIndex} of ${this.codes.length}`);
    const what = `operator ${k} (${code.name})`;
    const inputs = (op.i32s(F.operator.inputs) ?? []).map((i) => nameOf(i, what));
    const outputIndices = op.i32s(F.operator.outputs) ?? [];
    const outputs = outputIndices.map((i) => nameOf(i, what));
    // Every tensor's type is in the file: rules take output types from it (QUANTIZE, CAST…).
    const attributes: Attribute[] = [
      { name: OUTPUT_DTYPES, refAttrName: null, data: { type: 'ints', value: outputIndices.map((i) => (i >= 0 ? dtypes[i] : 0)) }, span: NO_SPAN },
    ];
    const fields = code.custom ? undefined : OPTIONS[code.name];
    const options = fields ? op.table(F.operator.builtinOptions) : null;
    for (const [name, index, kind, fallback] of fields ?? []) {
      let data: AttrValue;
      if (kind === 'f32') data = { type: 'float', value: options ? options.f32(index, fallback) : fallback };
      else if (kind === 'i32s') {
        const list = options?.i32s(index);
        if (!list) continue;
        data = { type: 'ints', value: list };
      } else if (kind === 'bool') data = { type: 'int', value: options?.bool(index, fallback !== 0) ? 1 : 0 };
      else if (kind === 'i8') data = { type: 'int', value: options ? options.i8(index, fallback) : fallback };
      else data = { type: 'int', value: options ? options.i32(index, fallback) : fallback };
      attributes.push({ name, refAttrName: null, data, span: NO_SPAN });
    }
    if (code.name === 'WHILE' || code.name === 'IF') {
      const branches = code.name === 'WHILE' ? ['cond', 'body'] : ['then_branch', 'else_branch'];
      for (let j = 0; j < 2; j++) {
        const index = attributes[j + 1]?.data;
        const target = index?.type === 'int' ? index.value : -1;
        if (!(target > 0 && target < this.subgraphs.length)) this.fb.fail(`${what} calls subgraph ${target} of ${this.subgraphs.length}`);
        this.reached.add(target);
        attributes.push({ name: branches[j], refAttrName: null, data: { type: 'graph', value: this.graph(target) }, span: NO_SPAN });
      }
    }
    // Operators have no names: a layer is named by its first output tensor (up to the `;` that joins fused names),
    // without the subgraph prefix (a layer in a subgraph is named under its caller).
    const first = outputs.find((o) => o) ?? '';
    const name = (subgraph === 0 ? first : first.slice(first.indexOf('/') + 1)).split(';')[0];
    return {
      name: name || `${code.name}_${k}`,
      opType: code.name,
      domain: TFLITE_DOMAIN,
      inputs,
      outputs,
      attributes,
      docString: '',
      span: { tagStart: op.at, start: op.at, end: op.at },
    };
  }
}

/** Refusal for commands that only work on ONNX: one line that says what works on a .tflite today. */
export function tfliteRefusal(path: string, command: string): MbnError {
  return new MbnError('unsupported', `${quote(path)} is a TFLite model: mbn ${command} works on ONNX models only; analyze, check, diff and advise read .tflite`);
}
