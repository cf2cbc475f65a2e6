import { basename } from 'node:path';
import { describeGaps } from '../budget/completeness.js';
import { buildReport } from '../cost/analyze.js';
import { type SeparableConv, type SeparationFigures, convTraitsOf, separableConv, separationFigures } from '../cost/separable.js';
import { MbnError, quote } from '../errors.js';
import { clipMiddle } from '../text.js';
import { type Attribute, type Graph, type Model, type Node, type TensorRef, attr } from '../ir/types.js';
import { hasExternalData } from '../ir/walk.js';
import { DataType, dtypeName } from '../onnx/dtype.js';
import { type NewAttribute, concatBytes, encodeNodeField, encodeTensorField, encodeValueInfoField, lengthField, varintField } from '../onnx/encode.js';
import type { DataPart } from '../onnx/external.js';
import { type MessageEdit, type Piece, emptyEdit, spliceMessage } from '../onnx/splice.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import { Reader } from '../onnx/wire.js';
import { layerLinks } from '../latency/graph.js';
import { predictLatency, separatedTime, weightsCold } from '../latency/model.js';
import { ShapeError } from '../ops/define.js';
import { product } from '../util/count.js';
import { checkConvDefinition } from '../ops/conv.js';
import { convLayoutOf } from '../ops/index.js';
import { type InferOptions, type InferResult, type LayerRecord, inferModel, layerTraits } from '../shape/infer.js';
import { NodeContext } from '../shape/node-context.js';
import { type FloatDType, decodeFloats, encodeFloats } from '../tensor/float.js';
import { type SeparatedWeights, composeSeparated, heNormalSeparated, separateConvWeight } from './decompose.js';
import { alignmentPadding, relocateExternalTensors } from './relocate.js';
import type { Report } from '../contract/analyze.js';
import type { DeviceProfile } from '../contract/device.js';

/**
 * `mbn separate`: choose standard convs, factor each into a depthwise conv (group = C, same kernel, strides,
 * pads, dilations, auto_pad) and a pointwise 1×1 conv (carrying the bias, keeping the groups), and describe the
 * result as byte-range edits of the original file. Planning is pure over the model; writing is done by the caller.
 */

export interface SeparateOptions extends InferOptions {
  include: string[];
  exclude: string[];
  /** Minimum share of a layer's MACs that separation must save (0..1). */
  minReduction: number | null;
  /** Maximum relative weight error ‖W − W'‖/‖W‖ (svd init only). */
  maxError: number | null;
  /** Separate greedily until the model's MACs fit this budget. */
  targetMacs: number | null;
  multiplier: number;
  /** Rewrite convs whose pair costs more too (r·(g/N + 1/K) ≥ 1); by default they are left alone. */
  allowCostlier: boolean;
  init: 'svd' | 'he';
  seed: number;
  /** --max-error is judged on calibration data after planning, not on the weight error. */
  errorOnData?: boolean;
  /** --refit-depthwise: with calibration data, refit the depthwise filters too (calibrate/run.ts). */
  refitDepthwise?: boolean;
  /** Node-name glob matcher (kept injectable so that selection stays a pure function). */
  matches: (name: string, pattern: string) => boolean;
  /** Told how many of the eligible layers' weights are computed so far (the slow part of planning). */
  progress?: (done: number, total: number) => void;
  /** `--target-latency MS --device P`: separate, by predicted time saved, until the predicted latency fits. */
  targetLatency?: { ms: number; profile: DeviceProfile } | null;
}

export interface CandidateLayer {
  name: string;
  node: Node;
  graph: Graph | null;
  /** Channels, groups and kernel, from the weight: all the rewrite needs. */
  conv: SeparableConv | null;
  /** Output pixels per execution (batch × feature map), null when the output shape is unknown: MACs need it. */
  pixels: number | null;
  /** Executions per inference (0 for a layer in an If branch that is not counted). */
  executions: number;
  /** Why the layer is not rewritten; null when it is. */
  skipped: string | null;
  /** Whether the conv could be rewritten at all (selection options aside). */
  eligible: boolean;
  info: SeparationFigures | null;
  weight: { tensor: TensorRef; viaConstant: Node | null } | null;
  weights: SeparatedWeights | null;
  relativeError: number | null;
}

export interface SeparatePlan {
  layers: CandidateLayer[];
  chosen: CandidateLayer[];
  before: Report;
  /** Projected totals after the rewrite (MACs leave out the rewritten layers whose MACs are unknown). */
  macsAfter: number;
  paramsAfter: number;
  /** Whether the model's MACs are known: no assumed non-batch input dim, no running layer or rewritten conv uncounted. */
  macsKnown: boolean;
  /** Set with --target-macs: whether the budget is met, and the best reachable figure. */
  target: { macs: number; met: boolean } | null;
  notes: string[];
  /** The model's graphs, names and readers, indexed once for planning and reused by the rewrite. */
  index: GraphIndex;
}

export const FLOAT_DTYPES: Record<number, FloatDType> = {
  [DataType.FLOAT]: 'float32',
  [DataType.FLOAT16]: 'float16',
  [DataType.BFLOAT16]: 'bfloat16',
  [DataType.DOUBLE]: 'float64',
};

export interface GraphIndex {
  /** Graph holding each conv node (function bodies are not indexed: their convs are not rewritten). */
  graphOf: Map<Node, Graph>;
  parent: Map<Graph, { graph: Graph; node: Node; attribute: Attribute }>;
  initializers: Map<Graph, Map<string, TensorRef>>;
  constants: Map<Graph, Map<string, Node>>;
  /**
   * How many node inputs and graph outputs read each name, and every name, model-wide: filled by indexNames only
   * when a conv is rewritten (a graph may have millions of names, and a plan that rewrites nothing needs none).
   */
  readers: Map<string, number>;
  names: Set<string>;
}

/** A forward conv of any form (ConvTranspose is not separated): the nodes the plan lists. */
function isForwardConv(node: Node): boolean {
  const layout = convLayoutOf(node);
  return layout !== null && !layout.transposed;
}

function indexModel(model: Model): GraphIndex {
  const index: GraphIndex = {
    graphOf: new Map(),
    parent: new Map(),
    initializers: new Map(),
    constants: new Map(),
    readers: new Map(),
    names: new Set(),
  };
  const visit = (g: Graph) => {
    index.initializers.set(g, new Map(g.initializers.map((t) => [t.name, t])));
    const constants = new Map<string, Node>();
    index.constants.set(g, constants);
    for (const n of g.nodes) {
      if (isForwardConv(n)) index.graphOf.set(n, g);
      if (n.opType === 'Constant' && n.domain === '' && n.outputs[0]) constants.set(n.outputs[0], n);
      for (const a of n.attributes) {
        const subs = a.data.type === 'graph' ? [a.data.value] : a.data.type === 'graphs' ? a.data.value : [];
        for (const sub of subs) {
          index.parent.set(sub, { graph: g, node: n, attribute: a });
          visit(sub);
        }
      }
    }
  };
  visit(model.graph);
  return index;
}

/** Fills the index's names and reader counts (once). */
function indexNames(model: Model, index: GraphIndex): void {
  if (index.names.size > 0) return;
  const read = (name: string) => name && index.readers.set(name, (index.readers.get(name) ?? 0) + 1);
  const visit = (g: Graph) => {
    for (const t of g.initializers) index.names.add(t.name);
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) index.names.add(v.name);
    for (const o of g.outputs) read(o.name);
    for (const n of g.nodes) {
      if (n.name) index.names.add(n.name);
      for (const i of n.inputs) read(i);
      for (const o of n.outputs) index.names.add(o);
      for (const a of n.attributes) {
        const subs = a.data.type === 'graph' ? [a.data.value] : a.data.type === 'graphs' ? a.data.value : [];
        for (const sub of subs) visit(sub);
      }
    }
  };
  visit(model.graph);
  for (const fn of model.functions) for (const n of fn.nodes) if (n.name) index.names.add(n.name);
}

/** The constant tensor behind a conv's weight input: an initializer or a Constant node, in scope. */
export function findWeight(index: GraphIndex, graph: Graph, name: string): CandidateLayer['weight'] {
  for (let g: Graph | undefined = graph; g; g = index.parent.get(g)?.graph) {
    const t = index.initializers.get(g)!.get(name);
    if (t) return { tensor: t, viaConstant: null };
    const c = index.constants.get(g)!.get(name);
    if (c) {
      const a = attr(c, 'value');
      if (a && a.data.type === 'tensor') return { tensor: a.data.value, viaConstant: c };
      return null;
    }
  }
  return null;
}

function classify(model: Model, layer: LayerRecord, index: GraphIndex): CandidateLayer {
  const node = layer.node;
  const graph = index.graphOf.get(node) ?? null;
  const base: CandidateLayer = {
    name: layer.name,
    node,
    graph,
    conv: null,
    pixels: null,
    executions: layer.multiplier,
    skipped: null,
    eligible: false,
    info: null,
    weight: null,
    weights: null,
    relativeError: null,
  };
  const layout = convLayoutOf(node)!;
  if (layout.form !== 'float') {
    return { ...base, skipped: `quantized ${node.opType} (dequantize, separate, then quantize again)` };
  }
  if (!graph) return { ...base, skipped: 'inside a model-local function' };
  // The rewrite needs only the weight's dims; the feature-map size matters for MACs alone.
  const weight = findWeight(index, graph, node.inputs[layout.weight]);
  let traits = convTraitsOf(layer.traits);
  if (!traits && weight && !layer.inputs[layout.weight]?.shape) {
    const inputs = layer.inputs.slice();
    inputs[layout.weight] = { dtype: weight.tensor.dtype, shape: weight.tensor.dims.slice() };
    traits = convTraitsOf(layerTraits(model, layer, inputs));
  }
  if (!traits) return { ...base, skipped: `weight shape unknown (${layer.reason ?? 'no shape'})` };
  if (traits.form === 'qdq') {
    return { ...base, skipped: 'QDQ conv: its weight is dequantized at run time (separate the float model, then quantize it)' };
  }
  const conv = separableConv(traits);
  base.conv = conv;
  const y = layer.outputs[0]?.shape;
  if (layer.cost && y) base.pixels = product([y[0], ...y.slice(2)]);
  const K = product(conv.kernel);
  if (K === 1) return { ...base, skipped: '1×1 conv: already pointwise' };
  if (traits.geometry.depthwise) return { ...base, skipped: 'already depthwise' };
  if (!weight) return { ...base, skipped: 'weight is computed at run time (not a constant)' };
  if (!(weight.tensor.dtype in FLOAT_DTYPES)) {
    return { ...base, skipped: `weight dtype ${dtypeName(weight.tensor.dtype)} is not float32/float16/bfloat16/float64` };
  }
  return { ...base, weight, eligible: true, info: separationFigures(conv, 1, base.pixels) };
}

/** The multiplier separateConvWeight will use: beyond min(N/g, K) extra filters could only be zero. */
function effectiveRank(conv: SeparableConv, multiplier: number): number {
  return Math.min(multiplier, conv.outChannels / conv.group, conv.kernel.reduce((a, b) => a * b, 1));
}

/**
 * `--target-latency`: the candidates ranked by the time separation is predicted to save on the device (the convs
 * where it pays, not those with the most MACs), taken until the predicted latency fits. Convs whose separation is
 * predicted to save no time are skipped, said so.
 */
function chooseByLatency(pool: CandidateLayer[], before: Report, inferred: InferResult, target: { ms: number; profile: DeviceProfile }, notes: string[]): CandidateLayer[] {
  const links = layerLinks(inferred);
  const { layers, totals } = predictLatency(before, links, target.profile);
  const savings = new Map<CandidateLayer, number>();
  for (const c of pool) {
    const i = inferred.layers.findIndex((l) => l.node === c.node);
    const after = i < 0 ? null : separatedTime(target.profile, before.layers[i], links[i], weightsCold(before, target.profile), c.info);
    if (after === null) continue;
    savings.set(c, layers[i].latencyMs - after * before.layers[i].executions);
  }
  const ranked = pool.filter((c) => (savings.get(c) ?? 0) > 0).sort((a, b) => savings.get(b)! - savings.get(a)!);
  for (const c of pool) if (!ranked.includes(c)) c.skipped = `separation is not predicted to save time on ${target.profile.name}`;
  const chosen: CandidateLayer[] = [];
  let ms = totals.latencyMs;
  for (const c of ranked) {
    if (ms <= target.ms) break;
    chosen.push(c);
    ms -= savings.get(c)!;
  }
  for (const c of ranked) if (!chosen.includes(c)) c.skipped = 'not needed to meet --target-latency';
  const shown = (x: number) => `${Number(x.toPrecision(3))} ms`;
  notes.push(
    ms <= target.ms
      ? `--target-latency: predicted latency on ${target.profile.name} ${shown(totals.latencyMs)} → ${shown(ms)} (${chosen.length} conv${chosen.length === 1 ? '' : 's'}, by predicted time saved)`
      : `--target-latency cannot be met: separating every conv predicted to save time gives ${shown(ms)} on ${target.profile.name}`,
  );
  return chosen;
}

/** How many conv names a note about an --include that matches nothing lists. */
const NAMES_SHOWN = 3;

/**
 * A note per --include pattern that matches no conv: the first few conv names, and how torch.onnx.export names
 * nodes (`/layer1/layer1.0/conv1/Conv`), the usual reason a pattern such as `layer1*` matches nothing.
 */
function unmatchedIncludes(layers: readonly CandidateLayer[], options: SeparateOptions): string[] {
  const names = layers.map((c) => c.name);
  return options.include
    .filter((p) => !layers.some((c) => [c.name, c.node.name].filter(Boolean).some((n) => options.matches(n, p))))
    .map((p) => {
      const shown = names.slice(0, NAMES_SHOWN).map((n) => quote(clipMiddle(n, 22), 40)).join(', ');
      const more = names.length > NAMES_SHOWN ? `, … (${names.length} in all)` : '';
      const listing = names.length ? `convs: ${shown}${more}` : 'the model has no conv';
      return `--include ${quote(p)} matches no conv (torch.onnx.export names start with '/': --include '/layer1/*'); ${listing}`;
    });
}

export function planSeparation(model: Model, options: SeparateOptions): SeparatePlan {
  const inferred = inferModel(model, options);
  const before = buildReport(model, inferred);
  const index = indexModel(model);
  const notes: string[] = [];
  const convs = inferred.layers.filter((l) => isForwardConv(l.node));
  for (const l of convs) if (l.reason && convLayoutOf(l.node)!.form === 'float') assertValidConv(model, l);
  const layers = convs.map((l) => classify(model, l, index));
  // Output sizes that came from an assumed input dim are no measure of the model: their MACs are unknown.
  if (before.incomplete.some((g) => g.kind === 'assumed-dim')) {
    for (const c of layers) {
      c.pixels = null;
      if (c.info) c.info = separationFigures(c.conv!, c.info.multiplier, null);
    }
  }

  const pool: CandidateLayer[] = [];
  const perLayerRanks = options.init === 'svd' && (options.maxError !== null || options.targetMacs !== null);
  const rankChoices = new Map<CandidateLayer, RankOption[]>();
  const eligible = layers.filter((c) => c.eligible).length;
  let decomposed = 0;
  for (const c of layers) {
    if (!c.eligible) continue;
    const named = [c.name, c.node.name].filter(Boolean);
    if (options.include.length && !options.include.some((p) => named.some((n) => options.matches(n, p)))) {
      c.skipped = 'not matched by --include';
      continue;
    }
    if (options.exclude.some((p) => named.some((n) => options.matches(n, p)))) {
      c.skipped = 'matched by --exclude';
      continue;
    }
    c.info = separationFigures(c.conv!, effectiveRank(c.conv!, options.multiplier), c.pixels);
    // The pair costs r·(g/N + 1/K) of the conv, in MACs and in weights alike: at or above 1 it only makes things worse.
    if (c.info.reduction >= 1 && !options.allowCostlier) {
      c.skipped = `would ${c.info.reduction > 1 ? 'cost more' : 'save nothing'} (×${c.info.reduction.toFixed(2)})`;
      continue;
    }
    if (perLayerRanks) {
      // --max-error / --target-macs pick each layer's rank: the weight error of every rank that saves MACs.
      const ranks = rankOptions(model, c, options);
      options.progress?.(++decomposed, eligible);
      // The float64 figure may differ from the stored weights' error in the last bits: not a reason to raise a rank.
      // With calibration data the error on the data decides (see calibrate/run.ts): every rank stays possible.
      const fits = options.maxError === null || options.errorOnData ? ranks : ranks.filter((o) => o.error <= options.maxError! * (1 + 1e-6));
      if (!fits.length) {
        const last = ranks[ranks.length - 1];
        c.relativeError = last.error;
        c.skipped = `weight error ${last.error.toFixed(4)} exceeds --max-error ${options.maxError} even at rank ${last.rank}`;
        continue;
      }
      rankChoices.set(c, fits);
      setRank(model, c, options, fits[0].rank, layers.indexOf(c));
      pool.push(c);
      continue;
    }
    c.weights = computeWeights(model, c, options, layers.indexOf(c));
    options.progress?.(++decomposed, eligible);
    c.relativeError = Number.isNaN(c.weights.relativeError) ? null : c.weights.relativeError;
    // The share of MACs saved is 1 − r·(g/N + 1/K) whatever the feature map: it needs no shapes.
    const saving = 1 - c.info.reduction;
    if (options.minReduction !== null && saving < options.minReduction) {
      c.skipped = `saves ${(100 * saving).toFixed(1)}% of its MACs, below --min-reduction ${(100 * options.minReduction).toFixed(1)}%`;
      continue;
    }
    if (options.maxError !== null && c.relativeError !== null && c.relativeError > options.maxError) {
      c.skipped = `weight error ${c.relativeError.toFixed(4)} exceeds --max-error ${options.maxError}`;
      continue;
    }
    pool.push(c);
  }

  notes.push(...unmatchedIncludes(layers, options));
  const saved = (c: CandidateLayer) => (c.info!.macs === null ? 0 : (c.info!.macs - c.info!.macsAfter!) * c.executions);
  let chosen = pool;
  let target: SeparatePlan['target'] = null;
  if (options.targetMacs !== null) {
    const missing = macsUnknown(before, pool);
    if (missing) throw new MbnError('usage', `--target-macs needs the model's MACs, but ${missing}`);
    const ranked = pool.slice();
    let macs = before.totals.macs;
    if (rankChoices.size) {
      const savedAt = (c: CandidateLayer, rank: number) => {
        const f = separationFigures(c.conv!, rank, c.pixels);
        return f.macs === null ? 0 : (f.macs - f.macsAfter!) * c.executions;
      };
      const picked = greedyRanks(pool, rankChoices, macs - options.targetMacs, savedAt);
      chosen = pool.filter((c) => picked.has(c));
      for (const c of chosen) {
        if (picked.get(c) !== c.info!.multiplier) setRank(model, c, options, picked.get(c)!, layers.indexOf(c));
        macs -= saved(c);
      }
    } else {
      // Greedy: most MACs saved per unit of approximation error first; stop as soon as the budget is met.
      ranked.sort((a, b) => saved(b) / ((b.relativeError ?? 0) + 1e-6) - saved(a) / ((a.relativeError ?? 0) + 1e-6));
      chosen = [];
      for (const c of ranked) {
        if (macs <= options.targetMacs) break;
        chosen.push(c);
        macs -= saved(c);
      }
    }
    for (const c of ranked) if (!chosen.includes(c)) c.skipped = `not needed to meet --target-macs`;
    target = { macs, met: macs <= options.targetMacs };
    if (!target.met) {
      notes.push(`--target-macs cannot be met: separating every eligible conv gives ${macs} MACs`);
    }
  }
  if (options.targetLatency) chosen = chooseByLatency(chosen, before, inferred, options.targetLatency, notes);
  let macsAfter = before.totals.macs;
  let paramsAfter = before.totals.params;
  const sharedDone = new Set<string>();
  for (const c of chosen) {
    macsAfter -= saved(c);
    // Convs sharing one weight share the separated weights too (see buildEdits): count those params once.
    const key = weightKey(c);
    const info = c.info!;
    if (!sharedDone.has(key)) paramsAfter += info.paramsAfter - info.params;
    sharedDone.add(key);
  }
  for (const c of layers) if (c.eligible && !c.skipped && !chosen.includes(c)) c.skipped = 'not selected';
  const costlier = chosen.filter((c) => c.info!.reduction >= 1).length;
  if (costlier) notes.push(`${costlier} rewritten conv${costlier === 1 ? ' costs' : 's cost'} more than before (--allow-costlier): ratio ≥ 1`);
  const missing = macsUnknown(before, chosen);
  if (missing) notes.push(`MACs are unknown: ${missing}`);
  return { layers, chosen, before, macsAfter, paramsAfter, macsKnown: missing === null, target, notes, index };
}

export interface RankOption {
  rank: number;
  /** ‖W − W_r‖/‖W‖ of the float64 rank-r factors. */
  error: number;
}

/**
 * The ranks a layer may take, from the requested multiplier up to the largest that still saves MACs (or full rank
 * with --allow-costlier), each with its weight error: one decomposition at the top rank gives them all, since the
 * rank-r factors are the first r singular pairs of each input channel (‖σ_t u_t‖² is component t's energy).
 */
export function rankOptions(model: Model, c: CandidateLayer, options: SeparateOptions): RankOption[] {
  const conv = c.conv!;
  const K = conv.kernel.reduce((a, b) => a * b, 1);
  const step = conv.group / conv.outChannels + 1 / K;
  let top = Math.min(conv.outChannels / conv.group, K);
  if (!options.allowCostlier) while (top > 1 && top * step >= 1) top--;
  const low = Math.min(effectiveRank(conv, options.multiplier), top);
  const t = c.weight!.tensor;
  const values = decodeFloats(readTensorBytes(model, t), FLOAT_DTYPES[t.dtype]);
  const sep = separateConvWeight({ dims: t.dims, data: values }, conv.group, top);
  let total = 0;
  for (const v of values) total += v * v;
  const energy = new Float64Array(top);
  const P = sep.pointwise.data;
  for (let i = 0; i < P.length; i++) energy[i % top] += P[i] * P[i];
  const out: RankOption[] = [];
  let kept = 0;
  for (let r = 1; r <= top; r++) {
    kept += energy[r - 1];
    if (r >= low) out.push({ rank: r, error: total > 0 ? Math.sqrt(Math.max(0, total - kept) / total) : 0 });
  }
  return out;
}

export function setRank(model: Model, c: CandidateLayer, options: SeparateOptions, rank: number, position: number): void {
  c.info = separationFigures(c.conv!, rank, c.pixels);
  c.weights = computeWeights(model, c, { ...options, multiplier: rank }, position);
  c.relativeError = Number.isNaN(c.weights.relativeError) ? null : c.weights.relativeError;
}

/**
 * --target-macs with per-layer ranks: starting from nothing separated, repeatedly take the move (separate a layer,
 * or lower its rank) that adds the least squared weight error per MAC saved, until `need` MACs are saved or no move
 * saves more. Returns the chosen rank of every layer it separates.
 */
export function greedyRanks(pool: CandidateLayer[], choices: Map<CandidateLayer, RankOption[]>, need: number, savedAt: (c: CandidateLayer, rank: number) => number): Map<CandidateLayer, number> {
  const state = new Map<CandidateLayer, RankOption>();
  let gained = 0;
  while (gained < need) {
    let best: { c: CandidateLayer; o: RankOption; score: number; ds: number } | null = null;
    for (const c of pool) {
      const cur = state.get(c);
      const curSaved = cur ? savedAt(c, cur.rank) : 0;
      const curErr = cur ? cur.error ** 2 : 0;
      for (const o of choices.get(c)!) {
        const ds = savedAt(c, o.rank) - curSaved;
        if (ds <= 0) continue;
        const score = (o.error ** 2 - curErr) / ds;
        if (!best || score < best.score || (score === best.score && ds > best.ds)) best = { c, o, score, ds };
      }
    }
    if (!best) break;
    state.set(best.c, best.o);
    gained += best.ds;
  }
  return new Map([...state].map(([c, o]) => [c, o.rank]));
}

/**
 * Why the model's MACs cannot be known, or null when they can: the analysis's own gaps (a non-batch input dim that
 * was assumed rather than given, a layer that runs but was not counted; worded as every gate words them), or a conv
 * of the pool whose output shape is unknown.
 */
function macsUnknown(before: Report, convs: CandidateLayer[]): string | null {
  if (before.incomplete.length) return describeGaps(before.incomplete, before.model.inputs, { configKeys: false }).join('; ');
  const unknownConvs = convs.filter((c) => c.info!.macs === null && c.executions > 0).length;
  if (unknownConvs) return `${unknownConvs} conv${unknownConvs === 1 ? ' has an' : 's have'} unknown output shape${unknownConvs === 1 ? '' : 's'} (give the input shapes with --input NAME:…)`;
  return null;
}

/**
 * A conv whose weight, bias and attributes disagree (ONNX Runtime refuses the model) is an error here, not a skipped
 * layer: separate would otherwise write a model that is just as broken. A conv whose shapes are only unknown passes.
 */
function assertValidConv(model: Model, layer: LayerRecord): void {
  const layout = convLayoutOf(layer.node)!;
  if (!layer.inputs[layout.weight]?.shape) return;
  try {
    checkConvDefinition(new NodeContext(model, layer.node, layer.opset, layer.inputs, []), layout);
  } catch (error) {
    if (error instanceof ShapeError) {
      throw new MbnError('invalid-model', `Conv ${quote(layer.name)} is invalid: ${error.message} (ONNX Runtime refuses such a model)`);
    }
  }
}

/** Convs in one graph that share a weight (and group) share its separated weights too. */
function weightKey(c: CandidateLayer): string {
  return `${c.graph!.span.tagStart}:${c.weight!.tensor.span.tagStart}:${c.conv!.group}`;
}

/**
 * The factors as they will be stored: rounded to the weight's dtype, with the error measured on those rounded
 * values (‖W − W'‖/‖W‖ against the stored W), so a float16 model shows the error it will really have.
 */
export function computeWeights(model: Model, c: CandidateLayer, options: Pick<SeparateOptions, 'init' | 'multiplier' | 'seed'>, position: number): SeparatedWeights {
  const t = c.weight!.tensor;
  const group = c.conv!.group;
  const dtype = FLOAT_DTYPES[t.dtype];
  if (options.init === 'he') return storedAs(heNormalSeparated(t.dims, group, options.multiplier, options.seed + position), dtype);
  const values = decodeFloats(readTensorBytes(model, t), dtype);
  const stored = storedAs(separateConvWeight({ dims: t.dims, data: values }, group, options.multiplier), dtype);
  const composed = composeSeparated(stored, group, c.conv!.inChannels).data;
  let err = 0;
  let norm = 0;
  for (let i = 0; i < values.length; i++) {
    err += (composed[i] - values[i]) ** 2;
    norm += values[i] ** 2;
  }
  return { ...stored, relativeError: norm > 0 ? Math.sqrt(err / norm) : 0 };
}

function storedAs(w: SeparatedWeights, dtype: FloatDType): SeparatedWeights {
  if (dtype === 'float64') return w;
  const round = (data: Float64Array) => decodeFloats(encodeFloats(data, dtype), dtype);
  return {
    ...w,
    depthwise: { dims: w.depthwise.dims, data: round(w.depthwise.data) },
    pointwise: { dims: w.pointwise.dims, data: round(w.pointwise.data) },
  };
}

export interface BuiltRewrite {
  pieces: Piece[];
  /**
   * The output's own data file, when the model keeps weights outside: its name (beside the output) and contents,
   * the new weights and every external tensor the output keeps, so that it never refers to the input's files.
   */
  externalData: { location: string; parts: DataPart[] } | null;
  /** Names of the new nodes per rewritten layer, for reports. */
  newNodes: Map<CandidateLayer, { depthwise: string; pointwise: string; rank: number; depthwiseOutput: string }>;
  /** The main-graph output name of each extra output computed inside an If branch (see ExtraOutput.graph). */
  exposed: Map<string, string>;
}

/** A value to expose as an extra output of the main graph (calibration reads intermediate activations this way). */
export interface ExtraOutput {
  name: string;
  dtype: number;
  rank: number;
  /**
   * The graph that computes it, when an If branch (nested Ifs too): it becomes an extra output of that branch and
   * of its If node, up to the main graph; the other branch gives an empty tensor of the same type and rank there.
   * The main graph's output is then named `BuiltRewrite.exposed.get(name)`.
   */
  graph?: Graph;
}

/** Whether a value of `graph` can be exposed as a main-graph output (ExtraOutput.graph): every ancestor an If. */
export function exposable(plan: SeparatePlan, graph: Graph): boolean {
  for (let p = plan.index.parent.get(graph); p; p = plan.index.parent.get(p.graph)) {
    if (p.node.opType !== 'If' || p.node.domain !== '' || p.attribute.data.type !== 'graph') return false;
  }
  return true;
}

/**
 * Turns a plan into byte edits of the model. `outputPath` names the external data file when one is needed.
 * `kept` (calibration's scratch copies, calibrate/copies.ts): the external tensors the rewrite keeps are pointed at
 * a data file already holding them at the given offsets (externalLayout), and the output's own data file holds only
 * the new tensors.
 */
export function buildRewrite(model: Model, plan: SeparatePlan, outputPath: string, extraOutputs: ExtraOutput[] = [], kept?: { location: string; offsets: ReadonlyMap<number, number> }): BuiltRewrite {
  const index = plan.index;
  if (plan.chosen.length > 0) indexNames(model, index);
  const usesExternal = hasExternalData(model);
  const externalLocation = `${basename(outputPath)}.data`;
  const external: DataPart[] = [];
  let externalOffset = 0;
  // New names and reader counts live beside the index, never in a copy of it (a graph may have millions of names).
  const added = new Set<string>();
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; index.names.has(name) || added.has(name); i++) name = `${base}_${i}`;
    added.add(name);
    return name;
  };
  const edits = new Map<Graph, MessageEdit>();
  const editOf = (g: Graph): MessageEdit => {
    let e = edits.get(g);
    if (!e) edits.set(g, (e = emptyEdit()));
    return e;
  };
  const newNodes: BuiltRewrite['newNodes'] = new Map();
  const shared = new Map<string, { dw: string; pw: string }>();
  const readersLeft = new Map<string, number>();

  for (const c of plan.chosen) {
    const graph = c.graph!;
    const node = c.node;
    const conv = c.conv!;
    const w = c.weights!;
    const dtype = c.weight!.tensor.dtype;
    const base = node.name || `${node.outputs[0]}_conv`;
    const key = weightKey(c);
    let names = shared.get(key);
    const tensorField = (name: string, dims: number[], values: Float64Array): Uint8Array => {
      const raw = encodeFloats(values, FLOAT_DTYPES[dtype]);
      if (!usesExternal) return encodeTensorField({ name, dtype, dims, raw });
      external.push(raw);
      const field = encodeTensorField({ name, dtype, dims, external: { location: externalLocation, offset: externalOffset, length: raw.length } });
      externalOffset += raw.length;
      // ONNX aligns external tensors to 4 KiB pages only as an optimization; 64-byte alignment keeps mmap-friendly offsets.
      const pad = alignmentPadding(externalOffset);
      if (pad) external.push(new Uint8Array(pad)), (externalOffset += pad);
      return field;
    };
    if (!names) {
      names = { dw: unique(`${base}_dw_weight`), pw: unique(`${base}_pw_weight`) };
      shared.set(key, names);
      // New weights live in the graph that holds the conv: an If/Loop body may hold initializers of its own.
      editOf(graph).append.push(tensorField(names.dw, w.depthwise.dims, w.depthwise.data), tensorField(names.pw, w.pointwise.dims, w.pointwise.data));
    }
    const dwOut = unique(`${node.outputs[0]}_dw`);
    const dwName = unique(`${base}_depthwise`);
    const pwName = unique(`${base}_pointwise`);
    const spatial = conv.kernel.length;
    const carried = unknownNodeFields(model, node);
    const copied: NewAttribute[] = node.attributes
      .filter((a) => a.name !== 'group' && a.name !== 'kernel_shape')
      .map((a) => ({ name: a.name, type: 'raw', payload: model.source.view(a.span.start, a.span.end).slice() }));
    const depthwise = encodeNodeField({
      name: dwName,
      opType: 'Conv',
      domain: node.domain,
      inputs: [node.inputs[0], names.dw],
      outputs: [dwOut],
      attributes: [
        ...copied,
        { name: 'group', type: 'int', value: conv.inChannels },
        { name: 'kernel_shape', type: 'ints', value: conv.kernel },
      ],
      docString: `depthwise half of ${node.name || node.opType} (mbn separate)`,
      extraFields: carried,
    });
    const pwAttrs: NewAttribute[] = [{ name: 'kernel_shape', type: 'ints', value: new Array(spatial).fill(1) }];
    if (conv.group > 1) pwAttrs.push({ name: 'group', type: 'int', value: conv.group });
    // A data-driven refit brings its own bias (see refit.ts); the original one then goes once nothing reads it.
    let biasInput = conv.hasBias ? node.inputs[2] : null;
    if (w.bias) {
      biasInput = unique(`${base}_pw_bias`);
      editOf(graph).append.push(tensorField(biasInput, w.bias.dims, w.bias.data));
      if (conv.hasBias) {
        const left = (readersLeft.get(node.inputs[2]) ?? index.readers.get(node.inputs[2]) ?? 1) - 1;
        readersLeft.set(node.inputs[2], left);
        const old = findWeight(index, graph, node.inputs[2]);
        if (left === 0 && old) removeWeight(index, graph, node.inputs[2], old, editOf);
      }
    }
    const pointwise = encodeNodeField({
      name: pwName,
      opType: 'Conv',
      domain: node.domain,
      inputs: biasInput ? [dwOut, names.pw, biasInput] : [dwOut, names.pw],
      outputs: [node.outputs[0]],
      attributes: pwAttrs,
      docString: `pointwise half of ${node.name || node.opType} (mbn separate)`,
      extraFields: carried,
    });
    const edit = editOf(graph);
    edit.fields.set(node.span.tagStart, { kind: 'replace', fields: [depthwise, pointwise] });
    edit.append.push(encodeValueInfoField(dwOut, dtype, depthwiseOutputShape(graph, node.outputs[0], conv, w.rank)));
    newNodes.set(c, { depthwise: dwName, pointwise: pwName, rank: w.rank, depthwiseOutput: dwOut });

    // The old weight goes once nothing reads it any more.
    const weightName = node.inputs[1];
    const left = (readersLeft.get(weightName) ?? index.readers.get(weightName) ?? 1) - 1;
    readersLeft.set(weightName, left);
    if (left === 0) removeWeight(index, graph, weightName, c.weight!, editOf);
  }

  const exposed = new Map<string, string>();
  for (const o of extraOutputs) {
    const dims = new Array(o.rank).fill(null);
    let name = o.name;
    for (let g = o.graph ?? model.graph, p = index.parent.get(g); p; g = p.graph, p = index.parent.get(g)) {
      // An output of the branch, then of its If node (both branches must give the same number of outputs).
      editOf(g).append.push(encodeValueInfoField(name, o.dtype, dims, 12));
      for (const a of p.node.attributes) {
        if (a.data.type !== 'graph' || a.data.value === g) continue;
        const empty = unique(`${name}_mbn_empty`);
        const value = concatBytes(lengthField(1, 'value'), encodeTensorField({ name: '', dtype: o.dtype, dims: new Array(o.rank).fill(0), raw: new Uint8Array(0) }, 5), varintField(20, 4));
        editOf(a.data.value).append.push(
          encodeNodeField({ name: unique(`${name}_mbn_empty_node`), opType: 'Constant', domain: '', inputs: [], outputs: [empty], attributes: [{ name: 'value', type: 'raw', payload: value }] }),
          encodeValueInfoField(empty, o.dtype, dims, 12),
        );
      }
      const outer = unique(`${name}_mbn_exposed`);
      const nodeEdit = emptyEdit();
      nodeEdit.append.push(lengthField(2, outer));
      const graphEdit = editOf(p.graph);
      const existing = graphEdit.fields.get(p.node.span.tagStart);
      if (existing?.kind === 'nested') mergeEdits(existing.edit, nodeEdit);
      else graphEdit.fields.set(p.node.span.tagStart, { kind: 'nested', edit: nodeEdit });
      name = outer;
    }
    editOf(model.graph).append.push(encodeValueInfoField(name, o.dtype, dims, 12));
    if (name !== o.name) exposed.set(o.name, name);
  }
  let modelEdit = emptyEdit();
  for (const [graph, edit] of edits) modelEdit = nestEdit(index, model, graph, edit, modelEdit);
  if (usesExternal) for (const part of relocateExternalTensors(model, modelEdit, kept?.location ?? externalLocation, externalOffset, kept?.offsets)) external.push(part);
  const pieces = spliceMessage(model.source, 0, model.size, modelEdit);
  return { pieces, externalData: usesExternal ? { location: externalLocation, parts: external } : null, newNodes, exposed };
}

/**
 * The shape declared for the depthwise output: only what holds for every execution. Its channels are C·r (the
 * depthwise weight's dims) and its rank the weight's; batch and feature map are those the model itself declares for
 * the conv's output (same strides, pads and dilations), else unknown. Dims inferred by mbn are not written: they may
 * come from an assumed input dim, or from one If branch while the other branch runs with other sizes.
 */
function depthwiseOutputShape(graph: Graph, output: string, conv: SeparableConv, rank: number): (number | string | null)[] {
  const declared = [...graph.valueInfo, ...graph.outputs].find((v) => v.name === output)?.type;
  const spatial = conv.kernel.length;
  const shape = declared?.kind === 'tensor' && declared.shape?.length === spatial + 2 ? declared.shape : null;
  const dim = (i: number) => {
    const d = shape?.[i];
    return typeof d === 'string' || (typeof d === 'number' && d >= 0) ? d : null;
  };
  return [dim(0), conv.inChannels * rank, ...conv.kernel.map((_, i) => dim(i + 2))];
}

/** NodeProto fields beyond onnx 1.10's seven (metadata_props, overload, device_configurations, …), as bytes. */
function unknownNodeFields(model: Model, node: Node): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = new Reader(model.source, node.span.start, node.span.end);
  for (let f = r.field(); f; f = r.field()) {
    if (f.no > 7) out.push(model.source.view(f.tagStart, f.end).slice());
  }
  return out;
}

function removeWeight(index: GraphIndex, from: Graph, name: string, weight: NonNullable<CandidateLayer['weight']>, editOf: (g: Graph) => MessageEdit): void {
  for (let g: Graph | undefined = from; g; g = index.parent.get(g)?.graph) {
    if (weight.viaConstant) {
      if (g.nodes.includes(weight.viaConstant)) {
        editOf(g).fields.set(weight.viaConstant.span.tagStart, { kind: 'replace', fields: [] });
        return;
      }
      continue;
    }
    if (g.initializers.includes(weight.tensor)) {
      const e = editOf(g);
      e.fields.set(weight.tensor.span.tagStart, { kind: 'replace', fields: [] });
      // IR < 4 lists initializers among the graph inputs too; without its initializer it would become a real input.
      for (const input of g.inputs) if (input.name === name) e.fields.set(input.span.tagStart, { kind: 'replace', fields: [] });
      return;
    }
  }
}

/** Places a graph's edit inside the edits of its ancestors: model → graph → node → attribute → subgraph → … */
function nestEdit(index: GraphIndex, model: Model, graph: Graph, edit: MessageEdit, modelEdit: MessageEdit): MessageEdit {
  const path: number[] = [];
  for (let g = graph, p = index.parent.get(g); p; g = p.graph, p = index.parent.get(g)) {
    path.unshift(p.node.span.tagStart, p.attribute.span.tagStart, g.span.tagStart);
  }
  path.unshift(model.graph.span.tagStart);
  let target = modelEdit;
  for (let i = 0; i < path.length; i++) {
    const existing = target.fields.get(path[i]);
    if (i === path.length - 1) {
      if (existing && existing.kind === 'nested') mergeEdits(existing.edit, edit);
      else target.fields.set(path[i], { kind: 'nested', edit });
    } else if (existing && existing.kind === 'nested') {
      target = existing.edit;
    } else {
      const next = emptyEdit();
      target.fields.set(path[i], { kind: 'nested', edit: next });
      target = next;
    }
  }
  return modelEdit;
}

function mergeEdits(into: MessageEdit, from: MessageEdit): void {
  for (const [k, v] of from.fields) {
    const existing = into.fields.get(k);
    if (existing && existing.kind === 'nested' && v.kind === 'nested') mergeEdits(existing.edit, v.edit);
    else into.fields.set(k, v);
  }
  into.append.push(...from.append);
}
