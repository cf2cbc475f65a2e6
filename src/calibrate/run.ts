import { type Ort, loadOrt } from '../bench/run.js';
import type { Model } from '../ir/types.js';
import { separationFigures } from '../cost/separable.js';
import { emitSeparation } from '../rewrite/emit.js';
import { type CandidateLayer, type SeparateOptions, type SeparationPlan, computeWeights, copyPlan, greedyRanks, projectedTotals, rankOptions, setRank } from '../rewrite/plan.js';
import { type BuildCopy, ModelCopies } from './copies.js';
import { type Calibration, type CalibrationBatch, graphInputs, loadCalibration } from './inputs.js';
import { type RefitOptions, refitSeparation, verifyOutputs } from './collect.js';
import type { OutputCheck } from '../contract/output-check.js';
import type { CalibrationJson, CalibrationNote, KeptReason } from '../contract/separate.js';

/**
 * `mbn separate --calibrate`: load the batches, split off a held-back part for verification (a quarter, when there
 * are at least 4), refine the plan on the rest (refineOnData: a plan in, a refined plan out), and after writing
 * compare the whole model's outputs.
 */

/** The calibration part of `mbn.separate/1` as data (CalibrationJson without the words): report/separate-report.ts says it. */
export interface CalibrationSummary extends Omit<CalibrationJson, 'layers' | 'notes' | 'noteCodes' | 'verdict' | 'verdictCode'> {
  layers: (Omit<CalibrationJson['layers'][number], 'kept' | 'keptCode'> & { kept: KeptReason | null })[];
  notes: CalibrationNote[];
}

export interface CalibrationRun {
  summary: CalibrationSummary;
  ort: Ort | null;
  fit: CalibrationBatch[];
  verify: CalibrationBatch[];
  /** The model's copies ONNX Runtime loads (files in a scratch folder for external data): closeCalibration removes them. */
  copies: ModelCopies;
}

/** The batches held back for the output check: a quarter when there are at least 4, else none (all are used for both). */
export function splitBatches<T>(batches: T[]): { fit: T[]; verify: T[]; held: number } {
  const n = batches.length;
  const held = n >= 4 ? Math.max(1, Math.floor(n / 4)) : 0;
  return { fit: batches.slice(0, n - held), verify: held ? batches.slice(n - held) : batches, held };
}

/** `output`: where the rewrite goes; a model with external data has its scratch copies beside it (see copies.ts). */
export function prepareCalibration(model: Model, plan: SeparationPlan, spec: string, seed: number, output: string, given?: Map<string, number[]>): CalibrationRun {
  const resolved = new Map(plan.before.model.inputs.map((i) => [i.name, i.shape]));
  const calibration: Calibration = loadCalibration(spec, graphInputs(model, resolved, given), seed);
  const n = calibration.batches.length;
  const { fit, verify, held } = splitBatches(calibration.batches);
  const notes: CalibrationNote[] = [];
  if (calibration.kind === 'random') notes.push({ code: 'random-data' });
  if (!held) notes.push({ code: 'check-on-fit-batches' });
  let ort: Ort | null = null;
  try {
    ort = loadOrt();
  } catch {
    notes.push({ code: 'no-onnxruntime' });
  }
  return {
    summary: { source: calibration.source, kind: calibration.kind, batches: n, fitBatches: fit.length, verifyBatches: verify.length, heldBack: held > 0, layers: [], outputs: null, svdOutputs: null, notes },
    ort,
    fit,
    verify,
    copies: new ModelCopies(model, output),
  };
}

/** Removes the scratch copies (in a `finally`: on success, failure and interrupt alike). */
export function closeCalibration(run: CalibrationRun | null): void {
  run?.copies.close();
}

/**
 * Refines a plan on the calibration data and returns the refined plan (the plan given is not changed): the chosen
 * convs' pointwise weights (and with --refit-depthwise their filters) fitted to the original's outputs, their ranks
 * chosen on the data with --max-error or --target-macs, and the MACs and params that follow. Fills the run's summary.
 */
export async function refineOnData(run: CalibrationRun, plan: SeparationPlan, options: SeparateOptions, onLayer?: (done: number, total: number) => void): Promise<SeparationPlan> {
  const model = plan.model;
  if (!run.ort || !plan.chosen.length) return plan;
  if (options.init === 'he') {
    run.summary.notes.push({ code: 'random-init-not-fitted' });
    return plan;
  }
  // --max-error with data: each layer's rank is the smallest whose output error on the data is within it (the plan's
  // choice from the weight error is only the starting point). --target-macs keeps the plan's ranks.
  const pickRank =
    options.maxError !== null && options.targetMacs === null
      ? {
          maxError: options.maxError,
          ranks: (c: CandidateLayer) => rankOptions(model, c, { ...options, maxError: null }).map((o) => o.rank),
          setRank: (c: CandidateLayer, rank: number) => setRank(model, c, options, rank),
        }
      : undefined;
  const alternate = alternating(model, options);
  // The --target-macs probe ranks layers by the pointwise fit alone (alternating every rank of every layer would
  // cost tens of times more); the chosen ranks are then refitted with the filters too.
  const ranked = options.targetMacs !== null ? await planOnData(run, plan, options) : plan;
  const refitted = await refitSeparation(run.ort, ranked, run.fit, { ridge: 1e-2, copies: run.copies, onLayer, pickRank, alternate });
  const { fits } = refitted;
  let refined = refitted.plan;
  // The plain SVD rewrite at the same ranks (same MACs), on the same batches: what the refit is measured against.
  const svdWeights = new Map(fits.map((f) => [f.layer, f.svd]));
  const svdPlan = { ...refined, chosen: refined.chosen.map((c) => ({ ...c, weights: svdWeights.get(c) ?? c.weights })) };
  run.summary.svdOutputs = await verifyCopy(run, model.path!, (outputPath, kept) => emitSeparation(svdPlan, { outputPath, kept }));
  // The MACs and params follow the ranks chosen on the data.
  if (pickRank || options.targetMacs !== null) refined = { ...refined, ...projectedTotals(refined.before, refined.chosen) };
  run.summary.layers = fits.map((f) => ({
    name: f.layer.name,
    svdError: Number.isNaN(f.svdError) ? null : f.svdError,
    refitError: f.refitError,
    kept: f.kept,
    ...(alternate ? { filterRounds: f.filterRounds ?? 0 } : {}),
    ...(f.uses ? { uses: f.uses } : {}),
  }));
  const tied = fits.filter((f) => f.uses).length;
  if (tied) run.summary.notes.push({ code: 'shared-weights-fitted-together', convs: tied });
  if (alternate) run.summary.notes.push({ code: 'depthwise-refitted', refitted: fits.filter((f) => f.filterRounds).length, layers: fits.length });
  return refined;
}

export async function verifyOnData(run: CalibrationRun, original: string | Uint8Array, rewritten: string | Uint8Array): Promise<void> {
  if (!run.ort) return;
  run.summary.outputs = await verifyOutputs(run.ort, original, rewritten, run.verify);
}

/** verifyOnData for a rewrite that is not written (a dry run): ONNX Runtime loads a copy of it. */
export async function verifyBuiltOnData(run: CalibrationRun, original: string, build: BuildCopy): Promise<void> {
  if (!run.ort) return;
  run.summary.outputs = await verifyCopy(run, original, build);
}

async function verifyCopy(run: CalibrationRun, original: string, build: BuildCopy): Promise<OutputCheck[]> {
  const copy = await run.copies.make(build);
  try {
    return await verifyOutputs(run.ort!, original, copy.source, run.verify, () => run.copies.checkpoint());
  } finally {
    copy.done();
  }
}

/**
 * --target-macs with data: the same greedy as without (least error added per MAC saved), on each layer's refitted
 * output error on the data instead of its weight error. The errors come from one probe over the layers the plan
 * could use, each at the highest rank that saves MACs (close to the original, so each sees nearly the original's
 * inputs); the asymmetric refit then runs at the ranks chosen. Returns the re-planned copy (or the plan itself when
 * the data cannot decide).
 */
async function planOnData(run: CalibrationRun, input: SeparationPlan, options: SeparateOptions): Promise<SeparationPlan> {
  const model = input.model;
  const pool = input.layers.filter((c) => input.chosen.includes(c) || c.skipped?.code === 'not-needed-for-target-macs');
  if (!pool.length || pool.some((c) => c.graph !== model.graph) || !input.target) return input;
  const plan = copyPlan(input);
  const layers = pool.map((c) => plan.layers[c.position]);
  const ranks = new Map(layers.map((c) => [c.position, rankOptions(model, c, { ...options, maxError: null }).map((o) => o.rank)]));
  for (const c of layers) setRank(model, c, options, ranks.get(c.position)!.at(-1)!);
  const errors = new Map<number, { rank: number; error: number }[]>();
  await refitSeparation(run.ort!, { ...plan, chosen: layers.slice() }, run.fit, { ridge: 1e-2, copies: run.copies, probe: { ranks: (c) => ranks.get(c.position)!, errors } });
  // A layer could not be probed (a shared weight): keep the plan made from the weights.
  if (errors.size !== layers.length) return input;
  const savedAt = (c: CandidateLayer, rank: number) => {
    const f = separationFigures(c.conv!, rank, c.pixels);
    return f.macs === null ? 0 : (f.macs - f.macsAfter!) * c.executions;
  };
  const choices = new Map(layers.map((c) => [c, errors.get(c.position)!]));
  // --max-error too: only the ranks within it, on the data.
  if (options.maxError !== null) for (const [c, table] of choices) choices.set(c, table.filter((o) => o.error <= options.maxError!));
  const picked = greedyRanks(layers, choices, plan.before.totals.macs - options.targetMacs!, savedAt);
  plan.chosen = layers.filter((c) => picked.has(c));
  let macs = plan.before.totals.macs;
  for (const c of layers) {
    if (picked.has(c)) {
      setRank(model, c, options, picked.get(c)!);
      c.skipped = null;
      macs -= savedAt(c, picked.get(c)!);
    } else if (!choices.get(c)!.length) {
      c.skipped = { code: 'output-error', error: null, maxError: options.maxError!, rank: ranks.get(c.position)!.at(-1)! };
    } else c.skipped = { code: 'not-needed-for-target-macs' };
  }
  plan.target = { macs, met: macs <= options.targetMacs! };
  // The plan's own note said whether the weights could meet it; now the data decides.
  plan.notes = plan.notes.filter((n) => n.code !== 'target-macs-unmet');
  if (!plan.target.met) plan.notes.push({ code: 'target-macs-unmet', macs, onData: true, maxError: options.maxError });
  run.summary.notes.push({ code: 'ranks-chosen-on-data' });
  return plan;
}

/**
 * --refit-depthwise: each layer is collected at rank q = r + 1 (capped by the SVD's rank), so a rank-r layer's
 * filters may move within the span of its channels' leading r + 1 singular directions (rewrite/alternate.ts). One
 * more direction costs (r+1)²/r² times the pointwise statistics (4× at rank 1); two more gained little more on the
 * detector (0.432 against 0.476 at rank 1, measured before the output weights and the half-batch check, and worse at
 * rank 2) and took twice as long at 640×640. Opt-in: it raised the classifier's output error (README, Calibration).
 */
function alternating(model: Model, options: SeparateOptions): RefitOptions['alternate'] {
  if (!options.refitDepthwise) return undefined;
  return {
    collectRank: (c, rank) => {
      const conv = c.conv!;
      const K = conv.kernel.reduce((a, b) => a * b, 1);
      return Math.min(conv.outChannels / conv.group, K, rank + 1);
    },
    weightsAt: (c, rank) => computeWeights(model, c, { ...options, multiplier: rank }),
    options: { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3 },
  };
}
