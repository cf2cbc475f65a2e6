import { resolve } from 'node:path';
import { blockingGaps } from '../budget/completeness.js';
import { gateLines } from '../report/messages/analyze.js';
import { type Limits, checkLimits } from '../budget/limits.js';
import { MbnError } from '../errors.js';
import { analyzeFile } from '../api/analyze.js';
import type { LatencyReport } from '../latency/model.js';
import { latencyBudgetFailure } from '../report/latency-report.js';
import { energyBudgetFailure } from '../report/energy-report.js';
import { BufferSource } from '../onnx/source.js';
import { checkTarget, writePieces } from '../onnx/write-file.js';
import { ANALYZE_REPORTER, streamAnalyzeJson } from '../report/analyze-report.js';
import type { FormatOf } from '../report/formats.js';
import { terminalText } from '../report/safe-text.js';
import { describeLimit } from '../report/check-report.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';
import type { IfBranch } from '../shape/types.js';

export interface AnalyzeOptions {
  input?: Map<string, number[]>;
  batch?: number;
  inputValue?: Map<string, number>;
  ifBranch?: Map<string, IfBranch>;
  /** Op types whose uncounted layers do not block the budgets (--allow-uncounted). */
  allowUncounted?: string[];
  format: FormatOf<'analyze'>;
  flops: boolean;
  top?: number;
  all: boolean;
  color?: boolean;
  limits: Limits;
  /** Device profile (built-in name or file) for predicted latency. */
  device?: string;
  /** Latency budget, ms (needs `device`). */
  maxLatency?: number;
  /** Energy budget per inference, mJ (needs `device`; the estimate from its energy constants). */
  maxEnergy?: number;
  /** `--depth N`: roll costs up by name scope (table and md sections, JSON `modules`). */
  depth?: number;
  /** `-o FILE`: write the report there (atomically) instead of stdout. */
  output?: string;
  force?: boolean;
  /** `--annotate FILE`: also write a copy of the model whose nodes carry their figures (for Netron). */
  annotate?: string;
  /** mbn's version, for the HTML report's footer. */
  version?: string;
}

/** Runs `mbn analyze`; returns whether every budget given on the command line holds. */
export function runAnalyze(path: string, options: AnalyzeOptions): { budgetsExceeded: boolean } {
  if (options.maxLatency !== undefined && !options.device) throw new MbnError('usage', '--max-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)');
  if (options.maxEnergy !== undefined && !options.device) throw new MbnError('usage', '--max-energy needs --device (a built-in profile name, or a profile file with an "energy" block)');
  if (options.depth !== undefined && (options.format === 'csv' || options.format === 'model-explorer')) {
    throw new MbnError('usage', `--depth works with --format table, md, json and html, not ${options.format} (${options.format === 'csv' ? 'csv has one row per layer' : 'Model Explorer groups nodes itself'})`);
  }
  if (options.output !== undefined) checkTarget({ path: options.output, force: options.force ?? false, protect: [path] });
  if (options.annotate !== undefined && options.output !== undefined && resolve(options.annotate) === resolve(options.output)) {
    throw new MbnError('usage', '--annotate and -o name the same file: the annotated model and the report need a file each');
  }
  const { report, modules, profile, dataflow, nodes } = analyzeFile(path, {
    ...options,
    dataflow: options.format === 'html',
    nodes: options.format === 'model-explorer',
    annotate: options.annotate !== undefined ? { path: options.annotate, force: options.force, version: options.version } : undefined,
  });
  const style = makeStyle(terminal(1), options.color);
  // On a terminal the layer table fits its width; piped, every column at full width.
  const width = terminal(1).isTTY ? process.stdout.columns || null : null;
  const view = { flops: options.flops, top: options.top ?? null, all: options.all, style, modules, width, profile, version: options.version ?? '', dataflow, nodes };
  if (options.format === 'json' && options.output === undefined) {
    // Streamed: the same bytes as the json reporter, without holding the whole document (hundreds of MB for 1M layers).
    streamAnalyzeJson(report, (text) => write(1, text), modules ? { modules: modules.rows } : {});
  } else {
    const text = ANALYZE_REPORTER[options.format](report, view);
    if (options.output !== undefined) {
      const bytes = Buffer.from(text);
      writePieces({ path: options.output, force: options.force ?? false, protect: [path] }, [bytes], new BufferSource(bytes));
    } else write(1, text);
  }
  const results = checkLimits(report.totals, options.limits);
  const failed = results.filter((r) => !r.passed);
  const err = makeStyle(terminal(2), options.color);
  for (const r of failed) write(2, `${err.red('✖')} ${describeLimit(r)}\n`);
  // Budgets on an incomplete analysis fail: a figure mbn could not compute never passes a gate.
  const gated = results.length > 0 || options.maxLatency !== undefined || options.maxEnergy !== undefined;
  const gaps = gated ? blockingGaps(report.incomplete, options.allowUncounted ?? []) : [];
  if (gaps.length > 0) {
    write(2, `${err.red('✖')} the analysis is incomplete, so no budget can pass:\n`);
    for (const line of gateLines(gaps, report.model.inputs)) write(2, `  ${terminalText(line)}\n`);
  }
  const latencyFailure = options.maxLatency === undefined ? null : latencyBudgetFailure((report as LatencyReport).totals.latencyMs ?? null, options.maxLatency, profile!.name);
  if (latencyFailure) write(2, `${err.red('✖')} ${latencyFailure}\n`);
  const energyFailure = options.maxEnergy === undefined ? null : energyBudgetFailure((report as LatencyReport).totals.energyMj ?? null, options.maxEnergy, profile!.name);
  if (energyFailure) write(2, `${err.red('✖')} ${energyFailure}\n`);
  return { budgetsExceeded: failed.length > 0 || gaps.length > 0 || latencyFailure !== null || energyFailure !== null };
}
