import { DataType } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';
import type { Int8Layer } from './int8.js';
import type { ResizeRates } from '../contract/device.js';
import { appendTo } from '../util/multimap.js';

/**
 * Which of ONNX Runtime's CPU Resize kernels runs a Resize (or Upsample) in plain layout (upsample.cc, ORT 1.30):
 *   - `nearest2x`: nearest mode on a 4-D tensor with scales [1, 1, 2, 2], where ORT takes its UpsampleNearest2x fast
 *     path (from opset 11 only with coordinate mode "asymmetric" and nearest_mode "floor"): each input value is
 *     written twice along a row;
 *   - `nearest`: any other nearest resize: UpsampleNearestImpl gathers every output element through per-axis index
 *     tables (measured here: ×4 and ×8 upsampling 0.3–0.5 ns per output element, ×2 through the fast path 0.1);
 *   - `linear`: linear (bilinear) mode, per output element four reads and weights (1.16 ns per output element
 *     here, at ×2 and ×4 alike);
 *   - `nearest8bit`: a nearest resize on an 8-bit tensor in a QDQ model: ORT drops the DequantizeLinear/QuantizeLinear
 *     around it and its transpose optimizer moves it into the QLinearConvs' NHWC region (PP-OCRv4 det's six Resizes:
 *     no transposes around them in ORT's optimized graph), where its scales are [1, 2, 2, 1]: no fast path, the
 *     index tables on uint8 (0.67–0.72 ns per output element here, ×2 and ×4).
 * Null for a resize the rates do not cover (cubic mode, 8-bit linear, an unknown mode).
 */
export type ResizeKernel = keyof ResizeRates;

export function resizeKernel(link: LayerLink, eightBitQdq: boolean, channelsLast = false): ResizeKernel | null {
  if (link.domain !== '' || (link.op !== 'Resize' && link.op !== 'Upsample')) return null;
  const mode = link.strings.mode ?? 'nearest';
  if (eightBitQdq) return mode === 'nearest' ? 'nearest8bit' : null;
  if (link.inputDtypes[0] !== DataType.FLOAT) return null;
  if (mode === 'linear') return 'linear';
  if (mode !== 'nearest') return null;
  // Channels last, its scales are [1, 2, 2, 1]: never the fast path.
  if (channelsLast) return 'nearest';
  const v11 = link.op === 'Resize' && link.inputs.length >= 3;
  const fast = !v11 || ((link.strings.coordinate_transformation_mode ?? 'half_pixel') === 'asymmetric' && (link.strings.nearest_mode ?? 'round_prefer_floor') === 'floor');
  const scales = resizeScales(link);
  return fast && scales !== null && scales.join() === '1,1,2,2' ? 'nearest2x' : 'nearest';
}

/**
 * A resize's static scales: from its `scales` input (opset 11+: input 2; Upsample and Resize-10: input 1), or from its
 * `sizes` input (opset 11+: input 3) over the input's shape; null when neither is known before run time.
 */
export function resizeScales(link: LayerLink): number[] | null {
  const v11 = link.op === 'Resize' && link.inputs.length >= 3;
  const x = link.inputShapes[0];
  const sizes = v11 && link.inputs[3] ? link.inputValues[3] : null;
  if (sizes && x && sizes.length === x.length) return sizes.map((d, k) => d / x[k]);
  const scales = link.inputValues[v11 ? 2 : 1];
  return scales && scales.length > 0 ? scales : null;
}

/** Time of a resize on `kernel`, ms: its output elements at the kernel's calibrated rate, plus the elementwise kernel overhead. */
export function resizeMs(rates: ResizeRates, kernel: ResizeKernel, outputElements: number, overheadUs: number): number {
  return (outputElements * rates[kernel]) / 1e6 + overheadUs / 1e3;
}

/** Ops ORT's transpose optimizer moves a transpose through (transpose_optimizer.cc), besides one-input elementwise ones. */
const TRANSPOSABLE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Resize', 'QuantizeLinear', 'DequantizeLinear', 'Relu', 'Clip', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Tanh', 'Identity', 'Cast']);

/**
 * Which Resizes ORT runs on a channels-last tensor. In a QDQ model its transpose optimizer pushes the transposes out
 * of a QLinearConv's NHWC region through the DequantizeLinear after it and on through elementwise ops and Resizes
 * whose every activation input comes from such a region (constants and per-channel [N, C, 1, 1] tensors fit either
 * layout), where they cancel against a QLinearConv's further on (every reader of the Resize's output leads into one
 * the same way, through 8-bit Adds, Muls and Concats): such a Resize, in float or 8 bits, runs with scales
 * [1, 2, 2, 1]. PP-OCRv4 det quantized by mbn: the three Resizes of its FPN between 8-bit convs ran channels last in
 * ORT's optimized graph (0.46 ms for the ×2 to 96×80×80, where the NCHW fast path takes 0.09); with its
 * BatchNormalizations folded (mbn quantize's default), so did the three ×2/×4/×8 ones into its QLinearConcat, and
 * before that, when NCHW tensors met them in a float Concat, those stayed NCHW.
 * `int8` is planInt8's plan.
 */
export function channelsLastResizes(links: readonly LayerLink[], int8: readonly (Int8Layer | null)[], graphOutputs: readonly string[]): Set<number> {
  const producer = new Map<string, number>();
  links.forEach((l, i) => {
    if (l.scope === '') for (const o of l.outputs) if (o) producer.set(o, i);
  });
  const memo = new Map<number, boolean>();
  /** Whether layer j's output is channels last. */
  const nhwc = (j: number, depth: number): boolean => {
    const known = memo.get(j);
    if (known !== undefined) return known;
    memo.set(j, false);
    const l = links[j];
    const q = int8[j];
    let r: boolean;
    if (q?.kind === 'kernel' && q.qdq && l.traits?.kind === 'conv') r = true;
    // A QuantizeLinear ORT fused into the kernel before it: that kernel's layout.
    else if (q?.kind === 'folded' && q.head < j && l.traits?.kind === 'quantize') r = nhwc(q.head, depth + 1);
    else if (l.domain !== '' || !TRANSPOSABLE.has(l.op) || depth > 64) r = false;
    else {
      const activations = l.inputs.filter((x, k) => x && !l.weightInputs.includes(x) && !(l.op === 'Resize' && k > 0) && !(l.traits?.kind === 'quantize' || l.traits?.kind === 'dequantize' ? k > 0 : false));
      // A per-channel input ([N, C, 1, 1]: a squeeze-excite gate) is in both layouts at once: its transpose is a reshape.
      const perChannel = (x: string) => {
        const shape = l.inputShapes[l.inputs.indexOf(x)];
        return !!shape && shape.length > 2 && shape.slice(2).every((d) => d === 1);
      };
      const own = activations.filter((x) => !perChannel(x));
      r = own.length > 0 && own.every((x) => {
        const p = producer.get(x);
        return p !== undefined && (links[p].atLoad || nhwc(p, depth + 1));
      });
    }
    memo.set(j, r);
    return r;
  };
  const consumers = new Map<string, number[]>();
  links.forEach((l, i) => {
    if (l.scope === '') for (const x of new Set(l.inputs)) if (x) appendTo(consumers, x, i);
  });
  const outputs = new Set(graphOutputs);
  /** Whether every reader of layer j's output leads, through ops a transpose moves through, into a QLinearConv. */
  const intoRegion = (j: number, depth: number): boolean => {
    const y = links[j].outputs[0];
    const readers = y ? (consumers.get(y) ?? []) : [];
    if (!y || outputs.has(y) || readers.length === 0 || depth > 64) return false;
    return readers.every((c) => {
      const q = int8[c];
      if (q?.kind === 'kernel' && q.qdq && links[c].traits?.kind === 'conv') return true;
      // A DequantizeLinear ORT folds into the kernel that reads it: that kernel.
      if (q?.kind === 'folded' && q.head > c && links[c].traits?.kind === 'dequantize') return intoHead(q.head, depth + 1);
      return links[c].domain === '' && TRANSPOSABLE.has(links[c].op) && intoRegion(c, depth + 1);
    });
  };
  /** A fused kernel reached from below: a QLinearConv, or an 8-bit op (QLinearAdd, QLinearMul, QLinearConcat) leading into one. */
  const intoHead = (h: number, depth: number): boolean => {
    const l = links[h];
    if (l.traits?.kind === 'conv') return true;
    return l.domain === '' && (l.op === 'Add' || l.op === 'Mul' || l.op === 'Concat') && intoRegion(h, depth);
  };
  const out = new Set<number>();
  links.forEach((l, i) => {
    if (l.scope === '' && l.domain === '' && l.op === 'Resize' && nhwc(i, 0) && intoRegion(i, 0)) out.add(i);
  });
  return out;
}
