import { buildReport } from '../cost/analyze.js';
import type { Report } from '../contract/analyze.js';
import { type SeparableConv, type SeparationFigures, convTraitsOf, separableConv, separationFigures } from '../cost/separable.js';
import { MbnError, quote } from '../errors.js';
import { type Attribute, type Graph, type Model, type Node, type TensorRef, attr } from '../ir/types.js';
import { DataType, dtypeName } from '../onnx/dtype.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import { layerLinks } from '../latency/graph.js';
import { predictLatency, separatedTime, weightsCold } from '../latency/model.js';
import type { DeviceProfile } from '../contract/device.js';
import { ShapeError } from '../ops/define.js';
import { product } from '../util/count.js';
import { checkConvDefinition } from '../ops/conv.js';
import { convLayoutOf } from '../ops/index.js';
import { type InferOptions, type InferResult, type LayerRecord, inferModel, layerTraits } from '../shape/infer.js';
import { NodeContext } from '../shape/node-context.js';
import { type FloatDType, decodeFloats, encodeFloats } from '../tensor/float.js';
import { type SeparatedWeights, composeSeparated, heNormalSeparated, separateConvWeight } from './decompose.js';
import type { SeparationNote, SkipReason } from '../contract/separate.js';

/**
 * `mbn separate`'s plan as plain data: which standard convs become a depthwise conv (group = C, same kernel,
 * strides, pads, dilations, auto_pad) and a pointwise 1×1 conv (carrying the bias, keeping the groups), at which
 * rank, with which weights, and why the others are left alone. It reads the model (shapes, weights) and never
 * edits bytes: the emitter (emit.ts) turns a plan into edits; calibration (calibrate/run.ts) takes a plan and
 * returns a refined one.
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
  /** Its index in `SeparationPlan.layers` (`--init he` seeds each layer with it). */
  position: number;
  node: Node;
  graph: Graph | null;
  /** Channels, groups and kernel, from the weight: all the rewrite needs. */
  conv: SeparableConv | null;
  /** Output pixels per execution (batch × feature map), null when the output shape is unknown: MACs need it. */
  pixels: number | null;
  /** Executions per inference (0 for a layer in an If branch that is not counted). */
  executions: number;
  /** Why the layer is not rewritten (messages.ts); null when it is. */
  skipped: SkipReason | null;
  /** Whether the conv could be rewritten at all (selection options aside). */
  eligible: boolean;
  info: SeparationFigures | null;
  weight: { tensor: TensorRef; viaConstant: Node | null } | null;
  weights: SeparatedWeights | null;
  relativeError: number | null;
}

export interface SeparationPlan {
  model: Model;
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
  notes: SeparationNote[];
  /** The model's graphs, initializers and constants, indexed once for planning and reused by the emitter. */
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

function classify(model: Model, layer: LayerRecord, index: GraphIndex, position: number): CandidateLayer {
  const node = layer.node;
  const graph = index.graphOf.get(node) ?? null;
  const base: CandidateLayer = {
    name: layer.name,
    position,
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
    return { ...base, skipped: { code: 'quantized-conv', opType: node.opType } };
  }
  if (!graph) return { ...base, skipped: { code: 'in-function' } };
  // The rewrite needs only the weight's dims; the feature-map size matters for MACs alone.
  const weight = findWeight(index, graph, node.inputs[layout.weight]);
  let traits = convTraitsOf(layer.traits);
  if (!traits && weight && !layer.inputs[layout.weight]?.shape) {
    const inputs = layer.inputs.slice();
    inputs[layout.weight] = { dtype: weight.tensor.dtype, shape: weight.tensor.dims.slice() };
    traits = convTraitsOf(layerTraits(model, layer, inputs));
  }
  if (!traits) return { ...base, skipped: { code: 'weight-shape-unknown', why: layer.reason ?? null } };
  if (traits.form === 'qdq') return { ...base, skipped: { code: 'qdq-conv' } };
  const conv = separableConv(traits);
  base.conv = conv;
  const y = layer.outputs[0]?.shape;
  if (layer.cost && y) base.pixels = product([y[0], ...y.slice(2)]);
  const K = product(conv.kernel);
  if (K === 1) return { ...base, skipped: { code: 'already-pointwise' } };
  if (traits.geometry.depthwise) return { ...base, skipped: { code: 'already-depthwise' } };
  if (!weight) return { ...base, skipped: { code: 'weight-not-constant' } };
  if (!(weight.tensor.dtype in FLOAT_DTYPES)) return { ...base, skipped: { code: 'weight-dtype', dtype: dtypeName(weight.tensor.dtype) } };
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
function chooseByLatency(pool: CandidateLayer[], before: Report, inferred: InferResult, target: { ms: number; profile: DeviceProfile }, notes: SeparationNote[]): CandidateLayer[] {
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
  for (const c of pool) if (!ranked.includes(c)) c.skipped = { code: 'no-predicted-saving', device: target.profile.name };
  const chosen: CandidateLayer[] = [];
  let ms = totals.latencyMs;
  for (const c of ranked) {
    if (ms <= target.ms) break;
    chosen.push(c);
    ms -= savings.get(c)!;
  }
  for (const c of ranked) if (!chosen.includes(c)) c.skipped = { code: 'not-needed-for-target-latency' };
  notes.push(
    ms <= target.ms
      ? { code: 'target-latency-met', device: target.profile.name, fromMs: totals.latencyMs, toMs: ms, convs: chosen.length }
      : { code: 'target-latency-unmet', device: target.profile.name, ms },
  );
  return chosen;
}

/** How many conv names a note about an include pattern that matches nothing lists. */
const NAMES_SHOWN = 3;

/** A note per include pattern that matches no conv, with the first few conv names (the report says why that happens). */
function unmatchedIncludes(layers: readonly CandidateLayer[], options: SeparateOptions): SeparationNote[] {
  const names = layers.map((c) => c.name);
  return options.include
    .filter((p) => !layers.some((c) => [c.name, c.node.name].filter(Boolean).some((n) => options.matches(n, p))))
    .map((pattern) => ({ code: 'include-matches-nothing', pattern, convs: names.slice(0, NAMES_SHOWN), total: names.length }));
}

export function planSeparation(model: Model, options: SeparateOptions): SeparationPlan {
  const inferred = inferModel(model, options);
  const before = buildReport(model, inferred);
  const index = indexModel(model);
  const notes: SeparationNote[] = [];
  const convs = inferred.layers.filter((l) => isForwardConv(l.node));
  for (const l of convs) if (l.reason && convLayoutOf(l.node)!.form === 'float') assertValidConv(model, l);
  const layers = convs.map((l, position) => classify(model, l, index, position));
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
      c.skipped = { code: 'not-included' };
      continue;
    }
    if (options.exclude.some((p) => named.some((n) => options.matches(n, p)))) {
      c.skipped = { code: 'excluded' };
      continue;
    }
    c.info = separationFigures(c.conv!, effectiveRank(c.conv!, options.multiplier), c.pixels);
    // The pair costs r·(g/N + 1/K) of the conv, in MACs and in weights alike: at or above 1 it only makes things worse.
    if (c.info.reduction >= 1 && !options.allowCostlier) {
      c.skipped = { code: 'costlier', ratio: c.info.reduction };
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
        c.skipped = { code: 'weight-error', error: last.error, maxError: options.maxError!, rank: last.rank };
        continue;
      }
      rankChoices.set(c, fits);
      setRank(model, c, options, fits[0].rank);
      pool.push(c);
      continue;
    }
    c.weights = computeWeights(model, c, options);
    options.progress?.(++decomposed, eligible);
    c.relativeError = Number.isNaN(c.weights.relativeError) ? null : c.weights.relativeError;
    // The share of MACs saved is 1 − r·(g/N + 1/K) whatever the feature map: it needs no shapes.
    const saving = 1 - c.info.reduction;
    if (options.minReduction !== null && saving < options.minReduction) {
      c.skipped = { code: 'below-min-reduction', saving, minReduction: options.minReduction };
      continue;
    }
    if (options.maxError !== null && c.relativeError !== null && c.relativeError > options.maxError) {
      c.skipped = { code: 'weight-error', error: c.relativeError, maxError: options.maxError, rank: null };
      continue;
    }
    pool.push(c);
  }

  notes.push(...unmatchedIncludes(layers, options));
  const saved = (c: CandidateLayer) => (c.info!.macs === null ? 0 : (c.info!.macs - c.info!.macsAfter!) * c.executions);
  let chosen = pool;
  let target: SeparationPlan['target'] = null;
  if (options.targetMacs !== null) {
    const missing = macsUnknown(before, pool);
    if (missing) throw new MacsUnknown(missing, before.model.inputs);
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
        if (picked.get(c) !== c.info!.multiplier) setRank(model, c, options, picked.get(c)!);
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
    for (const c of ranked) if (!chosen.includes(c)) c.skipped = { code: 'not-needed-for-target-macs' };
    target = { macs, met: macs <= options.targetMacs };
    if (!target.met) notes.push({ code: 'target-macs-unmet', macs, onData: false, maxError: null });
  }
  if (options.targetLatency) chosen = chooseByLatency(chosen, before, inferred, options.targetLatency, notes);
  for (const c of layers) if (c.eligible && !c.skipped && !chosen.includes(c)) c.skipped = { code: 'not-selected' };
  const costlier = chosen.filter((c) => c.info!.reduction >= 1).length;
  if (costlier) notes.push({ code: 'costlier-rewritten', convs: costlier });
  const missing = macsUnknown(before, chosen);
  if (missing) notes.push(missing);
  return { model, layers, chosen, before, ...projectedTotals(before, chosen), macsKnown: missing === null, target, notes, index };
}

/**
 * The model's MACs and params once `chosen` are separated at their ranks (MACs leave out the convs whose MACs are
 * unknown). Convs sharing one weight share the separated weights too (sharedWeightKey): their params count once.
 */
export function projectedTotals(before: Report, chosen: readonly CandidateLayer[]): { macsAfter: number; paramsAfter: number } {
  let macsAfter = before.totals.macs;
  let paramsAfter = before.totals.params;
  const counted = new Set<string>();
  for (const c of chosen) {
    const info = c.info!;
    if (info.macs !== null) macsAfter -= (info.macs - info.macsAfter!) * c.executions;
    const key = sharedWeightKey(c);
    if (!counted.has(key)) paramsAfter += info.paramsAfter - info.params;
    counted.add(key);
  }
  return { macsAfter, paramsAfter };
}

/**
 * A copy of a plan that a refinement may change (calibrate/run.ts): its own layers (each at its position), chosen
 * list, notes and target; the model, the analysis and the index are shared, never changed.
 */
export function copyPlan(plan: SeparationPlan): SeparationPlan {
  const layers = plan.layers.map((c) => ({ ...c }));
  return { ...plan, layers, chosen: plan.chosen.map((c) => layers[c.position]), notes: plan.notes.slice(), target: plan.target && { ...plan.target } };
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

/** Gives a layer of a plan being made or refined (never one a caller holds: see copyPlan) rank `rank`: its figures and weights. */
export function setRank(model: Model, c: CandidateLayer, options: SeparateOptions, rank: number): void {
  c.info = separationFigures(c.conv!, rank, c.pixels);
  c.weights = computeWeights(model, c, { ...options, multiplier: rank });
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
 * was assumed rather than given, a layer that runs but was not counted), or convs of the pool whose output shape is
 * unknown.
 */
function macsUnknown(before: Report, convs: CandidateLayer[]): Extract<SeparationNote, { code: 'macs-unknown' }> | null {
  if (before.incomplete.length) return { code: 'macs-unknown', gaps: before.incomplete, unknownConvs: 0 };
  const unknownConvs = convs.filter((c) => c.info!.macs === null && c.executions > 0).length;
  return unknownConvs ? { code: 'macs-unknown', gaps: [], unknownConvs } : null;
}

/**
 * `--target-macs` on a model whose MACs are unknown: a usage error that carries why as data, for the API to word (the
 * analysis's gaps as every gate words them, src/report/); its own message says the same without the gaps' words.
 */
export class MacsUnknown extends MbnError {
  constructor(
    readonly note: Extract<SeparationNote, { code: 'macs-unknown' }>,
    readonly inputs: Report['model']['inputs'],
  ) {
    super('usage', "--target-macs needs the model's MACs, which are unknown (the analysis is incomplete)");
  }
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

/**
 * The one key of a shared weight: convs in one graph that read one weight tensor (and have one group) share its
 * separated weights (one depthwise and one pointwise tensor), are counted once in the params, and are fitted
 * together on data. A weight read from two If branches is two keys: each branch gets its own new weights.
 */
export function sharedWeightKey(c: CandidateLayer): string {
  return `${c.graph!.span.tagStart}:${c.weight!.tensor.span.tagStart}:${c.conv!.group}`;
}

/**
 * The factors as they will be stored: rounded to the weight's dtype, with the error measured on those rounded
 * values (‖W − W'‖/‖W‖ against the stored W), so a float16 model shows the error it will really have.
 */
export function computeWeights(model: Model, c: CandidateLayer, options: Pick<SeparateOptions, 'init' | 'multiplier' | 'seed'>): SeparatedWeights {
  const t = c.weight!.tensor;
  const group = c.conv!.group;
  const dtype = FLOAT_DTYPES[t.dtype];
  if (options.init === 'he') return storedAs(heNormalSeparated(t.dims, group, options.multiplier, options.seed + c.position), dtype);
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

/** Whether a value of `graph` can be exposed as a main-graph output (emit.ts, ExtraOutput.graph): every ancestor an If. */
export function exposable(plan: SeparationPlan, graph: Graph): boolean {
  for (let p = plan.index.parent.get(graph); p; p = plan.index.parent.get(p.graph)) {
    if (p.node.opType !== 'If' || p.node.domain !== '' || p.attribute.data.type !== 'graph') return false;
  }
  return true;
}

