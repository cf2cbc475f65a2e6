import type { EnergyTotals, LayerEnergy } from './energy-constants.js';
import { type ConvGeometry, totalFlops } from '../ops/define.js';
import { bytesFor, DataType, dtypeCode } from '../onnx/dtype.js';
import type { LayerLink } from './graph.js';
import { floatNsPerGroup, type GroupedConvWork, groupedConvWork, integerNsPerGroup } from './grouped-conv.js';
import { genericPointwiseNs, type Int8Layer, inputTapShare, looksUpTable, planInt8, requantizesEachElement, symmetricConvKernel } from './int8.js';
import { type ConvPath, convPathOf, padChannels, paddingFactor, planLayout } from './layout.js';
import { channelsLastResizes, resizeKernel, resizeMs } from './resize.js';
import { layerNormGroups } from './layer-norm.js';
import { poolLinkWork, poolNs } from './pool.js';
import { genericDepthwiseNs, genericDepthwiseWork } from './qdw-conv.js';
import { layerSignature } from './signature.js';
import { INT8_CLASSES, THIN_CONV_CHANNELS } from './profile.js';
import type { LayerReport, Report, SeparableInfo } from '../contract/analyze.js';
import type { DeviceProfile, Int8Class, OpClass } from '../contract/device.js';
import type { ModelNote } from '../contract/messages.js';

/**
 * The latency model: a roofline per op class plus a fixed cost per op. For each layer that runs as its own kernel,
 *   time = max(FLOPs / gflops[class], bytes moved / bandwidth) + overheadUs[class]
 * where bytes moved are its inputs, weights and outputs read or written once, and the bandwidth is the cache's
 * (cacheGBps) when they fit in cacheBytes, DRAM's (memoryGBps) when not; weights always come from DRAM when the
 * whole model's weights exceed the cache (they cannot stay there from one inference to the next). The layer is `compute`-bound when
 * the first term is the largest of the three, `memory`-bound when the second is, `overhead`-bound when the fixed
 * cost exceeds both. Layers the runtime folds into the kernel before them (an activation, batch-norm or residual
 * add right after a conv or GEMM) and layers computed ahead of time (shape arithmetic on constants) take no time
 * of their own; reshapes that only relabel a buffer cost only the overhead. The model's total adds the fixed cost of
 * one inference call (runOverheadUs, and inputUs and outputUs for each further graph input and output: callMs).
 * Pure: report in, figures out.
 */
export type Bound = 'compute' | 'memory' | 'overhead';

export interface LayerLatency {
  latencyMs: number;
  bound: Bound | null;
  /** The layer this one is predicted to run inside (fused); null for a layer with a kernel of its own. */
  fusedInto: string | null;
  /** For a standard conv: predicted time before and after depthwise separation. */
  separation: { beforeMs: number; afterMs: number; macRatio: number; timeRatio: number } | null;
  /** A Conv: the kernel family ONNX Runtime runs it with (src/latency/layout.ts); null for other layers. */
  convPath: ConvPath | null;
  /** Part of `latencyMs` spent in the layout conversions ORT inserts because of this layer. */
  layoutMs: number;
  /**
   * With a profile that has a lookup table (`mbn calibrate --lut`), for a layer that runs its own kernel: whether
   * its kernel time is ORT's measured one (`measured`) or the roofline's (`model`). Absent without a table.
   */
  latencySource?: 'measured' | 'model';
}

export interface LatencyTotals {
  latencyMs: number;
  /** Predicted latency if every standard conv were separated. */
  latencyIfSeparatedMs: number;
  device: string;
  calibrated: boolean;
}

// Sigmoid and Tanh: ORT's activation fusions take them into a Gemm (FusedGemm) and a conv (FusedConv, the NCHWc
// Conv) as they take Relu (its optimized graph; the wake-word MLPs' last Gemm and Sigmoid ran as one FusedGemm).
const FOLDED_INTO_PRODUCER = new Set(['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Tanh', 'BatchNormalization', 'Add', 'Sum', 'HardSigmoid', 'HardSwish', 'Identity', 'Dropout']);
export const ZERO_COPY = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout']);
/**
 * What ORT folds into a conv only when the conv's weights are constant initializers (ConvBNFusion, ConvAddFusion,
 * the NCHWc transformer's Sum): never into a conv in QDQ form, whose weights a DequantizeLinear makes. Its
 * activation still fuses (FusedConv). PP-OCR cls as mbn quantize writes it keeps 35 Conv and 35 BatchNormalization
 * nodes in ORT's optimized graph.
 */
const CONSTANT_WEIGHTS_ONLY = new Set(['BatchNormalization', 'Add', 'Sum']);

/**
 * The pass MLAS makes over a float conv's or Gemm's output for each activation ORT fused into it other than Relu
 * (applied in the kernel), at the profile's calibrated rate per output element; 0 where the profile has none.
 * OpenWakeWord's embedding fuses a LeakyRelu into each of its 20 convs: 0.17–0.25 ns per output element here, 15–19%
 * of its 1×3 convs' time.
 */
function fusedActivationMs(profile: DeviceProfile, ops: readonly string[] | undefined, link: LayerLink | undefined): number {
  const rates = profile.fusedActivationNsPerElement;
  if (!rates || !ops || !link?.outputShape || fusionHead(link) === null) return 0;
  const elements = link.outputShape.reduce((a, b) => a * b, 1);
  return ops.reduce((ms, op) => ms + ((rates as Record<string, number | undefined>)[op] ?? 0) * elements, 0) / 1e6;
}

/**
 * A kernel the runtime folds a following activation, batch-norm or add into: a float conv (ORT's FusedConv) or a
 * float matrix product (a Gemm also takes a residual add; a MatMul does not).
 */
function fusionHead(link: LayerLink): 'conv' | 'gemm' | 'matmul' | null {
  const t = link.traits;
  // ORT's conv fusions (Conv+BatchNormalization, Conv+Add, Conv+activation) match Conv nodes only: a ConvTranspose
  // keeps the bias Add, BatchNormalization and Relu after it as kernels of their own (PP-OCRv4 det's two 2×2
  // upsampling ConvTransposes: 204 µs of them in ORT's profile).
  if (t?.kind === 'conv') return !t.transposed && (t.form === 'float' || t.form === 'qdq') ? 'conv' : null;
  if (t?.kind === 'matmul' && t.form === 'float' && !t.general) return t.gemm ? 'gemm' : 'matmul';
  return null;
}

export function opClass(l: LayerReport, link: LayerLink | undefined): OpClass {
  const t = link?.traits;
  if (t?.kind === 'conv') {
    // ONNX Runtime runs a ConvTranspose through its generic conv path whatever its groups.
    if (t.transposed) return 'conv';
    return t.geometry.depthwise ? 'depthwise' : t.geometry.pointwise ? 'pointwise' : 'conv';
  }
  // LSTM, GRU, RNN: GEMMs per step (recurrentTime).
  if (t?.kind === 'matmul' || t?.kind === 'recurrent') return 'gemm';
  // A pool is a per-channel reduction over a window, vectorised across channels as a depthwise conv is; at the
  // elementwise (Add) rate SqueezeNet's three MaxPools were predicted 3.6× slower than ORT runs them.
  if (POOLS.has(l.op)) return 'depthwise';
  return 'elementwise';
}
const POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool']);

/**
 * Where a layer's weights come from on each inference: `false` when the model's weights fit in the core's cache
 * (read with the activations), `'llc'` when they fit in the last-level cache (read at `memoryGBps`; a GEMM's at `llcWeightGBps` where calibrated), `'dram'` (or
 * `true`) when they exceed it and are streamed from DRAM at `weightGBps`.
 */
export type WeightSource = boolean | 'llc' | 'dram';

/**
 * The memory level a working set of `bytes` is served from: the core's cache when it fits in `cacheBytes`, the
 * last-level cache when the profile gives one and it fits there, else DRAM. One rule for the latency model (which
 * bandwidth) and the energy model (which pJ per byte).
 */
export function memoryLevelOf(profile: DeviceProfile, bytes: number): 'cache' | 'llc' | 'dram' {
  if (bytes <= profile.cacheBytes) return 'cache';
  return profile.lastLevelCacheBytes !== undefined && bytes <= profile.lastLevelCacheBytes ? 'llc' : 'dram';
}

/**
 * Roofline time of one kernel, ms, and what bounds it. Activations come from the cache when they fit in it (the
 * layer before has just written them), else at `memoryGBps`; weights as `weightsFrom` says.
 */
export function kernelTime(
  profile: DeviceProfile,
  cls: OpClass,
  flops: number,
  activationBytes: number,
  weightBytes = 0,
  weightsFrom: WeightSource = false,
  gflops = profile.gflops[cls],
  llcActivationGBps = cls === 'elementwise' ? profile.llcGBps : undefined,
): { ms: number; bound: Bound } {
  const computeUs = flops / (gflops * 1e3);
  // A GEMM's weights that stay in the core's cache are read at the rate a GEMV reads them, where calibrated.
  const apart = weightsFrom !== false || (cls === 'gemm' && weightBytes > 0 && profile.cacheWeightGBps !== undefined);
  // An elementwise kernel whose working set is past the core's cache but inside the last-level one streams at
  // llcGBps where calibrated (an Add chain measures it; PP-OCRv4's hard-swish ops ran at it, not at memoryGBps).
  // Layout conversions, pools and convs keep memoryGBps: PP-OCRv4's and EfficientNet-B0's conversions took
  // longer than their bytes at llcGBps.
  const level = memoryLevelOf(profile, activationBytes + (apart ? 0 : weightBytes));
  const actGBps = level === 'cache' ? profile.cacheGBps : level === 'llc' && llcActivationGBps !== undefined ? llcActivationGBps : profile.memoryGBps;
  // A GEMM streams its weights as they lie (calibrate's llc-weights MatMul); a conv's kernels go through packing,
  // which ran at memoryGBps (OpenWakeWord's mel-spectrogram conv: predicted 22 µs at llcWeightGBps, measured 59).
  const llcWeightGBps = cls === 'gemm' ? (profile.llcWeightGBps ?? profile.memoryGBps) : profile.memoryGBps;
  const weightGBps = weightsFrom === false ? (profile.cacheWeightGBps ?? profile.cacheGBps) : weightsFrom === 'llc' ? llcWeightGBps : (profile.weightGBps ?? profile.memoryGBps);
  const memoryUs = apart ? activationBytes / (actGBps * 1e3) + weightBytes / (weightGBps * 1e3) : (activationBytes + weightBytes) / (actGBps * 1e3);
  const overheadUs = profile.overheadUs[cls];
  const bound: Bound = overheadUs > Math.max(computeUs, memoryUs) ? 'overhead' : computeUs >= memoryUs ? 'compute' : 'memory';
  return { ms: (Math.max(computeUs, memoryUs) + overheadUs) / 1e3, bound };
}

/**
 * A conv as its kernel is timed: its geometry (the op's ConvGeometry: channels, groups, kernel, strides, pads) and
 * its output positions per execution (batch × spatial).
 */
export interface TimedConv {
  geometry: Pick<ConvGeometry, 'inChannels' | 'outChannels' | 'group' | 'kernel' | 'strides' | 'pads'>;
  pixels: number;
  /** Output positions of one image: the columns of the generic path's GEMM (unknown: taken as many). */
  positions?: number;
  /**
   * On the generic path, the share of the expansion and arithmetic that counts (int8.ts, inputTapShare: the taps
   * that read the input, not padding); 1 when absent. Set for the grouped convs of a QDQ model ORT leaves unfused.
   */
  inputTaps?: number;
  /** A 2-D grouped conv's per-group work (grouped-conv.ts), where its input size is known. */
  work?: GroupedConvWork;
}

/** The generic path expands the input (im2col) unless the kernel is 1×1 with stride 1 and no padding. */
function expandsInput(g: TimedConv['geometry']): boolean {
  return !(g.kernel.every((k) => k === 1) && g.strides.every((v) => v === 1) && g.pads.every((v) => v === 0));
}

/**
 * Time of one conv kernel on the path ONNX Runtime runs it with (src/latency/layout.ts): blocked paths work on
 * output channels padded to the block; the NCHW-input path pays per output element; the generic path expands the
 * input (im2col) and multiplies at the GEMM rate. Profiles without the layout figures (built-ins, older ones) run
 * every conv at its class rate.
 */
export function convTime(
  profile: DeviceProfile,
  cls: OpClass,
  conv: TimedConv,
  flops: number,
  activationBytes: number,
  weightBytes: number,
  cold: WeightSource,
  path: ConvPath = convPathOf(conv.geometry.inChannels / conv.geometry.group, conv.geometry.outChannels, conv.geometry.group, profile.nchwcBlock ?? 1),
): { ms: number; bound: Bound } {
  const block = profile.nchwcBlock ?? 1;
  const g = conv.geometry;
  const cinPerGroup = g.inChannels / g.group;
  // A 2-D grouped conv: MLAS's im2col and GEMM per group, at the calibrated costs of each (grouped-conv.ts).
  if (path === 'generic' && g.group > 1 && conv.work && profile.genericGroupedConv) {
    return perElementTime(profile, conv.work.groups, floatNsPerGroup(profile.genericGroupedConv, conv.work, profile.gflops.gemm, Math.max(1, block)), 'compute', cls);
  }
  if (path === 'generic' && profile.im2colGBps) {
    const kernel = g.kernel.reduce((a, b) => a * b, 1) * (conv.inputTaps ?? 1);
    const expandMs = expandsInput(g) ? (8 * g.inChannels * kernel * conv.pixels) / (profile.im2colGBps * 1e6) : 0;
    // MLAS's GEMM computes the output positions (its columns) in strips of a vector's width of floats (the
    // block): a 1-D STFT conv with 8 output frames costs what 16 would (Silero VAD's 258×256 filter bank: 10.4 µs
    // for 8 frames, 11.0 for 16, 18.7 for 17).
    const columns = conv.positions ?? 0;
    const strips = block > 1 && columns > 1 ? (Math.ceil(columns / block) * block) / columns : 1;
    // Weights from outside the core's cache (the model's weights do not stay there between calls) are streamed in
    // before the multiply, not under it: Silero VAD legacy's 258×256 STFT conv and OpenWakeWord's two 257×512 ones
    // took about 12.5 and 24.5 µs in ORT's profiler inside their models, where the larger of FLOPs and weight bytes
    // gives 10.4 and 19.4 and their sum 13.4 and 25.4; alone (weights cached) the first takes 10.4 µs.
    const work = flops * strips * (conv.inputTaps ?? 1);
    const k = cold === false ? kernelTime(profile, 'gemm', work, activationBytes, weightBytes, cold) : streamedWeights(profile, work, activationBytes, weightBytes, cold);
    // A grouped conv expands and multiplies each group on its own (MLAS's MlasConv loops over the groups): a fixed
    // cost per group. Silero VAD's 1-D depthwise conv of 258 channels on 8 positions: 15 µs, 1 µs without it.
    const groupsMs = g.group > 1 && profile.genericGroupUs ? (g.group * profile.genericGroupUs) / 1e3 : 0;
    // Still ORT's Conv kernel: its own set-up cost, not a MatMul's (16 chained 1-D convs of 16 channels on 8
    // positions: 0.93 µs each, the conv overhead).
    const ms = k.ms + (profile.overheadUs[cls] - profile.overheadUs.gemm) / 1e3 + expandMs + groupsMs;
    return { ms, bound: groupsMs > Math.max(k.ms, expandMs) ? 'overhead' : expandMs > k.ms ? 'memory' : k.bound };
  }
  const k = kernelTime(profile, cls, flops * paddingFactor(path, cinPerGroup, g.outChannels, g.group, block), activationBytes, weightBytes, cold);
  if (path === 'nchw-input' && profile.nchwInputNsPerOutput) {
    const extraMs = (padChannels(g.outChannels, block) * conv.pixels * profile.nchwInputNsPerOutput) / 1e6;
    return { ms: k.ms + extraMs, bound: k.bound === 'compute' || extraMs < k.ms ? k.bound : 'memory' };
  }
  return k;
}

/** A GEMM whose weights (from the last-level cache or DRAM) stream in before its arithmetic: the two times add. */
function streamedWeights(profile: DeviceProfile, flops: number, activationBytes: number, weightBytes: number, cold: Exclude<WeightSource, false>): { ms: number; bound: Bound } {
  const k = kernelTime(profile, 'gemm', flops, activationBytes, 0, cold);
  const weightMs = kernelTime(profile, 'gemm', 0, 0, weightBytes, cold).ms - profile.overheadUs.gemm / 1e3;
  return { ms: k.ms + weightMs, bound: weightMs > k.ms - profile.overheadUs.gemm / 1e3 ? 'memory' : k.bound };
}

/** A forward conv as its kernel is timed, from its traits (null for other layers, or when its output shape is unknown). */
function timedConvOf(link: LayerLink): TimedConv | null {
  const t = link.traits;
  if (t?.kind !== 'conv' || t.transposed || t.batch === null || t.outSpatial === null) return null;
  const positions = t.outSpatial.reduce((a, b) => a * b, 1);
  const work = t.geometry.group > 1 ? groupedWork(link) : null;
  return { geometry: t.geometry, pixels: t.batch * positions, positions, ...(work ? { work } : {}) };
}

/**
 * Time of a ConvTranspose as ONNX Runtime's CPU kernel runs it (conv_transpose.cc): per group a GEMM of the
 * weights [C_out/group·k…, C_in/group] by the input [C_in/group, H·W…] into a column buffer, then col2im scatters
 * the columns into the zeroed output. The GEMM is timed at the GEMM rate on its input and column-buffer bytes; the
 * scatter at `convTransposeNsPerColumn` per column-buffer element (C_out·k…·H·W…·batch). PP-OCRv4 det's 2×2
 * stride-2 upsampling, 24→24 channels on 80×80: 126 µs of GEMM at 234 GFLOP/s, 325 µs in ORT's profile. Null
 * without the profile key or an input shape (the layer is then timed as before: FLOPs at the conv rate).
 */
export function convTransposeTime(profile: DeviceProfile, link: LayerLink, flops: number, activationBytes: number, weightBytes: number, cold: WeightSource): { ms: number; bound: Bound } | null {
  const t = link.traits;
  const x = t?.kind === 'conv' ? link.inputShapes[t.input] : null;
  if (t?.kind !== 'conv' || !t.transposed || profile.convTransposeNsPerColumn === undefined || !x || x.length < 3) return null;
  const columns = x[0] * t.geometry.outChannels * t.geometry.kernel.reduce((a, b) => a * b, 1) * x.slice(2).reduce((a, b) => a * b, 1);
  const gemm = kernelTime(profile, 'gemm', flops, activationBytes + 4 * columns, weightBytes, cold);
  const scatterMs = (columns * profile.convTransposeNsPerColumn) / 1e6;
  // Still ORT's conv kernel: its set-up cost, not a MatMul's.
  const ms = gemm.ms + (profile.overheadUs.conv - profile.overheadUs.gemm) / 1e3 + scatterMs;
  return { ms, bound: scatterMs > gemm.ms ? 'memory' : gemm.bound };
}

/**
 * Time of an LSTM, GRU or RNN as ONNX Runtime's CPU kernels run it (deep_cpu_lstm.cc, deep_cpu_gru.cc, rnn.cc):
 * per direction one GEMM projects every step's input through W (seq·batch rows), then each step a GEMM of the
 * hidden state through R (batch rows), and the gates' arithmetic (the layer's other FLOPs, at the elementwise rate).
 * W is read once and R once per step: the first step's from where the model's weights come from, the later ones from
 * the core's cache where R fits in it. Each step's GEMM pays the GEMM overhead, and the projection the op's own
 * fixed cost where calibrated (overheadUsByOp.LSTM). Timed as one elementwise op (what an
 * LSTM was before), Silero VAD's 1-step LSTM of 128 units was predicted at 20.6 µs where ORT takes about 7.
 * Null when its dimensions are unknown (then its FLOPs at the GEMM rate).
 */
function recurrentTime(profile: DeviceProfile, link: LayerLink | undefined, otherFlops: number, cold: WeightSource): { ms: number; bound: Bound } | null {
  const d = link?.traits?.kind === 'recurrent' ? link.traits.dims : null;
  if (!d) return null;
  const float = 4;
  const units = d.gates * d.hidden;
  const rows = d.seq * d.batch;
  // The input projection carries the op's own fixed cost where calibrated (overheadUsByOp.LSTM: its scratch buffers).
  const project = kernelTime(withOpOverhead(profile, 'gemm', link), 'gemm', 2 * rows * units * d.input, rows * (d.input + units) * float, units * d.input * float, cold);
  const stepFrom = (from: WeightSource) => kernelTime(profile, 'gemm', 2 * d.batch * units * d.hidden, d.batch * (d.hidden + units) * float, units * d.hidden * float, from);
  const first = stepFrom(cold);
  const later = stepFrom(units * d.hidden * float <= profile.cacheBytes ? false : cold);
  const gatesMs = otherFlops / (profile.gflops.elementwise * 1e6);
  const ms = d.dirs * (project.ms + first.ms + (d.seq - 1) * later.ms) + gatesMs;
  return { ms, bound: d.seq > 1 ? later.bound : first.bound };
}

/** Time of the layout conversions ORT inserts for a layer: memory-bound copies, one kernel each. */
function reorderTime(profile: DeviceProfile, reorders: { count: number; bytes: number }): number {
  if (reorders.count === 0) return 0;
  const perCopy = reorders.bytes / reorders.count;
  // At memoryGBps, as kernelTime's comment says of conversions (an explicit `undefined` here would take the
  // parameter's default, llcGBps: PP-OCRv4 det's large conversions ran at 62–84 GB/s in ORT's profiler, between the
  // two, and its 93 conversions were predicted at half their measured time).
  return reorders.count * kernelTime(profile, 'elementwise', 0, perCopy, 0, false, profile.gflops.elementwise, profile.memoryGBps).ms;
}

/**
 * Which layers the runtime folds into another kernel: layer index → index of the kernel it runs in (a conv or GEMM
 * before it, or the last op of a fused group: QuickGelu, LayerNormalization). `graphOutputs`: tensors a fusion
 * must leave in place.
 */
export function foldedLayers(links: readonly LayerLink[], graphOutputs: readonly string[] = []): Map<number, number> {
  const producer = new Map<string, number>();
  const consumers = new Map<string, number>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    for (const o of l.outputs) if (o) producer.set(o, i);
    for (const x of l.inputs) if (x) consumers.set(x, (consumers.get(x) ?? 0) + 1);
  });
  // A layer norm written out as nine ops runs as one LayerNormalization kernel (src/latency/layer-norm.ts).
  const folded = layerNormGroups(links, graphOutputs);
  // Swish x·Sigmoid(x) and x·Sigmoid(α·x) run as one kernel (ORT's QuickGelu fusion): the Sigmoid, and the Mul by
  // the constant scalar α that only it reads, fold into the last Mul.
  links.forEach((l, i) => {
    if (l.scope !== '' || l.op !== 'Sigmoid' || folded.has(i) || !l.outputs[0] || consumers.get(l.outputs[0]) !== 1) return;
    const p = producer.get(l.inputs[0]);
    const alpha = p !== undefined && consumers.get(l.inputs[0]) === 1 ? scaledBy(links[p]) : null;
    const x = alpha ?? l.inputs[0];
    const mul = links.findIndex((m) => m.scope === '' && m.op === 'Mul' && m.inputs.includes(l.outputs[0]) && m.inputs.includes(x));
    if (mul < 0) return;
    folded.set(i, mul);
    if (alpha !== null) folded.set(p!, mul);
  });
  // A zero Pad of the spatial dims before a Conv or pool becomes that op's own padding (ORT's PadFusion).
  links.forEach((l, i) => {
    if (l.scope !== '' || l.op !== 'Pad' || !l.outputs[0] || consumers.get(l.outputs[0]) !== 1) return;
    const child = links.findIndex((c) => c.scope === '' && takesPad(c) && c.inputs[0] === l.outputs[0]);
    if (child >= 0 && padFuses(l, links[child])) folded.set(i, child);
  });
  links.forEach((l, i) => {
    if (l.scope !== '' || !FOLDED_INTO_PRODUCER.has(l.op) || folded.has(i)) return;
    for (const x of l.inputs) {
      const p = x ? producer.get(x) : undefined;
      if (p === undefined || consumers.get(x) !== 1) continue;
      const head = fusionHead(links[p]) !== null ? p : folded.get(p);
      // Only one layer may fold a given output; the add of a residual folds into the conv on one side. Only a conv
      // or GEMM takes an activation (not a fused layer norm's kernel); a batch-norm or add only a conv whose weights
      // are constant (not one in QDQ form).
      const qdqConv = head !== undefined && CONSTANT_WEIGHTS_ONLY.has(l.op) && links[head].traits?.kind === 'conv' && (links[head].traits as { form: string }).form === 'qdq';
      if (head !== undefined && fusionHead(links[head]) !== null && fusionHead(links[head]) !== 'matmul' && !qdqConv) {
        folded.set(i, head);
        return;
      }
    }
  });
  return folded;
}

/**
 * The α·x of a QuickGelu x·Sigmoid(α·x): a Mul of x by a float scalar (shape [] or [1]) known before run time (an
 * initializer or a Constant, which ORT folds into one), as ORT's QuickGeluFusion matches it. Returns x's name, or null for any other layer.
 */
function scaledBy(link: LayerLink): string | null {
  if (link.op !== 'Mul' || link.domain !== '' || link.inputs.length !== 2) return null;
  const k = link.inputs.findIndex((name, j) => {
    const shape = link.inputShapes[j];
    return (link.weightInputs.includes(name) || link.inputValues[j] !== null) && FLOAT_TYPES.has(link.inputDtypes[j]) && !!shape && shape.length <= 1 && shape.every((d) => d === 1);
  });
  return k < 0 ? null : link.inputs[1 - k];
}
/** float, float16, double: the scalar types QuickGeluFusion reads α from. */
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE]);

/** What ORT's PadFusion merges a Pad into: an ONNX Conv node (float, or float in QDQ form), or a window pool. */
function takesPad(link: LayerLink): boolean {
  const t = link.traits;
  if (t?.kind === 'conv') return !t.transposed && (t.form === 'float' || t.form === 'qdq');
  return link.op === 'MaxPool' || link.op === 'AveragePool';
}

/**
 * ONNX Runtime's PadFusion (core/optimizer/pad_fusion.cc): a constant-mode Pad whose pads are known, non-negative
 * and zero on the batch and channel dims, and whose fill value is 0, merges into the explicit `pads` of the one
 * Conv, MaxPool or AveragePool that reads it (not one with auto_pad, nor a MaxPool that also returns indices). ORT
 * 1.30 also merges into a child with no `pads` attribute (MLSD's tf2onnx depthwise convs: `pads` [0, 0, 1, 1] after).
 */
function padFuses(pad: LayerLink, child: LayerLink): boolean {
  if ((pad.strings.mode ?? 'constant') !== 'constant') return false;
  const pads = pad.ints.pads ?? pad.inputValues[1];
  if (!pads || pads.length < 4 || pads.some((p) => p < 0)) return false;
  const half = pads.length / 2;
  if (pads[0] !== 0 || pads[1] !== 0 || pads[half] !== 0 || pads[half + 1] !== 0) return false;
  // Opset 11 on: the fill value is an input, and must be a known 0 (an omitted one is 0).
  const fill = pad.inputs[2] ? pad.inputValues[2] : [0];
  if (!fill || fill.some((v) => v !== 0)) return false;
  if (pad.inputs[1] && !pad.inputValues[1]) return false;
  if ((child.strings.auto_pad ?? 'NOTSET') !== 'NOTSET' || child.outputs.filter((o) => o).length > 1) return false;
  return true;
}

/** Bytes a fused group of layers reads from outside itself: each input no member writes, once (unknown shapes: 0). */
function groupInputBytes(group: readonly LayerLink[]): number {
  const inside = new Set(group.flatMap((l) => l.outputs));
  const read = new Map<string, number>();
  for (const l of group) {
    l.inputs.forEach((name, k) => {
      const shape = l.inputShapes[k];
      if (!name || inside.has(name) || read.has(name) || !shape) return;
      read.set(name, bytesFor(l.inputDtypes[k], shape.reduce((a, b) => a * b, 1)));
    });
  }
  return [...read.values()].reduce((a, b) => a + b, 0);
}

function flopsOf(l: LayerReport): number {
  return totalFlops(l.macs, l.otherFlops);
}

/** The geometry a separation gives a conv, in the MobileNet terms `SeparableInfo` uses, with its multiplier. */
export type SeparationShape = Pick<SeparableInfo, 'M' | 'N' | 'group' | 'kernel' | 'multiplier'> & { macs: number | null };

/**
 * What the depthwise + pointwise pair of a separated conv computes and moves per execution (the latency and the
 * energy models both time it): output pixels, element size, the intermediate tensor (written by one, read by the
 * other), each conv's MACs. Null when the conv's MACs or bytes are unknown.
 */
export function separatedPair(l: LayerReport, link: LayerLink, s: SeparationShape | null) {
  if (!s || s.macs === null || link.inputBytes === null || link.outputBytes === null) return null;
  const K = s.kernel.reduce((a, b) => a * b, 1);
  const pixels = s.macs / (s.N * (s.M / s.group) * K);
  const elementBytes = link.outputBytes / (pixels * s.N);
  const mid = s.M * s.multiplier;
  return {
    K,
    pixels,
    elementBytes,
    inBytes: link.inputBytes - l.weightBytes,
    outBytes: link.outputBytes,
    mid,
    midBytes: pixels * mid * elementBytes,
    dwMacs: pixels * mid * K,
    pwMacs: pixels * s.N * (mid / s.group),
  };
}

/**
 * Predicted time of one execution of a standard conv once separated (depthwise then pointwise), ms; `s` is the
 * separation's geometry (the layer's own at multiplier 1 unless given).
 */
export function separatedTime(
  profile: DeviceProfile,
  l: LayerReport,
  link: LayerLink,
  weightsCold: WeightSource,
  s: SeparationShape | null = l.separable,
): number | null {
  const pair = separatedPair(l, link, s);
  if (!s || !pair) return null;
  const { K, pixels, inBytes, mid, midBytes, dwMacs, pwMacs, outBytes } = pair;
  // The pair as `mbn separate` writes it: the depthwise conv keeps the kernel (its strides and pads do not change
  // its time here: the output size is the conv's), the pointwise conv is 1×1, stride 1, unpadded.
  const ones = s.kernel.map(() => 1);
  const zeros = [...ones, ...ones].map(() => 0);
  const dwConv: TimedConv = { geometry: { inChannels: s.M, outChannels: mid, group: s.M, kernel: s.kernel, strides: ones, pads: zeros }, pixels };
  const pwConv: TimedConv = { geometry: { inChannels: mid, outChannels: s.N, group: s.group, kernel: ones, strides: ones, pads: zeros }, pixels };
  const dw = convTime(profile, 'depthwise', dwConv, totalFlops(dwMacs, 0), inBytes + midBytes, s.M * s.multiplier * K * 4, weightsCold);
  const pw = convTime(profile, 'pointwise', pwConv, totalFlops(pwMacs, 0), midBytes + outBytes, s.N * (mid / s.group) * 4, weightsCold);
  // The pair's own layout: the depthwise conv's output reaches a pointwise conv that takes it in NCHW.
  const block = profile.nchwcBlock ?? 1;
  const dwBlocked = convPathOf(1, mid, s.M, block) === 'nchwc';
  const pwPath = convPathOf(mid / s.group, s.N, s.group, block);
  const between = dwBlocked && pwPath !== 'nchwc' ? reorderTime(profile, { count: 1, bytes: midBytes + (midBytes * padChannels(mid, block)) / mid }) : 0;
  return dw.ms + pw.ms + between;
}

/**
 * Share of the core's cache that keeps a model's weights from one inference to the next: the rest holds its
 * activations, ORT's buffers and whatever runs between calls. A GEMV through ORT read 256 KB of weights at 141 GB/s,
 * 512 KB at 130, 768 KB at 101–124 and 1 MiB at 104–113 (the last-level cache's rate) on a 1 MiB cache; the wake-word
 * MLPs with 853 KB of weights ran at the last-level cache's rate (predicted −32% and −17% from the core's cache).
 */
const WEIGHT_CACHE_SHARE = 0.5;

/** Where the model's weights are read from on each inference (see WeightSource). */
export function weightsCold(report: Report, profile: DeviceProfile): WeightSource {
  const bytes = report.totals.weightBytes;
  if (bytes <= profile.cacheBytes * WEIGHT_CACHE_SHARE) return false;
  // Past that share: the last-level cache (or DRAM) even when they would fit in the core's cache.
  const level = memoryLevelOf(profile, Math.max(bytes, profile.cacheBytes + 1));
  return level === 'cache' ? false : level;
}

/**
 * The compute rate of an elementwise layer, GFLOP/s (one FLOP per output element): a float Div at
 * `divNsPerElement` where calibrated (ORT's Div runs at about half an Add's rate: PP-OCRv4 det's hard-swish Divs by 6
 * took 0.16 ns per element in cache and past it, its Adds 0.08), a float Max or Min at `minMaxNsPerElement` (ORT's
 * generic broadcast loop: OpenWakeWord's embedding takes the max of each conv's output and a scalar), every other op
 * at the elementwise rate.
 */
function elementwiseRate(profile: DeviceProfile, link: LayerLink | undefined, cls: OpClass): number {
  if (cls === 'elementwise' && link?.op === 'Div' && link.domain === '' && link.float32 && profile.divNsPerElement) return 1 / profile.divNsPerElement;
  if (cls === 'elementwise' && (link?.op === 'Max' || link?.op === 'Min') && link.domain === '' && link.float32 && profile.minMaxNsPerElement) return 1 / profile.minMaxNsPerElement;
  return profile.gflops[cls];
}

/**
 * The profile as a layer of a float op with its own calibrated fixed cost (`overheadUsByOp`, calibrate's op-overhead-*
 * chains) sees it: that cost in place of its class's. Inside Silero VAD legacy ORT's profiler put a Concat at about
 * 0.9 µs, a Slice at 0.3, a Pow at 0.4 and an If at 0.45 where a Relu took 0.17. Other layers: the profile as it is.
 */
function withOpOverhead(profile: DeviceProfile, cls: OpClass, link: LayerLink | undefined, runsAs?: string): DeviceProfile {
  const byOp = profile.overheadUsByOp;
  const op = runsAs ?? link?.op;
  const us = link && link.domain === '' && byOp && op && Object.hasOwn(byOp, op) ? byOp[op] : undefined;
  return us === undefined ? profile : { ...profile, overheadUs: { ...profile.overheadUs, [cls]: us } };
}

/** A kernel timed at a calibrated rate per element (or per group, …), plus its class's kernel overhead. */
function perElementTime(profile: DeviceProfile, elements: number, nsPerElement: number, bound: Bound, cls: OpClass = 'elementwise'): { ms: number; bound: Bound } {
  const workUs = (elements * nsPerElement) / 1e3;
  const overheadUs = profile.overheadUs[cls];
  return { ms: (workUs + overheadUs) / 1e3, bound: overheadUs > workUs ? 'overhead' : bound };
}

/**
 * Time of a layer ONNX Runtime runs as an integer kernel or a quantize step (src/latency/int8.ts), at the profile's
 * integer rates. A fused QDQ group moves 8-bit activations and weights: a quarter of the float bytes its op reads
 * and writes in the model. Integer kernels with uint8 weights (U8U8) take `uint8WeightsSlowdown` times as long as
 * with int8 ones, depthwise convs too (MobileNetV2's in QOperator form: 3.0× their int8-weight time). A conv on a few input channels (an RGB
 * stem) pays `thinConvNsPerOutput` per output element on top: MobileNetV2's 3→32 stem ran at 74 GOP/s and
 * ResNet-18's 3→64 7×7 one at 278 where their other convs ran at 330–1000, the same 0.67–0.75 ns per output beyond
 * the arithmetic (per expanded input byte, or at one rate, the two differ 2.4×).
 */
function int8Time(profile: DeviceProfile, q: Exclude<Int8Layer, { kind: 'folded' | 'constant' }>, cls: OpClass, flops: number, link: LayerLink | undefined, activationBytes: number, weightBytes: number, cold: WeightSource): { ms: number; bound: Bound } {
  const rates = profile.int8!;
  if (q.kind !== 'kernel') {
    const elements = link?.outputShape ? link.outputShape.reduce((a, b) => a * b, 1) : 0;
    return perElementTime(profile, elements, q.kind === 'quantize' ? rates.quantizeNsPerElement : rates.dequantizeNsPerElement, 'memory');
  }
  const scale = q.qdq ? 0.25 : 1;
  if (q.kernel === 'conv-integer' || q.kernel === 'matmul-integer') {
    const grouped = link?.traits?.kind === 'conv' && link.traits.geometry.group > 1;
    // A grouped ConvInteger: ORT's im2col and GEMM per group, at the calibrated costs of each (grouped-conv.ts).
    const work = grouped && rates.groupedConvInteger ? groupedWork(link) : null;
    if (work) return perElementTime(profile, work.groups, integerNsPerGroup(rates.groupedConvInteger!, work), 'compute', cls);
    const gops = q.kernel === 'matmul-integer' ? rates.matMulIntegerGops : grouped ? rates.convIntegerDepthwiseGops : rates.convIntegerGops;
    return kernelTime(profile, cls, flops, activationBytes * scale, weightBytes, cold, gops);
  }
  // The QuantizeLinear ORT's QDQ propagation moved in front of the op (int8.ts): its own kernel, before it.
  if (q.quantizedInputElements) {
    const quantize = perElementTime(profile, q.quantizedInputElements, rates.quantizeNsPerElement, 'memory');
    const op = int8Time(profile, { ...q, quantizedInputElements: undefined }, cls, flops, link, activationBytes, weightBytes, cold);
    return { ms: quantize.ms + op.ms, bound: op.bound };
  }
  // An 8-bit MaxPool outside every NHWC region: ORT's generic NCHW pool, per input element its windows read.
  if (q.nchwPool && rates.nchwMaxPoolNsPerElement !== undefined && link?.outputShape) {
    const window = poolWindow(link);
    return perElementTime(profile, link.outputShape.reduce((a, b) => a * b, 1) * window, rates.nchwMaxPoolNsPerElement, 'memory');
  }
  // An 8-bit MaxPool inside an NHWC region: MLAS's NhwcMaxPool, per input element its windows read.
  if (q.qdq && !q.nchwPool && link?.domain === '' && link.op === 'MaxPool' && rates.nhwcMaxPoolNsPerElement !== undefined && link.outputShape) {
    return perElementTime(profile, link.outputShape.reduce((a, b) => a * b, 1) * poolWindow(link), rates.nhwcMaxPoolNsPerElement, 'memory');
  }
  // QLinearAdd, QLinearConcat, …: per element in float, as the float op (at least one operation per output element).
  if (q.qdq && link && link.domain === '' && requantizesEachElement(link.op)) {
    const elements = link.outputShape ? link.outputShape.reduce((a, b) => a * b, 1) : 0;
    // QLinearMul at its own calibrated rate: MLAS's QLinearMul takes about twice QLinearAdd's time per element.
    if (link.op === 'Mul' && rates.qlinearMulNsPerElement !== undefined) return perElementTime(profile, elements, rates.qlinearMulNsPerElement, 'compute');
    // QLinearLeakyRelu and QLinearSigmoid: a table lookup per element, at its calibrated rate.
    if (looksUpTable(link.op) && rates.qlinearLookupNsPerElement !== undefined) return perElementTime(profile, elements, rates.qlinearLookupNsPerElement, 'compute');
    return kernelTime(profile, 'elementwise', Math.max(flops, elements), activationBytes, 0, cold);
  }
  if (!(INT8_CLASSES as readonly string[]).includes(cls)) return kernelTime(profile, cls, flops, activationBytes * scale, weightBytes * scale, cold);
  const slowdown = q.uint8Weights ? rates.uint8WeightsSlowdown : 1;
  const g = link?.traits?.kind === 'conv' ? link.traits.geometry : null;
  const thin = g !== null && cls !== 'depthwise' && g.inChannels / g.group < THIN_CONV_CHANNELS;
  // Off MLAS's symmetric conv kernels (int8.ts), a conv runs the generic path; its depthwise kernel works through
  // the channels in vectors of 16 and 8 (qdwconv_avx2.cpp), then one at a time: timed as it runs where calibrated
  // (qdw-conv.ts), else on channels rounded up to 8.
  // (MLAS's NCHWc block is 16 where its AVX-512 kernels run, and its symmetric conv dispatch is then the AVX-512 one.)
  const generic = g !== null && !thin && !q.uint8Weights && rates.genericGops !== undefined && cls !== 'gemm' && !symmetricConvKernel(g, profile.nchwcBlock === 16 ? 4 : 8);
  if (generic && cls === 'depthwise' && rates.genericDepthwise && link?.traits?.kind === 'conv' && link.traits.outSpatial && link.traits.batch != null) {
    // As MLAS's generic depthwise kernel runs (qdw-conv.ts), plus the executor's dispatch.
    const t = link.traits;
    const pixels = t.batch! * t.outSpatial!.reduce((a, b) => a * b, 1);
    const work = genericDepthwiseWork(g.outChannels, pixels, g.kernel.reduce((a, b) => a * b, 1), inputTaps(link));
    return { ms: genericDepthwiseNs(rates.genericDepthwise, work) / 1e6 + profile.overheadUs.elementwise / 1e3, bound: 'compute' };
  }
  // A 1×1 conv at stride 1 (no im2col): MLAS's integer GEMM by blocks of output channels where calibrated (int8.ts).
  const pointwiseGemm = generic && cls === 'pointwise' && g.group === 1 && g.strides.every((s) => s === 1) && rates.genericPointwise && link?.traits?.kind === 'conv' && link.traits.outSpatial && link.traits.batch != null;
  if (pointwiseGemm) {
    const t = link!.traits as Extract<NonNullable<LayerLink['traits']>, { kind: 'conv' }>;
    const pixels = t.batch! * t.outSpatial!.reduce((a, b) => a * b, 1);
    const k = kernelTime(profile, cls, 0, activationBytes * scale, weightBytes * scale, cold);
    const gemmMs = genericPointwiseNs(rates.genericPointwise!, pixels, g.inChannels, g.outChannels) / 1e6;
    return { ms: Math.max(k.ms, gemmMs + profile.overheadUs[cls] / 1e3), bound: gemmMs + profile.overheadUs[cls] / 1e3 >= k.ms ? 'compute' : k.bound };
  }
  if (generic) {
    // MLAS's generic depthwise kernel: channels in vectors, and next to nothing for a tap that reads padding.
    const rounded = cls === 'depthwise' ? ((Math.ceil(g.outChannels / 8) * 8) / g.outChannels) * inputTaps(link) : 1;
    return kernelTime(profile, cls, flops * rounded, activationBytes * scale, weightBytes * scale, cold, rates.genericGops![cls as 'conv' | 'pointwise' | 'depthwise']);
  }
  // MLAS's symmetric kernel where calibrated: a cost per output pixel and tap beside the multiply-adds.
  const sym = rates.symmetricConv && g !== null && !thin && (cls === 'conv' || cls === 'pointwise') && link?.traits?.kind === 'conv' && link.traits.outSpatial && link.traits.batch != null ? rates.symmetricConv : null;
  if (sym) {
    const t = link!.traits as Extract<NonNullable<LayerLink['traits']>, { kind: 'conv' }>;
    const pixelTaps = t.batch! * t.outSpatial!.reduce((a, b) => a * b, 1) * g!.kernel.reduce((a, b) => a * b, 1);
    const k = kernelTime(profile, cls, flops, activationBytes * scale, weightBytes * scale, cold, (cls === 'conv' ? sym.convGops : sym.pointwiseGops) / slowdown);
    return { ms: k.ms + (pixelTaps * sym.nsPerPixelTap * slowdown) / 1e6, bound: k.bound };
  }
  const k = kernelTime(profile, cls, flops, activationBytes * scale, weightBytes * scale, cold, rates.gops[cls as Int8Class] / slowdown);
  if (g === null || !thin || !link?.outputShape) return k;
  // Per output position and per input tap of each where calibrated (a 5×5 stem gathers 75 bytes per position, a
  // 3×3 one 27), else per output element.
  const t = link.traits?.kind === 'conv' ? link.traits : null;
  const positions = t?.batch != null && t.outSpatial ? t.batch * t.outSpatial.reduce((a, b) => a * b, 1) : null;
  const taps = (g.inChannels / g.group) * g.kernel.reduce((a, b) => a * b, 1);
  const extraMs =
    rates.thinConv && positions !== null
      ? (positions * (rates.thinConv.nsPerPosition + taps * rates.thinConv.nsPerTap)) / 1e6
      : (link.outputShape.reduce((a, b) => a * b, 1) * rates.thinConvNsPerOutput) / 1e6;
  return { ms: k.ms + extraMs, bound: k.bound === 'compute' || extraMs < k.ms ? k.bound : 'memory' };
}

/** The work of a grouped conv layer (grouped-conv.ts); null where its shapes are unknown or not 2-D. */
function groupedWork(link: LayerLink | undefined): GroupedConvWork | null {
  const t = link?.traits;
  const input = link?.inputShapes[0];
  if (t?.kind !== 'conv' || !t.outSpatial || t.batch == null || !input || input.length !== t.outSpatial.length + 2) return null;
  return groupedConvWork(t.geometry, input.slice(2), t.outSpatial, t.batch);
}

/** A conv's share of kernel taps that read its input, not padding (int8.ts, inputTapShare); 1 where a shape is unknown. */
function inputTaps(link: LayerLink | undefined): number {
  const t = link?.traits;
  const input = link?.inputShapes[0];
  if (t?.kind !== 'conv' || !t.outSpatial || !input || input.length !== t.outSpatial.length + 2) return 1;
  return inputTapShare(t.geometry, input.slice(2), t.outSpatial);
}

/**
 * The cost of one inference call beyond its layers, ms: the call itself (measured with one input and one output),
 * each further graph input and output the runtime's binding converts (Silero VAD legacy's four inputs and three
 * outputs: about 7 µs of its 100, which no layer accounts for), and the bytes it copies in and out (a wake-word
 * MLP's 9.6 KB input: about 1.4 µs of its 20).
 */
export function callMs(report: Pick<Report, 'model'>, profile: DeviceProfile): number {
  const extra = (count: number, us = 0) => Math.max(0, count - 1) * us;
  // The binding copies each tensor in and out, per byte (the calibrated call's own 32 bytes each way come to a
  // hundredth of a µs; an unknown shape adds nothing: the analysis is incomplete and its total a lower bound).
  const bytes = (io: readonly { dtype: string; shape: number[] | null }[]) =>
    io.reduce((sum, t) => sum + (t.shape === null ? 0 : bytesFor(dtypeCode(t.dtype), t.shape.reduce((n, d) => n * d, 1))), 0);
  const copyNs = bytes(report.model.inputs) * (profile.inputNsPerByte ?? 0) + bytes(report.model.outputs) * (profile.outputNsPerByte ?? 0);
  return (profile.runOverheadUs + extra(report.model.inputs.length, profile.inputUs) + extra(report.model.outputs.length, profile.outputUs) + copyNs / 1e3) / 1e3;
}

/** Per-layer predictions, in report order. `links` must come from the same inference as the report. */
export function predictLatency(
  report: Report,
  links: readonly LayerLink[],
  profile: DeviceProfile,
): { layers: LayerLatency[]; totals: LatencyTotals; notes: ModelNote[]; signatures: (string | null)[] } {
  const graphOutputs = report.model.outputs.map((o) => o.name);
  const folded = foldedLayers(links, graphOutputs);
  const cold = weightsCold(report, profile);
  const int8 = planInt8(links, graphOutputs, report.model.opsets['ai.onnx'] ?? 0);
  const notes: ModelNote[] = [];
  const integerLayers = int8.filter((q) => q !== null && q.kind !== 'folded' && q.kind !== 'constant').length;
  if (integerLayers > 0 && !profile.int8) {
    notes.push({ code: 'latency-int8-at-float-rates', device: profile.name, layers: integerLayers });
  }
  // With integer rates, the layers ORT runs as integer kernels (in NHWC, not NCHWc) leave the blocked-layout plan.
  const integerKernels = new Set(profile.int8 ? int8.flatMap((q, i) => (q?.kind === 'kernel' ? [i] : [])) : []);
  const layout = planLayout(links, folded, profile.nchwcBlock ?? 1, graphOutputs, integerKernels);
  /** The layers a fused layer norm runs on (its Mul by γ): one LayerNormalization kernel. */
  const layerNormKernels = new Set(layerNormGroups(links, graphOutputs).values());
  // Resizes ORT runs channels last, in a QDQ model's NHWC region (resize.ts).
  const channelsLast = profile.int8 && profile.resizeNsPerOutput ? channelsLastResizes(links, int8, graphOutputs) : new Set<number>();
  /**
   * A kernel → the layers folded into it (what a fused elementwise kernel computes too: QuickGelu's Sigmoid and α
   * Mul before its last Mul, a layer norm's ops before and the Add after its Mul by γ).
   */
  const feeders = new Map<number, number[]>();
  folded.forEach((head, j) => {
    if (!layout[j].unfused) feeders.set(head, [...(feeders.get(head) ?? []), j]);
  });
  /** A kernel → the ops ORT runs inside it (its layers' fused activations, normalizations, adds). */
  const fusedOps = new Map<number, string[]>();
  links.forEach((l, j) => {
    const q = profile.int8 ? int8[j] : null;
    const head = q?.kind === 'folded' ? q.head : layout[j].unfused ? undefined : folded.get(j);
    if (head !== undefined) fusedOps.set(head, [...(fusedOps.get(head) ?? []), l.op]);
  });
  // `mbn calibrate --lut`: measured kernel times by layer signature (src/latency/signature.ts).
  const lut = profile.lut ? new Map(profile.lut.map((e) => [e.key, e.ms])) : null;
  const signatures: (string | null)[] = report.layers.map(() => null);
  let total = callMs(report, profile);
  let saved = 0;
  const layers = report.layers.map((l, i): LayerLatency => {
    const link = links[i];
    const head = layout[i].unfused ? undefined : folded.get(i);
    const none = { bound: null, separation: null, convPath: null, layoutMs: 0 };
    const q = profile.int8 ? int8[i] : null;
    if (q?.kind === 'folded') return { latencyMs: 0, fusedInto: report.layers[q.head].name, ...none };
    if (q?.kind === 'constant') return { latencyMs: 0, fusedInto: null, ...none };
    if (head !== undefined) return { latencyMs: 0, fusedInto: report.layers[head].name, ...none };
    if (l.executions === 0) return { latencyMs: 0, fusedInto: null, ...none };
    // Outputs known before run time: ORT folds the layer into a constant when it loads the model.
    if (link?.atLoad) return { latencyMs: 0, fusedInto: null, ...none };
    const cls = opClass(l, link);
    // An elementwise kernel that absorbed the layers before it (QuickGelu: the Sigmoid and the α Mul inside the
    // last Mul; LayerNormalization: the other eight ops, in its Mul by γ) computes their work too, reads what the
    // group reads from outside it (each tensor once) and never moves the tensors passed between its ops.
    const inner = cls === 'elementwise' && !q ? (feeders.get(i) ?? []) : [];
    const read = inner.length > 0 ? groupInputBytes([i, ...inner].map((j) => links[j])) : (link?.inputBytes ?? 0);
    const bytes = ZERO_COPY.has(l.op) ? 0 : read + (link?.outputBytes ?? l.activationBytes);
    const weights = Math.min(bytes, l.weightBytes + inner.reduce((sum, j) => sum + report.layers[j].weightBytes, 0));
    // Report MACs are per inference (times the loop multiplier); the roofline applies to one execution.
    const conv = link ? timedConvOf(link) : null;
    const once = (flopsOf(l) + inner.reduce((sum, j) => sum + flopsOf(report.layers[j]), 0)) / l.executions;
    // The layout plan's path: null for a conv ORT's blocked kernels cannot take at all (not float32, not 2-D).
    // A conv in QDQ form that ORT leaves unfused runs as a float conv whose weights a DequantizeLinear makes on each
    // run: not constant, so not the NCHWc kernels (their filters are reordered once, at load) but the generic path.
    const t = link?.traits;
    const unfusedQdq = profile.int8 !== undefined && q === null && t?.kind === 'conv' && t.form === 'qdq' && !t.transposed && t.geometry.kernel.length === 2;
    const path = unfusedQdq ? 'generic' : layout[i].path;
    // Its grouped convs expand each group on its own, and next to nothing for a tap that reads padding (int8.ts).
    if (unfusedQdq && conv && t.geometry.group > 1) conv.inputTaps = inputTaps(link);
    // A plain-layout Resize at its kernel's calibrated rate (resize.ts); ORT's blocked Upsample keeps the roofline.
    const resize = profile.resizeNsPerOutput && link && !layout[i].upsample && (q === null || (q.kind === 'kernel' && q.qdq)) ? resizeKernel(link, q !== null, channelsLast.has(i)) : null;
    // A float pool in NCHW at MLAS's vector pool kernel's calibrated rates (pool.ts), plus the executor's dispatch.
    const pool = profile.plainPool && q === null && link && !layout[i].blockedPool ? poolLinkWork(link) : null;
    const modelled = layout[i].replaced
      ? { ms: 0, bound: 'memory' as const }
      : pool
      ? { ms: poolNs(profile.plainPool!, pool) / 1e6 + profile.overheadUs.elementwise / 1e3, bound: 'compute' as const }
      : resize && link.outputShape
      ? { ms: resizeMs(profile.resizeNsPerOutput!, resize, link.outputShape.reduce((a, b) => a * b, 1), profile.overheadUs.elementwise), bound: 'memory' as const }
      : q
      ? int8Time(profile, q, cls, once, link, bytes - weights, weights, cold)
      : conv && path
        ? convTime(profile, cls, conv, once, bytes - weights, weights, cold, path)
        : ((link && convTransposeTime(profile, link, once, bytes - weights, weights, cold)) ??
          recurrentTime(profile, link, l.otherFlops / l.executions, cold) ??
          kernelTime(withOpOverhead(profile, cls, link, layerNormKernels.has(i) ? 'LayerNormalization' : undefined), cls, once, bytes - weights, weights, cold, elementwiseRate(profile, link, cls)));
    // A layer shape the lookup table has: ORT's kernel time as measured, plus the executor's dispatch (the
    // per-op cost of the cheapest op, overheadUs.elementwise); the bound stays the roofline's.
    signatures[i] = layout[i].replaced ? null : layerSignature(link, fusedOps.get(i) ?? [], path);
    const measured = signatures[i] === null ? undefined : lut?.get(signatures[i]!);
    // What a float kernel pays beyond it: MLAS's pass over its output for a fused activation other than Relu; for an
    // If, the values its branch's frame is set up with beyond the one the calibrated If reads.
    const frameMs = link?.branchValues && profile.ifValueUs ? (Math.max(0, link.branchValues - 1) * profile.ifValueUs) / 1e3 : 0;
    const withExtras = q === null ? { ms: modelled.ms + fusedActivationMs(profile, fusedOps.get(i), link) + frameMs, bound: modelled.bound } : modelled;
    const k = measured === undefined ? withExtras : { ms: measured + profile.overheadUs.elementwise / 1e3, bound: modelled.bound };
    // ORT's transposes of a QLinearConv's 8-bit tensors to and from NHWC next to float ops (int8.ts).
    const transposed = q?.kind === 'kernel' && q.transposedElements > 0 ? reorderTime(profile, { count: q.transposes, bytes: 2 * q.transposedElements }) : 0;
    const layoutMs = (reorderTime(profile, layout[i].reorders) + transposed) * l.executions;
    const ms = k.ms * l.executions + layoutMs;
    total += ms;
    let separation: LayerLatency['separation'] = null;
    const pair = link ? separatedTime(profile, l, link, cold) : null;
    // The layout conversions this conv needs at its input stay with the pair that replaces it.
    const after = pair === null ? null : (pair + reorderTime(profile, layout[i].reorders)) * l.executions;
    if (after !== null && l.separable) {
      separation = { beforeMs: ms, afterMs: after, macRatio: l.separable.macsAfter / l.separable.macs, timeRatio: after / ms };
      saved += ms - after;
    }
    return { latencyMs: ms, bound: k.bound, fusedInto: null, separation, convPath: path, layoutMs, ...(lut ? { latencySource: measured === undefined ? ('model' as const) : ('measured' as const) } : {}) };
  });
  return {
    layers,
    totals: { latencyMs: total, latencyIfSeparatedMs: total - saved, device: profile.name, calibrated: profile.calibrated },
    notes,
    signatures,
  };
}

/** The optional post-pass of `mbn analyze --device`: latency (and energy, src/latency/energy.ts) fields on each layer and in the totals. */
export type LatencyReport = Omit<Report, 'layers' | 'totals'> & {
  layers: (LayerReport & Partial<LayerLatency> & Partial<LayerEnergy>)[];
  totals: Report['totals'] & Partial<LatencyTotals> & Partial<EnergyTotals>;
};

export function addLatency(report: Report, links: readonly LayerLink[], profile: DeviceProfile): LatencyReport {
  const { layers, totals, notes } = predictLatency(report, links, profile);
  const out: LatencyReport = report;
  out.notes.push(...notes);
  out.layers.forEach((l, i) => Object.assign(l, layers[i]));
  Object.assign(out.totals, totals);
  return out;
}

/** The elements one output of a pool reads: the product of its kernel_shape (1 where the attribute is missing). */
function poolWindow(link: LayerLink): number {
  return (link.ints.kernel_shape ?? [1]).reduce((a, b) => a * b, 1);
}
