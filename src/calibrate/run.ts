import { type Ort, loadOrt } from '../bench/run.js';
import type { Model } from '../ir/types.js';
import { separationFigures } from '../cost/separable.js';
import { type CandidateLayer, type SeparateOptions, type SeparatePlan, buildRewrite, computeWeights, greedyRanks, rankOptions, setRank } from '../rewrite/separate.js';
import { type BuildCopy, ModelCopies } from './copies.js';
import { type Calibration, type CalibrationBatch, graphInputs, loadCalibration } from './inputs.js';
import { type LayerFit, type RefitOptions, refitSeparation, verifyOutputs } from './collect.js';
import type { OutputCheck } from '../contract/output-check.js';
import type { CalibrationSummary } from '../contract/separate.js';

/**
 * `mbn separate --calibrate`: load the batches, split off a held-back part for verification (a quarter, when there
 * are at least 4), refit the pointwise halves on the rest, and after writing compare the whole model's outputs.
 */
export const ORT_FOR_CALIBRATION = 'onnxruntime-node is not installed, so nothing was fitted or verified on data (npm install onnxruntime-node); the rewrite uses the SVD weights';

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
export function prepareCalibration(model: Model, plan: SeparatePlan, spec: string, seed: number, output: string, given?: Map<string, number[]>): CalibrationRun {
  const resolved = new Map(plan.before.model.inputs.map((i) => [i.name, i.shape]));
  const calibration: Calibration = loadCalibration(spec, graphInputs(model, resolved, given), seed);
  const n = calibration.batches.length;
  const { fit, verify, held } = splitBatches(calibration.batches);
  const notes: string[] = [];
  if (calibration.kind === 'random') notes.push('random calibration data says little about a trained model: a folder of real inputs (.npy) gives figures you can trust');
  if (!held) notes.push(`fewer than 4 calibration batches: the output check ran on the batches the fit used`);
  let ort: Ort | null = null;
  try {
    ort = loadOrt();
  } catch {
    notes.push(ORT_FOR_CALIBRATION);
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

export async function refitOnData(run: CalibrationRun, model: Model, plan: SeparatePlan, options: SeparateOptions, onLayer?: (done: number, total: number) => void): Promise<LayerFit[]> {
  const init = options.init;
  if (!run.ort || !plan.chosen.length) return [];
  if (init === 'he') {
    run.summary.notes.push('--init he: the new weights are random (for training from scratch), so nothing was fitted; expect a large output error until trained');
    return [];
  }
  // --max-error with data: each layer's rank is the smallest whose output error on the data is within it (the plan's
  // choice from the weight error is only the starting point). --target-macs keeps the plan's ranks.
  const position = new Map(plan.layers.map((c, i) => [c, i]));
  const pickRank =
    options.maxError !== null && options.targetMacs === null
      ? {
          maxError: options.maxError,
          ranks: (c: CandidateLayer) => rankOptions(model, c, { ...options, maxError: null }).map((o) => o.rank),
          setRank: (c: CandidateLayer, rank: number) => setRank(model, c, options, rank, position.get(c)!),
        }
      : undefined;
  const alternate = alternating(model, options, position);
  // The --target-macs probe ranks layers by the pointwise fit alone (alternating every rank of every layer would
  // cost tens of times more); the chosen ranks are then refitted with the filters too.
  if (options.targetMacs !== null) await planOnData(run, model, plan, options);
  const fits = await refitSeparation(run.ort, model, plan, run.fit, { ridge: 1e-2, copies: run.copies, onLayer, pickRank, alternate });
  // The plain SVD rewrite at the same ranks (same MACs), on the same batches: what the refit is measured against.
  const svdWeights = new Map(fits.map((f) => [f.layer, f.svd]));
  const svdPlan = { ...plan, chosen: plan.chosen.map((c) => ({ ...c, weights: svdWeights.get(c) ?? c.weights })) };
  run.summary.svdOutputs = await verifyCopy(run, model.path!, (path, kept) => buildRewrite(model, svdPlan, path, [], kept));
  if (pickRank || options.targetMacs !== null) {
    // The MACs and params follow the ranks chosen on the data.
    plan.macsAfter = plan.before.totals.macs;
    plan.paramsAfter = plan.before.totals.params;
    for (const c of plan.chosen) {
      const info = c.info!;
      if (info.macs !== null) plan.macsAfter -= (info.macs - info.macsAfter!) * c.executions;
      plan.paramsAfter += info.paramsAfter - info.params;
    }
  }
  run.summary.layers = fits.map((f) => ({
    name: f.layer.name,
    svdError: Number.isNaN(f.svdError) ? null : f.svdError,
    refitError: f.refitError,
    kept: f.kept,
    ...(alternate ? { filterRounds: f.filterRounds ?? 0 } : {}),
    ...(f.uses ? { uses: f.uses } : {}),
  }));
  const tied = fits.filter((f) => f.uses).length;
  if (tied) run.summary.notes.push(`${tied} convs share their weights with others: each shared weight was fitted once, on all its uses together (their errors are over all the uses)`);
  if (alternate) {
    const moved = fits.filter((f) => f.filterRounds).length;
    run.summary.notes.push(`--refit-depthwise: the depthwise filters of ${moved} of ${fits.length} layer${fits.length === 1 ? '' : 's'} were refitted (rounds fitted on half the batches and kept while they lowered the error on the other half)`);
  }
  return fits;
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

const NOT_NEEDED = 'not needed to meet --target-macs';

/**
 * --target-macs with data: the same greedy as without (least error added per MAC saved), on each layer's refitted
 * output error on the data instead of its weight error. The errors come from one probe over the layers the plan
 * could use, each at the highest rank that saves MACs (close to the original, so each sees nearly the original's
 * inputs); the asymmetric refit then runs at the ranks chosen.
 */
async function planOnData(run: CalibrationRun, model: Model, plan: SeparatePlan, options: SeparateOptions): Promise<void> {
  const pool = plan.layers.filter((c) => plan.chosen.includes(c) || c.skipped === NOT_NEEDED);
  if (!pool.length || pool.some((c) => c.graph !== model.graph) || !plan.target) return;
  const position = new Map(plan.layers.map((c, i) => [c, i]));
  const ranks = new Map(pool.map((c) => [c, rankOptions(model, c, { ...options, maxError: null }).map((o) => o.rank)]));
  const before = new Map(plan.chosen.map((c) => [c, c.info!.multiplier]));
  for (const c of pool) setRank(model, c, options, ranks.get(c)!.at(-1)!, position.get(c)!);
  const errors = new Map<CandidateLayer, { rank: number; error: number }[]>();
  await refitSeparation(run.ort!, model, { ...plan, chosen: pool.slice() }, run.fit, { ridge: 1e-2, copies: run.copies, probe: { ranks: (c) => ranks.get(c)!, errors } });
  if (errors.size !== pool.length) {
    // A layer could not be probed (a shared weight): keep the plan made from the weights.
    for (const [c, rank] of before) setRank(model, c, options, rank, position.get(c)!);
    return;
  }
  const savedAt = (c: CandidateLayer, rank: number) => {
    const f = separationFigures(c.conv!, rank, c.pixels);
    return f.macs === null ? 0 : (f.macs - f.macsAfter!) * c.executions;
  };
  // --max-error too: only the ranks within it, on the data.
  if (options.maxError !== null) for (const [c, table] of errors) errors.set(c, table.filter((o) => o.error <= options.maxError!));
  const picked = greedyRanks(pool, errors, plan.before.totals.macs - options.targetMacs!, savedAt);
  plan.chosen = pool.filter((c) => picked.has(c));
  let macs = plan.before.totals.macs;
  for (const c of pool) {
    if (picked.has(c)) {
      setRank(model, c, options, picked.get(c)!, position.get(c)!);
      c.skipped = null;
      macs -= savedAt(c, picked.get(c)!);
    } else if (!errors.get(c)!.length) {
      c.skipped = `output error on data exceeds --max-error ${options.maxError} even at rank ${ranks.get(c)!.at(-1)}`;
    } else c.skipped = NOT_NEEDED;
  }
  plan.target = { macs, met: macs <= options.targetMacs! };
  // The plan's own note said whether the weights could meet it; now the data decides.
  plan.notes = plan.notes.filter((n) => !n.startsWith('--target-macs cannot be met'));
  if (!plan.target.met) plan.notes.push(`--target-macs cannot be met${options.maxError !== null ? ` within --max-error ${options.maxError}` : ''}: the best plan on the data gives ${macs} MACs`);
  run.summary.notes.push('--target-macs: ranks chosen by the refitted output error of each layer on the calibration data');
}

/**
 * --refit-depthwise: each layer is collected at rank q = r + 1 (capped by the SVD's rank), so a rank-r layer's
 * filters may move within the span of its channels' leading r + 1 singular directions (rewrite/alternate.ts). One
 * more direction costs (r+1)²/r² times the pointwise statistics (4× at rank 1); two more gained little more on the
 * detector (0.432 against 0.476 at rank 1, measured before the output weights and the half-batch check, and worse at
 * rank 2) and took twice as long at 640×640. Opt-in: it raised the classifier's output error (README, Calibration).
 */
function alternating(model: Model, options: SeparateOptions, position: Map<CandidateLayer, number>): RefitOptions['alternate'] {
  if (!options.refitDepthwise) return undefined;
  return {
    collectRank: (c, rank) => {
      const conv = c.conv!;
      const K = conv.kernel.reduce((a, b) => a * b, 1);
      return Math.min(conv.outChannels / conv.group, K, rank + 1);
    },
    weightsAt: (c, rank) => computeWeights(model, c, { ...options, multiplier: rank }, position.get(c)!),
    options: { ridge: 1e-2, filterRidge: 1e-2, maxRounds: 20, tolerance: 1e-3 },
  };
}
