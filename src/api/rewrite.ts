import { basename, dirname, extname, join } from 'node:path';
import { compareOutputs } from '../bench/compare.js';
import { loadOrt } from '../bench/run.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { externalLocations, hasExternalData } from '../ir/walk.js';
import { readModel, readModelFrom } from '../onnx/read.js';
import { PieceSource } from '../onnx/splice.js';
import { type WriteTarget, checkTarget, writeModelWithData } from '../onnx/write-file.js';
import { type RewriteSummary, rewriteJson } from '../report/rewrite-report.js';
import { planHardSwish } from '../rewrite/hard-swish.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';
import type { InputSpec } from '../contract/bench.js';
import type { RewriteJson } from '../contract/rewrite.js';

export interface RewriteOptions extends ShapeOptions {
  /** Replace swish x·Sigmoid(x) by HardSwish x·ReLU6(x+3)/6 (`--hard-swish`). */
  hardSwish?: boolean;
  /** Replace sigmoid gates (squeeze-and-excite) by HardSigmoid ReLU6(x+3)/6 (`--hard-sigmoid`). */
  hardSigmoid?: boolean;
  /** Output model (default: `<model>.hardswish.onnx` beside the input). */
  output?: string;
  /** Plan, check and report; write nothing. */
  dryRun?: boolean;
  /** Overwrite an existing output file. */
  force?: boolean;
  /** Seeded random inputs the outputs are compared on (default 4). */
  samples?: number;
  /** Seed of those inputs (default 1). */
  seed?: number;
}

export function defaultRewriteOutput(input: string): string {
  const ext = extname(input);
  return join(dirname(input), `${basename(input, ext || undefined)}.hardswish${ext || '.onnx'}`);
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MbnError('usage', `${name} ${quote(String(value))} is not a ${min === 0 ? 'non-negative' : 'positive'} integer`);
  }
  return value;
}

/** Plans the edits, checks the result in ONNX Runtime against the input, then writes it (unless a dry run). */
export async function rewriteFile(path: string, opts: RewriteOptions): Promise<RewriteSummary> {
  if (!opts.hardSwish && !opts.hardSigmoid) {
    throw new MbnError('usage', 'mbn rewrite needs --hard-swish (swish → HardSwish) and/or --hard-sigmoid (sigmoid gates → HardSigmoid)');
  }
  const samples = integerOption('samples', opts.samples, 4, 1);
  const seed = integerOption('seed', opts.seed, 1, 0);
  const infer = checkShapeOptions(opts);
  const dryRun = opts.dryRun ?? false;
  const force = opts.force ?? false;
  const output = opts.output ?? defaultRewriteOutput(path);
  const shapes = { inputShapes: infer.inputShapes, batch: infer.batch };
  const model = readModel(path);
  try {
    // As for separate: the output, and its own data file when the model keeps weights outside, are checked before
    // any work, and neither may be the input or one of its data files.
    const protect = [path, ...externalLocations(model).map((l) => join(dirname(path), l))];
    const dataName = `${basename(output)}.data`;
    const modelTarget: WriteTarget = { path: output, force, protect };
    const dataTarget: WriteTarget | null = hasExternalData(model) ? { path: join(dirname(output), dataName), force, protect } : null;
    if (!dryRun) for (const t of [modelTarget, dataTarget]) if (t) checkTarget(t);
    const before = analyzeModel(model, shapes);
    const plan = planHardSwish(model, { swish: opts.hardSwish ?? false, gates: opts.hardSigmoid ?? false, externalData: dataName });
    const after = analyzeModel(readModelFrom(new PieceSource(plan.pieces, model.source), model.path), shapes);
    const summary: RewriteSummary = { input: path, output: dryRun ? null : output, plan, before, after, deviation: null, deviationSkipped: null };

    // The comparison needs onnxruntime-node and concrete input shapes; without them the report says why (the
    // rewrite itself does not need ONNX Runtime).
    let ort: ReturnType<typeof loadOrt> | null = null;
    const inputs: InputSpec[] = [];
    try {
      ort = loadOrt('measuring how far the outputs move');
    } catch (error) {
      if (!(error instanceof MbnError)) throw error;
      summary.deviationSkipped = { code: 'cannot-run', message: error.message };
    }
    const unknown = before.model.inputs.find((i) => !i.shape);
    if (ort && unknown) {
      summary.deviationSkipped = { code: 'input-shape-unknown', input: unknown.name };
      ort = null;
    }
    for (const i of before.model.inputs) if (i.shape) inputs.push({ name: i.name, type: i.dtype, dims: i.shape });
    if (plan.changes.length === 0 && !summary.deviationSkipped) summary.deviationSkipped = { code: 'nothing-rewritten' };
    const measure = async (rewritten: string | Uint8Array): Promise<void> => {
      if (!ort || summary.deviationSkipped) return;
      try {
        summary.deviation = await compareOutputs(ort, path, rewritten, inputs, samples, seed);
      } catch (error) {
        // The input model itself does not run (absent external data, an op ORT lacks): nothing to compare with.
        if (!(error instanceof MbnError)) throw error;
        summary.deviationSkipped = { code: 'cannot-run', message: error.message };
      }
    };
    const external = hasExternalData(model);
    // Checked before anything is in place: where the bytes stand alone, from them; a model with external data once
    // staged with its own data file beside it, which its relative locations need (a failure there writes nothing).
    if (!external) await measure(Buffer.concat(plan.pieces.map((p) => (p instanceof Uint8Array ? p : model.source.view(p.start, p.end)))));
    if (!dryRun) {
      const data = plan.externalData && dataTarget ? { target: dataTarget, parts: plan.externalData.parts } : null;
      await writeModelWithData(path, { target: modelTarget, pieces: plan.pieces, source: model.source }, data, external ? measure : undefined);
    } else if (external && !summary.deviationSkipped) {
      summary.deviationSkipped = { code: 'external-data-dry-run' };
    }
    return summary;
  } finally {
    model.source.close();
  }
}

/**
 * `mbn rewrite MODEL --format json` as a function: MobileNetV3's activations (swish → HardSwish, sigmoid gates →
 * HardSigmoid) as byte edits of the model, checked in ONNX Runtime against the input when onnxruntime-node is
 * installed (without it, or without concrete input shapes, `deviation` is null and `deviationSkipped` says why),
 * written to `output` (never the input; not with `dryRun`). Returns the `mbn.rewrite/1` document.
 */
export async function rewrite(path: string, options: RewriteOptions = {}): Promise<RewriteJson> {
  return rewriteJson(await rewriteFile(path, options));
}
