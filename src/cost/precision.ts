import { dtypeName } from '../onnx/dtype.js';
import type { LayerRecord } from '../shape/infer.js';
import type { Precision, PrecisionBreakdown } from '../contract/analyze.js';

/**
 * Each layer's numeric precision, read from the model itself (README, "Precision"), in one pass over the records:
 *   - `A` or `A/W`: the op computes on activations of type A with weights of type W (the constant's stored type
 *     through Cast and Identity, or the type its DequantizeLinear reads), written once when the two agree or the op
 *     has no weight:
 *     `float32`, `float16`, `float32/float16` (float16 weights cast up), `uint8/int8` (ORT's U8S8), `uint8`, `int8`.
 *   - A QDQ group (DequantizeLinear feeding both the input and the weight of a conv or matrix product, or the
 *     inputs of an op whose output goes only to QuantizeLinear) is 8-bit: A is the type its DequantizeLinear reads.
 *   - QOperator ops name their types: QLinearConv, ConvInteger, MatMulInteger, QLinearMatMul, QGemm and the
 *     com.microsoft QLinear* ops compute on their integer inputs; DynamicQuantizeMatMul quantizes its float input to
 *     uint8 as it runs.
 *   - Conversions take the precision of what they serve: a (De)QuantizeLinear, Cast or Identity of a constant weight
 *     and a DequantizeLinear feeding a QDQ group take their reader's; a QuantizeLinear after a group its producer's.
 *     Others are written as the 8-bit side (`uint8` for a QuantizeLinear to uint8 or a DequantizeLinear from it).
 */
/** Input position of a layer's weight, from its traits: a conv's, a matrix product's second operand, a recurrent op's W. */
function weightInput(l: LayerRecord): number {
  const t = l.traits;
  if (t?.kind === 'conv') return t.weight;
  if (t?.kind === 'matmul') return t.operands[1];
  if (t?.kind === 'recurrent') return 1;
  return -1;
}
/** Ops that pass a constant along unchanged in meaning (a weight's conversions, with DequantizeLinear). */
const WEIGHT_CONVERSIONS = new Set(['Cast', 'Identity']);
const DYNAMIC_UINT8 = new Set(['DynamicQuantizeMatMul']);
const UINT8 = 2;
const typeName = (code: number) => (code ? dtypeName(code) : 'unknown');

export function layerPrecisions(layers: readonly LayerRecord[]): Precision[] {
  // Indexes by scope, then tensor name (the names themselves as keys: a million-layer chain allocates no key strings).
  // Of a tensor's readers only the first and whether all are QuantizeLinear matter, so no list is kept per tensor.
  const producer = new Map<string, Map<string, number>>();
  const firstReader = new Map<string, Map<string, number>>();
  const notAllQuantize = new Map<string, Set<string>>();
  const scoped = <V>(m: Map<string, V>, scope: string, make: () => V): V => m.get(scope) ?? (m.set(scope, make()), m.get(scope)!);
  layers.forEach((l, i) => {
    const produced = scoped(producer, l.scope, () => new Map<string, number>());
    for (const o of l.node.outputs) if (o) produced.set(o, i);
    const first = scoped(firstReader, l.scope, () => new Map<string, number>());
    const mixed = scoped(notAllQuantize, l.scope, () => new Set<string>());
    for (const x of l.node.inputs) {
      if (!x) continue;
      if (!first.has(x)) first.set(x, i);
      if (l.traits?.kind !== 'quantize') mixed.add(x);
    }
  });
  const producerIndex = (l: LayerRecord, k: number): number | undefined => {
    const name = l.node.inputs[k];
    return name ? producer.get(l.scope)?.get(name) : undefined;
  };
  const producerOf = (l: LayerRecord, k: number): LayerRecord | undefined => {
    const p = producerIndex(l, k);
    return p === undefined ? undefined : layers[p];
  };
  /** The first layer reading a layer's output, and whether every reader is a QuantizeLinear (none: undefined). */
  const readersOf = (l: LayerRecord): { first: number; allQuantize: boolean } | undefined => {
    const out = l.node.outputs[0];
    const first = out ? firstReader.get(l.scope)?.get(out) : undefined;
    return first === undefined ? undefined : { first, allQuantize: !notAllQuantize.get(l.scope)!.has(out!) };
  };
  const isDq = (l: LayerRecord | undefined) => l?.traits?.kind === 'dequantize';
  const isQ = (l: LayerRecord | undefined) => l?.traits?.kind === 'quantize';
  /**
   * The type of the constant read at input k: its stored type through Cast and Identity, or the type a
   * DequantizeLinear of it reads (a weight the file stores in float and quantizes with a QuantizeLinear is int8 to
   * the op); 0 when it is no constant.
   */
  const weightType = (l: LayerRecord, k: number, depth = 0): number => {
    const w = l.weightAt?.[k];
    if (w) return w.dtype;
    const p = producerOf(l, k);
    if (!p || depth >= 8) return 0;
    if (isDq(p)) return isConstant(p, 0, depth + 1) ? (p.inputs[0]?.dtype || p.inputs[2]?.dtype || 0) : 0;
    return WEIGHT_CONVERSIONS.has(p.node.opType) || isQ(p) ? weightType(p, 0, depth + 1) : 0;
  };
  const isConstant = (l: LayerRecord, k: number, depth = 0): boolean => weightType(l, k, depth) !== 0;
  const isWeightConversion = (l: LayerRecord) => (isDq(l) || isQ(l) || WEIGHT_CONVERSIONS.has(l.node.opType)) && isConstant(l, 0);
  /**
   * A QDQ group's op: its input 0 is dequantized, and so is its weight (an op that has one) or its output goes only
   * to QuantizeLinear (one that has none).
   */
  const inQdqGroup = (l: LayerRecord) => {
    if (isDq(l) || isQ(l) || !isDq(producerOf(l, 0))) return false;
    const w = weightInput(l);
    if (w >= 0) return isDq(producerOf(l, w));
    return readersOf(l)?.allQuantize === true;
  };
  const base = layers.map((l): Precision => {
    const op = l.node.opType;
    const dq = producerOf(l, 0);
    const activation = DYNAMIC_UINT8.has(op) ? UINT8 : inQdqGroup(l) ? (dq!.inputs[0]?.dtype ?? 0) : (l.inputs[0]?.dtype ?? l.outputs[0]?.dtype ?? 0);
    const w = weightInput(l);
    const weight = w >= 0 ? weightType(l, w) : 0;
    return weight && weight !== activation ? `${typeName(activation)}/${typeName(weight)}` : typeName(activation);
  });
  return layers.map((l, i): Precision => {
    if (isWeightConversion(l) || isDq(l)) {
      const readers = readersOf(l);
      if (readers && (isWeightConversion(l) || inQdqGroup(layers[readers.first]))) {
        // A chain of conversions (DequantizeLinear then Cast) takes the precision of the op at its end.
        let r = readers.first;
        for (let hop = 0; hop < 8 && isWeightConversion(layers[r]); hop++) {
          const next = readersOf(layers[r]);
          if (!next) break;
          r = next.first;
        }
        return base[r];
      }
      return typeName(l.inputs[0]?.dtype ?? 0);
    }
    if (isQ(l)) {
      const at = producerIndex(l, 0);
      return at !== undefined && inQdqGroup(layers[at]) ? base[at] : typeName(l.outputs[0]?.dtype ?? 0);
    }
    return base[i];
  });
}

/** The breakdown over report rows, sorted by MACs then params (largest first). */
export function precisionBreakdown(rows: readonly { precision: Precision; macs: number; params: number; weightBytes: number }[]): PrecisionBreakdown[] {
  const by = new Map<Precision, PrecisionBreakdown>();
  for (const r of rows) {
    const e = by.get(r.precision) ?? { precision: r.precision, layers: 0, macs: 0, params: 0, weightBytes: 0 };
    e.layers++;
    e.macs += r.macs;
    e.params += r.params;
    e.weightBytes += r.weightBytes;
    by.set(r.precision, e);
  }
  return [...by.values()].sort((a, b) => b.macs - a.macs || b.params - a.params || a.precision.localeCompare(b.precision));
}

/** Whether a report's breakdown is worth showing (table, md, html): some layer is not float32. */
export function showsPrecision(breakdown: readonly PrecisionBreakdown[]): boolean {
  return breakdown.some((p) => p.precision !== 'float32');
}
