import { basename, dirname, extname, join } from 'node:path';
import { analyzeModel } from '../cost/analyze.js';
import type { Model } from '../ir/types.js';
import { externalLocations } from '../ir/walk.js';
import { readModel, readModelFrom } from '../onnx/read.js';
import { BufferSource } from '../onnx/source.js';
import { PieceSource } from '../onnx/splice.js';
import { type StagedFile, checkTarget, stagePieces } from '../onnx/write-file.js';
import { renderSeparation, type SeparationSummary } from '../report/separate-report.js';
import { makeStyle } from '../report/style.js';
import { assertSameFolder, buildRewrite, planSeparation, type SeparateOptions } from '../rewrite/separate.js';
import { write } from './output.js';
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

/** Node-name globs: `*` matches any run of characters (slashes included, as exporters put them in names), `?` one. */
export function nameMatches(name: string, pattern: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}

export function defaultOutput(input: string): string {
  const ext = extname(input);
  const stem = basename(input, ext || undefined);
  return join(dirname(input), `${stem}.separated${ext || '.onnx'}`);
}

export async function runSeparate(path: string, opts: SeparateCliOptions): Promise<void> {
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
      multiplier: opts.multiplier,
      allowCostlier: opts.allowCostlier,
      init: opts.init,
      seed: opts.seed,
      matches: nameMatches,
      errorOnData: opts.calibrate !== undefined && opts.init === 'svd',
    };
    const planning = opts.format === 'table' ? progressReporter('decomposing weights') : undefined;
    options.progress = planning;
    if (!opts.dryRun) {
      // Refuse early, before any work, when the output cannot be written.
      checkTarget({ path: output, force: opts.force, protect: [path] });
      assertSameFolder(model, output);
    }
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
      // Both files are complete and synced before either is renamed into place.
      const staged: StagedFile[] = [];
      try {
        if (built.externalData) {
          const dataPath = join(dirname(output), built.externalData.location);
          const bytes = Buffer.concat(built.externalData.bytes);
          staged.push(stagePieces({ path: dataPath, force: opts.force, protect: [path, ...externalPaths(model)] }, [bytes], new BufferSource(bytes)));
        }
        staged.push(stagePieces({ path: output, force: opts.force, protect: [path] }, built.pieces, model.source, progress));
      } catch (error) {
        for (const s of staged) s.abort();
        throw error;
      }
      for (const s of staged) s.commit();
      progress?.done();
      const written = readModel(output);
      try {
        summary.after = analyzeModel(written, { inputShapes: opts.input, batch: opts.batch });
      } finally {
        written.source.close();
      }
      if (calibration) await verifyOnData(calibration, path, output);
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
