import type { LayerLink } from './graph.js';
import { planLayout } from './layout.js';
import { foldedLayers, memoryLevelOf, separatedPair, weightsCold, ZERO_COPY } from './model.js';
import type { EnergyTotals, LayerEnergy } from './energy-constants.js';
import type { LayerReport, Report } from '../contract/analyze.js';
import type { DeviceProfile, EnergyConstants, Precision } from '../contract/device.js';
import type { EnergyBasis } from '../contract/messages.js';
import { appendTo } from '../util/multimap.js';

/**
 * Energy per inference, an estimate: compute plus data movement, after Horowitz (ISSCC 2014) and the energy-aware
 * pruning of Yang, Chen and Sze (CVPR 2017):
 *   energy = Σ MACs × pJ per MAC at the layer's precision + Σ bytes moved × pJ per byte at the level they come from.
 * A non-MAC FLOP (activation, pooling, normalisation) counts as half a MAC (a MAC is two FLOPs). The bytes a layer
 * moves, and whether they come from on-chip memory (the core's cache, or the last-level cache) or from DRAM, follow
 * the latency model's cache rule (src/latency/model.ts: `memoryLevelOf`, `weightsCold`): activations whose working
 * set fits a cache level come from it, weights from where the whole model's weights fit. Layers the runtime fuses
 * into the kernel before them compute but move nothing of their own; layers folded into constants cost nothing.
 * Pure: report in, figures out.
 */
/**
 * The energy class of a layer's arithmetic, from its precision as the report reads it from the model
 * (src/cost/precision.ts: `A` or `A/W`, with QDQ groups and QOperator ops already 8-bit): the activation type A
 * decides (`float32/float16` computes in float32 on weights cast up).
 */
export function energyPrecision(precision: string): Precision {
  const activations = precision.split('/')[0];
  if (activations === 'float16' || activations === 'bfloat16') return 'fp16';
  if (activations === 'int8' || activations === 'uint8') return 'int8';
  return 'fp32';
}

/** A float conv or matrix product made integer by QDQ: its graph tensors are float, the kernel's are 8-bit. */
function isQdqKernel(link: LayerLink, precision: string): boolean {
  const t = link.traits;
  return (t?.kind === 'conv' || t?.kind === 'matmul') && (t.form === 'float' || t.form === 'qdq') && energyPrecision(precision) === 'int8';
}

const PJ_PER_MJ = 1e9;

/** Bytes split by level: `dram` and `onChip`. */
interface Moved {
  dram: number;
  onChip: number;
}

/**
 * Where one execution's bytes come from: activations by their working set (with the weights when the model's
 * weights stay in the core's cache), weights from where the model's weights fit (`weightsCold`).
 */
function bytesByLevel(profile: DeviceProfile, activationBytes: number, weightBytes: number, cold: ReturnType<typeof weightsCold>): Moved {
  const together = cold === false;
  const actLevel = memoryLevelOf(profile, activationBytes + (together ? weightBytes : 0));
  const moved: Moved = { dram: 0, onChip: 0 };
  const add = (level: ReturnType<typeof memoryLevelOf>, bytes: number) => {
    if (level === 'dram') moved.dram += bytes;
    else moved.onChip += bytes;
  };
  add(actLevel, activationBytes + (together ? weightBytes : 0));
  if (!together) add(cold === 'llc' ? 'llc' : 'dram', weightBytes);
  return moved;
}

function movementPj(e: EnergyConstants, m: Moved): number {
  return m.dram * e.pjPerByteDram + m.onChip * e.pjPerByteOnChip;
}

/**
 * Energy of one execution of a standard conv once separated (depthwise then pointwise), pJ: the pair's MACs, and
 * the bytes each moves (the intermediate tensor is written by one and read by the other).
 */
function separatedPj(profile: DeviceProfile, e: EnergyConstants, l: LayerReport, link: LayerLink, precision: Precision, cold: ReturnType<typeof weightsCold>): number | null {
  const s = l.separable;
  const pair = separatedPair(l, link, s);
  if (!s || !pair) return null;
  const { K, elementBytes, inBytes, outBytes, mid, midBytes, dwMacs, pwMacs } = pair;
  const dwWeights = mid * K * elementBytes;
  const pwWeights = s.N * (mid / s.group) * elementBytes;
  const dw = bytesByLevel(profile, inBytes + midBytes, dwWeights, cold);
  const pw = bytesByLevel(profile, midBytes + outBytes, pwWeights, cold);
  return (dwMacs + pwMacs) * e.pjPerMac[precision] + movementPj(e, dw) + movementPj(e, pw);
}

/** Per-layer energy and totals, in report order. `links` must come from the same inference as the report. */
export function predictEnergy(report: Report, links: readonly LayerLink[], profile: DeviceProfile): { layers: LayerEnergy[]; totals: EnergyTotals } {
  const e = profile.energy;
  const basis: EnergyBasis = e
    ? { code: 'energy-estimate', device: profile.name, fittedSamples: e.fit ? e.fit.samples : null }
    : { code: 'energy-unknown', device: profile.name };
  const folded = foldedLayers(links, report.model.outputs.map((o) => o.name));
  const qdq = qdqFusion(links, report.layers.map((l) => l.precision), folded);
  const cold = weightsCold(report, profile);
  const layout = planLayout(links, folded, profile.nchwcBlock ?? 1, report.model.outputs.map((o) => o.name));
  let compute = 0;
  let movement = 0;
  let saved = 0;
  let known = e !== undefined;
  const layers = report.layers.map((l, i): LayerEnergy => {
    const link = links[i];
    const precision = energyPrecision(l.precision);
    const zero: LayerEnergy = { energyMj: e ? 0 : null, energyPrecision: precision, energyDramBytes: 0, energyOnChipBytes: 0 };
    if (l.executions === 0 || link?.atLoad) return zero;
    const macPj = e ? e.pjPerMac[precision] : 0;
    const computePj = (l.macs + l.otherFlops / 2) * macPj;
    // The (De)QuantizeLinear around an integer kernel: ONNX Runtime folds them into it (QLinearConv).
    if (qdq.absorbed.has(i)) return zero;
    // Fused into the kernel before it: computes, but its input and output never leave that kernel.
    if ((folded.has(i) && !layout[i].unfused) || ZERO_COPY.has(l.op)) {
      compute += computePj;
      return { ...zero, energyMj: e ? computePj / PJ_PER_MJ : null };
    }
    if (!link || link.inputBytes === null || link.outputBytes === null) {
      known = false;
      return { energyMj: null, energyPrecision: precision, energyDramBytes: null, energyOnChipBytes: null };
    }
    // An integer kernel made from QDQ reads and writes 8-bit tensors where the graph shows float ones.
    const narrow = qdq.kernels.get(i) ?? 1;
    const bytes = (link.inputBytes + link.outputBytes) * narrow;
    const weights = Math.min(bytes, l.weightBytes * narrow);
    const once = bytesByLevel(profile, bytes - weights, weights, cold);
    // ONNX Runtime's layout conversions for this layer: each a copy read and written at its own size's level.
    const r = layout[i].reorders;
    if (r.count > 0) {
      const perCopy = r.bytes / r.count;
      const level = memoryLevelOf(profile, perCopy);
      if (level === 'dram') once.dram += r.bytes;
      else once.onChip += r.bytes;
    }
    const moved = { dram: once.dram * l.executions, onChip: once.onChip * l.executions };
    const movePj = e ? movementPj(e, moved) : 0;
    compute += computePj;
    movement += movePj;
    if (e && l.separable) {
      const pair = separatedPj(profile, e, l, link, precision, cold);
      if (pair !== null) saved += computePj + movePj - pair * l.executions;
    }
    return { energyMj: e ? (computePj + movePj) / PJ_PER_MJ : null, energyPrecision: precision, energyDramBytes: moved.dram, energyOnChipBytes: moved.onChip };
  });
  const total = known ? (compute + movement) / PJ_PER_MJ : null;
  return {
    layers,
    totals: {
      energyMj: total,
      computeEnergyMj: known ? compute / PJ_PER_MJ : null,
      movementEnergyMj: known ? movement / PJ_PER_MJ : null,
      energyIfSeparatedMj: total === null ? null : total - saved / PJ_PER_MJ,
      energyBasis: basis,
    },
  };
}

/**
 * ONNX Runtime's QDQ fusion as it bears on bytes: a conv or GEMM whose inputs both come from DequantizeLinear runs
 * as one integer kernel (QLinearConv, QLinearMatMul) on 8-bit tensors. `kernels` maps each such layer to the
 * factor from its graph tensors' element size to one byte; `absorbed` holds the DequantizeLinear layers that feed
 * only such kernels and the QuantizeLinear layers right after one (or after an activation fused into one).
 */
export function qdqFusion(links: readonly LayerLink[], precisions: readonly string[], folded: ReadonlyMap<number, number>): { kernels: Map<number, number>; absorbed: Set<number> } {
  const kernels = new Map<number, number>();
  links.forEach((l, i) => {
    if (l.scope !== '' || !isQdqKernel(l, precisions[i]) || !l.outputShape || l.outputBytes === null || l.outputs.length !== 1) return;
    const elements = l.outputShape.reduce((a, b) => a * b, 1);
    if (elements > 0) kernels.set(i, 1 / (l.outputBytes / elements));
  });
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    for (const o of l.outputs) if (o) producer.set(o, i);
    for (const x of l.inputs) if (x) appendTo(consumers, x, i);
  });
  const absorbed = new Set<number>();
  links.forEach((l, i) => {
    if (l.scope !== '') return;
    if (l.op === 'DequantizeLinear') {
      const users = consumers.get(l.outputs[0]) ?? [];
      if (users.length > 0 && users.every((u) => kernels.has(u))) absorbed.add(i);
    } else if (l.op === 'QuantizeLinear') {
      const p = producer.get(l.inputs[0]);
      const head = p === undefined ? undefined : kernels.has(p) ? p : folded.get(p);
      if (head !== undefined && kernels.has(head)) absorbed.add(i);
    }
  });
  return { kernels, absorbed };
}

/** The optional post-pass of `mbn analyze --device`: energy fields on each layer and in the totals. */
export function addEnergy<R extends Report>(report: R, links: readonly LayerLink[], profile: DeviceProfile): R {
  const { layers, totals } = predictEnergy(report, links, profile);
  report.layers.forEach((l, i) => Object.assign(l, layers[i]));
  Object.assign(report.totals, totals);
  return report;
}
