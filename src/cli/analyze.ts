import { type Limits, checkLimits, describeFailure } from '../budget/limits.js';
import { buildReport } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { layerLinks } from '../latency/graph.js';
import { addLatency, type LatencyReport } from '../latency/model.js';
import { loadProfile } from '../latency/profile.js';
import { latencyBudgetFailure, renderLatency } from '../report/latency-report.js';
import { inferModel } from '../shape/infer.js';
import { missingExternalFiles } from '../onnx/external.js';
import { readModel } from '../onnx/read.js';
import { externalLocations } from '../ir/walk.js';
import { type Format, renderCsv, renderJson, renderMarkdown, renderTable } from '../report/analyze-report.js';
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
  /** Device profile (built-in name or file) for predicted latency. */
  device?: string;
  /** Latency budget, ms (needs `device`). */
  maxLatency?: number;
}

/** Runs `mbn analyze`; returns whether every budget given on the command line holds. */
export function runAnalyze(path: string, options: AnalyzeOptions): { budgetsExceeded: boolean } {
  if (options.maxLatency !== undefined && !options.device) throw new MbnError('usage', '--max-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)');
  const profile = options.device ? loadProfile(options.device) : null;
  const model = readModel(path);
  let report;
  try {
    const inferred = inferModel(model, inferOptions(options));
    report = buildReport(model, inferred);
    if (profile) addLatency(report, layerLinks(inferred), profile);
    for (const location of missingExternalFiles(path, externalLocations(model))) {
      report.notes.push(`external data file ${quote(location)} is missing: not needed for analysis`);
    }
  } finally {
    model.source.close();
  }
  const style = makeStyle(process.stdout, options.color);
  const view = { flops: options.flops, top: options.top ?? null, all: options.all, style };
  const text =
    options.format === 'json'
      ? renderJson(report)
      : options.format === 'csv'
        ? renderCsv(report)
        : options.format === 'md'
          ? renderMarkdown(report, view)
          : renderTable(report, view);
  write(1, profile && (options.format === 'table' || options.format === 'md') ? text + renderLatency(report as LatencyReport, profile, { ...view, markdown: options.format === 'md' }) : text);
  const results = checkLimits(report.totals, options.limits);
  const failed = results.filter((r) => !r.passed);
  const err = makeStyle(process.stderr, options.color);
  for (const r of failed) write(2, `${err.red('✖')} ${describeFailure(r)}\n`);
  const latencyFailure = options.maxLatency === undefined ? null : latencyBudgetFailure((report as LatencyReport).totals.latencyMs ?? null, options.maxLatency, profile!.name);
  if (latencyFailure) write(2, `${err.red('✖')} ${latencyFailure}\n`);
  return { budgetsExceeded: failed.length > 0 || latencyFailure !== null };
}
