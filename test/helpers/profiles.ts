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
