import { buildReport, type Report } from '../cost/analyze.js';
import { type ModuleCost, rollUpModules } from '../cost/modules.js';
import { MbnError, quote } from '../errors.js';
import { externalLocations } from '../ir/walk.js';
import { layerLinks } from '../latency/graph.js';
import { addEnergy } from '../latency/energy.js';
import { addLatency } from '../latency/model.js';
import { loadProfile } from '../latency/load-profile.js';
import type { DeviceProfile } from '../latency/profile.js';
import { missingExternalFiles } from '../onnx/external.js';
import { readModel } from '../onnx/read.js';
import { type AnalyzeJson, analyzeJson } from '../report/analyze-report.js';
import { inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ShapeOptions, type ValueOptions } from './options.js';

export interface AnalyzeOptions extends ShapeOptions, ValueOptions {
  /** Op types whose uncounted layers do not block budgets (`--allow-uncounted`); kept for callers that gate. */
  allowUncounted?: string[];
  /** Roll costs up by name scope down to this depth: the document's `modules` (`--depth`). */
  depth?: number;
  /** Device profile (built-in name such as `rpi4`, or a profile file) for each layer's predicted `latencyMs` and estimated `energyMj`. */
  device?: string;
}

/** One analysis: the report, its module roll-up (with `depth`) and the device profile (with `device`). */
export interface Analysis {
  report: Report;
  modules: { depth: number; rows: ModuleCost[] } | null;
  profile: DeviceProfile | null;
}

/** Reads, infers and costs one model file. The CLI renders the result; `analyze` returns its JSON. */
export function analyzeFile(path: string, options: AnalyzeOptions = {}): Analysis {
  if (options.depth !== undefined && (!Number.isSafeInteger(options.depth) || options.depth < 1)) {
    throw new MbnError('usage', `depth ${quote(String(options.depth))} is not a positive integer`);
  }
  const infer = checkShapeOptions(options);
  const profile = options.device ? loadProfile(options.device) : null;
  const model = readModel(path);
  let report: Report;
  try {
    const inferred = inferModel(model, infer);
    // Latency needs the records after the report; without it they go as the rows are built.
    report = buildReport(model, inferred, { release: !profile });
    if (profile) {
      const links = layerLinks(inferred);
      addLatency(report, links, profile);
      addEnergy(report, links, profile);
    }
    for (const location of missingExternalFiles(path, externalLocations(model))) {
      report.notes.push(`external data file ${quote(location)} is missing: not needed for analysis`);
    }
  } finally {
    model.source.close();
  }
  const modules = options.depth !== undefined ? { depth: options.depth, rows: rollUpModules(report.layers, options.depth) } : null;
  return { report, modules, profile };
}

/**
 * `mbn analyze MODEL --format json` as a function: the `mbn.analyze/1` document (per-layer MACs, FLOPs, params,
 * memory, separable candidates, totals). Throws MbnError for a bad model or option.
 */
export async function analyze(path: string, options: AnalyzeOptions = {}): Promise<AnalyzeJson> {
  const { report, modules } = analyzeFile(path, options);
  return analyzeJson(report, modules ? { modules: modules.rows } : {});
}
