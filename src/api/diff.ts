import { type DiffJson, diffReports } from '../budget/diff.js';
import { type Report, buildReport } from '../cost/analyze.js';
import { dataflowEdges } from '../cost/dataflow.js';
import { readModel } from '../onnx/read.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';

export type DiffOptions = ShapeOptions;

function analyzeOne(path: string, infer: InferOptions, edges: number[][] | null): Report {
  const model = readModel(path);
  try {
    const inferred = inferModel(model, infer);
    if (edges) edges.push(dataflowEdges(inferred.layers));
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
  withEdges = false,
): { base: Report; head: Report; diff: DiffJson; edges: { base: number[]; head: number[] } | null } {
  const infer = checkShapeOptions(options);
  // With `withEdges` (the HTML report's graph view): each side's dataflow edges (cost/dataflow.ts).
  const edges: number[][] | null = withEdges ? [] : null;
  const base = analyzeOne(basePath, infer, edges);
  const head = analyzeOne(headPath, infer, edges);
  return { base, head, diff: diffReports(base, head), edges: edges ? { base: edges[0], head: edges[1] } : null };
}

/** `mbn diff BASE HEAD --format json` as a function: per-layer and total cost changes, the `mbn.diff/1` document. */
export async function diff(basePath: string, headPath: string, options: DiffOptions = {}): Promise<DiffJson> {
  return diffFiles(basePath, headPath, options).diff;
}
