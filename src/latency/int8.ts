import { DataType } from '../onnx/dtype.js';
import type { ConvGeometry } from '../ops/define.js';
import type { LayerLink } from './graph.js';

/**
 * Which layers of a quantized model ONNX Runtime's CPU provider runs as integer kernels, following the QDQ
 * selectors of ONNX Runtime 1.30 (`qdq_selectors.cc`, `qdq_selector_action_transformer.cc`); `test/latency-int8.test.ts`
 * checks them against the graph ORT itself writes out after optimizing. In a QDQ model (DequantizeLinear → op →
 * QuantizeLinear, what `quantize_static` writes) ORT fuses a group into one integer kernel when:
 *   - Conv: its input and its weight come from DequantizeLinear nodes, its bias (when present) from one too or is a
 *     constant (ORT's BiasQuantization quantizes a constant float bias first), and its only consumer is one
 *     QuantizeLinear (→ QLinearConv), or a Relu/Clip whose only consumer is one (ORT drops the activation first:
 *     ReluQuantFusion, ClipQuantFusion; the same for the ops below);
 *   - MatMul, Gemm: both operands from DequantizeLinear (Gemm's bias as a conv's); the QuantizeLinear after is
 *     optional (→ QLinearMatMul / QGemm, or MatMulIntegerToFloat when the output stays float), except for a Gemm
 *     with a constant float bias, which fuses only with one;
 *   - Add, Mul, Where, Concat, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu, Softmax: every input from a
 *     DequantizeLinear and one QuantizeLinear after (→ the com.microsoft QLinear* op);
 *   - MaxPool, Resize, Gather, Reshape, Transpose, Squeeze, Unsqueeze, Split: the DequantizeLinear/QuantizeLinear pair
 *     is dropped and the op runs on the 8-bit tensor, when the pair has one scale and zero point (DropQDQNodesSelector
 *     checks IsQDQPairSupported: constant scalars, equal). ORT's quantizer gives these ops their input's scale; mbn
 *     quantize may not (PP-OCR cls's MaxPool: its own range), and then the op runs in float between the conversions.
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
  | {
      kind: 'kernel';
      kernel: Int8Kernel;
      qdq: boolean;
      uint8Weights: boolean;
      /**
       * A QDQ conv ORT runs in NHWC (its NhwcTransformer) between float ops: the 8-bit tensors it transposes, in
       * elements (one byte each), for an input quantized by a QuantizeLinear of its own and an output that a
       * DequantizeLinear of its own hands to a float op. Between integer kernels the transposes cancel.
       */
      transposedElements: number;
      /** How many such transposes (0, 1 or 2). */
      transposes: number;
      /**
       * A MaxPool on 8-bit tensors outside every QLinearConv's NHWC region: ORT runs its generic NCHW pool on
       * uint8 (not MLAS's NhwcMaxPool), element by element.
       */
      nchwPool?: true;
      /**
       * An op ORT's QDQ propagation made 8-bit: it read a float tensor and a QuantizeLinear read it, so ORT moved the
       * QuantizeLinear in front of it (and dropped the pair around it): the elements that QuantizeLinear converts.
       */
      quantizedInputElements?: number;
    }
  /** The layer is part of the integer kernel of layer `head`. */
  | { kind: 'folded'; head: number }
  /** A QuantizeLinear / DequantizeLinear that runs as a conversion of its own. */
  | { kind: 'quantize' | 'dequantize' }
  /** A QuantizeLinear of a constant: computed when the model loads. */
  | { kind: 'constant' };

const QLINEAR_OPS = new Set(['Add', 'Mul', 'Where', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Sigmoid', 'LeakyRelu', 'Softmax']);
/** One-input elementwise ops ORT's transpose optimizer moves a transpose through (transpose_optimizer.cc). */
const PUSHED_THROUGH = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'HardSigmoid', 'HardSwish', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Cast', 'Identity', 'Softplus', 'Elu', 'Selu', 'Round', 'Floor', 'Ceil']);
/** Broadcast elementwise ops a transpose moves through when every input but the first is a constant. */
const BROADCAST_WITH_CONSTANT = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow']);
/** The 8-bit ops (besides QLinearConv) that join a QLinearConv's NHWC region: the transpose moves through them. */
const NHWC_8BIT = new Set(['Add', 'Mul', 'Concat', 'Sigmoid', 'LeakyRelu', 'AveragePool', 'GlobalAveragePool', 'MaxPool']);
const DROP_QDQ = new Set(['MaxPool', 'Resize', 'Gather', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Split']);
/**
 * The ops ORT's QDQPropagationTransformer moves a QuantizeLinear back through (qdq_propagation.cc, CanNodePropagate,
 * less Slice, which no QDQ selector drops): a float op → MaxPool → QuantizeLinear becomes float op → QuantizeLinear →
 * MaxPool on the 8-bit tensor (the pair between dropped). ORT's quantize_static writes that form for PP-OCR cls's
 * MaxPool, whose input comes from a float Div: ORT ran its generic uint8 pool (99 µs), not the float one (9 µs).
 */
const PROPAGATES_Q = new Map<string, [number, number]>([
  // The opsets (from, up to but not including) in which the op's version is one CanNodePropagate names.
  ['MaxPool', [12, 22]],
  ['Reshape', [5, 21]],
  ['Transpose', [1, 21]],
  ['Squeeze', [1, 21]],
  ['Unsqueeze', [1, 21]],
]);
const propagatesQ = (op: string, opset: number) => {
  const range = PROPAGATES_Q.get(op);
  return range !== undefined && opset >= range[0] && opset < range[1];
};

/** A QOperator op's integer kernel (its traits' form), and whether its weight is uint8 (U8U8); null for other ops. */
function qoperatorKernel(l: LayerLink): { kernel: Int8Kernel; uint8Weights: boolean } | null {
  const t = l.traits;
  if (t?.kind === 'conv' && (t.form === 'qlinear' || t.form === 'integer')) {
    return { kernel: t.form === 'qlinear' ? 'qlinear' : 'conv-integer', uint8Weights: t.weightDtype === DataType.UINT8 };
  }
  if (t?.kind === 'matmul' && (t.form === 'qlinear' || t.form === 'integer')) {
    return { kernel: t.form === 'qlinear' ? 'qlinear' : 'matmul-integer', uint8Weights: l.inputDtypes[t.operands[1]] === DataType.UINT8 };
  }
  return null;
}

/**
 * The inputs a QDQ group's op needs from DequantizeLinear nodes, where a constant may stand for the bias, and whether
 * a QuantizeLinear must follow; null for an op ORT has no QDQ fusion for.
 */
function qdqInputs(l: LayerLink): { required: number[]; bias: number | null; needsQ: boolean } | null {
  const t = l.traits;
  const present = l.inputs.map((x, k) => (x ? k : -1)).filter((k) => k >= 0);
  // A forward conv in float or QDQ form (ORT's ConvSelector; ConvTranspose has none).
  if (t?.kind === 'conv') return !t.transposed && (t.form === 'float' || t.form === 'qdq') ? { required: present, bias: t.bias, needsQ: true } : null;
  // MatMul and Gemm (not Einsum): QLinearMatMul / QGemm, or MatMulIntegerToFloat without a QuantizeLinear after.
  if (t?.kind === 'matmul') return t.form === 'float' && !t.general ? { required: present, bias: t.bias, needsQ: false } : null;
  if (l.domain !== '') return null;
  if (QLINEAR_OPS.has(l.op)) return { required: l.op === 'Where' ? present.filter((k) => k > 0) : present, bias: null, needsQ: true };
  if (DROP_QDQ.has(l.op)) return { required: [0], bias: null, needsQ: true };
  return null;
}

/**
 * Whether a DequantizeLinear and a QuantizeLinear use one scale and zero point: the same tensors, or constants of
 * the same values (a zero point absent from both counts as the same).
 */
function sameQuantization(dq: LayerLink, q: LayerLink): boolean {
  return [1, 2].every((k) => {
    const [a, b] = [dq.inputs[k] ?? '', q.inputs[k] ?? ''];
    if (a === b) return true;
    const [va, vb] = [dq.inputValues[k], q.inputValues[k]];
    return !!va && !!vb && va.length === vb.length && va.every((v, j) => v === vb[j]);
  });
}

/** A QuantizeLinear whose scale and zero point (if any) are constants: what ORT's QDQ transformers take. */
function constantScale(q: LayerLink): boolean {
  return [1, 2].every((k) => !q.inputs[k] || q.weightInputs.includes(q.inputs[k]) || q.inputValues[k] !== null);
}

const EIGHT_BIT = new Set<number>([DataType.UINT8, DataType.INT8]);
const isDq = (l: LayerLink | undefined) => l?.traits?.kind === 'dequantize';
const isQ = (l: LayerLink | undefined) => l?.traits?.kind === 'quantize';

/**
 * The integer execution of every layer, in report order (null: not an integer kernel nor a conversion). `opset`: the
 * model's default-domain opset (which versions of its ops ORT's QDQ propagation takes; unknown: none).
 */
export function planInt8(links: readonly LayerLink[], graphOutputs: readonly string[], opset = 0): (Int8Layer | null)[] {
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
  const dqAt = (l: LayerLink, k: number, bias: number | null): number | undefined => {
    const p = l.inputs[k] ? producer.get(l.inputs[k]) : undefined;
    if (p === undefined || !isDq(links[p])) return undefined;
    // The dequantized type, or its zero point's where the input's is unknown.
    const dtype = links[p].inputDtypes[0] || links[p].inputDtypes[2];
    return EIGHT_BIT.has(dtype) || (k === bias && dtype === DataType.INT32) ? p : undefined;
  };
  /** The one QuantizeLinear reading the layer's output (nothing else reading it), or undefined. */
  const onlyQuantize = (l: LayerLink): number | undefined => {
    const y = l.outputs[0];
    const readers = y ? (consumers.get(y) ?? []) : [];
    return y && !outputs.has(y) && readers.length === 1 && isQ(links[readers[0]]) && l.outputs.filter((o) => o).length === 1 ? readers[0] : undefined;
  };
  /**
   * The QuantizeLinear after the layer, directly or through a Relu/Clip that is the output's only reader and reads
   * nothing but a QuantizeLinear: ORT drops that activation first (ReluQuantFusion, ClipQuantFusion), taking the
   * QuantizeLinear's range, measured after the activation, as doing its clamping (what mbn quantize writes; ORT's
   * ReluQuantFusion also wants the zero point at the type's minimum, which a range taken after a Relu gives).
   */
  const quantizeAfter = (l: LayerLink): { q: number; activation?: number } | undefined => {
    const direct = onlyQuantize(l);
    if (direct !== undefined) return { q: direct };
    const y = l.outputs[0];
    const readers = y ? (consumers.get(y) ?? []) : [];
    const act = readers.length === 1 && !outputs.has(y) && l.outputs.filter((o) => o).length === 1 ? links[readers[0]] : undefined;
    if (!act || act.domain !== '' || (act.op !== 'Relu' && act.op !== 'Clip') || act.inputs[0] !== y) return undefined;
    const q = onlyQuantize(act);
    return q === undefined ? undefined : { q, activation: readers[0] };
  };
  // A Relu/Clip whose only reader is a QuantizeLinear is dropped, whatever precedes it (ReluQuantFusion,
  // ClipQuantFusion): the QuantizeLinear's range does its clamping. A layer fused below takes it into its kernel.
  links.forEach((l, i) => {
    if (l.scope !== '' || l.domain !== '' || (l.op !== 'Relu' && l.op !== 'Clip')) return;
    const q = onlyQuantize(l);
    if (q !== undefined) plan[i] = { kind: 'folded', head: q };
  });
  links.forEach((l, i) => {
    if (l.scope !== '' || plan[i] !== null) return;
    const q = qoperatorKernel(l);
    if (q) {
      plan[i] = { kind: 'kernel', kernel: q.kernel, qdq: false, uint8Weights: q.uint8Weights, transposedElements: 0, transposes: 0 };
      return;
    }
    const group = qdqInputs(l);
    if (!group || group.required.length === 0) return;
    const { required, bias, needsQ } = group;
    const dqs = required.map((k) => dqAt(l, k, bias));
    // A constant bias is fine: ORT's BiasQuantization turns it into a dequantized int32 constant first.
    if (dqs.some((p, j) => p === undefined && !(required[j] === bias && l.weightInputs.includes(l.inputs[bias])))) return;
    const qAfter = quantizeAfter(l);
    if (needsQ && qAfter === undefined) return;
    // A constant float bias is quantized only for a group with a QuantizeLinear after it: a Gemm with one whose output
    // stays float is left in float (mbn quantize's MobileNetV2 classifier: a float Gemm and its weights' 1.28 M-element
    // DequantizeLinear each run, 0.27 ms, where ORT's quantizer writes an int32 bias and runs one QGemm, 33 µs).
    if (bias !== null && qAfter === undefined && required.includes(bias) && dqs[required.indexOf(bias)] === undefined) return;
    if (DROP_QDQ.has(l.op) && !sameQuantization(links[dqs[0]!], links[qAfter!.q])) return;
    const weightDq = l.traits?.kind === 'conv' || l.traits?.kind === 'matmul' ? dqs[1] : undefined;
    plan[i] = { kind: 'kernel', kernel: 'qlinear', qdq: true, uint8Weights: weightDq !== undefined && links[weightDq].inputDtypes[0] === DataType.UINT8, transposedElements: 0, transposes: 0 };
    if (qAfter !== undefined) plan[qAfter.q] = { kind: 'folded', head: i };
    if (qAfter?.activation !== undefined) plan[qAfter.activation] = { kind: 'folded', head: i };
  });
  // A QuantizeLinear of a float op's output through a chain of PROPAGATES_Q ops (each the only reader of the one
  // before): ORT moves it in front of the chain, which then runs on 8 bits. A chain that starts at a
  // DequantizeLinear is left as it is (the pair around each op is dropped only where the scales agree, above).
  links.forEach((l, i) => {
    if (l.scope !== '' || plan[i] !== null || !isQ(l) || l.weightInputs.includes(l.inputs[0]) || !constantScale(l)) return;
    const chain: number[] = [];
    let x = l.inputs[0];
    for (let p = producer.get(x); p !== undefined && plan[p] === null && propagatesQ(links[p].op, opset) && links[p].domain === '' && !links[p].folded; p = producer.get(x)) {
      if ((consumers.get(x) ?? []).length !== 1 || outputs.has(x)) break;
      chain.push(p);
      x = links[p].inputs[0];
    }
    const source = producer.get(x);
    if (chain.length === 0 || (source !== undefined && isDq(links[source])) || (consumers.get(x) ?? []).length !== 1) return;
    for (const p of chain) plan[p] = { kind: 'kernel', kernel: 'qlinear', qdq: true, uint8Weights: false, transposedElements: 0, transposes: 0 };
    const first = chain[chain.length - 1];
    const input = links[first].inputShapes[0];
    (plan[first] as { quantizedInputElements?: number }).quantizedInputElements = input ? input.reduce((a, b) => a * b, 1) : 0;
    plan[i] = { kind: 'folded', head: chain[0] };
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
  // A fused conv runs as QLinearConv in NHWC, and the 8-bit ops ORT's transpose optimizer moves a transpose through
  // (QLinearAdd, QLinearConcat, …, MaxPool) join its NHWC region; so do (De)QuantizeLinear and one-input elementwise
  // ops between. A transpose is left on each 8-bit tensor where the region meets anything else (a float conv, a
  // graph input or output): on the region's side, sized as that tensor.
  const elements = (l: LayerLink) => (l.outputShape ? l.outputShape.reduce((a, b) => a * b, 1) : 0);
  const isConv = (j: number) => links[j].traits?.kind === 'conv';
  const eightBit = (j: number) => plan[j]?.kind === 'kernel' && (plan[j] as { qdq: boolean }).qdq && (isConv(j) || (links[j].domain === '' && NHWC_8BIT.has(links[j].op)));
  /** The activation inputs of layer j, each as the DequantizeLinear that feeds it (a conv's first; every input of the others; constants left out). */
  const activationDqs = (j: number) =>
    (isConv(j) ? [links[j].inputs[0]] : links[j].inputs)
      .map((x) => (x ? producer.get(x) : undefined))
      .filter((p): p is number => p !== undefined && isDq(links[p]) && !constantDq(p));
  /**
   * A DequantizeLinear of a constant (an initializer, a QuantizeLinear ORT computes at load) or of a ConstantOfShape
   * (one value everywhere: BlazeFace's channel padding): in any layout, so no transpose is needed for it.
   */
  const constantDq = (p: number) => {
    if (links[p].weightInputs.includes(links[p].inputs[0]) || links[p].folded) return true;
    const q = producer.get(links[p].inputs[0]);
    if (q === undefined) return false;
    if (plan[q]?.kind === 'constant') return true;
    const source = isQ(links[q]) ? producer.get(links[q].inputs[0]) : undefined;
    return source !== undefined && (links[source].atLoad || (links[source].domain === '' && links[source].op === 'ConstantOfShape'));
  };
  // ORT's transpose optimizer moves the transpose after a QLinearConv through an 8-bit op only when every activation
  // input is in NHWC already: on a multi-input op (QLinearAdd, QLinearConcat) with an input from outside, moving it
  // would add a transpose on that input and another after the op, so the op stays in NCHW with the transpose left in
  // front of it (BlazeFace with some convs kept float: its QLinearAdds, and the MaxPools after them, stay NCHW). Whether
  // a layer is in the region depends on its inputs' only, so it is worked out once per layer, inputs first.
  const region = new Map<number, boolean>();
  const inRegion = (j: number): boolean => {
    const known = region.get(j);
    if (known !== undefined) return known;
    region.set(j, false);
    const dqs = eightBit(j) && !isConv(j) ? activationDqs(j) : [];
    // A MaxPool made 8-bit by a QuantizeLinear ORT moves in front of it (no DequantizeLinear before it in the model):
    // its input as it stands, which that QuantizeLinear reads.
    const moved = eightBit(j) && !isConv(j) && dqs.length === 0 && links[j].op === 'MaxPool' ? links[j].inputs[0] : undefined;
    const r =
      eightBit(j) &&
      (isConv(j) ||
        (dqs.length > 0 && dqs.every((p) => fromRegion(links[p].inputs[0], 0, false)) && dqs.some((p) => fromRegion(links[p].inputs[0], 0, true))) ||
        (moved !== undefined && fromRegion(moved, 0, true)));
    region.set(j, r);
    return r;
  };
  const headOf = (j: number) => (plan[j]?.kind === 'folded' ? (plan[j] as { head: number }).head : j);
  // One-input elementwise ops, and broadcast ones whose other inputs are constants (tf2onnx's Max(x, 0) after a
  // LeakyRelu: ORT's transpose optimizer transposes the constant and moves on; OpenWakeWord's embedding model quantized
  // by ORT runs each such MaxPool as NhwcMaxPool).
  const passes = (l: LayerLink) =>
    isQ(l) || isDq(l) || (l.domain === '' && (PUSHED_THROUGH.has(l.op) || (BROADCAST_WITH_CONSTANT.has(l.op) && l.inputs.slice(1).every((x) => !x || l.weightInputs.includes(x)))));
  const fromRegion = (x: string | undefined, depth: number, convOnly: boolean): boolean => {
    const p = x ? producer.get(x) : undefined;
    if (p === undefined || depth > 16) return false;
    const h = headOf(p);
    // A DequantizeLinear folded into a kernel belongs to its reader: look through it, to what it dequantizes.
    if (!isDq(links[p]) && (h !== p || inRegion(p))) return inRegion(h) && (!convOnly || isConv(h) || links[h].inputs.some((y) => y && fromRegion(y, depth + 1, true)));
    return passes(links[p]) && fromRegion(links[p].inputs[0], depth + 1, convOnly);
  };
  const toRegion = (y: string | undefined, depth: number): boolean => {
    const readers = y ? (consumers.get(y) ?? []) : [];
    if (!y || outputs.has(y) || readers.length === 0 || depth > 16) return false;
    return readers.every((r) => inRegion(headOf(r)) || (passes(links[r]) && toRegion(links[r].outputs[0], depth + 1)));
  };
  links.forEach((l, i) => {
    const k = plan[i];
    if (k?.kind !== 'kernel') return;
    if (!inRegion(i)) {
      // An 8-bit op outside every region stays in NCHW: no transposes of its own; a MaxPool there is ORT's generic one.
      if (k.qdq && l.domain === '' && l.op === 'MaxPool') k.nchwPool = true;
      return;
    }
    const dqs = activationDqs(i);
    for (const p of dqs) {
      if (fromRegion(links[p].inputs[0], 0, false)) continue;
      k.transposedElements += elements(links[p]);
      k.transposes++;
    }
    let qOut = l.outputs[0] ? (consumers.get(l.outputs[0]) ?? [])[0] : undefined;
    // Through the Relu/Clip folded into the kernel, to its QuantizeLinear.
    if (qOut !== undefined && !isQ(links[qOut]) && plan[qOut]?.kind === 'folded') qOut = links[qOut].outputs[0] ? (consumers.get(links[qOut].outputs[0]) ?? [])[0] : undefined;
    if (qOut !== undefined && plan[qOut]?.kind === 'folded' && !toRegion(links[qOut].outputs[0], 0)) {
      k.transposedElements += elements(l);
      k.transposes++;
    }
  });
  return plan;
}

/**
 * Whether ONNX Runtime 1.30 runs a QLinearConv with int8 (symmetric) weights through MLAS's symmetric conv kernels
 * (`MlasConvSymPackWSize`, core/mlas/lib/convsym.cpp, which QLinearConv's PrePack tries first) rather than its
 * generic path (`MlasConvDepthwise`, or im2col then an integer GEMM), on x86: a depthwise conv needs a multiple of
 * 16 channels; a dense one at least 16 output channels, input channels a multiple of 4, and output channels a
 * multiple of `outputAlignment` (KernelOutputChannelAlignment: 4 in the AVX-512 dispatch, 8 in the AVX2 one). A
 * grouped conv that is not depthwise always takes the generic path. Measured here (ORT 1.30, AVX-512 VNNI): a 3×3
 * depthwise conv on 64 channels ran at 38 GMAC/s, on 24 channels at 11; a 1×1 conv 32→32 at 175 GMAC/s, 34→32 at 93.
 */
export function symmetricConvKernel(g: ConvGeometry, outputAlignment: number): boolean {
  const perGroupIn = g.inChannels / g.group;
  const perGroupOut = g.outChannels / g.group;
  if (g.group > 1) return perGroupIn === 1 && perGroupOut === 1 && g.group % 16 === 0;
  return g.outChannels >= 16 && g.inChannels % 4 === 0 && g.outChannels % outputAlignment === 0;
}

/** Output channels per block of MLAS's integer GEMM (its packed weight panels), which a 1×1 conv off the symmetric kernel pays in full. */
export const GEMM_BLOCK = 16;

/**
 * A 1×1 conv off MLAS's symmetric kernel, as its integer GEMM runs it, ns: per output pixel, its output channels
 * rounded up to GEMM_BLOCK, each at `nsPerPaddedOutput` (the int32 result requantized to 8 bits) plus
 * `nsPerPaddedMac` per input channel. Measured here (ORT 1.30, ORT's profiler, 56×56): 62→32, 34, 40, 42, 48 and 64
 * channels took 38, 50, 50, 54, 53 and 66 µs, by blocks of 16 output channels; 36→42 took 46.
 */
export function genericPointwiseNs(rates: { nsPerPaddedOutput: number; nsPerPaddedMac: number }, pixels: number, inChannels: number, outChannels: number): number {
  const padded = Math.ceil(outChannels / GEMM_BLOCK) * GEMM_BLOCK;
  return pixels * padded * (rates.nsPerPaddedOutput + inChannels * rates.nsPerPaddedMac);
}

/**
 * Whether ONNX Runtime's fused 8-bit op works element by element in float (dequantize, compute, requantize each
 * element: QLinearAdd, QLinearMul, QLinearConcat, QLinearSigmoid, …), so that it takes about as long as the float op
 * rather than a quarter (measured here, ORT 1.30, fastest of 420 runs: QLinearAdd of 98,304 elements 11 µs, a float
 * Add 12; QLinearConcat to 196,608 elements 19 µs, a float Concat 13).
 */
export function requantizesEachElement(op: string): boolean {
  return QLINEAR_OPS.has(op) && op !== 'AveragePool' && op !== 'GlobalAveragePool';
}

/**
 * The share of a conv's kernel taps that read the input rather than its zero padding, over all output positions
 * (1 without padding). ORT's per-group integer and generic depthwise paths (ConvInteger's im2col + a GEMM per group,
 * MLAS's generic 8-bit depthwise kernel, the float im2col path of a QDQ conv left unfused) take about the same time
 * per tap that reads the input whatever the kernel size, and little for a padded one: measured here (ORT 1.30,
 * ns per output element) a 5×5 depthwise QLinearConv ran 2.18 on a 96×96 map and 1.43 on a 2×96 one (pads 2: 10 of
 * its 25 taps read the input), a 3×3 one 0.90 and 0.68; ConvInteger 5×5 2.38 on 56×56, 1.69 on 2×96; the float
 * im2col path 4.04 on 28×28, 2.03 on 2×96. PP-OCR's classifier runs 5×5 depthwise convs on maps 2 and 3 rows high.
 */
export function inputTapShare(g: Pick<ConvGeometry, 'kernel' | 'strides' | 'dilations' | 'pads' | 'autoPad'>, inSpatial: readonly number[], outSpatial: readonly number[]): number {
  let share = 1;
  g.kernel.forEach((k, d) => {
    const inside = tapsInside(g, d, inSpatial[d], outSpatial[d]);
    if (inside) share *= inside.reduce((a, b) => a + b, 0) / (outSpatial[d] * k);
  });
  return share;
}

/**
 * Along spatial dim `d`, for each kernel tap, how many of the `out` output positions read the input there rather
 * than padding (auto_pad resolved as ONNX says). Null when a size is unknown.
 */
export function tapsInside(g: Pick<ConvGeometry, 'kernel' | 'strides' | 'dilations' | 'pads' | 'autoPad'>, d: number, size: number, out: number): number[] | null {
  const [k, stride, dilation] = [g.kernel[d], g.strides[d] ?? 1, g.dilations[d] ?? 1];
  if (!(size > 0) || !(out > 0)) return null;
  let begin = g.pads[d] ?? 0;
  if (g.autoPad === 'SAME_UPPER' || g.autoPad === 'SAME_LOWER') {
    const total = Math.max(0, (out - 1) * stride + (k - 1) * dilation + 1 - size);
    begin = g.autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
  } else if (g.autoPad === 'VALID') begin = 0;
  const inside = new Array<number>(k).fill(0);
  for (let o = 0; o < out; o++) {
    for (let t = 0; t < k; t++) {
      const x = o * stride - begin + t * dilation;
      if (x >= 0 && x < size) inside[t]++;
    }
  }
  return inside;
}

/**
 * Whether ONNX Runtime's fused 8-bit op is a table lookup (QLinearLeakyRelu, QLinearSigmoid: qlinear_lookup_table.cc
 * builds a 256-entry table from the scales when the model loads and maps each element through it).
 */
export function looksUpTable(op: string): boolean {
  return op === 'LeakyRelu' || op === 'Sigmoid';
}
