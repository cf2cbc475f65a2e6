import { basename, dirname, extname, join } from 'node:path';
import { matchName } from '../budget/glob.js';
import { closeCalibration, prepareCalibration, refineOnData, verifyBuiltOnData, verifyOnData } from '../calibrate/run.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import type { Model } from '../ir/types.js';
import { externalLocations, hasExternalData } from '../ir/walk.js';
import { loadProfile } from '../latency/load-profile.js';
import { readModel, readModelFrom } from '../onnx/read.js';
import { PieceSource } from '../onnx/splice.js';
import { type StagedFile, type WriteTarget, checkTarget, writeModelWithData } from '../onnx/write-file.js';
import { type SeparationSummary, macsUnknownText, separateJson } from '../report/separate-report.js';
import { emitSeparation } from '../rewrite/emit.js';
import { MacsUnknown, planSeparation, type SeparateOptions as PlanOptions, type SeparationPlan } from '../rewrite/plan.js';
import { buildTorchPlan, checkTorchPlanDir, stageTorchPlan, torchPlanNames } from '../rewrite/torch-plan.js';
import { checkShapeOptions, type ProgressHook, type ShapeOptions } from './options.js';
import type { SeparateJson } from '../contract/separate.js';

export interface SeparateOptions extends ShapeOptions {
  /** Output model (default: `<model>.separated.onnx` beside the input). */
  output?: string;
  /** Plan and check, write nothing. */
  dryRun?: boolean;
  /** Overwrite an existing output file. */
  force?: boolean;
  /** Only convs whose node name matches one of these globs (`*` matches any text). */
  include?: string[];
  exclude?: string[];
  /** Skip layers that would save less than this share of their MACs (0…1). */
  minReduction?: number;
  /** Skip layers whose relative weight error would exceed this (svd init). */
  maxError?: number;
  /** Separate, greedily, only until the model fits this many MACs. */
  targetMacs?: number;
  /** With `device`: separate by predicted time saved until the predicted latency fits (milliseconds). */
  targetLatency?: number;
  device?: string;
  /** Depth multiplier r: depthwise filters per input channel (default 1). */
  multiplier?: number;
  /** Also rewrite convs whose pair costs more than the conv. */
  allowCostlier?: boolean;
  /** New weights: `svd` approximates the conv (default), `he` draws fresh He-normal weights. */
  init?: 'svd' | 'he';
  /** Seed for `init: 'he'` and `calibrate: 'random:N'` (default 0). */
  seed?: number;
  /** Fit the pointwise weights on data: a folder of .npy batches, or `random:N` (needs onnxruntime-node). */
  calibrate?: string;
  /** With `calibrate`: refit the depthwise filters too, alternating with the pointwise fit (default false). */
  refitDepthwise?: boolean;
  /**
   * A folder for the PyTorch plan (`separation.json`, `weights.safetensors`, `mbn_torch.py`): the same change for
   * the model the ONNX file was exported from. Needs `output`; not with `dryRun`. With `force`, a folder holding
   * files is accepted and the plan's three files there are replaced.
   */
  torchPlan?: string;
}

export function defaultOutput(input: string): string {
  const ext = extname(input);
  const stem = basename(input, ext || undefined);
  return join(dirname(input), `${stem}.separated${ext || '.onnx'}`);
}

function checkFraction(name: string, value: number | undefined, max: number): void {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= max)) {
    throw new MbnError('usage', `${name} ${quote(String(value))} is out of range: a fraction from 0 to ${max}`);
  }
}

/** Plans, rewrites, writes (unless a dry run) and re-analyzes: what the CLI renders and `separate` returns. */
export async function separateFile(path: string, opts: SeparateOptions, progress: ProgressHook = () => undefined): Promise<SeparationSummary> {
  if (opts.refitDepthwise && opts.calibrate === undefined) throw new MbnError('usage', '--refit-depthwise needs --calibrate (the filters are fitted to data)');
  if (opts.targetLatency !== undefined && !opts.device) throw new MbnError('usage', '--target-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)');
  checkFraction('minReduction', opts.minReduction, 1);
  checkFraction('maxError', opts.maxError, Number.MAX_VALUE);
  const infer = checkShapeOptions(opts);
  const init = opts.init ?? 'svd';
  const seed = opts.seed ?? 0;
  const dryRun = opts.dryRun ?? false;
  const force = opts.force ?? false;
  const targetLatency = opts.targetLatency !== undefined ? { ms: opts.targetLatency, profile: loadProfile(opts.device!) } : null;
  if (opts.torchPlan !== undefined && dryRun) throw new MbnError('usage', '--torch-plan writes files: it cannot be used with --dry-run');
  if (opts.torchPlan !== undefined && opts.output === undefined) throw new MbnError('usage', '--torch-plan needs -o (the separated model the plan matches)');
  const output = opts.output ?? defaultOutput(path);
  const model = readModel(path);
  let calibration: ReturnType<typeof prepareCalibration> | null = null;
  try {
    const options: PlanOptions = {
      inputShapes: infer.inputShapes,
      batch: infer.batch,
      include: opts.include ?? [],
      exclude: opts.exclude ?? [],
      minReduction: opts.minReduction ?? null,
      maxError: opts.maxError ?? null,
      targetMacs: opts.targetMacs ?? null,
      targetLatency,
      multiplier: opts.multiplier ?? 1,
      allowCostlier: opts.allowCostlier ?? false,
      init,
      seed,
      matches: (name: string, pattern: string) => matchName(pattern, name),
      errorOnData: opts.calibrate !== undefined && init === 'svd',
      refitDepthwise: opts.refitDepthwise ?? false,
    };
    const planning = progress('decomposing weights');
    options.progress = planning;
    // The output, and its own data file when the model keeps weights outside (see emitSeparation). Neither may be the
    // input or a file the input uses. Both are checked now, before any work.
    const protect = [path, ...externalPaths(model)];
    const modelTarget: WriteTarget = { path: output, force, protect };
    const dataTarget: WriteTarget | null = hasExternalData(model) ? { path: join(dirname(output), `${basename(output)}.data`), force, protect } : null;
    if (!dryRun) for (const t of [modelTarget, dataTarget]) if (t) checkTarget(t);
    if (opts.torchPlan !== undefined) checkTorchPlanDir(opts.torchPlan, force);
    let plan = planWorded(model, options);
    planning?.done();
    calibration = opts.calibrate ? prepareCalibration(model, plan, opts.calibrate, seed, output, infer.inputShapes) : null;
    if (calibration) {
      const fitting = progress('fitting pointwise weights on calibration data');
      plan = await refineOnData(calibration, plan, options, fitting);
      fitting?.done();
      // The written model is checked from its staged files: the scratch copies can go now.
      if (!dryRun) closeCalibration(calibration);
    }
    const built = emitSeparation(plan, { outputPath: output });
    // The plan takes the weights where they are final: after calibration refitted them.
    const calibrated = calibration !== null && calibration.ort !== null && init === 'svd';
    const torchPlan = opts.torchPlan !== undefined ? buildTorchPlan(model, plan, torchPlanNames(path, output), calibrated) : null;
    const summary: SeparationSummary = { input: path, output: dryRun ? null : output, plan, built, after: null, calibration: calibration?.summary ?? null };
    const shapes = { inputShapes: infer.inputShapes, batch: infer.batch };
    if (!dryRun) {
      const writing = progress(`writing ${basename(output)}`);
      // The written model is analyzed, and checked on the calibration data, while staged (its data file beside it):
      // a model that fails either is never put in place.
      const check = async (staged: string): Promise<void> => {
        writing?.done();
        const written = readModel(staged);
        try {
          summary.after = analyzeModel(written, shapes);
        } finally {
          written.source.close();
        }
        if (calibration) await verifyOnData(calibration, path, staged);
        // The plan is staged once the model passed its checks, and put in place right after it.
        if (torchPlan) stagedPlan = stageTorchPlan(opts.torchPlan!, torchPlan, force);
      };
      let stagedPlan: StagedFile | null = null;
      try {
        const data = built.externalData && dataTarget ? { target: dataTarget, parts: built.externalData.parts } : null;
        await writeModelWithData(path, { target: modelTarget, pieces: built.pieces, source: model.source, progress: writing }, data, check);
        (stagedPlan as StagedFile | null)?.commit();
        stagedPlan = null;
        if (torchPlan) summary.torchPlan = { dir: opts.torchPlan!, plan: torchPlan.json };
      } finally {
        (stagedPlan as StagedFile | null)?.abort();
        writing?.done();
      }
    } else if (plan.chosen.length === 0) {
      // Nothing rewritten: the "rewritten" model is the input byte for byte, and its analysis is the one just made.
      summary.after = plan.before;
    } else {
      // A dry run still checks its work: the rewritten model is analyzed from its pieces, never assembled.
      const pieces = new PieceSource(built.pieces, model.source);
      summary.after = analyzeModel(readModelFrom(pieces, model.path), shapes);
      if (calibration) await verifyBuiltOnData(calibration, path, (copy, kept) => emitSeparation(plan, { outputPath: copy, kept }));
    }
    return summary;
  } finally {
    closeCalibration(calibration);
    model.source.close();
  }
}

/** The input's own data files: an output data file must never replace one of them. */
function externalPaths(model: Model): string[] {
  const folder = dirname(model.path ?? '.');
  return externalLocations(model).map((l) => join(folder, l));
}

/**
 * `mbn separate MODEL --format json` as a function: rewrites standard convs as depthwise + pointwise pairs, writes
 * the new model (never the input; not with `dryRun`) and returns the `mbn.separate/1` document.
 */
export async function separate(path: string, options: SeparateOptions = {}): Promise<SeparateJson> {
  return separateJson(await separateFile(path, options));
}

/** The plan; `--target-macs` on a model whose MACs are unknown is refused with the gaps worded as every gate words them. */
function planWorded(model: Model, options: PlanOptions): SeparationPlan {
  try {
    return planSeparation(model, options);
  } catch (error) {
    if (error instanceof MacsUnknown) throw new MbnError('usage', `--target-macs needs the model's MACs, but ${macsUnknownText(error.note, error.inputs)}`);
    throw error;
  }
}
