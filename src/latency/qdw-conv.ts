import type { GenericDepthwiseRates } from '../contract/device.js';
import { type CostFamily, costOf, fitRates } from './cost-fit.js';

/**
 * A fused 8-bit depthwise conv (QLinearConv) off MLAS's symmetric kernels (its channels not a multiple of 16):
 * MLAS's generic depthwise kernel (qdwconv), NHWC, which for each output pixel and kernel tap works through the
 * channels in vectors of 16, then one of 8, then one channel at a time. The channels past the last multiple of 8
 * are the costly part: measured here (ORT 1.30, 5×5 on 32×32, per output pixel and tap that reads the input) 0.5 ns
 * plus 0.8 per vector plus 0.47 per channel left over, so 28 channels (a vector of 16, one of 8, 4 more) take 107 µs
 * where 32 (ConvSym) take 26 and 24 take 50. BlazeFace's 28-, 36- and 42-channel depthwise convs run it.
 */

/** One image's work through the kernel: output pixel × tap pairs that read the input, and its vectors and tail. */
export interface GenericDepthwiseWork {
  /** Output pixels × kernel taps, less the taps that read padding (next to nothing is done for those). */
  pixelTaps: number;
  /** Vectors per pixel and tap: one per 16 channels, and one more for 8 of the rest. */
  vectors: number;
  /** Channels done one at a time: those past the last multiple of 8. */
  tail: number;
}

const FAMILY: CostFamily<GenericDepthwiseRates, GenericDepthwiseWork> = {
  keys: ['nsPerPixelTap', 'nsPerVectorTap', 'nsPerTailTap'],
  counts: (w) => [w.pixelTaps, w.pixelTaps * w.vectors, w.pixelTaps * w.tail],
};

/** The work of a depthwise conv of `channels` with `pixels` output positions, `taps` kernel taps, `inputShare` of them reading the input. */
export function genericDepthwiseWork(channels: number, pixels: number, taps: number, inputShare: number): GenericDepthwiseWork {
  return { pixelTaps: pixels * taps * inputShare, vectors: Math.floor(channels / 16) + (channels % 16 >= 8 ? 1 : 0), tail: channels % 8 };
}

/** The kernel's time, ns. */
export function genericDepthwiseNs(rates: GenericDepthwiseRates, w: GenericDepthwiseWork): number {
  return costOf(FAMILY, rates, w);
}

/** The rates from measured convs' kernel times (ns); undefined when no non-negative fit explains them. */
export function fitGenericDepthwise(samples: readonly { work: GenericDepthwiseWork; ns: number }[]): GenericDepthwiseRates | undefined {
  return fitRates(FAMILY, samples);
}

/**
 * `mbn calibrate`'s depthwise QDQ convs for the fit, 5×5 with pads 2 on 32×32 (besides the 24-channel 3×3 one of the
 * generic depthwise rate): 8 channels (one vector), 40 (three), 12 (one and a tail of 4), 42 (three and a tail of 2).
 */
export const GENERIC_DEPTHWISE_CHANNELS: readonly number[] = [8, 40, 12, 42];
export const GENERIC_DEPTHWISE_MAP = 32;
