import onnx from 'onnx-proto';
import { readModelBytes } from '../../src/onnx/read.js';
import { numberToFloat16 } from '../../src/tensor/float.js';
import type { Model } from '../../src/ir/types.js';
import type { TensorState } from '../../src/ops/define.js';
import { type InferOptions, type InferResult, type LayerRecord, inferModel } from '../../src/shape/infer.js';

const { onnx: o } = onnx;

/**
 * Tiny ONNX models for tests, encoded with onnx-proto.
 *
 *   buildModel({
 *     inputs: [{ name: 'x', dtype: 1, shape: ['batch', 3, 8, 8] }],   // string dims are symbolic
 *     outputs: ['y'],                                                  // or { name, dtype, shape }
 *     initializers: [{ name: 'w', dtype: 1, dims: [2], values: [1, 2] }],
 *     nodes: [{ op: 'Reshape', inputs: ['x', 'w'], outputs: ['y'], attrs: { allowzero: 0 } }],
 *     opset: 13,
 *   })
 *
 * Attribute values: an integer number → INT, a non-integer number → FLOAT, number[] → INTS when all are integers
 * else FLOATS, string → STRING, string[] → STRINGS; force a type with { float: 2 }, { floats: [1, 2] },
 * { ints: [] }, or give a tensor with { tensor: { dtype, dims, values } }. Initializer values are written as
 * raw_data (little-endian); dtypes FLOAT, DOUBLE, INT8/16/32/64, UINT8/16/32/64, BOOL and FLOAT16 (as bit patterns) are
 * supported.
 */

export interface TensorSpec {
  name?: string;
  dtype: number;
  dims: number[];
  values: number[];
}

export interface ValueSpec {
  name: string;
  dtype?: number;
  /** Dims: numbers, or strings for symbolic dims; null (or omitted) for an unknown rank. */
  shape?: (number | string)[] | null;
}

export type AttrSpec =
  | number
  | number[]
  | string
  | string[]
  | { float: number }
  | { floats: number[] }
  | { ints: number[] }
  | { tensor: TensorSpec }
  | { graph: GraphSpec };

/** A subgraph (an If's branch, a Loop's body). */
export interface GraphSpec {
  inputs?: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: (TensorSpec & { name: string })[];
  nodes: NodeSpec[];
}

export interface NodeSpec {
  op: string;
  inputs?: string[];
  outputs: string[];
  attrs?: Record<string, AttrSpec>;
  name?: string;
  domain?: string;
}

export interface ModelSpec {
  inputs?: ValueSpec[];
  outputs?: (string | ValueSpec)[];
  initializers?: (TensorSpec & { name: string })[];
  nodes: NodeSpec[];
  /** Default-domain opset version (13 when omitted). */
  opset?: number;
  /** Extra opset imports, e.g. { 'com.example': 1 }. */
  opsets?: Record<string, number>;
  irVersion?: number;
}

const encoder = new TextEncoder();

export function rawBytes(dtype: number, values: number[]): Uint8Array {
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8 };
  const width = size[dtype];
  if (!width) throw new Error(`build-model: dtype ${dtype} is not supported for tensor values`);
  const out = new Uint8Array(values.length * width);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * width;
    switch (dtype) {
      case 1: view.setFloat32(at, v, true); break;
      case 11: view.setFloat64(at, v, true); break;
      case 2: case 9: view.setUint8(at, v); break;
      case 3: view.setInt8(at, v); break;
      // FLOAT16 values are given as numbers and rounded to half precision (bit patterns: use UINT16).
      case 4: view.setUint16(at, v, true); break;
      case 10: view.setUint16(at, numberToFloat16(v), true); break;
      case 5: view.setInt16(at, v, true); break;
      case 6: view.setInt32(at, v, true); break;
      case 12: view.setUint32(at, v, true); break;
      // ±2^63 (a double cannot hold INT64_MAX exactly) saturates, so Number.MAX_VALUE-ish ends stay INT64_MAX.
      case 7: view.setBigInt64(at, v >= 2 ** 63 ? 2n ** 63n - 1n : v <= -(2 ** 63) ? -(2n ** 63n) : BigInt(v), true); break;
      case 13: view.setBigUint64(at, BigInt(v), true); break;
    }
  });
  return out;
}

export function tensorProto(t: TensorSpec): onnx.onnx.ITensorProto {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.values.length) throw new Error(`build-model: dims [${t.dims}] need ${count} values, got ${t.values.length}`);
  return { name: t.name ?? '', dataType: t.dtype, dims: t.dims, rawData: rawBytes(t.dtype, t.values) };
}

function attribute(name: string, v: AttrSpec): onnx.onnx.IAttributeProto {
  const T = o.AttributeProto.AttributeType;
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: encoder.encode(v) };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { name, type: T.STRINGS, strings: (v as string[]).map((s) => encoder.encode(s)) };
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? { name, type: T.INTS, ints: nums } : { name, type: T.FLOATS, floats: nums };
  }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  if ('graph' in v) return { name, type: T.GRAPH, g: graphProto(name, v.graph) };
  return { name, type: T.TENSOR, t: tensorProto(v.tensor) };
}

function nodeProtos(nodes: NodeSpec[]): onnx.onnx.INodeProto[] {
  return nodes.map((n, i) => ({
    name: n.name ?? `${n.op}_${i}`,
    opType: n.op,
    domain: n.domain ?? '',
    input: n.inputs ?? [],
    output: n.outputs,
    attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
  }));
}

function graphProto(name: string, g: GraphSpec): onnx.onnx.IGraphProto {
  return { name, input: (g.inputs ?? []).map(valueInfo), output: g.outputs.map(valueInfo), initializer: (g.initializers ?? []).map(tensorProto), node: nodeProtos(g.nodes) };
}

function valueInfo(v: string | ValueSpec): onnx.onnx.IValueInfoProto {
  if (typeof v === 'string') return { name: v };
  const shape = v.shape === undefined || v.shape === null
    ? undefined
    : { dim: v.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) };
  return { name: v.name, type: { tensorType: { elemType: v.dtype ?? 1, shape } } };
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const opsetImport = [{ domain: '', version: spec.opset ?? 13 }];
  for (const [domain, version] of Object.entries(spec.opsets ?? {})) opsetImport.push({ domain, version });
  const model = o.ModelProto.create({
    irVersion: spec.irVersion ?? 8,
    producerName: 'mbn-test',
    opsetImport,
    graph: {
      name: 'test',
      input: (spec.inputs ?? []).map(valueInfo),
      output: (spec.outputs ?? []).map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: nodeProtos(spec.nodes),
    },
  });
  return o.ModelProto.encode(model).finish();
}

/** buildModel, then read it back into the layer IR. */
export function buildAndRead(spec: ModelSpec): Model {
  return readModelBytes(buildModel(spec), 'test-model');
}

/** buildModel, read it back, and run shape inference over it. */
export function inferSpec(spec: ModelSpec, options: InferOptions = {}): InferResult {
  return inferModel(buildAndRead(spec), options);
}

/** The inferred state of a value, failing the test when there is none. */
export function stateOf(res: InferResult, name: string): TensorState {
  const s = res.values.get(name);
  if (!s) throw new Error(`no state for ${name}`);
  return s;
}

/** The layer that produces `output`. */
export function layerMaking(res: InferResult, output: string): LayerRecord {
  const l = res.layers.find((x) => x.node.outputs.includes(output));
  if (!l) throw new Error(`no layer makes ${output}`);
  return l;
}
