import { DataType } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';
import type { ResizeRates } from '../contract/device.js';

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

export function resizeKernel(link: LayerLink, eightBitQdq: boolean): ResizeKernel | null {
  if (link.domain !== '' || (link.op !== 'Resize' && link.op !== 'Upsample')) return null;
  const mode = link.strings.mode ?? 'nearest';
  if (eightBitQdq) return mode === 'nearest' ? 'nearest8bit' : null;
  if (link.inputDtypes[0] !== DataType.FLOAT) return null;
  if (mode === 'linear') return 'linear';
  if (mode !== 'nearest') return null;
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
