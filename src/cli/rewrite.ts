import { basename, dirname, extname, join } from 'node:path';
import { compareOutputs } from '../bench/compare.js';
import { type InputSpec, loadOrt } from '../bench/run.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError } from '../errors.js';
import { externalLocations, hasExternalData } from '../ir/walk.js';
import { readModel, readModelFrom } from '../onnx/read.js';
import { PieceSource } from '../onnx/splice.js';
import { type WriteTarget, checkTarget, writeModelWithData } from '../onnx/write-file.js';
import { type RewriteSummary, renderRewriteJson, renderRewriteMarkdown, renderRewriteTable } from '../report/rewrite-report.js';
import { makeStyle } from '../report/style.js';
import { planHardSwish } from '../rewrite/hard-swish.js';
import { write } from './output.js';

export interface RewriteCliOptions {
  hardSwish: boolean;
  hardSigmoid: boolean;
  output?: string;
  dryRun: boolean;
  force: boolean;
  samples: number;
  seed: number;
  input?: Map<string, number[]>;
  batch?: number;
  format: 'table' | 'json' | 'md';
  color?: boolean;
}

export function defaultRewriteOutput(input: string): string {
  const ext = extname(input);
  return join(dirname(input), `${basename(input, ext || undefined)}.hardswish${ext || '.onnx'}`);
}

/** Runs `mbn rewrite`: plan the edits, check the result in ONNX Runtime against the input, then write it. */
export async function runRewrite(path: string, opts: RewriteCliOptions): Promise<void> {
  if (!opts.hardSwish && !opts.hardSigmoid) {
    throw new MbnError('usage', 'mbn rewrite needs --hard-swish (swish → HardSwish) and/or --hard-sigmoid (sigmoid gates → HardSigmoid)');
  }
  const output = opts.output ?? defaultRewriteOutput(path);
  const shapes = { inputShapes: opts.input, batch: opts.batch };
  const model = readModel(path);
  try {
    // As for separate: the output, and its own data file when the model keeps weights outside, are checked before
    // any work, and neither may be the input or one of its data files.
    const protect = [path, ...externalLocations(model).map((l) => join(dirname(path), l))];
    const dataName = `${basename(output)}.data`;
    const modelTarget: WriteTarget = { path: output, force: opts.force, protect };
    const dataTarget: WriteTarget | null = hasExternalData(model) ? { path: join(dirname(output), dataName), force: opts.force, protect } : null;
    if (!opts.dryRun) for (const t of [modelTarget, dataTarget]) if (t) checkTarget(t);
    const before = analyzeModel(model, shapes);
    const plan = planHardSwish(model, { swish: opts.hardSwish, gates: opts.hardSigmoid, externalData: dataName });
    const after = analyzeModel(readModelFrom(new PieceSource(plan.pieces, model.source), model.path), shapes);
    const summary: RewriteSummary = { input: path, output: opts.dryRun ? null : output, plan, before, after, deviation: null, deviationSkipped: null };

    // The comparison needs onnxruntime-node and concrete input shapes; without them the report says why.
    let ort: ReturnType<typeof loadOrt> | null = null;
    const inputs: InputSpec[] = [];
    try {
      ort = loadOrt();
      for (const i of before.model.inputs) {
        if (!i.shape) throw new MbnError('usage', `input '${i.name}' has no known shape (give it with --input)`);
        inputs.push({ name: i.name, type: i.dtype, dims: i.shape });
      }
    } catch (error) {
      if (!(error instanceof MbnError)) throw error;
      summary.deviationSkipped = error.message;
      ort = null;
    }
    if (plan.changes.length === 0 && !summary.deviationSkipped) summary.deviationSkipped = 'nothing was rewritten';
    const measure = async (rewritten: string | Uint8Array): Promise<void> => {
      if (!ort || summary.deviationSkipped) return;
      try {
        summary.deviation = await compareOutputs(ort, path, rewritten, inputs, opts.samples, opts.seed);
      } catch (error) {
        // The input model itself does not run (absent external data, an op ORT lacks): nothing to compare with.
        if (!(error instanceof MbnError)) throw error;
        summary.deviationSkipped = error.message;
      }
    };
    const external = hasExternalData(model);
    // Checked before anything is in place: where the bytes stand alone, from them; a model with external data once
    // staged with its own data file beside it, which its relative locations need (a failure there writes nothing).
    if (!external) await measure(Buffer.concat(plan.pieces.map((p) => (p instanceof Uint8Array ? p : model.source.view(p.start, p.end)))));
    if (!opts.dryRun) {
      const data = plan.externalData && dataTarget ? { target: dataTarget, parts: plan.externalData.parts } : null;
      await writeModelWithData(path, { target: modelTarget, pieces: plan.pieces, source: model.source }, data, external ? measure : undefined);
    } else if (external && !summary.deviationSkipped) {
      summary.deviationSkipped = 'the model keeps weights in external data: the dry run does not run it';
    }
    const text = opts.format === 'json' ? renderRewriteJson(summary) : opts.format === 'md' ? renderRewriteMarkdown(summary) : renderRewriteTable(summary, makeStyle(process.stdout, opts.color));
    write(1, text);
  } finally {
    model.source.close();
  }
}
