import { diffReports } from '../budget/diff.js';
import { buildReport } from '../cost/analyze.js';
import { type Dataflow, dataflow } from '../cost/dataflow.js';
import { readAnyModel } from '../formats/read.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';
import type { Report } from '../contract/analyze.js';
import type { DiffJson, DiffResult } from '../contract/diff.js';
import { diffJson } from '../report/diff-report.js';

export type DiffOptions = ShapeOptions;

function analyzeOne(path: string, infer: InferOptions, flows: Dataflow[] | null): Report {
  const model = readAnyModel(path);
  try {
    const inferred = inferModel(model, infer);
    if (flows) flows.push(dataflow(inferred.layers, model.graph));
    // Only the report is kept: each inference record goes once its row is made (the first report is held while
    // the second model is analysed).
    return buildReport(model, inferred, { release: true });
  } finally {
    model.source.close();
  }
}

/** Both analyses and their diff: the CLI's HTML report rolls the analyses up by module. */
export function diffFiles(
  basePath: string,
  headPath: string,
  options: DiffOptions = {},
  withDataflow = false,
): { base: Report; head: Report; diff: DiffResult; dataflow: { base: Dataflow; head: Dataflow } | null } {
  const infer = checkShapeOptions(options);
  // With `withDataflow` (the HTML report's graph view): each side's dataflow (cost/dataflow.ts).
  const flows: Dataflow[] | null = withDataflow ? [] : null;
  const base = analyzeOne(basePath, infer, flows);
  const head = analyzeOne(headPath, infer, flows);
  return { base, head, diff: diffReports(base, head), dataflow: flows ? { base: flows[0], head: flows[1] } : null };
}

/** `mbn diff BASE HEAD --format json` as a function: per-layer and total cost changes, the `mbn.diff/1` document. */
export async function diff(basePath: string, headPath: string, options: DiffOptions = {}): Promise<DiffJson> {
  return diffJson(diffFiles(basePath, headPath, options).diff);
}
