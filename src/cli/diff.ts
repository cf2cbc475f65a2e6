import { diffReports } from '../budget/diff.js';
import { type Report, analyzeModel } from '../cost/analyze.js';
import { readModel } from '../onnx/read.js';
import { type BudgetFormat, renderDiffJson, renderDiffMarkdown, renderDiffTable } from '../report/budget-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';
import { inferOptions } from './options.js';

export interface DiffOptions {
  input?: Map<string, number[]>;
  batch?: number;
  format: BudgetFormat;
  all: boolean;
  color?: boolean;
}

function analyzeFile(path: string, options: DiffOptions): Report {
  const model = readModel(path);
  try {
    return analyzeModel(model, inferOptions(options));
  } finally {
    model.source.close();
  }
}

/** Runs `mbn diff base head`: per-layer and total cost changes. Informational: it never fails a budget. */
export function runDiff(basePath: string, headPath: string, options: DiffOptions): void {
  const diff = diffReports(analyzeFile(basePath, options), analyzeFile(headPath, options));
  const view = { all: options.all };
  const text =
    options.format === 'json'
      ? renderDiffJson(diff)
      : options.format === 'md'
        ? renderDiffMarkdown(diff, view)
        : renderDiffTable(diff, view, makeStyle(process.stdout, options.color));
  write(1, text);
}
