import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Chunk, initializer, node, writeModel } from '../bench/models.js';
import { measureModel, openSession, type Ort } from '../bench/run.js';
import { encodeTensorField, encodeValueInfoField } from '../onnx/encode.js';
import { readModel } from '../onnx/read.js';
import { totalFlops } from '../ops/define.js';
import { medianKernel, measureInt8 } from './measure-int8.js';
import { measureKernels } from './measure-kernels.js';
import { ifValuesBenchmarks, int64s, opOverheadBenchmarks, solveIfValue, solveOpOverheads } from './measure-op-overheads.js';
import { type DeviceProfile, type Int8Rates, PROFILE_SCHEMA } from '../contract/device.js';

/**
 * `mbn calibrate`: micro-benchmarks through ONNX Runtime, each a one-op model written with mbn's own encoders,
 * whose FLOPs and bytes are known by construction. Each is timed as `mbn bench` times a model (a whole
 * session.run), and the fastest run is kept: on a busy machine it is the one least disturbed.
 */
const FLOAT = 1;
/** Adds in the bandwidth benchmark. */
const ADDS = 8;
/** Adds in the cache-resident elementwise benchmark. */
const CACHED_ADDS = 50;
/** Adds in the last-level-cache benchmark, and their tensor: 1 MiB, so that each Add moves 3 MiB. */
const LLC_ADDS = 16;
const LLC_SHAPE = [1, 64, 64, 64];
const LLC_ELEMENTS = 64 * 64 * 64;
const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });

interface MicroBenchmark {
  name: string;
  what: string;
  flops: number;
  bytes: number;
  input: number[];
  /** The graph inputs, each of shape `input` (default: one, `x`). */
  feeds?: string[];
  write(path: string): void;
  /** Ops in the model (for the per-op overhead). */
  ops: number;
}

/** The float32 feeds of a micro-benchmark. */
const feedsOf = (b: MicroBenchmark) => (b.feeds ?? ['x']).map((name) => ({ name, type: 'float32' as const, dims: b.input }));

/**
 * Graph inputs, and outputs, of the two binding benchmarks: each against the call benchmark's one, the cost of
 * passing a tensor in (`inputUs`) and of handing one back (`outputUs`) on every run.
 */
const IO_TENSORS = 8;
/** Float elements of the large graph input and output whose copy per byte calibrate times (64 KB, cache-resident). */
const IO_ELEMENTS = 16384;
const ioNames = (prefix: string) => Array.from({ length: IO_TENSORS }, (_, i) => `${prefix}${i}`);

/**
 * `depth` chained 3×3 convs (pads 1) of `c` channels at hw×hw: a chain, so that the layout conversions ONNX Runtime
 * adds around a run of NCHWc convs (ReorderInput, ReorderOutput) are paid once, not once per conv.
 */
function convBench(name: string, what: string, c: number, hw: number, group: number, depth: number, k = 3): MicroBenchmark {
  const macs = c * (c / group) * k * k * hw * hw;
  const act = c * hw * hw * 4;
  const weights = c * (c / group) * k * k * 4;
  return {
    name,
    what,
    flops: totalFlops(depth * macs, 0),
    bytes: depth * (2 * act + weights),
    input: [1, c, hw, hw],
    ops: depth,
    write: (path) => {
      const chunks: Chunk[] = [];
      for (let i = 0; i < depth; i++) {
        const x = i === 0 ? 'x' : `t${i - 1}`;
        const y = i === depth - 1 ? 'y' : `t${i}`;
        const pad = (k - 1) / 2;
        chunks.push(node('Conv', [x, `w${i}`], [y], `conv${i}`, [ints('kernel_shape', [k, k]), ints('pads', [pad, pad, pad, pad]), { name: 'group', type: 'int', value: group }]));
        chunks.push(...initializer(`w${i}`, [c, c / group, k, k], Math.sqrt(1 / ((c / group) * k * k))));
      }
      chunks.push(encodeValueInfoField('x', FLOAT, [1, c, hw, hw], 11), encodeValueInfoField('y', FLOAT, [1, c, hw, hw], 12));
      writeModel(path, name, chunks, 13, 3);
    },
  };
}

/**
 * `count` chained binary ops, each of the previous result and `operand`, then a ReduceMax: big tensors stay in the
 * session, one number comes out. `constants`: the operand's tensor when it is one (not the input).
 */
function writeElementwiseChain(path: string, op: string, count: number, shape: number[], operand: string, constants: Chunk[] = []): void {
  const chunks: Chunk[] = [...constants];
  let prev = 'x';
  for (let i = 0; i < count; i++) {
    chunks.push(node(op, [prev, operand], [`${op}${i}_out`], `${op.toLowerCase()}${i}`));
    prev = `${op}${i}_out`;
  }
  chunks.push(node('ReduceMax', [prev], ['y'], 'reduce', [{ name: 'keepdims', type: 'int', value: 0 }]));
  chunks.push(encodeValueInfoField('x', FLOAT, shape, 11), encodeValueInfoField('y', FLOAT, [], 12));
  writeModel(path, op.toLowerCase(), chunks, 13, 3);
}

/** `adds` chained Adds of the input to itself. */
const writeAddChain = (path: string, adds: number, shape: number[]) => writeElementwiseChain(path, 'Add', adds, shape, 'x');

/** `divs` chained Divs by a float scalar (as hard-swish's x·relu6(x + 3) / 6). */
const writeDivChain = (path: string, divs: number, shape: number[]) =>
  writeElementwiseChain(path, 'Div', divs, shape, 'six', [encodeTensorField({ name: 'six', dtype: FLOAT, dims: [], raw: new Uint8Array(new Float32Array([6]).buffer) })]);
/** CACHED_ADDS chained ops of a cache-resident [1, 16, 64, 64] tensor and a scalar, then a ReduceMax: an op's own rate. */
function scalarChainBench(name: string, ops: string, field: string, write: (path: string, n: number, shape: number[]) => void) {
  const elements = 16 * 64 * 64;
  return {
    name,
    what: `${CACHED_ADDS} chained ${ops} (256 KB, cache-resident), then a ReduceMax (${field})`,
    flops: CACHED_ADDS * elements,
    bytes: CACHED_ADDS * elements * 8,
    input: [1, 16, 64, 64],
    ops: CACHED_ADDS + 1,
    write: (path: string) => write(path, CACHED_ADDS, [1, 16, 64, 64]),
  };
}
const writeMaxChain = (path: string, maxes: number, shape: number[]) =>
  writeElementwiseChain(path, 'Max', maxes, shape, 'floor', [encodeTensorField({ name: 'floor', dtype: FLOAT, dims: [], raw: new Uint8Array(new Float32Array([0]).buffer) })]);

/** Chained small ops of one class, for its per-op overhead. */
const SMALL = 50;
function chainBench(name: string, what: string, op: (i: number, x: string, y: string) => Chunk[], shape: number[], macsPerOp: number): MicroBenchmark {
  return {
    name,
    what,
    flops: totalFlops(macsPerOp * SMALL, 0),
    bytes: 0,
    input: shape,
    ops: SMALL,
    write: (path) => {
      const chunks: Chunk[] = [];
      for (let i = 0; i < SMALL; i++) chunks.push(...op(i, i === 0 ? 'x' : `t${i - 1}`, i === SMALL - 1 ? 'y' : `t${i}`));
      chunks.push(encodeValueInfoField('x', FLOAT, shape, 11), encodeValueInfoField('y', FLOAT, shape, 12));
      writeModel(path, name, chunks, 13, 3);
    },
  };
}

/** Depth of the generic-conv chain; its channel count is never a multiple of the block (so never NCHWc). */
const GENERIC_DEPTH = 4;
const genericChannels = (block: number) => (block > 1 ? 4 * block + 2 : 34);
/**
 * The grouped-conv benchmark: GROUPS_DEPTH chained 1-D depthwise convs (kernel 5, pads 2) of GROUPS_CHANNELS
 * channels on GROUPS_POSITIONS positions (Silero VAD's first conv: 258 on 8): little to expand or multiply, so
 * its time is mostly the generic path's cost per channel group (genericGroupUs).
 */
const GROUPS_DEPTH = 8;
const GROUPS_CHANNELS = 256;
const GROUPS_POSITIONS = 8;
const GROUPS_KERNEL = 5;

function groupsBench(): MicroBenchmark {
  const c = GROUPS_CHANNELS;
  const shape = [1, c, GROUPS_POSITIONS];
  return {
    name: 'generic-groups',
    what: `${GROUPS_DEPTH} chained 1-D depthwise Conv ${GROUPS_KERNEL}, ${c} channels, ${GROUPS_POSITIONS} positions, pads 2 (generic path: the cost per channel group)`,
    flops: totalFlops(GROUPS_DEPTH * c * GROUPS_KERNEL * GROUPS_POSITIONS, 0),
    bytes: 0,
    input: shape,
    ops: GROUPS_DEPTH,
    write: (path) => {
      const chunks: Chunk[] = [];
      for (let i = 0; i < GROUPS_DEPTH; i++) {
        const x = i === 0 ? 'x' : `t${i - 1}`;
        const y = i === GROUPS_DEPTH - 1 ? 'y' : `t${i}`;
        chunks.push(node('Conv', [x, `w${i}`], [y], `dw${i}`, [ints('kernel_shape', [GROUPS_KERNEL]), ints('pads', [2, 2]), { name: 'group', type: 'int', value: c }]));
        chunks.push(...initializer(`w${i}`, [c, 1, GROUPS_KERNEL], Math.sqrt(1 / GROUPS_KERNEL)));
      }
      chunks.push(encodeValueInfoField('x', FLOAT, shape, 11), encodeValueInfoField('y', FLOAT, shape, 12));
      writeModel(path, 'generic-groups', chunks, 13, 3);
    },
  };
}

/**
 * The generic path's two costs from its two benchmarks: each one's time beyond one call, its ops' overhead and its
 * FLOPs at the GEMM rate (`net`, ms) is its expanded bytes × (1 / im2col bandwidth) + its channel groups × the cost
 * per group; two equations, two unknowns. Returns ms per expanded byte and ms per group; a per-group cost that comes
 * out negative (noise) is 0, and the bandwidth is then the 66-channel chain's alone, as before it was measured.
 */
export function solveGeneric(
  chain: { net: number; bytes: number; groups: number; ms: number },
  groups: { net: number; bytes: number; groups: number },
): { msPerByte: number; msPerGroup: number } {
  const det = chain.bytes * groups.groups - groups.bytes * chain.groups;
  const perGroup = det > 0 ? (chain.bytes * groups.net - groups.bytes * chain.net) / det : 0;
  const msPerGroup = Math.max(0, perGroup);
  // At least a quarter of the chain's time is expansion, as before (a floor against a noisy run).
  const expandMs = Math.max(chain.net - chain.groups * msPerGroup, chain.ms / 4);
  return { msPerByte: expandMs / chain.bytes, msPerGroup };
}

/** Weights of the DRAM-streaming benchmark: [WEIGHT_K, WEIGHT_K] float32 (64 MiB, past any core's caches). */
const WEIGHT_K = 4096;
/**
 * A GEMV whose 4 MiB of weights miss the core's cache but stay in the last-level one from run to run: the rate at
 * which a model whose weights fit there reads them (a wake-word MLP's 1.7 MB first layer ran at 3× memoryGBps).
 */
const LLC_WEIGHT_K = 1024;
/** 256 KB of weights: within half of any per-core cache of 512 KiB or more (weightsCold's share). */
const CACHE_WEIGHT_K = 256;
/**
 * GEMVs of 8, 16 and 32 MiB of weights, between llc-weights' 4 MiB and weights' 64 MiB: where the OS does not give
 * the last-level cache's size (a VM without /sys/devices/system/cpu/cpu0/cache), where their rate falls off measures
 * it (lastLevelFromSweep).
 */
const LLC_SWEEP_K = [1448, 2048, 2896];
const sweepName = (k: number) => `weights-${Math.round((k * k * 4) / 2 ** 20)}mib`;
/** A working set read at least this much faster than DRAM is in a last-level cache. */
const LLC_SPEEDUP = 1.3;

/**
 * The last-level cache as a sweep of GEMVs measures it: `points` by growing size, the first inside the last-level
 * cache if there is one, the last streamed from DRAM. The cache is there when the first reads at least LLC_SPEEDUP×
 * the last's rate; its size is the largest working set that, like every smaller one, still reads at least at the
 * geometric mean of the two (where the rate falls off: a set partly in cache reads between them). Null: no
 * last-level cache shows.
 */
export function lastLevelFromSweep(points: { bytes: number; gbps: number }[]): number | null {
  if (points.length < 2) return null;
  const inside = points[0].gbps;
  const dram = points[points.length - 1].gbps;
  if (!(inside >= LLC_SPEEDUP * dram)) return null;
  const threshold = Math.sqrt(inside * dram);
  let size: number | null = null;
  for (const p of points.slice(0, -1)) {
    if (p.gbps < threshold) break;
    size = p.bytes;
  }
  return size;
}

/** A MatMul [1, k] × [k, k]: one pass over k² float weights, the rate a GEMV reads them at from where they lie. */
function gemvBench(name: string, k: number, weights: string): MicroBenchmark {
  return {
    name,
    what: `MatMul [1, ${k}] × [${k}, ${k}] (${weights})`,
    flops: 2 * k * k,
    bytes: k * k * 4,
    input: [1, k],
    ops: 1,
    write: (path) => writeModel(path, name, [node('MatMul', ['x', 'w'], ['y'], 'matmul'), ...initializer('w', [k, k], Math.sqrt(1 / k)), encodeValueInfoField('x', FLOAT, [1, k], 11), encodeValueInfoField('y', FLOAT, [1, k], 12)], 13, 3),
  };
}

function benchmarks(block: number): MicroBenchmark[] {
  const m = 64;
  const k = 512;
  const addElements = 64 * 256 * 256;
  const chain = 200;
  const gc = genericChannels(block);
  return [
    convBench('conv', '4 chained Conv 3×3, 64→64 channels, 28×28, pads 1 (dense conv: peak compute)', 64, 28, 1, 4),
    {
      name: 'gemm',
      what: `MatMul [${m}, ${k}] × [${k}, ${k}] (GEMM: peak compute)`,
      flops: 2 * m * k * k,
      bytes: (m * k + k * k + m * k) * 4,
      input: [m, k],
      ops: 1,
      write: (path) =>
        writeModel(path, 'gemm', [node('MatMul', ['x', 'w'], ['y'], 'matmul'), ...initializer('w', [k, k], Math.sqrt(1 / k)), encodeValueInfoField('x', FLOAT, [m, k], 11), encodeValueInfoField('y', FLOAT, [m, k], 12)], 13, 3),
    },
    convBench('pointwise', '8 chained Conv 1×1, 32→32 channels, 56×56 (pointwise conv efficiency)', 32, 56, 1, 8, 1),
    convBench('depthwise', '16 chained depthwise Conv 3×3, 64 channels, 28×28, group 64 (depthwise efficiency, cache-resident)', 64, 28, 64, 16),
    {
      name: 'elementwise',
      what: `${CACHED_ADDS} chained Adds of [1, 16, 64, 64] float tensors (256 KB, cache-resident), then a ReduceMax (elementwise compute rate)`,
      flops: CACHED_ADDS * 16 * 64 * 64,
      bytes: CACHED_ADDS * 16 * 64 * 64 * 12,
      input: [1, 16, 64, 64],
      ops: CACHED_ADDS + 1,
      write: (path) => writeAddChain(path, CACHED_ADDS, [1, 16, 64, 64]),
    },
    scalarChainBench('divide', 'Divs of a [1, 16, 64, 64] float tensor by a scalar', 'divNsPerElement', writeDivChain),
    scalarChainBench('maximum', 'Max of a [1, 16, 64, 64] float tensor and a scalar', 'minMaxNsPerElement', writeMaxChain),
    {
      name: 'llc-bandwidth',
      what: `${LLC_ADDS} chained Adds of [${LLC_SHAPE.join(', ')}] float tensors (1 MiB: 3 MiB moved per Add, past the core's cache, inside the last-level one), then a ReduceMax (llcGBps)`,
      flops: LLC_ADDS * LLC_ELEMENTS,
      bytes: LLC_ADDS * LLC_ELEMENTS * 12,
      input: LLC_SHAPE,
      ops: LLC_ADDS + 1,
      write: (path) => writeAddChain(path, LLC_ADDS, LLC_SHAPE),
    },
    {
      name: 'bandwidth',
      what: `${ADDS} chained Adds of [1, 64, 256, 256] float tensors, then a ReduceMax (memory bandwidth: ${(ADDS * addElements * 12) / 1e6} MB moved by the Adds)`,
      flops: ADDS * addElements,
      bytes: ADDS * addElements * 12,
      input: [1, 64, 256, 256],
      ops: ADDS + 1,
      write: (path) => writeAddChain(path, ADDS, [1, 64, 256, 256]),
    },
    {
      name: 'overhead',
      what: `a chain of ${chain} Relu/Neg on a [1, 8] tensor (per-op overhead)`,
      flops: 0,
      bytes: 0,
      input: [1, 8],
      ops: chain,
      write: (path) => {
        const chunks: Chunk[] = [];
        let prev = 'x';
        for (let i = 0; i < chain; i++) {
          const out = i === chain - 1 ? 'y' : `t${i}`;
          chunks.push(node(i % 2 ? 'Neg' : 'Relu', [prev], [out], `op${i}`));
          prev = out;
        }
        chunks.push(encodeValueInfoField('x', FLOAT, [1, 8], 11), encodeValueInfoField('y', FLOAT, [1, 8], 12));
        writeModel(path, 'chain', chunks, 13, 3);
      },
    },
    chainBench('conv-overhead', `a chain of ${SMALL} Conv 3×3, 8→8 channels on [1, 8, 4, 4] (per-conv overhead)`, (i, x, y) => [
      node('Conv', [x, `w${i}`], [y], `conv${i}`, [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
      ...initializer(`w${i}`, [8, 8, 3, 3], 0.1),
    ], [1, 8, 4, 4], 8 * 8 * 9 * 16),
    chainBench('depthwise-overhead', `a chain of ${SMALL} depthwise Conv 3×3 on [1, 8, 4, 4] (per-depthwise-conv overhead)`, (i, x, y) => [
      node('Conv', [x, `w${i}`], [y], `dw${i}`, [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), { name: 'group', type: 'int', value: 8 }]),
      ...initializer(`w${i}`, [8, 1, 3, 3], 0.3),
    ], [1, 8, 4, 4], 8 * 9 * 16),
    chainBench('gemm-overhead', `a chain of ${SMALL} MatMul [1, 16] × [16, 16] (per-GEMM overhead)`, (i, x, y) => [
      node('MatMul', [x, `w${i}`], [y], `mm${i}`),
      ...initializer(`w${i}`, [16, 16], 0.25),
    ], [1, 16], 16 * 16),
    groupsBench(),
    convBench('generic', `${GENERIC_DEPTH} chained depthwise Conv 3×3, ${gc} channels (not a multiple of 4: ORT cannot block them), 28×28 (generic path: im2col then GEMM)`, gc, 28, gc, GENERIC_DEPTH),
    gemvBench('weights', WEIGHT_K, `${(WEIGHT_K * WEIGHT_K * 4) / 2 ** 20} MiB of weights streamed from DRAM: weightGBps`),
    gemvBench('llc-weights', LLC_WEIGHT_K, `${(LLC_WEIGHT_K * LLC_WEIGHT_K * 4) / 2 ** 20} MiB of weights: past the core's cache, inside the last-level cache: llcWeightGBps`),
    ...LLC_SWEEP_K.map((k) => gemvBench(sweepName(k), k, `${sweepName(k).slice(8, -3)} MiB of weights: where the last-level cache ends, when the OS does not say`)),
    gemvBench('cache-weights', CACHE_WEIGHT_K, `${(CACHE_WEIGHT_K * CACHE_WEIGHT_K * 4) / 1024} KB of weights that stay in the core's cache: cacheWeightGBps`),
    {
      name: 'call',
      what: 'one Relu on a [1, 8] tensor (per-call overhead)',
      flops: 0,
      bytes: 0,
      input: [1, 8],
      ops: 1,
      write: (path) => {
        const chunks: Chunk[] = [];
        let prev = 'x';
        for (let i = 0; i < 1; i++) {
          const out = i === 0 ? 'y' : `t${i}`;
          chunks.push(node(i % 2 ? 'Neg' : 'Relu', [prev], [out], `op${i}`));
          prev = out;
        }
        chunks.push(encodeValueInfoField('x', FLOAT, [1, 8], 11), encodeValueInfoField('y', FLOAT, [1, 8], 12));
        writeModel(path, 'chain', chunks, 13, 3);
      },
    },
    {
      name: 'call-inputs',
      what: `one Sum of ${IO_TENSORS} [1, 8] graph inputs (per-input cost of a call: inputUs)`,
      flops: 0,
      bytes: 0,
      input: [1, 8],
      feeds: ioNames('x'),
      ops: 1,
      write: (path) =>
        writeModel(path, 'inputs', [node('Sum', ioNames('x'), ['y'], 'sum'), ...ioNames('x').map((x) => encodeValueInfoField(x, FLOAT, [1, 8], 11)), encodeValueInfoField('y', FLOAT, [1, 8], 12)], 13, 3),
    },
    {
      name: 'call-outputs',
      what: `${IO_TENSORS} Relu/Neg of one [1, 8] input, each a graph output (per-output cost of a call: outputUs)`,
      flops: 0,
      bytes: 0,
      input: [1, 8],
      ops: IO_TENSORS,
      write: (path) =>
        writeModel(path, 'outputs', [...ioNames('y').map((y, i) => node(i % 2 ? 'Neg' : 'Relu', ['x'], [y], `op${i}`)), encodeValueInfoField('x', FLOAT, [1, 8], 11), ...ioNames('y').map((y) => encodeValueInfoField(y, FLOAT, [1, 8], 12))], 13, 3),
    },
    {
      name: 'call-input-bytes',
      what: `a Slice of the first 8 of one [1, ${IO_ELEMENTS}] graph input, then a Relu (per-byte cost of an input: inputNsPerByte)`,
      flops: 0,
      bytes: IO_ELEMENTS * 4,
      input: [1, IO_ELEMENTS],
      ops: 2,
      write: (path) =>
        writeModel(path, 'input_bytes', [node('Slice', ['x', 'starts', 'ends', 'axes'], ['s'], 'slice'), node('Relu', ['s'], ['y'], 'relu'), int64s('starts', [0]), int64s('ends', [8]), int64s('axes', [1]), encodeValueInfoField('x', FLOAT, [1, IO_ELEMENTS], 11), encodeValueInfoField('y', FLOAT, [1, 8], 12)], 13, 3),
    },
    {
      name: 'call-output-bytes',
      what: `a Relu of one [1, 8] input tiled to a [1, ${IO_ELEMENTS}] graph output (per-byte cost of an output: outputNsPerByte)`,
      flops: 0,
      bytes: IO_ELEMENTS * 4,
      input: [1, 8],
      ops: 2,
      write: (path) =>
        writeModel(path, 'output_bytes', [node('Relu', ['x'], ['r'], 'relu'), node('Tile', ['r', 'repeats'], ['y'], 'tile'), int64s('repeats', [1, IO_ELEMENTS / 8]), encodeValueInfoField('x', FLOAT, [1, 8], 11), encodeValueInfoField('y', FLOAT, [1, IO_ELEMENTS], 12)], 13, 3),
    },
    ...opOverheadBenchmarks(),
    ...ifValuesBenchmarks(),
  ];
}

/** CPU 0's caches from Linux's sysfs: level, bytes, and whether other cores share it; empty when unknown. */
function cpuCaches(): { level: number; bytes: number; shared: boolean }[] {
  const caches: { level: number; bytes: number; shared: boolean }[] = [];
  for (let i = 0; i < 8; i++) {
    const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}`;
    try {
      const level = Number(readFileSync(`${dir}/level`, 'utf8'));
      const shared = readFileSync(`${dir}/shared_cpu_list`, 'utf8').trim() !== '0';
      const m = /^([0-9]+)K$/.exec(readFileSync(`${dir}/size`, 'utf8').trim());
      if (m) caches.push({ level, bytes: Number(m[1]) * 1024, shared });
    } catch {
      break;
    }
  }
  return caches;
}

/**
 * The largest per-core cache (L2 on most CPUs). A level-3 cache shared by several cores is not this core's to use
 * alone. Where sysfs has no cache directory (some VMs), the C library's figure (getconf LEVEL2_CACHE_SIZE, from
 * CPUID on x86); 512 KiB when neither says.
 */
export function cacheSize(): number {
  const own = cpuCaches().filter((c) => c.level === 2 || (c.level > 2 && !c.shared));
  return own.length ? Math.max(...own.map((c) => c.bytes)) : (getconfCacheBytes('LEVEL2_CACHE_SIZE') ?? 512 * 1024);
}

/**
 * A cache size from getconf; null where it is missing, fails, or says something implausible for a per-core cache
 * (0 when unknown; a VM's CPUID gave a 508 MiB level 3 on the same machine, which is why only level 2 is read).
 */
function getconfCacheBytes(name: string): number | null {
  try {
    const bytes = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(bytes) && bytes >= 64 * 1024 && bytes <= 64 * 2 ** 20 ? bytes : null;
  } catch {
    return null;
  }
}

/** The last-level cache (L3 on most CPUs, shared by the cores); null when unknown. */
export function lastLevelCacheSize(): number | null {
  const last = cpuCaches().filter((c) => c.level >= 3);
  return last.length ? Math.max(...last.map((c) => c.bytes)) : null;
}

export interface CalibrateOptions {
  threads: number;
  runs: number;
  /** Passes over the whole list of micro-benchmarks. */
  rounds: number;
  warmup: number;
  name: string;
  onStep?: (name: string) => void;
}

/**
 * The channel block of ONNX Runtime's NCHWc layout here: the channels of the blocked node ORT's optimizer makes of
 * the smallest of 4, 8, 16, 32-channel depthwise convs it moves into the com.microsoft.nchwc domain (read from the
 * optimized model it writes out; it pads the channels to the block); 1 when it moves none (no blocked kernels).
 */
export async function detectNchwcBlock(ort: Ort, dir: string): Promise<number> {
  for (const c of [4, 8, 16, 32]) {
    const path = join(dir, `probe-${c}.onnx`);
    const optimized = join(dir, `probe-${c}.optimized.onnx`);
    convBench(`probe-${c}`, '', c, 8, c, 1).write(path);
    const session = await openSession(ort, path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized });
    await session.release();
    const conv = readModel(optimized).graph.nodes.find((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv');
    // ORT pads a depthwise conv's channels to the block: the blocked node's group is the block (or more).
    const group = conv?.attributes.find((a) => a.name === 'group')?.data;
    if (conv) return group?.type === 'int' ? Math.max(c, group.value) : c;
  }
  return 1;
}
const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * The NCHW-input benchmark: one 1×1 Conv from block/2 to 4·block channels at 56×56, a blocked conv reading a plain
 * input. Its kernel time alone comes from ORT's profiler (the layout conversion after it and the output's return
 * would swamp it in a whole run); the fastest run is kept.
 */
function nchwInputBench(block: number): MicroBenchmark {
  const cin = block / 2;
  const cout = 4 * block;
  const hw = 56;
  return {
    name: 'nchw-input',
    what: `Conv 1×1, ${cin}→${cout} channels, ${hw}×${hw} (a blocked conv on a plain NCHW input; its kernel time from ORT's profiler)`,
    flops: 2 * cin * cout * hw * hw,
    bytes: (cin + cout) * hw * hw * 4,
    input: [1, cin, hw, hw],
    ops: 1,
    write: (path) =>
      writeModel(path, 'nchw-input', [node('Conv', ['x', 'w'], ['y'], 'conv', [ints('kernel_shape', [1, 1])]), ...initializer('w', [cout, cin, 1, 1], Math.sqrt(1 / cin)), encodeValueInfoField('x', FLOAT, [1, cin, hw, hw], 11), encodeValueInfoField('y', FLOAT, [1, cout, hw, hw], 12)], 13, 3),
  };
}

/** Micro-benchmarks faster than this (ms) are timed after a warm-up of QUICK_FLOORS.warmup ms, over QUICK_FLOORS.timed ms. */
const QUICK_MS = 0.2;
const QUICK_FLOORS = { warmup: 100, timed: 100 };

export async function calibrate(ort: Ort, options: CalibrateOptions): Promise<DeviceProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'mbn-calibrate-'));
  const results: NonNullable<DeviceProfile['measurements']> = [];
  let block = 1;
  let int8: Int8Rates | null = null;
  let kernelRates: Pick<DeviceProfile, 'convTransposeNsPerColumn' | 'resizeNsPerOutput' | 'genericGroupedConv' | 'plainPool' | 'fusedActivationNsPerElement'> | null = null;
  try {
    options.onStep?.('layout probe');
    block = await detectNchwcBlock(ort, dir);
    const list = benchmarks(block);
    const wide = block > 1 ? nchwInputBench(block) : null;
    if (wide) wide.write(join(dir, `${wide.name}.onnx`));
    for (const b of list) b.write(join(dir, `${b.name}.onnx`));
    // Rounds over the whole list, so that a burst of load elsewhere cannot spoil every run of one benchmark; the
    // lowest round is kept (the one least disturbed by other processes).
    const best = new Map<string, number>();
    for (let round = 0; round < options.rounds; round++) {
      for (const b of list) {
        options.onStep?.(`${b.name} (round ${round + 1} of ${options.rounds})`);
        let m = await measureModel(ort, join(dir, `${b.name}.onnx`), feedsOf(b), { warmup: options.warmup, runs: options.runs, threads: options.threads });
        // A benchmark of microseconds (the call, the per-op and If chains) is timed again as mbn bench times a fast model:
        // after its warm-up (0.1 s and 2,000 calls), the median. A session's first calls run slower while it and
        // V8 warm up: the fastest of 20 early calls put the call at 6.0 µs and a Relu at 0.171, where a warm
        // process runs them in 5.5 and 0.157.
        const quick = m.latency.median < QUICK_MS;
        if (quick) m = await measureModel(ort, join(dir, `${b.name}.onnx`), feedsOf(b), { warmup: options.warmup, runs: options.runs, threads: options.threads, minTimeMs: QUICK_FLOORS });
        // The median, as mbn bench reports a model's time. The fastest run is not what a model sees: on a VM whose
        // host steals time it ran 5–10% under the median (and every prediction with it); streaming 64 MiB from
        // DRAM, it is a run that found part of the matrix still in the last-level cache; weights that fit in that
        // cache are partly evicted between calls by the caller's own work (a 1.7 MB GEMV ran at 80 GB/s from
        // Python, at 62 GB/s in Node's fastest call and 54 in its median one).
        best.set(b.name, Math.min(best.get(b.name) ?? Infinity, m.latency.median));
      }
      if (wide) {
        options.onStep?.(`${wide.name} (round ${round + 1} of ${options.rounds})`);
        const m = await measureModel(ort, join(dir, `${wide.name}.onnx`), [{ name: 'x', type: 'float32', dims: wide.input }], { warmup: options.warmup, runs: options.runs, threads: options.threads, profile: true });
        best.set(wide.name, Math.min(best.get(wide.name) ?? Infinity, medianKernel(m.trace ?? [], 'Conv', 'the NCHW-input benchmark')));
      }
    }
    if (wide) list.push(wide);
    for (const b of list) results.push({ name: b.name, what: b.what, flops: b.flops, bytes: b.bytes, ms: best.get(b.name)! });
    // The ConvTranspose's GEMM at the GEMM rate of this run's float benchmarks.
    const gemm = results.find((r) => r.name === 'gemm')!;
    const kernels = await measureKernels(ort, dir, options, gemm.flops / (gemm.ms * 1e6), block);
    kernelRates = kernels;
    results.push(...kernels.measurements);
    const integer = await measureInt8(ort, dir, options);
    int8 = integer.rates;
    results.push(...integer.measurements);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const at = (name: string) => results.find((r) => r.name === name)!;
  // The chain costs one call and 200 ops, the single op one call and one op.
  const overheadMs = Math.max(0, (at('overhead').ms - at('call').ms) / 199);
  const callMs = Math.max(0, at('call').ms - overheadMs);
  // Each rate is the benchmark's work over its time less its ops' overhead (the generic one: the class's own
  // comes from the small chains below, and is small beside these benchmarks' times).
  const rate = (name: string, of: 'flops' | 'bytes') => {
    const r = at(name);
    const ops = benchmarks(block).find((b) => b.name === name)!.ops;
    return r[of] / (Math.max(r.ms - callMs - ops * overheadMs, r.ms / 2) * 1e6);
  };
  // A small chain costs one call and SMALL ops, each its class's overhead plus its (tiny) arithmetic.
  const classOverhead = (name: string, gflops: number) => {
    const r = at(name);
    return Math.max(0, (r.ms - callMs - r.flops / (gflops * 1e6)) / SMALL);
  };
  const gflops = { conv: rate('conv', 'flops'), pointwise: rate('pointwise', 'flops'), depthwise: rate('depthwise', 'flops'), gemm: rate('gemm', 'flops'), elementwise: rate('elementwise', 'flops') };
  const gemmOverheadMs = classOverhead('gemm-overhead', gflops.gemm);
  const byOp = solveOpOverheads((name) => at(name).ms, callMs, overheadMs, gemmOverheadMs);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
  // The OS's figure where it gives one, else measured: the sweep's rates over each GEMV's weights, less one call.
  const gemvGBps = (name: string) => at(name).bytes / (Math.max(at(name).ms - callMs, at(name).ms / 2) * 1e6);
  const coreCache = cacheSize();
  const lastLevel = lastLevelCacheSize() ?? lastLevelFromSweep(['llc-weights', ...LLC_SWEEP_K.map(sweepName), 'weights'].map((name) => ({ bytes: at(name).bytes, gbps: gemvGBps(name) })));
  // Generic path: the chain's time less one call, its ops' overhead and its arithmetic at the GEMM rate is the
  // expansion; its bytes are the expanded input written once and read once.
  const generic = at('generic');
  const gc = genericChannels(block);
  const expandedBytes = GENERIC_DEPTH * 8 * gc * 9 * 28 * 28;
  // The 1-D chain's GEMMs have 8 columns: MLAS computes them in strips of the block (model.ts, convTime).
  const grouped = at('generic-groups');
  const strips = block > 1 ? (Math.ceil(GROUPS_POSITIONS / block) * block) / GROUPS_POSITIONS : 1;
  const genericFit = solveGeneric(
    { net: generic.ms - callMs - GENERIC_DEPTH * overheadMs - generic.flops / (gflops.gemm * 1e6), bytes: expandedBytes, groups: GENERIC_DEPTH * gc, ms: generic.ms },
    {
      net: grouped.ms - callMs - GROUPS_DEPTH * overheadMs - (grouped.flops * strips) / (gflops.gemm * 1e6),
      bytes: GROUPS_DEPTH * 8 * GROUPS_CHANNELS * GROUPS_KERNEL * GROUPS_POSITIONS,
      groups: GROUPS_DEPTH * GROUPS_CHANNELS,
    },
  );
  // NCHW input: the kernel's time beyond its padded arithmetic at the pointwise rate, per output element.
  let nchwInputNs: number | null = null;
  if (block > 1) {
    const wide = at('nchw-input');
    const outputs = 4 * block * 56 * 56;
    nchwInputNs = Math.max(0, ((wide.ms - wide.flops / (gflops.pointwise * 1e6)) * 1e6) / outputs);
  }
  return {
    schema: PROFILE_SCHEMA,
    name: options.name,
    description: `measured by mbn calibrate through ONNX Runtime, ${options.threads} intra-op thread${options.threads === 1 ? '' : 's'}`,
    calibrated: true,
    threads: options.threads,
    gflops: { conv: round(gflops.conv), pointwise: round(gflops.pointwise), depthwise: round(gflops.depthwise), gemm: round(gflops.gemm), elementwise: round(gflops.elementwise) },
    memoryGBps: round(rate('bandwidth', 'bytes')),
    cacheGBps: round(rate('elementwise', 'bytes')),
    cacheBytes: coreCache,
    overheadUs: {
      conv: round(classOverhead('conv-overhead', gflops.conv) * 1000),
      // A 1×1 conv is the same kernel as any conv: the same set-up cost.
      pointwise: round(classOverhead('conv-overhead', gflops.conv) * 1000),
      depthwise: round(classOverhead('depthwise-overhead', gflops.depthwise) * 1000),
      gemm: round(gemmOverheadMs * 1000),
      elementwise: round(overheadMs * 1000),
    },
    overheadUsByOp: byOp,
    ifValueUs: solveIfValue((name) => at(name).ms, byOp.If, overheadMs),
    runOverheadUs: round(callMs * 1000),
    // A Sum of 8 inputs against one Relu: the same one op. Eight outputs: seven more ops.
    inputUs: round((Math.max(0, at('call-inputs').ms - at('call').ms) / (IO_TENSORS - 1)) * 1000),
    outputUs: round((Math.max(0, at('call-outputs').ms - at('call').ms - (IO_TENSORS - 1) * overheadMs) / (IO_TENSORS - 1)) * 1000),
    // Each against the call, less its extra op: the Slice's overhead; the Tile's overhead and its 64 KB written in cache.
    inputNsPerByte: round4((Math.max(0, at('call-input-bytes').ms - at('call').ms - (byOp.Slice ?? overheadMs * 1000) / 1000) * 1e6) / at('call-input-bytes').bytes),
    outputNsPerByte: round4((Math.max(0, at('call-output-bytes').ms - at('call').ms - overheadMs - at('call-output-bytes').bytes / (rate('elementwise', 'bytes') * 1e6)) * 1e6) / at('call-output-bytes').bytes),
    nchwcBlock: block,
    ...(lastLevel !== null ? { lastLevelCacheBytes: lastLevel } : {}),
    weightGBps: round(gemvGBps('weights')),
    // Only where its 256 KB stay in the core's cache (at most half of it, as weightsCold has it). Its weights take
    // about a third of its 8 µs: the floor on the difference is a fifth of the run, not half as for the large ones.
    ...(coreCache >= 2 * at('cache-weights').bytes
      ? { cacheWeightGBps: round(at('cache-weights').bytes / (Math.max(at('cache-weights').ms - callMs - gemmOverheadMs, at('cache-weights').ms / 5) * 1e6)) }
      : {}),
    // Only where an Add's 3 MiB is past the core's cache and well inside the last-level one.
    ...(lastLevel !== null && lastLevel >= 2 * 12 * LLC_ELEMENTS && coreCache < 12 * LLC_ELEMENTS ? { llcGBps: round(rate('llc-bandwidth', 'bytes')) } : {}),
    // Only where 4 MiB is past the core's cache and well inside the last-level one.
    ...(lastLevel !== null && lastLevel >= 2 * at('llc-weights').bytes && coreCache < at('llc-weights').bytes
      ? { llcWeightGBps: round(gemvGBps('llc-weights')) }
      : {}),
    im2colGBps: round(1 / (genericFit.msPerByte * 1e6)),
    genericGroupUs: round(genericFit.msPerGroup * 1000),
    ...(nchwInputNs !== null ? { nchwInputNsPerOutput: round(nchwInputNs) } : {}),
    ...(kernelRates
      ? {
          convTransposeNsPerColumn: kernelRates.convTransposeNsPerColumn,
          resizeNsPerOutput: kernelRates.resizeNsPerOutput,
          ...(kernelRates.genericGroupedConv ? { genericGroupedConv: kernelRates.genericGroupedConv } : {}),
          ...(kernelRates.plainPool ? { plainPool: kernelRates.plainPool } : {}),
          fusedActivationNsPerElement: kernelRates.fusedActivationNsPerElement,
        }
      : {}),
    divNsPerElement: round(1 / rate('divide', 'flops')),
    minMaxNsPerElement: round(1 / rate('maximum', 'flops')),
    ...(int8 ? { int8 } : {}),
    sources: [
      'mbn calibrate: fastest of the timed runs, over all rounds, of each micro-benchmark in "measurements" (one under 0.2 ms: its median after a warm-up of 0.1 s and 2,000 calls, as mbn bench times it, the lowest over rounds); rates = work / (time − one call − per-op overhead × ops); per-class overhead = (small chain − one call − its arithmetic) / ops; overheadUsByOp: each op-overhead-* chain (time − one call − its condition ops at the elementwise overhead) / 50, an If\'s less its branch\'s one op; inputUs and outputUs: (the 8-input Sum, the 8-output Relus less their 7 further ops) − one call, / 7; ifValueUs: ((the if-values chain − the same Adds without Ifs − 2 ops) / 50 − the If) / 7',
      `nchwcBlock: the smallest depthwise conv (4, 8, 16, 32 channels) ONNX Runtime's optimizer moves into ${NCHWC_DOMAIN}; weightGBps: the MatMul's weight bytes / (time − one call); cacheWeightGBps: the 256 KB MatMul's weight bytes / (time − one call − the GEMM overhead); llcGBps: the llc-bandwidth Adds' bytes / (time − one call − overheads); im2colGBps and genericGroupUs: the generic chain and the generic-groups chain, each (time − one call − overheads − FLOPs at the GEMM rate) = expanded input bytes (written and read) / im2colGBps + channel groups × genericGroupUs, solved together; nchwInputNsPerOutput: (profiled Conv kernel − FLOPs at the pointwise rate) / padded output elements; divNsPerElement and minMaxNsPerElement: the Div chain's and the Max chain's time less one call and overheads, per element`,
      'convTransposeNsPerColumn: (profiled ConvTranspose kernel − its GEMM FLOPs at the gemm benchmark\'s rate) / column-buffer elements; resizeNsPerOutput: each profiled Resize kernel / its output elements; fusedActivationNsPerElement: (profiled 1×1 conv kernel with the activation fused − without) / output elements; plainPool: the ten profiled NCHW MaxPool kernels, fitted (non-negative least squares) as channels, output rows, height-reduction loads and width-reduction steps (src/latency/pool.ts)',
      'int8: the fastest profiled kernel of each integer micro-benchmark (int8-*, conv-integer, matmul-integer, quantize, dequantize): GOP/s = 2 × MACs / kernel time; ns per element of QuantizeLinear and DequantizeLinear; uint8WeightsSlowdown = the uint8-weight conv kernel / the int8-weight one',
    ],
    measurements: results.map((r) => ({ ...r, ms: round(r.ms) })),
    measuredOn: {
      date: new Date().toISOString(),
      runtime: `onnxruntime-node ${ort.env?.versions?.node ?? ort.env?.versions?.common ?? '?'}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      logicalCpus: cpus().length,
      runs: options.runs,
      rounds: options.rounds,
    },
  };
}
