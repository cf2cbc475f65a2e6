import type { ModelNote } from '../contract/messages.js';

/**
 * The layer IR: mbn's own model of an ONNX graph. It holds structure, names, attributes, dims and dtypes, and for
 * every tensor where its bytes are in the file (never the bytes themselves). Each element remembers its byte span,
 * so a writer can copy what a rewrite does not touch exactly as it was.
 */
export interface Span {
  /** Offset of the field's tag in the file (the whole field is [tagStart, end)). */
  tagStart: number;
  /** The message payload's range. */
  start: number;
  end: number;
}

export interface ExternalRef {
  location: string;
  offset: number | null;
  length: number | null;
  checksum: string | null;
  /** Keys other than the four known ones (rejected when the data is read). */
  unknownKeys: string[];
}

export interface TensorRef {
  name: string;
  dtype: number;
  dims: number[];
  /** Where the element data is: raw_data, a typed repeated field, external data, or nowhere (empty tensor). */
  storage: 'raw' | 'typed' | 'external' | 'none';
  /** For 'raw': the raw_data payload. For 'typed': the spans of every typed data field (packed or not). */
  dataSpans: { field: number; start: number; end: number; packed: boolean }[];
  external: ExternalRef | null;
  span: Span;
  docString: string;
}

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: Uint8Array }
  | { type: 'tensor'; value: TensorRef }
  | { type: 'graph'; value: Graph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: Uint8Array[] }
  | { type: 'tensors'; value: TensorRef[] }
  | { type: 'graphs'; value: Graph[] }
  | { type: 'other'; value: null };

export interface Attribute {
  name: string;
  /** Set when the attribute refers to an attribute of the enclosing function. */
  refAttrName: string | null;
  data: AttrValue;
  span: Span;
}

export interface Node {
  name: string;
  opType: string;
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  docString: string;
  span: Span;
}

export interface TypeInfo {
  kind: 'tensor' | 'sparse_tensor' | 'sequence' | 'map' | 'optional' | 'unknown';
  elemType: number;
  /** null: rank unknown. A dim is a number, a symbolic name, or null when unknown. */
  shape: (number | string | null)[] | null;
}

export interface ValueInfo {
  name: string;
  type: TypeInfo | null;
  span: Span;
}

/** A tensor's quantization (TFLite): `real = scale · (q − zeroPoint)`, per channel along `axis` when several. */
export interface TensorQuantization {
  scale: number[];
  zeroPoint: number[];
  axis: number;
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: TensorRef[];
  sparseInitializerNames: string[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  span: Span;
  /** Quantization parameters by value name (TFLite tensors carry them; ONNX models use Q/DQ nodes instead). */
  quantization?: Map<string, TensorQuantization>;
}

export interface FunctionDef {
  name: string;
  domain: string;
  overload: string;
  inputs: string[];
  outputs: string[];
  attributeNames: string[];
  attributeDefaults: Attribute[];
  nodes: Node[];
  opsetImports: Map<string, number>;
  span: Span;
}

export interface Model {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  /** Domain ('' = ai.onnx) → opset version. */
  opsetImports: Map<string, number>;
  metadata: Map<string, string>;
  graph: Graph;
  functions: FunctionDef[];
  /** Number of training_info entries (kept as bytes by writers, not analyzed). */
  trainingInfoCount: number;
  source: ByteSource;
  /** The file the model came from, for resolving external data; null for in-memory models. */
  path: string | null;
  size: number;
  /** The file format the model was read from; absent for ONNX. */
  format?: 'tflite';
  /** What the reader could not map (shown among the report's notes). */
  notes?: ModelNote[];
}

export function attr(node: Node | { attributes: Attribute[] }, name: string): Attribute | undefined {
  for (const a of node.attributes) if (a.name === name) return a;
  return undefined;
}

/**
 * Where a model's bytes come from. Readers ask for byte ranges; a file-backed source answers with positioned
 * reads, so that weight payloads a reader skips are never read from disk or held in memory.
 */
export interface ByteSource {
  readonly size: number;
  /** Bytes [start, end). May be a view into a shared buffer: callers must not modify it. */
  view(start: number, end: number): Uint8Array;
  close(): void;
}
