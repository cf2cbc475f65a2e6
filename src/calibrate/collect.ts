import { OutputComparison, openSide, runSide } from '../bench/compare.js';
import { type Ort, type OrtSession, type OrtTensor, floatValues } from '../bench/run.js';
import type { Graph, Model, Node, TensorRef } from '../ir/types.js';
import { DataType } from '../onnx/dtype.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import type { SeparatedWeights } from '../rewrite/decompose.js';
import { type AlternatingOptions, alternateRefit, mixFilters } from '../rewrite/alternate.js';
import { PointwiseStats } from '../rewrite/refit.js';
import { type ExtraOutput, emitSeparation } from '../rewrite/emit.js';
import { type CandidateLayer, type SeparationPlan, copyPlan, exposable, sharedWeightKey } from '../rewrite/plan.js';
import type { KeptReason } from '../contract/separate.js';
import type { ModelCopies } from './copies.js';
import { decodeFloats, numberToFloat16 } from '../tensor/float.js';
import { outputImportance } from './importance.js';
import type { CalibrationBatch } from './inputs.js';
import type { OutputCheck } from '../contract/output-check.js';

/**
 * Calibration with ONNX Runtime: per separated conv, the original conv's output Y (from the original model) and the
 * depthwise outputs Z (from the model rewritten so far: asymmetric, Zhang et al. 2016) are read as extra graph
 * outputs of in-memory copies of the model (built with the same byte-range edits as the rewrite), one batch at a
 * time, and folded into Gram statistics; the pointwise weights and bias are then solved by least squares.
 */

export interface LayerFit {
  layer: CandidateLayer;
  /** ‖Ŷ − Y‖/‖Y‖ of the conv's output on the fitting batches: with the SVD weights, and after the refit. */
  svdError: number;
  refitError: number | null;
  /** The plain SVD weights at the layer's final rank (what the refit is compared against). */
  svd: SeparatedWeights;
  /** Why the layer kept its SVD weights, when it did. */
  kept: KeptReason | null;
  /** Alternating rounds accepted for the depthwise filters (0: they stay the SVD ones). */
  filterRounds?: number;
  /** Convs sharing this one's weight, itself included, fitted together (absent: 1); the errors are over all of them. */
  uses?: number;
}

type Source = string | Uint8Array;

export function feedsOf(ort: Ort, batch: CalibrationBatch, names: readonly string[]): Record<string, OrtTensor> {
  const feeds: Record<string, OrtTensor> = {};
  for (const [name, t] of Object.entries(batch)) {
    if (!names.includes(name)) continue;
    feeds[name] = new ort.Tensor(t.type, typed(t.type, t.data), t.dims);
  }
  return feeds;
}

function typed(type: string, data: Float64Array): unknown {
  switch (type) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return data;
    case 'float16':
      return Uint16Array.from(data, (x) => numberToFloat16(x));
    case 'int64':
      return BigInt64Array.from(data, (x) => BigInt(Math.trunc(x)));
    case 'uint64':
      return BigUint64Array.from(data, (x) => BigInt(Math.max(0, Math.trunc(x))));
    case 'int32':
      return Int32Array.from(data);
    case 'uint32':
      return Uint32Array.from(data);
    case 'int16':
      return Int16Array.from(data);
    case 'uint16':
      return Uint16Array.from(data);
    case 'int8':
      return Int8Array.from(data);
    default:
      return Uint8Array.from(data); // uint8, bool
  }
}



/**
 * A copy of the model rewritten with `chosen` (possibly none) and some intermediate values exposed as outputs;
 * `output(name)` is the graph output that gives a value (renamed when it comes out of an If branch).
 */
async function modelCopy(copies: ModelCopies, plan: SeparationPlan, chosen: CandidateLayer[], expose: ExtraOutput[]) {
  let exposed = new Map<string, string>();
  const copy = await copies.make((outputPath, kept) => {
    const built = emitSeparation({ ...plan, chosen }, { outputPath, expose, kept });
    exposed = built.exposed;
    return built;
  });
  return { ...copy, output: (name: string) => exposed.get(name) ?? name };
}

/** A conv's output or depthwise output, exposed from the graph that holds the conv. */
function exposedValue(c: CandidateLayer, name: string): ExtraOutput {
  return { name, dtype: c.weight!.tensor.dtype, rank: c.conv!.kernel.length + 2, graph: c.graph! };
}

export interface RefitOptions {
  ridge: number;
  /** Where ONNX Runtime gets the model's copies from (bytes, or files in a scratch folder for external data). */
  copies: ModelCopies;
  /**
   * --max-error with data: the ranks a layer may take (ascending) and how to give it one. The layer is collected at
   * the highest rank; the smallest rank whose refitted output error on the data is within `maxError` is kept (the
   * lower-rank factors are the leading singular pairs, so their depthwise outputs are a subset of the collected ones).
   */
  pickRank?: { maxError: number; ranks: (c: CandidateLayer) => number[]; setRank: (c: CandidateLayer, rank: number) => void };
  /**
   * A probe for --target-macs: no fit is kept; for every layer (at the highest rank it may take, given by `ranks`,
   * its weights already set to it) the refitted output error of each rank is recorded here, by layer position.
   */
  probe?: { ranks: (c: CandidateLayer) => number[]; errors: Map<number, { rank: number; error: number }[]> };
  onLayer?: (done: number, total: number) => void;
  /**
   * Refit the depthwise filters too, alternating with the pointwise fit (rewrite/alternate.ts): each layer is
   * collected at rank `collectRank(c, rank)` (its SVD weights from `weightsAt`) and a rank-r layer's filters may move
   * within the span of its channel's leading q singular vectors. Absent: the depthwise filters stay the SVD ones.
   */
  alternate?: { collectRank: (c: CandidateLayer, rank: number) => number; weightsAt: (c: CandidateLayer, rank: number) => SeparatedWeights; options: AlternatingOptions };
}

/** A refined plan (new weights, and convs dropped by --max-error on the data) and one fit per conv it chose. */
export interface Refitted {
  plan: SeparationPlan;
  fits: LayerFit[];
}

/**
 * Refits, in graph order, the pointwise weights and bias of every chosen conv on the data, and returns a refined
 * copy of the plan (the plan given is not changed). Convs of the main graph and of If branches (nested too) are
 * fitted: their outputs are read as extra outputs of each branch and If node up to the main graph (emit.ts,
 * ExtraOutput.graph), and a branch is fitted on the batches that run it. A conv in a Loop or Scan body, whose
 * activations cannot be read so, keeps its SVD weights, as does a conv whose If branch never ran on the data.
 *
 * The steps: `fittableUnits` groups the chosen convs by shared weight (plan.ts, sharedWeightKey) and sets aside those
 * that cannot be fitted; `orderUnits` puts the others in waves, none of whose units feeds another, each after every
 * wave upstream of it; per wave, `collectWave` runs the original model and the model rewritten so far once per batch
 * (the depthwise outputs Z come from the model with every conv upstream already refitted: asymmetric, Zhang et al.
 * 2016) and folds Y and Z into Gram statistics, and `fitUnit` solves each unit's least squares (`fitAt`, at each rank
 * `pickRank` tries).
 *
 * Convs that share a weight share their separated weights in the rewrite (one depthwise and one pointwise tensor),
 * so they get one fit: the least squares over all their uses together, their statistics summed (the Gram matrices
 * and cross terms add up; each use counts by its output values). That is the fit of the tied weights the model
 * itself has, as in detector heads that apply one conv to every pyramid level. It needs the uses to be parallel: when
 * one use feeds another, directly or through other layers (a conv applied twice in a row), the inputs of the later
 * use depend on the weights being fitted, and those convs keep their SVD weights.
 */
export async function refitSeparation(ort: Ort, input: SeparationPlan, batches: CalibrationBatch[], options: RefitOptions): Promise<Refitted> {
  const plan = copyPlan(input);
  const model = plan.model;
  const fits: LayerFit[] = [];
  const total = plan.chosen.length;
  let done = 0;
  const keep = (c: CandidateLayer, kept: KeptReason) => {
    fits.push({ layer: c, svdError: NaN, refitError: null, svd: c.weights!, kept });
    options.onLayer?.(++done, total);
  };
  const { units, unfit } = fittableUnits(plan, options.probe !== undefined);
  for (const { c, reason } of unfit) keep(c, reason);
  const ordered = orderUnits(model, units);
  for (const unit of ordered.chained) for (const c of unit) keep(c, { code: 'shared-weight-chained' });
  const fitted = ordered.waves.flat(2);
  // One session of the original model for every layer, each conv output exposed; each run fetches what it needs.
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  const expose = fitted.filter((c) => c.graph !== model.graph || !graphOutputs.has(c.node.outputs[0])).map((c) => exposedValue(c, c.node.outputs[0]));
  const original = await modelCopy(options.copies, plan, [], expose);
  let session: OrtSession;
  try {
    session = await openSide(ort, original.source, 'the input model');
  } catch (error) {
    original.done();
    throw error;
  }
  try {
    // Tensors are made per run from the float64 batches, so only the batches themselves stay in memory.
    const feeds = batches.map((batch) => () => feedsOf(ort, batch, session.inputNames));
    const context: WaveContext = { ort, plan, options, original: { session, output: original.output }, feeds };
    for (const wave of ordered.waves) {
      const ranks = prepareWave(context, wave);
      const { collected, perUse } = await collectWave(context, wave.flat());
      for (const unit of wave) {
        for (const fit of fitUnit(context, unit, unit.map((c) => perUse.get(c)!), ranks.get(unit[0])!, collected.get(unit[0])!)) {
          if (fit) fits.push(fit);
          options.onLayer?.(++done, total);
        }
      }
    }
  } finally {
    await session.release();
    original.done();
  }
  return { plan, fits };
}

/** What every step of a wave needs: the plan being refined, the original model's session, the batches. */
interface WaveContext {
  ort: Ort;
  plan: SeparationPlan;
  options: RefitOptions;
  original: { session: OrtSession; output: (name: string) => string };
  feeds: (() => Record<string, OrtTensor>)[];
}

/**
 * The chosen convs grouped by shared weight (one unit per weight, its uses in graph order), and those that cannot be
 * fitted with the reason: a use in a Loop/Scan body, or (for the --target-macs probe, which picks one rank per
 * conv) a weight with several uses.
 */
function fittableUnits(plan: SeparationPlan, probe: boolean): { units: CandidateLayer[][]; unfit: { c: CandidateLayer; reason: KeptReason }[] } {
  const uses = new Map<string, CandidateLayer[]>();
  for (const c of plan.chosen) uses.set(sharedWeightKey(c), [...(uses.get(sharedWeightKey(c)) ?? []), c]);
  const units: CandidateLayer[][] = [];
  const unfit: { c: CandidateLayer; reason: KeptReason }[] = [];
  for (const unit of uses.values()) {
    if (unit.some((c) => !exposable(plan, c.graph!))) {
      for (const c of unit) unfit.push({ c, reason: { code: !exposable(plan, c.graph!) ? 'in-loop-body' : 'shares-weight-with-loop-body' } });
    } else if (unit.length > 1 && probe) {
      for (const c of unit) unfit.push({ c, reason: { code: 'shared-weight-one-rank' } });
    } else units.push(unit);
  }
  return { units, unfit };
}

/**
 * Gives each layer of the wave the rank it is collected at: the highest rank `pickRank` may choose (the uses of one
 * weight take the ranks of the first: the same conv geometry), raised for the alternating refit. Returns each
 * unit's candidate ranks (empty: the layer's own rank only).
 */
function prepareWave({ options }: WaveContext, units: CandidateLayer[][]): Map<CandidateLayer, number[]> {
  const ranksOf = new Map<CandidateLayer, number[]>();
  for (const unit of units) {
    const ranks = options.pickRank?.ranks(unit[0]) ?? [];
    ranksOf.set(unit[0], ranks);
    for (const c of unit) if (ranks.length && ranks[ranks.length - 1] !== c.weights!.rank) options.pickRank!.setRank(c, ranks[ranks.length - 1]);
  }
  return ranksOf;
}

/**
 * Runs both models on every batch and folds each layer's output Y (original model) and depthwise output Z (the
 * model rewritten so far) into its statistics. With the alternating refit, a layer is collected at a higher rank
 * (only this wave's depthwise outputs are read) and even and odd batches are summed apart: the rounds are chosen on
 * one half and checked on the other (fitAt). Each layer gets its weights back after; `collected`: the weights its
 * statistics were collected with.
 */
async function collectWave(context: WaveContext, wave: CandidateLayer[]): Promise<{ collected: Map<CandidateLayer, SeparatedWeights>; perUse: Map<CandidateLayer, PointwiseStats[]> }> {
  const { ort, plan, options, original, feeds } = context;
  const base = new Map(wave.map((c) => [c, c.weights!]));
  for (const c of wave) {
    const q = options.alternate?.collectRank(c, c.weights!.rank) ?? c.weights!.rank;
    if (q > c.weights!.rank) c.weights = options.alternate!.weightsAt(c, q);
  }
  const collected = new Map<CandidateLayer, SeparatedWeights>();
  const current = emitSeparation(plan, { outputPath: plan.model.path ?? 'model.onnx' });
  const zNames = wave.map((c) => current.newNodes.get(c)!.depthwiseOutput);
  const yNames = wave.map((c) => original.output(c.node.outputs[0]));
  const statsOf = (c: CandidateLayer) => new PointwiseStats(c.conv!.group, (c.conv!.inChannels * c.weights!.rank) / c.conv!.group, c.conv!.outChannels / c.conv!.group);
  const halves = wave.map((c) => (options.alternate ? [statsOf(c), statsOf(c)] : [statsOf(c)]));
  let rewritten: Awaited<ReturnType<typeof modelCopy>> | null = null;
  let b: OrtSession | null = null;
  try {
    rewritten = await modelCopy(options.copies, plan, plan.chosen, wave.map((c, i) => exposedValue(c, zNames[i])));
    const copy = rewritten;
    zNames.forEach((z, i) => (zNames[i] = copy.output(z)));
    b = await openSide(ort, rewritten.source, 'the rewritten model');
    for (const [index, feedOf] of feeds.entries()) {
      const feed = feedOf();
      const ra = await runSide(original.session, feed, 'the input model', yNames);
      const rb = await runSide(b, feed, 'the rewritten model', zNames);
      options.copies.checkpoint();
      wave.forEach((_, i) => {
        const ya = ra[yNames[i]];
        const yv = ya && floatValues(ya);
        const zv = rb[zNames[i]] && floatValues(rb[zNames[i]]);
        if (!yv || !zv) throw new Error(`calibration: ${yNames[i]} or ${zNames[i]} was not produced`);
        // Empty: the conv's If branch did not run on this batch.
        if (!yv.length || !zv.length) return;
        const pixels = ya.dims.slice(2).reduce((p, d) => p * d, 1);
        const into = halves[i][index % halves[i].length];
        into.add(zv, yv, ya.dims[0], pixels, into.samplePixels(pixels, pixels * ya.dims[0] * feeds.length, index) ?? undefined);
      });
    }
  } finally {
    await b?.release();
    rewritten?.done();
    for (const c of wave) {
      collected.set(c, c.weights!);
      c.weights = base.get(c)!;
    }
  }
  return { collected, perUse: new Map(wave.map((c, i) => [c, halves[i]])) };
}

/**
 * The fit at rank r from statistics collected at rank q ≥ r: the pointwise least squares on the first r filters
 * of every input channel, then (with `alternate`, r < q) the alternating refit of filters and pointwise weights.
 * `tied`: for the uses of one weight, their statistics centred (see tiedStats), the factor of their errors.
 */
function fitAt({ options }: WaveContext, c: CandidateLayer, halves: PointwiseStats[], collected: SeparatedWeights, r: number, importance: Float64Array | undefined, tied: number | null = null): Fit {
  const conv = c.conv!;
  const q = collected.rank;
  const cg = conv.inChannels / conv.group;
  const keep = keepOf(cg, r, q);
  const stats = sum(halves);
  const pointwise = (s: PointwiseStats) => {
    const first = s.solve(options.ridge, r === q ? undefined : keep, collected.pointwise.data);
    // Keep the first r of every input channel's q filters, in the rank-r layout.
    const pw = new Float64Array(conv.outChannels * keep.length);
    for (let n = 0; n < conv.outChannels; n++) for (let i = 0; i < keep.length; i++) pw[n * keep.length + i] = first.weights[n * cg * q + keep[i]];
    return { weights: pw, bias: first.bias, error: first.error };
  };
  if (r === q) {
    const full = stats.solve(options.ridge, undefined, collected.pointwise.data);
    return { ...full, error: full.error * (tied ?? 1), depthwise: null, rounds: 0 };
  }
  const start = pointwise(stats);
  // Tied weights keep their SVD filters: the per-use biases are solved on the collected filters.
  if (tied !== null) return { ...start, error: start.error * tied, depthwise: null, rounds: 0 };
  if (!options.alternate) return { ...start, depthwise: null, rounds: 0 };
  let rounds = options.alternate.options.maxRounds;
  if (halves.length === 2 && halves[1].pixels > 0) {
    // Rounds fitted on the even batches and measured on the odd ones: only as many as lowered the error there.
    const trial = alternateRefit(halves[0], r, q, pointwise(halves[0]), { ...options.alternate.options, outputWeights: importance, validation: halves[1] });
    rounds = trial.bestValidated ?? 0;
    if (!rounds) return { ...start, depthwise: null, rounds: 0 };
  }
  const alt = alternateRefit(stats, r, q, start, { ...options.alternate.options, outputWeights: importance, maxRounds: rounds, tolerance: rounds < options.alternate.options.maxRounds ? 0 : options.alternate.options.tolerance });
  const depthwise = alt.rounds ? mixFilters(collected.depthwise.data, alt.mix, conv.inChannels, r, q) : null;
  return { weights: alt.weights, bias: alt.bias, error: alt.error, depthwise, rounds: alt.rounds };
}

/**
 * The fit of one conv, or of the uses of one weight together (`unit`, each use's statistics in `perUse`): one set
 * of weights for all of them, its errors over all their uses. Gives the unit's layers their refitted weights (and
 * rank), or, when no rank keeps the output error within --max-error, drops them from the plan; with the probe,
 * records the error of every rank and changes nothing (null).
 */
function fitUnit(context: WaveContext, unit: CandidateLayer[], perUse: PointwiseStats[][], ranks: number[], collected: SeparatedWeights): (LayerFit | null)[] {
  const { plan, options } = context;
  const model = plan.model;
  const c = unit[0];
  if (perUse.every((u) => u.every((h) => h.pixels === 0))) {
    return unit.map((u) => ({ layer: u, svdError: NaN, refitError: null, svd: u.weights!, kept: { code: 'branch-not-run' } }));
  }
  const tied = unit.length > 1 ? tiedStats(perUse) : null;
  const halves = tied?.halves ?? perUse[0];
  const stats = sum(halves);
  const conv = c.conv!;
  const top = c.weights!.rank;
  const q = collected.rank;
  const cg = conv.inChannels / conv.group;
  // The BN after a conv weighs its output channels (importance.ts); the uses of a weight may have different ones.
  const importance = unit.length === 1 ? (outputImportance(model, c) ?? undefined) : undefined;
  if (options.probe) {
    const table = options.probe.ranks(c).map((r) => ({ rank: r, error: fitAt(context, c, halves, collected, r, importance, tied?.scale).error }));
    options.probe.errors.set(c.position, table);
    return [null];
  }
  let rank = top;
  let fit = null as Fit | null;
  for (const r of ranks.length ? ranks : [top]) {
    fit = fitAt(context, c, halves, collected, r, importance, tied?.scale);
    rank = r;
    if (!options.pickRank || fit.error <= options.pickRank.maxError) break;
  }
  if (options.pickRank && fit!.error > options.pickRank.maxError) {
    // Beyond the limit at every rank that saves MACs: the conv stays as it is, and later layers are fitted so.
    for (const u of unit) {
      u.skipped = { code: 'output-error', error: fit!.error, maxError: options.pickRank.maxError, rank: top };
      plan.chosen.splice(plan.chosen.indexOf(u), 1);
    }
    return unit.map(() => null);
  }
  if (rank !== top) for (const u of unit) options.pickRank!.setRank(u, rank);
  // The SVD error with each use's own bias (tied weights may still have biases of their own).
  const svdOf = (i: number): number => {
    const bias = conv.hasBias ? biasOf(model, unit[i]) : new Float64Array(conv.outChannels);
    const own = unit.length === 1 ? stats : sum(perUse[i]);
    return rank === q ? own.errorOf(collected.pointwise.data, bias) : subsetError(own, c.weights!.pointwise.data, bias, keepOf(cg, rank, q), cg * q);
  };
  let svdError = svdOf(0);
  if (tied) {
    let squares = 0;
    for (let i = 0; i < unit.length; i++) squares += svdOf(i) ** 2 * tied.yy[i];
    const all = tied.yy.reduce((a, b) => a + b, 0);
    svdError = all > 0 ? Math.sqrt(squares / all) : Math.sqrt(squares);
  }
  const indices = rank === q ? null : keepOf(cg, rank, q);
  return unit.map((u, i) => {
    const chosen = u.weights!;
    const depthwise = fit!.depthwise ? { dims: chosen.depthwise.dims, data: fit!.depthwise } : chosen.depthwise;
    const bias = tied ? useBias(sum(perUse[i]), fit!.weights, indices) : fit!.bias;
    u.weights = { ...chosen, depthwise, pointwise: { dims: chosen.pointwise.dims, data: fit!.weights }, bias: { dims: [conv.outChannels], data: bias } };
    return { layer: u, svdError, refitError: fit!.error, svd: chosen, kept: null, filterRounds: fit!.rounds, ...(unit.length > 1 ? { uses: unit.length } : {}) };
  });
}

interface Fit {
  weights: Float64Array;
  bias: Float64Array;
  error: number;
  /** Refitted depthwise filters (rank-r layout), or null when they stay the SVD ones. */
  depthwise: Float64Array | null;
  rounds: number;
}

/**
 * The uses of one weight share the pointwise weights P but keep a bias each (each conv keeps its own bias input):
 * Σ_u ‖P·Z_u + c_u − Y_u‖² is least, for any P, at c_u = ȳ_u − P·z̄_u, which leaves Σ_u ‖P·(Z_u − z̄_u) − (Y_u − ȳ_u)‖²:
 * the least squares on the sum of each use's centred statistics, with no bias (its row is zero, so it solves to 0).
 * `halves`: those sums per half; `scale` turns their relative errors (over the centred ‖Y_u − ȳ_u‖) into errors over
 * ‖Y‖; `yy`: each use's ‖Y_u‖².
 */
function tiedStats(perUse: PointwiseStats[][]): { halves: PointwiseStats[]; scale: number; yy: number[] } {
  const halves = perUse[0].map((_, h) => perUse.map((u) => centred(u[h])).reduce((a, b) => a.plus(b)));
  const yy = perUse.map((u) => u.reduce((s, st) => s + st.yy, 0));
  const all = yy.reduce((a, b) => a + b, 0);
  const centredYy = halves.reduce((s, st) => s + st.yy, 0);
  const scale = all > 0 ? (centredYy > 0 ? Math.sqrt(centredYy / all) : 1 / Math.sqrt(all)) : 1;
  return { halves, scale, yy };
}

/** The statistics of Z − z̄ and Y − ȳ (each group's means over the pixels), the bias row and column zero. */
function centred(s: PointwiseStats): PointwiseStats {
  const { groups: g, zPerGroup: zg, outPerGroup: ng } = s;
  const d = zg + 1;
  const out = new PointwiseStats(g, zg, ng);
  out.pixels = s.pixels;
  for (let G = 0; G < g; G++) {
    const gram = s.gram[G];
    const cross = s.cross[G];
    const n = gram[zg * d + zg];
    const mean = (v: number) => (n > 0 ? v / n : 0);
    for (let i = 0; i < zg; i++) {
      for (let j = i; j < zg; j++) out.gram[G][i * d + j] = gram[i * d + j] - gram[i * d + zg] * mean(gram[j * d + zg]);
      for (let k = 0; k < ng; k++) out.cross[G][i * ng + k] = cross[i * ng + k] - gram[i * d + zg] * mean(cross[zg * ng + k]);
    }
    out.gram[G][zg * d + zg] = n;
    for (let k = 0; k < ng; k++) {
      const v = Math.max(0, s.yyOut[G * ng + k] - cross[zg * ng + k] * mean(cross[zg * ng + k]));
      out.yyOut[G * ng + k] = v;
      out.yy += v;
    }
  }
  return out;
}

/**
 * One use's bias for tied pointwise weights ([N, m] per group, column i reading the collected depthwise channel
 * `indices[i]`, or i itself): c = ȳ − P·z̄ on that use's statistics.
 */
function useBias(s: PointwiseStats, weights: Float64Array, indices: number[] | null): Float64Array {
  const { groups: g, zPerGroup: zg, outPerGroup: ng } = s;
  const d = zg + 1;
  const m = indices ? indices.length : zg;
  const bias = new Float64Array(g * ng);
  for (let G = 0; G < g; G++) {
    const gram = s.gram[G];
    const n = gram[zg * d + zg];
    if (n <= 0) continue;
    for (let k = 0; k < ng; k++) {
      const row = (G * ng + k) * m;
      let v = s.cross[G][zg * ng + k];
      for (let i = 0; i < m; i++) v -= weights[row + i] * gram[(indices ? indices[i] : i) * d + zg];
      bias[G * ng + k] = v / n;
    }
  }
  return bias;
}

/** One set of statistics from the halves collected apart (or the one set). */
function sum(halves: PointwiseStats[]): PointwiseStats {
  return halves.length === 1 ? halves[0] : halves[0].plus(halves[1]);
}

/** The indices, in a rank-q layout, of the first r filters of each of `cg` input channels. */
function keepOf(cg: number, r: number, q: number): number[] {
  return Array.from({ length: cg * r }, (_, i) => Math.floor(i / r) * q + (i % r));
}

/**
 * Groups units (one conv, or the uses of one weight) in graph order into waves, so that no unit is upstream of
 * another in its wave, and every unit comes after the waves of all the units upstream of it: level = 1 + the highest
 * level of a unit it depends on. A unit with a use upstream of another of its uses cannot be fitted in one wave
 * (`chained`); nor can units that depend on each other (x₁ feeds y₁ and y₂ feeds x₂): then every unit of several
 * uses is chained, and the waves are made again without them.
 */
function orderUnits(model: Model, units: CandidateLayer[][]): { waves: CandidateLayer[][][]; chained: CandidateLayer[][] } {
  // Producers in If branches too: a conv there reads values of its branch and of the graphs around it, and a node
  // after an If depends on what its branches compute (their outputs).
  const producer = new Map<string, Node>();
  const branchOutputs = new Map<Node, string[]>();
  const index = (g: Graph): void => {
    for (const n of g.nodes) {
      for (const o of n.outputs) if (o) producer.set(o, n);
      for (const a of n.attributes) {
        if (a.data.type !== 'graph' || n.opType !== 'If') continue;
        branchOutputs.set(n, [...(branchOutputs.get(n) ?? []), ...a.data.value.outputs.map((o) => o.name)]);
        index(a.data.value);
      }
    }
  };
  index(model.graph);
  let live = units;
  const chained: CandidateLayer[][] = [];
  for (;;) {
    const unitOf = new Map<Node, number>();
    live.forEach((unit, i) => unit.forEach((c) => unitOf.set(c.node, i)));
    // The units each unit reads from: walk upstream from every use's data input, stopping at other layers.
    const upstream = live.map(() => new Set<number>());
    const selfFed = new Set<number>();
    live.forEach((unit, i) => {
      const seen = new Set<Node>();
      const stack = unit.map((c) => c.node.inputs[0]);
      while (stack.length) {
        const n = producer.get(stack.pop()!);
        if (!n || seen.has(n)) continue;
        seen.add(n);
        const j = unitOf.get(n);
        if (j === i) selfFed.add(i);
        if (j !== undefined) {
          if (j !== i) upstream[i].add(j);
          continue;
        }
        stack.push(...n.inputs.filter(Boolean), ...(branchOutputs.get(n) ?? []));
      }
    });
    const level = new Array<number>(live.length).fill(-1);
    const state = new Array<0 | 1 | 2>(live.length).fill(0);
    let cycle = false;
    const levelOf = (i: number): number => {
      if (state[i] === 2) return level[i];
      if (state[i] === 1) {
        cycle = true;
        return 0;
      }
      state[i] = 1;
      let deepest = -1;
      for (const j of upstream[i]) deepest = Math.max(deepest, levelOf(j));
      state[i] = 2;
      return (level[i] = deepest + 1);
    };
    live.forEach((_, i) => levelOf(i));
    if (!selfFed.size && !cycle) {
      const waves: CandidateLayer[][][] = [];
      // In graph order within a wave, as the plan lists the layers.
      live.forEach((unit, i) => (waves[level[i]] ??= []).push(unit));
      return { waves: waves.filter(Boolean), chained };
    }
    const out = live.filter((unit, i) => (cycle ? unit.length > 1 : selfFed.has(i)));
    chained.push(...out);
    live = live.filter((unit) => !out.includes(unit));
  }
}

/** The error of rank-r weights ([N, keep.length]) measured on statistics collected at a higher rank. */
function subsetError(stats: PointwiseStats, weights: Float64Array, bias: Float64Array, keep: number[], width: number): number {
  const n = bias.length;
  const wide = new Float64Array(n * width);
  for (let o = 0; o < n; o++) for (let i = 0; i < keep.length; i++) wide[o * width + keep[i]] = weights[o * keep.length + i];
  return stats.errorOf(wide, bias);
}

/** The conv's own bias values (NaN when it is not an initializer of the conv's graph: the SVD error is then unknown). */
function biasOf(model: Model, c: CandidateLayer): Float64Array {
  const name = c.node.inputs[2];
  const t = c.graph!.initializers.find((i) => i.name === name);
  if (!t) return new Float64Array(c.conv!.outChannels).fill(NaN);
  return decodeBias(model, t);
}

function decodeBias(model: Model, t: TensorRef): Float64Array {
  const kind = t.dtype === DataType.FLOAT16 ? 'float16' : t.dtype === DataType.DOUBLE ? 'float64' : t.dtype === DataType.BFLOAT16 ? 'bfloat16' : 'float32';
  return decodeFloats(readTensorBytes(model, t), kind);
}

/** Runs both models on every batch and compares each graph output. */
export async function verifyOutputs(ort: Ort, original: Source, rewritten: Source, batches: CalibrationBatch[], checkpoint?: () => void): Promise<OutputCheck[]> {
  const a = await openSide(ort, original, 'the input model');
  let b: OrtSession | null = null;
  try {
    b = await openSide(ort, rewritten, 'the rewritten model');
    const comparison = new OutputComparison();
    for (const batch of batches) {
      const ra = await runSide(a, feedsOf(ort, batch, a.inputNames), 'the input model');
      const rb = await runSide(b, feedsOf(ort, batch, b.inputNames), 'the rewritten model');
      checkpoint?.();
      comparison.add(ra, rb);
    }
    return comparison.figures().map(({ name, relativeError, cosine, maxAbsDiff, top1Agreement }) => ({ name, relativeError, cosine, maxAbsDiff, top1Agreement }));
  } finally {
    await a.release();
    await b?.release();
  }
}
