import { type DiffJson, diffReports } from '../budget/diff.js';
import { type Report, buildReport } from '../cost/analyze.js';
import { readAnyModel } from '../formats/read.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';

export type DiffOptions = ShapeOptions;

function analyzeOne(path: string, infer: InferOptions): Report {
  const model = readAnyModel(path);
  try {
    // Only the report is kept: each inference record goes once its row is made (the first report is held while
    // the second model is analysed).
    return buildReport(model, inferModel(model, infer), { release: true });
  } finally {
    model.source.close();
  }
}

/** Both analyses and their diff: the CLI's HTML report rolls the analyses up by module. */
export function diffFiles(basePath: string, headPath: string, options: DiffOptions = {}): { base: Report; head: Report; diff: DiffJson } {
  const infer = checkShapeOptions(options);
  const base = analyzeOne(basePath, infer);
  const head = analyzeOne(headPath, infer);
  return { base, head, diff: diffReports(base, head) };
}

/** `mbn diff BASE HEAD --format json` as a function: per-layer and total cost changes, the `mbn.diff/1` document. */
export async function diff(basePath: string, headPath: string, options: DiffOptions = {}): Promise<DiffJson> {
  return diffFiles(basePath, headPath, options).diff;
}
