import { type Limits, checkLimits, describeFailure } from '../budget/limits.js';
import { analyzeModel } from '../cost/analyze.js';
import { quote } from '../errors.js';
import { missingExternalFiles } from '../onnx/external.js';
import { readModel } from '../onnx/read.js';
import { externalLocations } from '../ir/walk.js';
import { type Format, JSON_SCHEMA, renderCsv, renderMarkdown, renderTable } from '../report/analyze-report.js';
import { streamJson } from '../report/json-stream.js';
import { makeStyle } from '../report/style.js';
import { inferOptions } from './options.js';
import { write } from './output.js';

export interface AnalyzeOptions {
  input?: Map<string, number[]>;
  batch?: number;
  format: Format;
  flops: boolean;
  top?: number;
  all: boolean;
  color?: boolean;
  limits: Limits;
}

/** Runs `mbn analyze`; returns whether every budget given on the command line holds. */
export function runAnalyze(path: string, options: AnalyzeOptions): { budgetsExceeded: boolean } {
  const model = readModel(path);
  let report;
  try {
    report = analyzeModel(model, inferOptions(options));
    for (const location of missingExternalFiles(path, externalLocations(model))) {
      report.notes.push(`external data file ${quote(location)} is missing: not needed for analysis`);
    }
  } finally {
    model.source.close();
  }
  const style = makeStyle(process.stdout, options.color);
  const view = { flops: options.flops, top: options.top ?? null, all: options.all, style };
  if (options.format === 'json') {
    // Streamed: the same bytes as renderJson, without holding the whole document (hundreds of MB for 1M layers).
    streamJson({ schema: JSON_SCHEMA, ...report }, (text) => write(1, text));
  } else {
    write(1, options.format === 'csv' ? renderCsv(report) : options.format === 'md' ? renderMarkdown(report, view) : renderTable(report, view));
  }
  const results = checkLimits(report.totals, options.limits);
  const failed = results.filter((r) => !r.passed);
  const err = makeStyle(process.stderr, options.color);
  for (const r of failed) write(2, `${err.red('✖')} ${describeFailure(r)}\n`);
  return { budgetsExceeded: failed.length > 0 };
}
