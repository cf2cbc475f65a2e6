import type { DeviceProfile } from '../../src/contract/device.js';

/**
 * A device profile of round numbers for hand arithmetic in latency tests: conv 100, pointwise 50, depthwise 10, GEMM
 * 20 and elementwise 1 GFLOP/s; 10 GB/s from memory, 100 GB/s from a 1 MiB cache; 1 µs per kernel (0.5 µs for
 * elementwise ones), 5 µs per run. Tests spread it and override what their arithmetic needs.
 */
export const ROUND_PROFILE: DeviceProfile = {
  schema: 'mbn.device/1',
  name: 'round',
  description: 'round numbers for hand arithmetic',
  calibrated: true,
  threads: 1,
  gflops: { conv: 100, pointwise: 50, depthwise: 10, gemm: 20, elementwise: 1 },
  memoryGBps: 10,
  cacheGBps: 100,
  cacheBytes: 1 << 20,
  overheadUs: { conv: 1, pointwise: 1, depthwise: 1, gemm: 1, elementwise: 0.5 },
  runOverheadUs: 5,
  sources: ['hand-made'],
};

/** Round numbers for hand arithmetic: 10 GFLOP/s convs and GEMMs, 1 GB/s memory, 2 µs per kernel, 5 µs per run. */
export const HAND_PROFILE: DeviceProfile = {
  schema: 'mbn.device/1',
  name: 'test',
  description: 'round numbers for hand arithmetic',
  calibrated: true,
  threads: 1,
  gflops: { conv: 10, pointwise: 5, depthwise: 1, gemm: 10, elementwise: 1 },
  memoryGBps: 1,
  cacheGBps: 100,
  cacheBytes: 16384,
  overheadUs: { conv: 2, pointwise: 2, depthwise: 2, gemm: 2, elementwise: 2 },
  runOverheadUs: 5,
  sources: ['hand-made'],
};
