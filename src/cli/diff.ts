import { diffFiles } from '../api/diff.js';
import { diffModules, rollUpModules } from '../cost/modules.js';
import { BufferSource } from '../onnx/source.js';
import { checkTarget, writePieces } from '../onnx/write-file.js';
import { DIFF_REPORTER } from '../report/diff-report.js';
import type { FormatOf } from '../report/formats.js';
import { diffGraph } from '../report/html-graph.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';

export interface DiffOptions {
  input?: Map<string, number[]>;
  batch?: number;
  format: FormatOf<'diff'>;
  all: boolean;
  color?: boolean;
  /** Module depth of the HTML report (default 2). */
  depth?: number;
  /** `-o FILE`: write the report there (atomically) instead of stdout. */
  output?: string;
  force?: boolean;
  version?: string;
}

/** Runs `mbn diff base head`: per-layer and total cost changes. Informational: it never fails a budget. */
export function runDiff(basePath: string, headPath: string, options: DiffOptions): void {
  if (options.output !== undefined) checkTarget({ path: options.output, force: options.force ?? false, protect: [basePath, headPath] });
  const { base: baseReport, head: headReport, diff, dataflow } = diffFiles(basePath, headPath, options, options.format === 'html');
  const depth = options.depth ?? 2;
  const text = DIFF_REPORTER[options.format](diff, {
    all: options.all,
    style: makeStyle(terminal(1), options.color),
    version: options.version ?? '',
    modules: () => ({ depth, rows: diffModules(rollUpModules(baseReport.layers, depth), rollUpModules(headReport.layers, depth)) }),
    graph: () => (dataflow ? diffGraph(diff, baseReport, headReport, dataflow) : null),
  });
  if (options.output !== undefined) {
    const bytes = Buffer.from(text);
    writePieces({ path: options.output, force: options.force ?? false, protect: [basePath, headPath] }, [bytes], new BufferSource(bytes));
  } else write(1, text);
}
