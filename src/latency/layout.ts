import { isDepthwise } from '../ops/conv.js';
import type { ConvTraits } from '../ops/define.js';
import type { LayerLink } from './graph.js';
import { resizeScales } from './resize.js';

/**
 * Which memory layout ONNX Runtime's CPU provider runs each layer in. On CPUs where its math library (MLAS) has
 * blocked-channel kernels (x86-64: a block of 8 channels with AVX2, 16 with AVX-512), ORT's NCHWc transformer
 * rewrites the convs and pools it can into an NCHWc layout (channels in blocks of `block`), pads output channels
 * to the block, and inserts layout conversions (ReorderInput, ReorderOutput) where a blocked tensor meets an op
 * that needs plain NCHW. The rules below follow ORT's `nchwc_transformer.cc`; `test/latency-layout.test.ts` checks
 * them against the graph ORT itself writes out after optimizing.
 *
 *   - `nchwc`: a blocked conv kernel (the calibrated conv, pointwise and depthwise rates apply, on padded channels);
 *   - `nchw-input`: a blocked conv reading a plain NCHW input with fewer channels than the block (a model's first
 *     conv, or a 1×1 conv on a thin bottleneck): its inner loop is short, so it pays per output element;
 *   - `generic`: everything else (channel counts the blocks cannot take, grouped convs with thin groups): MLAS's
 *     im2col then GEMM, per group.
 */
export type ConvPath = 'nchwc' | 'nchw-input' | 'generic';

/**
 * ORT's rule for one Conv with weights [cout, cinPerGroup, k, k] in `group` groups, as ONNX Runtime 1.30 applies it
 * (its NCHWc transformer; the layout conversion works on multiples of 4 channels): a depthwise conv whose channels
 * are a multiple of 4, and a dense conv with at least a block of input channels that are a multiple of 4, run
 * blocked with channels padded to the block; a dense conv with fewer input channels than the block reads its NCHW
 * input directly; a grouped conv runs blocked only when each group has whole blocks of input and output channels.
 */
export function convPathOf(cinPerGroup: number, cout: number, group: number, block: number): ConvPath {
  if (block <= 1) return 'nchwc';
  if (group > 1) {
    // ORT's depthwise kernel: a depthwise conv with one filter per channel (depth multiplier 1).
    if (isDepthwise(cinPerGroup * group, group) && cout === group) return cout % 4 === 0 ? 'nchwc' : 'generic';
    return cinPerGroup % block === 0 && (cout / group) % block === 0 ? 'nchwc' : 'generic';
  }
  if (cinPerGroup < block) return 'nchw-input';
  return cinPerGroup % 4 === 0 ? 'nchwc' : 'generic';
}

/**
 * Work of a conv on its path over its real work: blocked kernels compute whole blocks of output channels (and of
 * input channels, for a dense conv reading a blocked input).
 */
export function paddingFactor(path: ConvPath, cinPerGroup: number, cout: number, group: number, block: number): number {
  if (path === 'generic' || block <= 1) return 1;
  const out = padChannels(cout, block) / cout;
  return path === 'nchwc' && group === 1 ? out * (padChannels(cinPerGroup, block) / cinPerGroup) : out;
}

/** Channels rounded up to the block. */
export function padChannels(channels: number, block: number): number {
  return block <= 1 ? channels : Math.ceil(channels / block) * block;
}

/**
 * A conv ORT's transformer may take: a float Conv, 2-D, float32, static float weights (and bias). A float32 conv of
 * another rank (1-D: an STFT filter bank, an audio encoder) runs ORT's generic kernel, im2col then GEMM.
 */
function convPath(t: ConvTraits, link: LayerLink, block: number): ConvPath | null {
  const g = t.geometry;
  if (t.form !== 'float' || !link.float32) return null;
  if (g.kernel.length !== 2) return 'generic';
  if (!link.weightInputs.includes(link.inputs[t.weight])) return 'generic';
  if (t.bias !== null && !link.weightInputs.includes(link.inputs[t.bias])) return 'generic';
  return convPathOf(g.inChannels / g.group, g.outChannels, g.group, block);
}

export interface LayerLayout {
  /** A Conv: the kernel family ORT runs it with (null for other layers). */
  path: ConvPath | null;
  /** A conv on a blocked path: output channels padded to the block over the real ones (1 when none are added). */
  padding: number;
  /** Layout conversions ORT inserts because of this layer, and the bytes they read and write. */
  reorders: { count: number; bytes: number };
  /** The layer itself is replaced by its one layout conversion (a Transpose to NHWC of a blocked tensor). */
  replaced?: boolean;
  /**
   * The fusion rules fold this layer into the conv before it, but the blocked layout keeps it apart: a residual
   * Add whose other input is in plain NCHW (ORT fuses a sum into a blocked conv only when both are blocked), and
   * what was to follow it into the conv (its Relu). It runs as a kernel of its own.
   */
  unfused?: boolean;
  /** A Resize ORT runs as its blocked NCHWc Upsample (not one of the plain-layout Resize kernels of resize.ts). */
  upsample?: boolean;
  /** A MaxPool or AveragePool ORT runs as its blocked NCHWc kernel (not MLAS's NCHW pool of pool.ts). */
  blockedPool?: boolean;
}

/** Bytes a layout conversion of a float32 [N, C, spatial…] tensor reads and writes (one side padded to the block). */
function reorderBytes(shape: number[], block: number): number {
  const [n, c, ...spatial] = shape;
  const pixels = spatial.reduce((a, b) => a * b, 1);
  return 4 * n * pixels * (c + padChannels(c, block));
}

const BLOCKED_ACTIVATIONS = new Set(['Relu', 'Sigmoid', 'Tanh', 'BatchNormalization']);
const BLOCKED_POOLS = new Set(['MaxPool', 'AveragePool']);
const BLOCKED_GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool']);

/**
 * ORT's NCHWc Upsample (TransformResize): static whole-number scales of the spatial dims only (from the `scales`
 * input, or from `sizes` over the input's shape) and, from opset 11, nearest mode with coordinate mode "asymmetric"
 * and nearest_mode "floor" (both given), or linear mode with "half_pixel" (MLSD's tf2onnx upsampling: ORT 1.30
 * runs it as a blocked Upsample, scales [1, 1, 2, 2]).
 */
function blockedResize(l: LayerLink): boolean {
  const mode = l.strings.mode ?? 'nearest';
  const v11 = l.op === 'Resize' && l.inputs.length >= 3;
  if (v11) {
    const coordinates = l.strings.coordinate_transformation_mode ?? 'half_pixel';
    const nearest = mode === 'nearest' && coordinates === 'asymmetric' && l.strings.nearest_mode === 'floor';
    if (!nearest && !(mode === 'linear' && coordinates === 'half_pixel')) return false;
  } else if (mode !== 'nearest') return false;
  const scales = resizeScales(l);
  return !!scales && scales.length === 4 && scales.every((v) => Number.isInteger(v) && v > 0) && scales[0] === 1 && scales[1] === 1;
}

/**
 * Layout of every layer, in report order. `fusedInto` maps a layer to the kernel ORT runs it inside (the latency
 * model's fusion rules); `graphOutputs` are the model's output names (a blocked graph output is converted back);
 * `integerKernels` are the layers ORT runs as integer kernels (src/latency/int8.ts).
 */
export function planLayout(links: readonly LayerLink[], fusedInto: ReadonlyMap<number, number>, block: number, graphOutputs: readonly string[], integerKernels: ReadonlySet<number> = new Set()): LayerLayout[] {
  const plan: LayerLayout[] = links.map(() => ({ path: null, padding: 1, reorders: { count: 0, bytes: 0 } }));
  // No blocked kernels (or a profile that does not say): nothing to plan, every conv at its class rate.
  if (block <= 1) return plan;
  /** Tensors held in the blocked layout: logical channels and shape. */
  const blocked = new Map<string, { channels: number; shape: number[] }>();
  /** Tensors already converted (each conversion is shared by every reader). */
  const convertedIn = new Set<string>();
  const convertedOut = new Set<string>();
  const producer = new Map<string, number>();
  /** A merged Pad's output → its input: the conv or pool converts (or shares the conversion of) the unpadded tensor. */
  const padded = new Map<string, { name: string; shape: number[] | null }>();
  const toBlocked = (i: number, given: string, givenShape: number[] | undefined | null) => {
    const source = padded.get(given);
    const name = source ? source.name : given;
    const shape = source ? source.shape : givenShape;
    if (!name || convertedIn.has(name) || blocked.has(name) || !shape || shape.length !== 4) return;
    convertedIn.add(name);
    plan[i].reorders.count++;
    plan[i].reorders.bytes += reorderBytes(shape, block);
  };
  const toPlain = (i: number, name: string) => {
    const b = blocked.get(name);
    if (!b || convertedOut.has(name)) return;
    convertedOut.add(name);
    plan[i].reorders.count++;
    plan[i].reorders.bytes += reorderBytes(b.shape, block);
  };
  const plainReader = (i: number) => links[i].inputs.forEach((x) => x && toPlain(i, x));
  const setBlocked = (i: number, channels: number) => {
    const shape = links[i].outputShape;
    if (shape && shape.length === 4 && links[i].outputs[0]) blocked.set(links[i].outputs[0], { channels, shape });
  };
  links.forEach((l, i) => {
    if (l.atLoad) return;
    if (l.scope !== '') {
      // Inside an If or Loop body: only the generic path of a conv that is not 2-D (it needs no layout plan).
      const t = l.traits?.kind === 'conv' && !l.traits.transposed ? l.traits : null;
      if (t && t.geometry.kernel.length !== 2 && convPath(t, l, block) === 'generic') plan[i].path = 'generic';
      return;
    }
    for (const o of l.outputs) if (o) producer.set(o, i);
    const head = fusedInto.get(i);
    // A Pad merged into the conv or pool after it: its output is its input, in whatever layout that is.
    if (head !== undefined && head > i && l.op === 'Pad') {
      const from = blocked.get(l.inputs[0]);
      if (from && l.outputShape && l.outputs[0]) blocked.set(l.outputs[0], { channels: from.channels, shape: l.outputShape });
      if (l.outputs[0]) padded.set(l.outputs[0], { name: l.inputs[0], shape: l.inputShapes[0] });
      return;
    }
    // The Sigmoid and the α Mul of a swish x·Sigmoid(α·x), inside its last Mul (ORT's QuickGelu, which keeps x's
    // layout): blocked when x is.
    if (head !== undefined && head > i && links[head].op === 'Mul') {
      const from = blocked.get(l.inputs.find((t) => t !== '' && !l.weightInputs.includes(t)) ?? '');
      if (from) setBlocked(i, from.channels);
      return;
    }
    if (head !== undefined && head < i) {
      // Runs inside its head's kernel, blocked when the tensor it continues is.
      const own = l.inputs.find((t) => {
        const p = producer.get(t);
        return p !== undefined && (p === head || fusedInto.get(p) === head);
      });
      const ownProducer = own === undefined ? undefined : producer.get(own);
      const headBlocked = plan[head].path === 'nchwc' || plan[head].path === 'nchw-input';
      const plainOther = l.inputs.some((t) => t !== '' && t !== own && !l.weightInputs.includes(t) && !blocked.has(t));
      const apart = (ownProducer !== undefined && plan[ownProducer].unfused) || (headBlocked && (l.op === 'Add' || l.op === 'Sum') && plainOther);
      if (!apart) {
        const from = own === undefined ? undefined : blocked.get(own);
        if (from) setBlocked(i, from.channels);
        return;
      }
      // Kept apart from the conv: the ordinary rules below decide its layout.
      plan[i].unfused = true;
    }
    // An integer kernel (a fused QDQ conv) runs in ORT's NHWC integer layout, on plain tensors.
    if (integerKernels.has(i)) return plainReader(i);
    const inputs = l.inputs.filter((x) => x !== '');
    const x = l.inputs[0] ?? '';
    const xShape = l.inputShapes[0];
    const conv = l.traits?.kind === 'conv' && !l.traits.transposed ? l.traits : null;
    if (conv) {
      const path = convPath(conv, l, block);
      plan[i].path = path;
      if (path === 'nchwc' || path === 'nchw-input') {
        const g = conv.geometry;
        const cout = g.outChannels;
        plan[i].padding = paddingFactor(path, g.inChannels / g.group, cout, g.group, block);
        if (path === 'nchwc') toBlocked(i, x, xShape);
        else toPlain(i, x);
        setBlocked(i, cout);
      } else {
        plainReader(i);
      }
      return;
    }
    if (l.domain !== '' || !l.float32) return plainReader(i);
    const channels = xShape && xShape.length === 4 ? xShape[1] : null;
    if (BLOCKED_POOLS.has(l.op) && l.outputs.filter((o) => o).length === 1 && channels !== null && channels % block === 0) {
      toBlocked(i, x, xShape);
      plan[i].blockedPool = true;
      return setBlocked(i, channels);
    }
    const all = inputs.map((n) => blocked.get(n));
    const allBlocked = all.length > 0 && all.every((b) => b !== undefined);
    if (BLOCKED_GLOBAL_POOLS.has(l.op) || BLOCKED_ACTIVATIONS.has(l.op)) {
      if (allBlocked && (BLOCKED_ACTIVATIONS.has(l.op) || all[0]!.channels % block === 0)) return setBlocked(i, all[0]!.channels);
      return plainReader(i);
    }
    if ((l.op === 'Add' || l.op === 'Sum' || l.op === 'Mul') && allBlocked && all.every((b) => b!.channels === all[0]!.channels)) {
      const same = all.every((b) => b!.shape.every((d, k) => d === all[0]!.shape[k]));
      if (same || l.op !== 'Mul') return setBlocked(i, all[0]!.channels);
    }
    if (l.op === 'Concat' && (l.ints.axis?.[0] ?? 0) === 1 && allBlocked && all.every((b) => b!.channels % block === 0)) {
      return setBlocked(i, all.reduce((s, b) => s + b!.channels, 0));
    }
    if ((l.op === 'Resize' || l.op === 'Upsample') && all[0] !== undefined && blockedResize(l)) {
      plan[i].upsample = true;
      return setBlocked(i, all[0].channels);
    }
    // NCHW → NHWC of a blocked tensor (tf2onnx's output transposes): one conversion straight to channels-last.
    if (l.op === 'Transpose' && all[0] !== undefined && (l.ints.perm ?? []).join() === '0,2,3,1') {
      plan[i].replaced = true;
      plan[i].reorders.count++;
      plan[i].reorders.bytes += reorderBytes(all[0].shape, block);
      // Another plain reader of the same tensor still needs its own conversion.
      return;
    }
    plainReader(i);
  });
  // A blocked tensor the model returns is converted back, charged to the layer that wrote it.
  for (const name of graphOutputs) {
    const p = producer.get(name);
    if (p !== undefined) toPlain(p, name);
  }
  return plan;
}
