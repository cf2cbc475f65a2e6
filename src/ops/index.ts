import type { Node } from '../ir/types.js';
import type { ConvLayout, OpRule } from './define.js';
import { convOps } from './conv.js';
import { ONNX_EQUIVALENTS, TFLITE_DOMAIN } from './tflite-common.js';
import { activationOps } from './activation.js';
import { elementwiseOps } from './elementwise.js';
import { gemmOps } from './gemm.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { quantizedMicrosoftOps, quantizedOps } from './quantized.js';
import { reduceOps } from './reduce.js';
import { softmaxOps } from './softmax.js';
import { constantOps } from './constant.js';
import { castOps } from './cast.js';
import { reshapeOps } from './reshape.js';
import { transposeOps } from './transpose.js';
import { concatSplitOps } from './concat-split.js';
import { sliceOps } from './slice.js';
import { gatherOps } from './gather.js';
import { scatterOps } from './scatter.js';
import { expandTileOps } from './expand-tile.js';
import { padOps } from './pad.js';
import { depthSpaceOps } from './depth-space.js';
import { miscLayoutOps } from './one-hot-trilu.js';
import { dataDependentOps } from './data-dependent.js';
import { topkCumsumOps } from './topk-cumsum.js';
import { resizeOps } from './resize.js';
import { recurrentOps } from './recurrent.js';
import { visionOps } from './vision.js';
import { miscOps } from './misc.js';
import { tfliteConvOps } from './tflite-conv.js';
import { tfliteElementwiseOps } from './tflite-elementwise.js';
import { tfliteFullyConnectedOps } from './tflite-fully-connected.js';
import { tfliteLayoutOps } from './tflite-layout.js';
import { tflitePoolOps } from './tflite-pool.js';
import { tfliteQuantizeOps } from './tflite-quantize.js';
import { tfliteReduceOps } from './tflite-reduce.js';
import { tfliteResizeOps } from './tflite-resize.js';
import { tfliteSoftmaxOps } from './tflite-softmax.js';

/** Every operator family mbn knows. Adding an op family: one file in src/ops, one line here. */
const FAMILIES: OpRule[] = [
  convOps,
  // compute families
  elementwiseOps, activationOps, gemmOps, normOps, poolOps, reduceOps, softmaxOps, quantizedOps, quantizedMicrosoftOps,
  // data movement, shapes and constants
  constantOps, castOps, reshapeOps, transposeOps, concatSplitOps, sliceOps, gatherOps, scatterOps, expandTileOps, padOps,
  depthSpaceOps, miscLayoutOps, dataDependentOps, topkCumsumOps, resizeOps,
  // recurrent, detection/sampling, and the rest of the default domain
  recurrentOps, visionOps, miscOps,
  // TFLite builtins (domain `tflite`, NHWC), read from .tflite files by src/tflite/
  tfliteConvOps, tfliteFullyConnectedOps, tflitePoolOps, tfliteElementwiseOps, tfliteReduceOps, tfliteResizeOps,
  tfliteSoftmaxOps, tfliteQuantizeOps, tfliteLayoutOps,
];

/** domain ('' = ai.onnx) → op type → rule; two lookups and no string building, as it runs once per node. */
const registry = new Map<string, Map<string, OpRule>>();
for (const rule of FAMILIES) {
  const domain = rule.domain ?? '';
  let ops = registry.get(domain);
  if (!ops) registry.set(domain, (ops = new Map()));
  for (const op of rule.ops) ops.set(op, rule);
}

/**
 * The default-domain ONNX op a node is: its own op type in ai.onnx, a TFLite builtin's equivalent (LOGISTIC →
 * Sigmoid, ADD → Add), else null. Pattern finders ask this instead of the op type, so that a .tflite's activations,
 * gates and residual adds are recognised as an ONNX model's are.
 */
export function onnxOpType(node: Node): string | null {
  if (node.domain === '' || node.domain === 'ai.onnx') return node.opType;
  return node.domain === TFLITE_DOMAIN ? (ONNX_EQUIVALENTS[node.opType] ?? null) : null;
}

export function ruleFor(domain: string, opType: string): OpRule | undefined {
  return registry.get(domain === 'ai.onnx' ? '' : domain)?.get(opType);
}

/** A conv node's layout (activation, weight and bias positions, form), from the node alone; null for other nodes. */
export function convLayoutOf(node: Node): ConvLayout | null {
  return ruleFor(node.domain, node.opType)?.convLayout?.(node) ?? null;
}
