import { DataType } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';

/**
 * Which layers of a quantized model ONNX Runtime's CPU provider runs as integer kernels, following the QDQ
 * selectors of ONNX Runtime 1.30 (`qdq_selectors.cc`, `qdq_selector_action_transformer.cc`); `test/latency-int8.test.ts`
 * checks them against the graph ORT itself writes out after optimizing. In a QDQ model (DequantizeLinear → op →
 * QuantizeLinear, what `quantize_static` writes) ORT fuses a group into one integer kernel when:
 *   - Conv: its input and its weight come from DequantizeLinear nodes, its bias (when present) from one too or is a
 *     constant (ORT's BiasQuantization quantizes a constant float bias first), and its only consumer is one
 *     QuantizeLinear (→ QLinearConv);
 *   - MatMul, Gemm: both operands from DequantizeLinear (Gemm's bias as a conv's); the QuantizeLinear after is
 *     optional (→ QLinearMatMul / QGemm, or MatMulIntegerToFloat when the output stays float);
 *   - Add, Mul, Where, Concat, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu, Softmax: every input from a
 *     DequantizeLinear and one QuantizeLinear after (→ the com.microsoft QLinear* op);
 *   - MaxPool, Resize, Gather, Reshape, Transpose, Squeeze, Unsqueeze, Split: the DequantizeLinear/QuantizeLinear pair
 *     is dropped and the op runs on the 8-bit tensor.
 * Only 8-bit activations are taken. ORT gives each consumer its own copy of a shared DequantizeLinear, so a
 * DequantizeLinear costs nothing when every reader is fused, and runs once otherwise; a QuantizeLinear right after
 * a fused op is part of its kernel. A QuantizeLinear of a constant is folded when the model loads; a
 * DequantizeLinear of one is not (ORT keeps them for the QDQ fusions), so it runs when its reader stays in float.
 * The rest stay as they are: conversions that run, float ops between them.
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
  | { kind: 'quantize' | 'dequantize' }
  /** A QuantizeLinear of a constant: computed when the model loads. */
  | { kind: 'constant' };

const GEMM_LIKE = new Set(['MatMul', 'Gemm']);
const QLINEAR_OPS = new Set(['Add', 'Mul', 'Where', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Sigmoid', 'LeakyRelu', 'Softmax']);
const DROP_QDQ = new Set(['MaxPool', 'Resize', 'Gather', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Split']);
const BIASED = new Set(['Conv', 'Gemm']);

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
    // The dequantized type, or its zero point's where the input's is unknown.
    const dtype = links[p].inputDtypes[0] || links[p].inputDtypes[2];
    return EIGHT_BIT.has(dtype) || (k === 2 && BIASED.has(l.op) && dtype === DataType.INT32) ? p : undefined;
  };
  /** A conv or GEMM bias ORT's BiasQuantization turns into a dequantized int32 constant. */
  const constantBias = (l: LayerLink, k: number) => k === 2 && BIASED.has(l.op) && l.weightInputs.includes(l.inputs[k]);
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
    } else if (QLINEAR_OPS.has(l.op)) required = l.op === 'Where' ? present.filter((k) => k > 0) : present;
    else if (DROP_QDQ.has(l.op)) required = [0];
    else return;
    const dqs = required.map((k) => dqAt(l, k));
    if (required.length === 0 || dqs.some((p, j) => p === undefined && !constantBias(l, required[j]))) return;
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
      const from = producer.get(l.inputs[0]);
      plan[i] = l.weightInputs.includes(l.inputs[0]) || (from !== undefined && links[from].folded) ? { kind: 'constant' } : { kind: 'quantize' };
      return;
    }
    if (!isDq(l)) return;
    // Readers ORT computes when it loads the model (a Shape of a known shape) do not keep it.
    const readers = (l.outputs[0] ? (consumers.get(l.outputs[0]) ?? []) : []).filter((r) => !links[r].folded);
    const fused = readers.filter((r) => plan[r]?.kind === 'kernel' && (plan[r] as { qdq: boolean }).qdq);
    plan[i] = readers.length > 0 && fused.length === readers.length && !outputs.has(l.outputs[0]) ? { kind: 'folded', head: fused[0] } : { kind: 'dequantize' };
  });
  return plan;
}
