import { describe, expect, it } from 'vitest';
import { fitGenericDepthwise, genericDepthwiseNs, genericDepthwiseWork, GENERIC_DEPTHWISE_CHANNELS, GENERIC_DEPTHWISE_MAP } from '../src/latency/qdw-conv.js';
import { validateProfile } from '../src/latency/profile.js';
import { ROUND_PROFILE } from './helpers/profiles.js';

/** MLAS's generic 8-bit depthwise kernel (src/latency/qdw-conv.ts): vectors of 16 and 8 channels, then one channel at a time. */
describe('the generic 8-bit depthwise kernel', () => {
  it('counts vectors and tail channels', () => {
    const vt = (c: number) => {
      const w = genericDepthwiseWork(c, 1, 1, 1);
      return [w.vectors, w.tail];
    };
    expect([8, 12, 20, 24, 28, 36, 42, 44, 56].map(vt)).toEqual([[1, 0], [1, 4], [1, 4], [2, 0], [2, 4], [2, 4], [3, 2], [3, 4], [4, 0]]);
    expect(genericDepthwiseWork(28, 1024, 25, 0.5).pixelTaps).toBe(12_800);
  });
  it('fits its three rates back from times made with them', () => {
    const rates = { nsPerPixelTap: 0.6, nsPerVectorTap: 0.8, nsPerTailTap: 0.5 };
    const samples = [24, ...GENERIC_DEPTHWISE_CHANNELS].map((c) => {
      const work = genericDepthwiseWork(c, GENERIC_DEPTHWISE_MAP ** 2, 25, 0.9);
      return { work, ns: genericDepthwiseNs(rates, work) };
    });
    expect(fitGenericDepthwise(samples)).toEqual(rates);
  });
  it('is an optional part of a profile\'s int8 block, checked', () => {
    const int8 = {
      gops: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1 },
      thinConvNsPerOutput: 1, uint8WeightsSlowdown: 1, convIntegerGops: 1, convIntegerDepthwiseGops: 1, matMulIntegerGops: 1, quantizeNsPerElement: 1, dequantizeNsPerElement: 1,
    };
    const base = JSON.parse(JSON.stringify(ROUND_PROFILE));
    const rates = { nsPerPixelTap: 0.6, nsPerVectorTap: 0.8, nsPerTailTap: 0.5 };
    expect(validateProfile({ ...base, int8: { ...int8, genericDepthwise: rates } }, 'p.json').int8!.genericDepthwise).toEqual(rates);
    expect(validateProfile({ ...base, int8 }, 'p.json').int8!.genericDepthwise).toBeUndefined();
    expect(() => validateProfile({ ...base, int8: { ...int8, genericDepthwise: { nsPerPixelTap: 1 } } }, 'p.json')).toThrow('"int8.genericDepthwise" must be an object with nsPerPixelTap, nsPerVectorTap, nsPerTailTap: numbers ≥ 0 (ns), one of them positive');
  });
});
