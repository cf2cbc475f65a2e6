import { type DeviceProfile, type EnergyConstants, PROFILE_SCHEMA } from '../contract/device.js';

/**
 * Energy constants of the built-in profiles: an order-of-magnitude estimate, the same for all three boards, from
 * Horowitz's 45 nm table (ISSCC 2014). No per-board pJ/MAC figure is published for these Cortex-A cores; the table
 * counts the arithmetic and the memory arrays only (a CPU adds instruction fetch, decode and register-file energy;
 * their 28/16/8 nm processes cost less per operation), so the two errors go opposite ways and the figures are good
 * for comparing models on one board, not for a battery-life promise. `mbn calibrate --energy-samples` fits them to
 * measured joules.
 */
export const HOROWITZ_45NM_ENERGY: EnergyConstants = {
  // fp32: multiply 3.7 + add 0.9 pJ; fp16: multiply 1.1 + add 0.4 pJ; int8: 8-bit multiply 0.2 + 32-bit accumulate 0.1 pJ.
  pjPerMac: { fp32: 4.6, fp16: 1.5, int8: 0.3 },
  // DRAM: 640 pJ per 32-bit read = 160 pJ per byte.
  pjPerByteDram: 160,
  // On chip: 5 pJ per 32-bit read of an 8 KB SRAM = 1.25 pJ per byte (a larger cache costs more per access).
  pjPerByteOnChip: 1.25,
  sources: [
    'M. Horowitz, "Computing\'s energy problem (and what we can do about it)", ISSCC 2014, 45 nm 0.9 V table: fp32 multiply 3.7 pJ, add 0.9 pJ; fp16 multiply 1.1 pJ, add 0.4 pJ; 8-bit multiply 0.2 pJ; 32-bit integer add 0.1 pJ; 8 KB SRAM 32-bit read 5 pJ; DRAM 32-bit read 640 pJ',
    'order-of-magnitude estimate (mbn\'s assumption): the 45 nm figures stand for these boards\' newer processes plus a CPU\'s instruction overhead, which the table leaves out; for comparison, an int8 NPU reaches about 0.17 pJ per MAC on chip (Samsung 4 nm NPU, 11.6 TOPS/W on MobileNetEdgeTPU, IEEE JSSC 2023)',
  ],
};

/**
 * Built-in device profiles: uncalibrated estimates for one core of common edge boards, from published clock,
 * core and memory figures. Peak FP32 = clock × 16 FLOP/cycle (two 128-bit NEON FMA pipes: 2 × 4 lanes × 2). The
 * per-class efficiencies (dense conv 50%, 1×1 conv 30%, GEMM 60%, depthwise 15%, elementwise 5% of peak), the single-core share
 * of DRAM bandwidth (40%) and the per-op overhead are assumptions, not measurements: `mbn calibrate` on the board
 * replaces all of them.
 */
function estimate(name: string, description: string, peakGflops: number, dramGBps: number, l2Bytes: number, overheadUs: number, sources: string[]): DeviceProfile {
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    schema: PROFILE_SCHEMA,
    name,
    description: `${description} (uncalibrated estimate, 1 core)`,
    calibrated: false,
    threads: 1,
    gflops: { conv: round(peakGflops * 0.5), pointwise: round(peakGflops * 0.3), depthwise: round(peakGflops * 0.15), gemm: round(peakGflops * 0.6), elementwise: round(peakGflops * 0.05) },
    memoryGBps: round(dramGBps * 0.4),
    // L2 at about one 128-bit load per cycle: clock × 16 B, with the peak at 16 FLOP/cycle that is peak GFLOP/s.
    cacheGBps: round(peakGflops * 0.5),
    cacheBytes: l2Bytes,
    // Conv and GEMM kernels set up more (packing, blocking) than an elementwise loop.
    overheadUs: { conv: overheadUs * 2, pointwise: overheadUs * 2, depthwise: overheadUs * 2, gemm: overheadUs * 2, elementwise: overheadUs },
    runOverheadUs: overheadUs * 5,
    sources: [
      ...sources,
      `peak ${peakGflops} GFLOP/s per core = clock × 16 FP32 FLOP/cycle; DRAM ${dramGBps} GB/s theoretical; L2 ${l2Bytes / 1024} KiB; efficiencies, L2 bandwidth (8 B/cycle), 40% single-core bandwidth share ${overheadUs} µs per elementwise op (twice that per conv or GEMM) and ${overheadUs * 5} µs per inference call are mbn's assumptions`,
    ],
    // --- Energy ---
    energy: HOROWITZ_45NM_ENERGY,
  };
}

export const BUILTIN_PROFILES: readonly DeviceProfile[] = [
  estimate('rpi4', 'Raspberry Pi 4 Model B: Broadcom BCM2711, 4× Cortex-A72 at 1.5 GHz, LPDDR4-3200 (32-bit)', 24, 12.8, 1 << 20, 10, [
    'Raspberry Pi 4 Model B specifications, https://www.raspberrypi.com/products/raspberry-pi-4-model-b/specifications/ (BCM2711 quad Cortex-A72 1.5 GHz, LPDDR4-3200); 1 MiB shared L2 per BCM2711 documentation',
    'Arm Cortex-A72 Software Optimization Guide (UAN0016): two 128-bit FP/ASIMD pipes, FMA on both',
  ]),
  estimate('rpi5', 'Raspberry Pi 5: Broadcom BCM2712, 4× Cortex-A76 at 2.4 GHz, LPDDR4X-4267 (32-bit)', 38.4, 17.1, 512 << 10, 6, [
    'Raspberry Pi 5 product brief, https://datasheets.raspberrypi.com/rpi5/raspberry-pi-5-product-brief.pdf (BCM2712 quad Cortex-A76 2.4 GHz, LPDDR4X-4267)',
    'Arm Cortex-A76 Software Optimization Guide (PJDOC-466751330-7215): two 128-bit ASIMD/FP pipes with FMA; 512 KiB private L2 per core (BCM2712)',
  ]),
  estimate('jetson-orin-nano', 'NVIDIA Jetson Orin Nano 8GB: 6× Cortex-A78AE at 1.5 GHz, 128-bit LPDDR5 68 GB/s (CPU only)', 24, 68, 256 << 10, 8, [
    'NVIDIA Jetson Orin Nano Series data sheet (DS-11105-001), https://developer.nvidia.com/embedded/jetson-orin-nano (6-core Arm Cortex-A78AE 1.5 GHz, 8GB 128-bit LPDDR5 68 GB/s)',
    'Arm Cortex-A78 Software Optimization Guide: two 128-bit ASIMD/FP pipes with FMA; 256 KiB L2 per core (Orin Nano data sheet)',
  ]),
];
