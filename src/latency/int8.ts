import { DataType } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';

/**
 * Which layers of a quantized model ONNX Runtime's CPU provider runs as integer kernels, following the QDQ
 * selectors of ONNX Runtime 1.30 (`qdq_selectors.cc`, `qdq_selector_action_transformer.cc`); `test/latency-int8.test.ts`
 * checks them against the graph ORT itself writes out after optimizing. In a QDQ model (DequantizeLinear → op →
 * QuantizeLinear, what `quantize_static` writes) ORT fuses a group into one integer kernel when:
 *   - Conv: its input, its weight and its bias (when present) all come from DequantizeLinear nodes, and its only
 *     consumer is one QuantizeLinear (→ QLinearConv). A float bias (say, one shared through an Identity) keeps the
 *     conv in float, with the conversions around it;
 *   - MatMul, Gemm: both operands (and Gemm's bias) from DequantizeLinear; the QuantizeLinear after is optional
 *     (→ QLinearMatMul / QGemm, or MatMulIntegerToFloat when the output stays float);
 *   - Add, Mul, Concat, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu, Softmax: every input from a
 *     DequantizeLinear and one QuantizeLinear after (→ the com.microsoft QLinear* op);
 *   - MaxPool, Reshape, Transpose, Squeeze, Unsqueeze, Flatten: the same shape, the DequantizeLinear/QuantizeLinear
 *     pair is dropped and the op runs on the 8-bit tensor.
 * Only 8-bit activations are taken. ORT gives each consumer its own copy of a shared DequantizeLinear, so a
 * DequantizeLinear costs nothing when every reader is fused, and runs once otherwise; a QuantizeLinear right after
 * a fused op is part of its kernel. The rest stay as they are: QuantizeLinear and DequantizeLinear nodes that run
 * (ORT never folds a DequantizeLinear of a constant weight ahead of time), float ops between them.
 *
 * QOperator models (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, the com.microsoft QLinear* ops) already
 * name their kernels.
 */
export type Int8Kernel = 'qlinear' | 'conv-integer' | 'matmul-integer';

export type Int8Layer =
  /** The layer runs as an integer kernel (a QDQ group's op, or a QOperator op). */
  | { kind: 'kernel'; kernel: Int8Kernel; qdq: boolean; uint8Weights: boolean }
  /** The layer is part of the integer kernel of layer `head`. */
  | { kind: 'folded'; head: number }
  /** A QuantizeLinear / DequantizeLinear that runs as a conversion of its own. */
  | { kind: 'quantize' | 'dequantize' };

const GEMM_LIKE = new Set(['MatMul', 'Gemm']);
const QLINEAR_ELEMENTWISE = new Set(['Add', 'Mul', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Sigmoid', 'LeakyRelu', 'Softmax']);
const DROP_QDQ = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten']);

/** QOperator ops: kernel, and the input holding the weight (whose type says U8S8 or U8U8). */
const QOPERATOR: Record<string, { kernel: Int8Kernel; weight: number }> = {
  QLinearConv: { kernel: 'qlinear', weight: 3 },
  QLinearMatMul: { kernel: 'qlinear', weight: 3 },
  QGemm: { kernel: 'qlinear', weight: 3 },
  MatMulIntegerToFloat: { kernel: 'qlinear', weight: 1 },
  DynamicQuantizeMatMul: { kernel: 'qlinear', weight: 1 },
  ConvInteger: { kernel: 'conv-integer', weight: 1 },
  MatMulInteger: { kernel: 'matmul-integer', weight: 1 },
};
const QOPERATOR_DOMAINS = new Set(['', 'com.microsoft']);

const EIGHT_BIT = new Set<number>([DataType.UINT8, DataType.INT8]);
const isDq = (l: LayerLink | undefined) => l !== undefined && l.op === 'DequantizeLinear' && l.domain === '';
const isQ = (l: LayerLink | undefined) => l !== undefined && l.op === 'QuantizeLinear' && l.domain === '';

/** The integer execution of every layer, in report order (null: not an integer kernel nor a conversion). */
export function planInt8(links: readonly LayerLink[], graphOutputs: readonly string[]): (Int8Layer | null)[] {
  const plan: (Int8Layer | null)[] = links.map(() => null);
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    for (const o of l.outputs) if (o) producer.set(o, i);
    for (const x of new Set(l.inputs)) if (x) consumers.set(x, [...(consumers.get(x) ?? []), i]);
  });
  const outputs = new Set(graphOutputs);
  /** The DequantizeLinear feeding input k: of an 8-bit tensor, or of an int32 one for a conv or GEMM bias. */
  const dqAt = (l: LayerLink, k: number): number | undefined => {
    const p = l.inputs[k] ? producer.get(l.inputs[k]) : undefined;
    if (p === undefined || !isDq(links[p])) return undefined;
    const dtype = links[p].inputDtypes[0];
    return EIGHT_BIT.has(dtype) || (k === 2 && (l.op === 'Conv' || l.op === 'Gemm') && dtype === DataType.INT32) ? p : undefined;
  };
  /** The one QuantizeLinear reading the layer's output (nothing else reading it), or undefined. */
  const quantizeAfter = (l: LayerLink): number | undefined => {
    const y = l.outputs[0];
    const readers = y ? (consumers.get(y) ?? []) : [];
    return y && !outputs.has(y) && readers.length === 1 && isQ(links[readers[0]]) && l.outputs.filter((o) => o).length === 1 ? readers[0] : undefined;
  };
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    const q = QOPERATOR_DOMAINS.has(l.domain) ? QOPERATOR[l.op] : undefined;
    if (q) {
      plan[i] = { kind: 'kernel', kernel: q.kernel, qdq: false, uint8Weights: l.inputDtypes[q.weight] === DataType.UINT8 };
      return;
    }
    if (l.domain !== '') return;
    const present = l.inputs.map((x, k) => (x ? k : -1)).filter((k) => k >= 0);
    let required: number[];
    let needsQ = true;
    if (l.op === 'Conv') required = present;
    else if (GEMM_LIKE.has(l.op)) {
      required = present;
      needsQ = false;
    } else if (QLINEAR_ELEMENTWISE.has(l.op)) required = present;
    else if (DROP_QDQ.has(l.op)) required = [0];
    else return;
    const dqs = required.map((k) => dqAt(l, k));
    if (required.length === 0 || dqs.some((p) => p === undefined)) return;
    const qAfter = quantizeAfter(l);
    if (needsQ && qAfter === undefined) return;
    const weightDq = l.op === 'Conv' || GEMM_LIKE.has(l.op) ? dqs[1] : undefined;
    plan[i] = { kind: 'kernel', kernel: 'qlinear', qdq: true, uint8Weights: weightDq !== undefined && links[weightDq].inputDtypes[0] === DataType.UINT8 };
    if (qAfter !== undefined) plan[qAfter] = { kind: 'folded', head: i };
  });
  // A DequantizeLinear is absorbed when every reader is a fused kernel; a QuantizeLinear not absorbed runs.
  links.forEach((l, i) => {
    if (l.scope !== '' || plan[i] !== null) return;
    if (isQ(l)) {
      plan[i] = { kind: 'quantize' };
      return;
    }
    if (!isDq(l)) return;
    const readers = l.outputs[0] ? (consumers.get(l.outputs[0]) ?? []) : [];
    const fused = readers.filter((r) => plan[r]?.kind === 'kernel' && (plan[r] as { qdq: boolean }).qdq);
    plan[i] = readers.length > 0 && fused.length === readers.length && !outputs.has(l.outputs[0]) ? { kind: 'folded', head: fused[0] } : { kind: 'dequantize' };
  });
  return plan;
}
