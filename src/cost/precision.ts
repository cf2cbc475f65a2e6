import { dtypeName } from '../onnx/dtype.js';
import type { LayerRecord } from '../shape/infer.js';
import type { Precision, PrecisionBreakdown } from '../contract/analyze.js';
import { appendTo } from '../util/multimap.js';

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
  const key = (scope: string, name: string) => `${scope}\n${name}`;
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  layers.forEach((l, i) => {
    for (const o of l.node.outputs) if (o) producer.set(key(l.scope, o), i);
    for (const x of new Set(l.node.inputs)) if (x) appendTo(consumers, key(l.scope, x), i);
  });
  const producerOf = (l: LayerRecord, k: number): LayerRecord | undefined => {
    const name = l.node.inputs[k];
    const p = name ? producer.get(key(l.scope, name)) : undefined;
    return p === undefined ? undefined : layers[p];
  };
  const readersOf = (l: LayerRecord): number[] => (l.node.outputs[0] ? (consumers.get(key(l.scope, l.node.outputs[0])) ?? []) : []);
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
    const readers = readersOf(l);
    return readers.length > 0 && readers.every((r) => isQ(layers[r]));
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
      if (readers.length > 0 && (isWeightConversion(l) || inQdqGroup(layers[readers[0]]))) {
        // A chain of conversions (DequantizeLinear then Cast) takes the precision of the op at its end.
        let r = readers[0];
        for (let hop = 0; hop < 8 && isWeightConversion(layers[r]); hop++) {
          const next = readersOf(layers[r]);
          if (next.length === 0) break;
          r = next[0];
        }
        return base[r];
      }
      return typeName(l.inputs[0]?.dtype ?? 0);
    }
    if (isQ(l)) {
      const p = producerOf(l, 0);
      const at = p ? layers.indexOf(p) : -1;
      return p && inQdqGroup(p) ? base[at] : typeName(l.outputs[0]?.dtype ?? 0);
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
