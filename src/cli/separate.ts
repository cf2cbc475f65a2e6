import { basename, dirname, extname, join } from 'node:path';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError } from '../errors.js';
import type { Model } from '../ir/types.js';
import { loadProfile } from '../latency/profile.js';
import { externalLocations, hasExternalData } from '../ir/walk.js';
import { DataFileSource } from '../onnx/external.js';
import { readModel, readModelFrom } from '../onnx/read.js';
import { PieceSource } from '../onnx/splice.js';
import { type FileWrite, type WriteTarget, checkTarget, writeFiles } from '../onnx/write-file.js';
import { renderSeparation, type SeparationSummary } from '../report/separate-report.js';
import { makeStyle } from '../report/style.js';
import { buildRewrite, planSeparation, type SeparateOptions } from '../rewrite/separate.js';
import { write } from './output.js';
import { matchName } from '../budget/glob.js';
import { progressReporter } from './progress.js';
import { prepareCalibration, refitOnData, verifyOnData } from '../calibrate/run.js';

export interface SeparateCliOptions {
  output?: string;
  dryRun: boolean;
  force: boolean;
  include: string[];
  exclude: string[];
  minReduction?: number;
  maxError?: number;
  targetMacs?: number;
  /** --target-latency MS (needs device). */
  targetLatency?: number;
  device?: string;
  multiplier: number;
  allowCostlier: boolean;
  init: 'svd' | 'he';
  seed: number;
  input?: Map<string, number[]>;
  batch?: number;
  format: 'table' | 'json' | 'md';
  color?: boolean;
  /** A folder of .npy batches, or random:N. */
  calibrate?: string;
}

export function defaultOutput(input: string): string {
  const ext = extname(input);
  const stem = basename(input, ext || undefined);
  return join(dirname(input), `${stem}.separated${ext || '.onnx'}`);
}

export async function runSeparate(path: string, opts: SeparateCliOptions): Promise<void> {
  if (opts.targetLatency !== undefined && !opts.device) throw new MbnError('usage', '--target-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)');
  const targetLatency = opts.targetLatency !== undefined ? { ms: opts.targetLatency, profile: loadProfile(opts.device!) } : null;
  const output = opts.output ?? defaultOutput(path);
  const model = readModel(path);
  try {
    const options: SeparateOptions = {
      inputShapes: opts.input,
      batch: opts.batch,
      include: opts.include,
      exclude: opts.exclude,
      minReduction: opts.minReduction ?? null,
      maxError: opts.maxError ?? null,
      targetMacs: opts.targetMacs ?? null,
      targetLatency,
      multiplier: opts.multiplier,
      allowCostlier: opts.allowCostlier,
      init: opts.init,
      seed: opts.seed,
      matches: (name: string, pattern: string) => matchName(pattern, name),
      errorOnData: opts.calibrate !== undefined && opts.init === 'svd',
    };
    const planning = opts.format === 'table' ? progressReporter('decomposing weights') : undefined;
    options.progress = planning;
    // The output, and its own data file when the model keeps weights outside (see buildRewrite). Neither may be the
    // input or a file the input uses. Both are checked now, before any work.
    const protect = [path, ...externalPaths(model)];
    const modelTarget: WriteTarget = { path: output, force: opts.force, protect };
    const dataTarget: WriteTarget | null = hasExternalData(model) ? { path: join(dirname(output), `${basename(output)}.data`), force: opts.force, protect } : null;
    if (!opts.dryRun) for (const t of [modelTarget, dataTarget]) if (t) checkTarget(t);
    const plan = planSeparation(model, options);
    planning?.done();
    const calibration = opts.calibrate ? prepareCalibration(model, plan, opts.calibrate, opts.seed, opts.input) : null;
    if (calibration) {
      const fitting = opts.format === 'table' ? progressReporter('fitting pointwise weights on calibration data') : undefined;
      await refitOnData(calibration, model, plan, options, fitting);
      fitting?.done();
    }
    const built = buildRewrite(model, plan, output);
    const summary: SeparationSummary = { input: path, output: opts.dryRun ? null : output, plan, built, after: null, calibration: calibration?.summary ?? null };
    if (!opts.dryRun) {
      const progress = opts.format === 'table' ? progressReporter(`writing ${basename(output)}`) : undefined;
      // Both files are complete and synced before either is renamed into place; a signal meanwhile removes both.
      const files: FileWrite[] = [];
      let data: DataFileSource | null = null;
      try {
        if (built.externalData && dataTarget) {
          data = new DataFileSource(path, built.externalData.parts);
          files.push({ target: dataTarget, pieces: [{ start: 0, end: data.size }], source: data });
        }
        files.push({ target: modelTarget, pieces: built.pieces, source: model.source, progress });
        await writeFiles(files);
      } finally {
        data?.close();
        progress?.done();
      }
      const written = readModel(output);
      try {
        summary.after = analyzeModel(written, { inputShapes: opts.input, batch: opts.batch });
      } finally {
        written.source.close();
      }
      if (calibration) await verifyOnData(calibration, path, output);
    } else if (plan.chosen.length === 0) {
      // Nothing rewritten: the "rewritten" model is the input byte for byte, and its analysis is the one just made.
      summary.after = plan.before;
    } else {
      // A dry run still checks its work: the rewritten model is analyzed from its pieces, never assembled.
      const pieces = new PieceSource(built.pieces, model.source);
      summary.after = analyzeModel(readModelFrom(pieces, model.path), { inputShapes: opts.input, batch: opts.batch });
      if (calibration) await verifyOnData(calibration, path, pieces.view(0, pieces.size).slice());
    }
    const style = makeStyle(process.stdout, opts.color);
    write(1, renderSeparation(summary, opts.format, style));
  } finally {
    model.source.close();
  }
}

/** The input's own data files: an output data file must never replace one of them. */
function externalPaths(model: Model): string[] {
  const folder = dirname(model.path ?? '.');
  return externalLocations(model).map((l) => join(folder, l));
}
