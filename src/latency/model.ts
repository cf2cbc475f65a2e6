import type { LayerReport, Report } from '../cost/analyze.js';
import type { SeparableInfo } from '../cost/separable.js';
import type { LayerLink } from './graph.js';
import type { DeviceProfile, OpClass } from './profile.js';

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
 * one inference call (runOverheadUs). Pure: report in, figures out.
 */
export type Bound = 'compute' | 'memory' | 'overhead';

export interface LayerLatency {
  latencyMs: number;
  bound: Bound | null;
  /** The layer this one is predicted to run inside (fused); null for a layer with a kernel of its own. */
  fusedInto: string | null;
  /** For a standard conv: predicted time before and after depthwise separation. */
  separation: { beforeMs: number; afterMs: number; macRatio: number; timeRatio: number } | null;
}

export interface LatencyTotals {
  latencyMs: number;
  /** Predicted latency if every standard conv were separated. */
  latencyIfSeparatedMs: number;
  device: string;
  calibrated: boolean;
}

const FOLDED_INTO_PRODUCER = new Set(['Relu', 'Clip', 'LeakyRelu', 'BatchNormalization', 'Add', 'Sum', 'HardSigmoid', 'Identity', 'Dropout']);
const ZERO_COPY = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout']);
const HEAVY = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

export function opClass(l: LayerReport, link: LayerLink | undefined): OpClass {
  if (l.op === 'Conv' || l.op === 'ConvTranspose') {
    if (link && link.group > 1 && link.group === link.inChannels) return 'depthwise';
    if (l.op === 'Conv' && link?.kernelSize === 1) return 'pointwise';
    return 'conv';
  }
  if (l.op === 'Gemm' || l.op === 'MatMul') return 'gemm';
  return 'elementwise';
}

/**
 * Roofline time of one kernel, ms, and what bounds it. Activations come from the cache when they fit in it (the
 * layer before has just written them); weights too, unless `weightsCold`: when the model's weights do not fit in
 * the cache, each layer's are streamed from DRAM on every inference.
 */
export function kernelTime(profile: DeviceProfile, cls: OpClass, flops: number, activationBytes: number, weightBytes = 0, weightsCold = false): { ms: number; bound: Bound } {
  const computeUs = flops / (profile.gflops[cls] * 1e3);
  const actGBps = activationBytes + (weightsCold ? 0 : weightBytes) <= profile.cacheBytes ? profile.cacheGBps : profile.memoryGBps;
  const memoryUs = weightsCold ? activationBytes / (actGBps * 1e3) + weightBytes / (profile.memoryGBps * 1e3) : (activationBytes + weightBytes) / (actGBps * 1e3);
  const overheadUs = profile.overheadUs[cls];
  const bound: Bound = overheadUs > Math.max(computeUs, memoryUs) ? 'overhead' : computeUs >= memoryUs ? 'compute' : 'memory';
  return { ms: (Math.max(computeUs, memoryUs) + overheadUs) / 1e3, bound };
}

/** Which layers the runtime folds into a preceding conv/GEMM: layer index → index of the kernel it runs in. */
export function foldedLayers(links: readonly LayerLink[]): Map<number, number> {
  const producer = new Map<string, number>();
  const consumers = new Map<string, number>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    for (const o of l.outputs) if (o) producer.set(o, i);
    for (const x of l.inputs) if (x) consumers.set(x, (consumers.get(x) ?? 0) + 1);
  });
  const folded = new Map<number, number>();
  // Swish x·Sigmoid(x) runs as one kernel (ORT's QuickGelu fusion): the Sigmoid folds into its Mul.
  links.forEach((l, i) => {
    if (l.scope !== '' || l.op !== 'Sigmoid' || !l.outputs[0] || consumers.get(l.outputs[0]) !== 1) return;
    const mul = links.findIndex((m) => m.scope === '' && m.op === 'Mul' && m.inputs.includes(l.outputs[0]) && m.inputs.includes(l.inputs[0]));
    if (mul >= 0) folded.set(i, mul);
  });
  links.forEach((l, i) => {
    if (l.scope !== '' || !FOLDED_INTO_PRODUCER.has(l.op) || folded.has(i)) return;
    for (const x of l.inputs) {
      const p = x ? producer.get(x) : undefined;
      if (p === undefined || consumers.get(x) !== 1) continue;
      const head = HEAVY.has(links[p].op) ? p : folded.get(p);
      // Only one layer may fold a given output; the add of a residual folds into the conv on one side.
      if (head !== undefined && links[head].op !== 'MatMul') {
        folded.set(i, head);
        return;
      }
    }
  });
  return folded;
}

function flopsOf(l: LayerReport): number {
  return 2 * l.macs + l.otherFlops;
}

/**
 * Predicted time of one execution of a standard conv once separated (depthwise then pointwise), ms; `s` is the
 * separation's geometry (the layer's own at multiplier 1 unless given).
 */
export function separatedTime(
  profile: DeviceProfile,
  l: LayerReport,
  link: LayerLink,
  weightsCold: boolean,
  s: (Pick<SeparableInfo, 'M' | 'N' | 'group' | 'kernel' | 'multiplier'> & { macs: number | null }) | null = l.separable,
): number | null {
  if (!s || s.macs === null || link.inputBytes === null || link.outputBytes === null) return null;
  const K = s.kernel.reduce((a, b) => a * b, 1);
  const pixels = s.macs / (s.N * (s.M / s.group) * K);
  const elementBytes = link.outputBytes / (pixels * s.N);
  const inBytes = link.inputBytes - l.weightBytes;
  const midBytes = pixels * s.M * s.multiplier * elementBytes;
  const dwMacs = pixels * s.M * s.multiplier * K;
  const pwMacs = pixels * s.N * ((s.M * s.multiplier) / s.group);
  const dw = kernelTime(profile, 'depthwise', 2 * dwMacs, inBytes + midBytes, s.M * s.multiplier * K * 4, weightsCold);
  const pw = kernelTime(profile, 'pointwise', 2 * pwMacs, midBytes + link.outputBytes, s.N * ((s.M * s.multiplier) / s.group) * 4, weightsCold);
  return dw.ms + pw.ms;
}

/** Whether the model's weights exceed the cache, so that every inference streams them from DRAM. */
export function weightsCold(report: Report, profile: DeviceProfile): boolean {
  return report.totals.weightBytes > profile.cacheBytes;
}

/** Per-layer predictions, in report order. `links` must come from the same inference as the report. */
export function predictLatency(report: Report, links: readonly LayerLink[], profile: DeviceProfile): { layers: LayerLatency[]; totals: LatencyTotals } {
  const folded = foldedLayers(links);
  const cold = weightsCold(report, profile);
  let total = profile.runOverheadUs / 1e3;
  let saved = 0;
  const layers = report.layers.map((l, i): LayerLatency => {
    const link = links[i];
    const head = folded.get(i);
    if (head !== undefined) return { latencyMs: 0, bound: null, fusedInto: report.layers[head].name, separation: null };
    if (l.executions === 0) return { latencyMs: 0, bound: null, fusedInto: null, separation: null };
    // Outputs known before run time: ORT folds the layer into a constant when it loads the model.
    if (link?.folded) return { latencyMs: 0, bound: null, fusedInto: null, separation: null };
    const bytes = ZERO_COPY.has(l.op) ? 0 : (link?.inputBytes ?? 0) + (link?.outputBytes ?? l.activationBytes);
    const weights = Math.min(bytes, l.weightBytes);
    // Report MACs are per inference (times the loop multiplier); the roofline applies to one execution.
    const k = kernelTime(profile, opClass(l, link), flopsOf(l) / l.executions, bytes - weights, weights, cold);
    const ms = k.ms * l.executions;
    total += ms;
    let separation: LayerLatency['separation'] = null;
    const once = link ? separatedTime(profile, l, link, cold) : null;
    const after = once === null ? null : once * l.executions;
    if (after !== null && l.separable) {
      separation = { beforeMs: ms, afterMs: after, macRatio: l.separable.macsAfter / l.separable.macs, timeRatio: after / ms };
      saved += ms - after;
    }
    return { latencyMs: ms, bound: k.bound, fusedInto: null, separation };
  });
  return {
    layers,
    totals: { latencyMs: total, latencyIfSeparatedMs: total - saved, device: profile.name, calibrated: profile.calibrated },
  };
}

/** The optional post-pass of `mbn analyze --device`: latency fields on each layer and in the totals. */
export type LatencyReport = Omit<Report, 'layers' | 'totals'> & {
  layers: (LayerReport & Partial<LayerLatency>)[];
  totals: Report['totals'] & Partial<LatencyTotals>;
};

export function addLatency(report: Report, links: readonly LayerLink[], profile: DeviceProfile): LatencyReport {
  const { layers, totals } = predictLatency(report, links, profile);
  const out: LatencyReport = report;
  out.layers.forEach((l, i) => Object.assign(l, layers[i]));
  Object.assign(out.totals, totals);
  return out;
}
