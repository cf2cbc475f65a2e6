import { MbnError, quote } from '../errors.js';
import type { Model, Node } from '../ir/types.js';
import { attr } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import type { NewAttribute, NewTensor } from '../onnx/encode.js';

/**
 * Per-channel QuantizeLinear/DequantizeLinear (the `axis` attribute) needs opset 13. A model of an older opset is
 * raised to 13 when every op in it means the same there, after the changes below; otherwise it is refused in one line.
 *
 * Changes made (each exact): attributes that later opsets take as inputs become constant inputs — Clip min/max
 * (opset 11), Slice starts/ends/axes (10), Pad pads/value (11), Squeeze/Unsqueeze axes, ReduceSum axes and Split
 * split (13); Dropout loses its inference-irrelevant ratio/is_test attributes (12). Softmax, LogSoftmax and Hardmax
 * changed meaning at 13 (a softmax over one axis instead of over all dims from `axis` on): they are kept when their
 * axis is the last one, where both agree, and written with that axis explicitly. Refused: Upsample, Resize before
 * 11 (other coordinate rules), Scatter, TopK before 10, BatchNormalization before 9, opsets below 7, and subgraphs
 * (If/Loop bodies) below 13, which mbn does not convert.
 */
export const QDQ_OPSET = 13;

export interface NodeChange {
  node: Node;
  inputs: string[];
  /** Attributes dropped from the node; `add` appended. */
  drop: string[];
  add: NewAttribute[];
  tensors: NewTensor[];
}

export interface OpsetRaise {
  from: number;
  to: number;
  changes: NodeChange[];
}

/** Attribute → input moves, by op: [opset the input form arrived, [attribute, input index, dtype]…]. */
const MOVES: Record<string, [number, [string, number, 'int64' | 'float'][]]> = {
  Clip: [11, [['min', 1, 'float'], ['max', 2, 'float']]],
  Slice: [10, [['starts', 1, 'int64'], ['ends', 2, 'int64'], ['axes', 3, 'int64']]],
  Pad: [11, [['pads', 1, 'int64'], ['value', 2, 'float']]],
  Squeeze: [13, [['axes', 1, 'int64']]],
  Unsqueeze: [13, [['axes', 1, 'int64']]],
  ReduceSum: [13, [['axes', 1, 'int64']]],
  Split: [13, [['split', 1, 'int64']]],
};

const REFUSED: Record<string, number> = { Upsample: Infinity, Scatter: Infinity, Resize: 11, TopK: 10, BatchNormalization: 9 };
const SOFTMAX = new Set(['Softmax', 'LogSoftmax', 'Hardmax']);

/** `rankOf`: the rank of a value (null when unknown). Returns null when the model is at opset 13 or above. */
export function raiseOpset(model: Model, rankOf: (name: string) => number | null, unique: (base: string) => string): OpsetRaise | null {
  const from = model.opsetImports.get('') ?? 1;
  if (from >= QDQ_OPSET) return null;
  const refuse = (why: string) => {
    throw new MbnError('unsupported', `per-channel int8 needs opset ${QDQ_OPSET} and the model is opset ${from}: ${why}`);
  };
  if (from < 7) refuse('mbn raises opsets from 7 on only');
  const changes: NodeChange[] = [];
  for (const node of model.graph.nodes) {
    if (node.domain !== '') continue;
    if (node.attributes.some((a) => a.data.type === 'graph' || a.data.type === 'graphs')) refuse(`node ${quote(node.name || node.opType)} has a subgraph, which mbn does not convert`);
    const refusedBelow = REFUSED[node.opType];
    if (refusedBelow !== undefined && from < refusedBelow) refuse(`${node.opType} (node ${quote(node.name || node.opType)}) means something else at opset ${QDQ_OPSET}`);
    const move = MOVES[node.opType];
    if (move && from < move[0]) {
      const inputs = node.inputs.slice();
      const drop: string[] = [];
      const tensors: NewTensor[] = [];
      for (const [name, index, kind] of move[1]) {
        const a = attr(node, name);
        if (!a) continue;
        drop.push(name);
        const values = a.data.type === 'ints' ? a.data.value : a.data.type === 'float' ? [a.data.value] : a.data.type === 'int' ? [a.data.value] : null;
        if (!values) refuse(`${node.opType} attribute ${name} of an unexpected type`);
        const tensorName = unique(`${node.outputs[0]}_${name}`);
        tensors.push(kind === 'int64' ? int64Tensor(tensorName, values!) : floatScalar(tensorName, values![0]));
        while (inputs.length < index) inputs.push('');
        inputs[index] = tensorName;
      }
      changes.push({ node, inputs, drop, add: [], tensors });
    } else if (node.opType === 'Dropout' && from < 12) {
      changes.push({ node, inputs: node.inputs.slice(0, 1), drop: ['ratio', 'is_test'], add: [], tensors: [] });
    } else if (SOFTMAX.has(node.opType) && from < 13) {
      const a = attr(node, 'axis');
      const axis = a?.data.type === 'int' ? a.data.value : 1;
      const rank = rankOf(node.inputs[0]);
      if (rank === null) refuse(`the rank of ${node.opType} ${quote(node.name || node.opType)}'s input is unknown, so its meaning at opset 13 cannot be checked`);
      if ((axis + rank!) % rank! !== rank! - 1) refuse(`${node.opType} ${quote(node.name || node.opType)} normalizes over several dims (axis ${axis} of rank ${rank}), which opset 13 no longer does`);
      changes.push({ node, inputs: node.inputs.slice(), drop: ['axis'], add: [{ name: 'axis', type: 'int', value: -1 }], tensors: [] });
    }
  }
  return { from, to: QDQ_OPSET, changes };
}

export function int64Tensor(name: string, values: number[]): NewTensor {
  const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
  return { name, dtype: DataType.INT64, dims: [values.length], raw };
}

export function floatScalar(name: string, value: number): NewTensor {
  return { name, dtype: DataType.FLOAT, dims: [], raw: new Uint8Array(new Float32Array([value]).buffer) };
}
