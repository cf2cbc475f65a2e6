import { atLeast, DEFAULT_ADVISE_OPTIONS } from '../advise/define.js';
import { adviseModel } from '../advise/index.js';
import { blockingGaps } from '../budget/completeness.js';
import { MbnError, quote } from '../errors.js';
import { readAnyModel } from '../formats/read.js';
import { type AdviseView, adviseJson } from '../report/advise-report.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';
import type { AdviseJson, Severity } from '../contract/advise.js';

export interface AdviseOptions extends ShapeOptions {
  /** `passed` is false when a finding of this severity or worse is found, or when the analysis is incomplete. */
  failOn?: 'warning' | 'error';
  /** Op types whose uncounted layers do not keep `failOn` from passing (`--allow-uncounted`). */
  allowUncounted?: string[];
  /** separable-conv: report convs whose separation saves at least this share of the model's MACs (default 0.01). */
  minSaving?: number;
}

/** The findings of one model, as the CLI renders them. */
export function adviseFile(path: string, opts: AdviseOptions = {}): AdviseView {
  if (opts.minSaving !== undefined && !(opts.minSaving >= 0 && opts.minSaving <= 1)) {
    throw new MbnError('usage', `minSaving ${quote(String(opts.minSaving))} is out of range: a fraction from 0 to 1`);
  }
  if (opts.failOn !== undefined && opts.failOn !== 'warning' && opts.failOn !== 'error') {
    throw new MbnError('usage', `failOn ${quote(String(opts.failOn))} is not 'warning' or 'error'`);
  }
  const infer = checkShapeOptions(opts);
  const model = readAnyModel(path);
  try {
    const result = adviseModel(model, { inputShapes: infer.inputShapes, batch: infer.batch }, { ...DEFAULT_ADVISE_OPTIONS, minSaving: opts.minSaving ?? DEFAULT_ADVISE_OPTIONS.minSaving });
    const failOn: Severity | null = opts.failOn ?? null;
    // The completeness rule of every gate: an incomplete analysis never passes --fail-on.
    const blocking = blockingGaps(result.report.incomplete, opts.allowUncounted ?? []);
    const failed = failOn !== null && (blocking.length > 0 || result.findings.some((f) => atLeast(f.severity, failOn)));
    return { path, result, failOn, blocking, failed };
  } finally {
    model.source.close();
  }
}

/** `mbn advise MODEL --format json` as a function: MobileNet lessons as findings, the `mbn.advise/1` document. */
export async function advise(path: string, options: AdviseOptions = {}): Promise<AdviseJson> {
  return adviseJson(adviseFile(path, options));
}
