import { atLeast, DEFAULT_ADVISE_OPTIONS, type Severity } from '../advise/define.js';
import { adviseModel } from '../advise/index.js';
import { readModel } from '../onnx/read.js';
import { type AdviseView, renderAdviseJson, renderAdviseMarkdown, renderAdviseTable } from '../report/advise-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';

export interface AdviseCliOptions {
  format: 'table' | 'json' | 'md';
  failOn?: Severity;
  minSaving?: number;
  input?: Map<string, number[]>;
  batch?: number;
  color?: boolean;
}

/** Runs `mbn advise`; returns whether a finding at or above --fail-on was found (exit 1). */
export function runAdvise(path: string, opts: AdviseCliOptions): { failed: boolean } {
  const model = readModel(path);
  let view: AdviseView;
  try {
    const result = adviseModel(model, { inputShapes: opts.input, batch: opts.batch }, { ...DEFAULT_ADVISE_OPTIONS, minSaving: opts.minSaving ?? DEFAULT_ADVISE_OPTIONS.minSaving });
    const failOn = opts.failOn ?? null;
    const failed = failOn !== null && result.findings.some((f) => atLeast(f.severity, failOn));
    view = { path, result, failOn, failed };
  } finally {
    model.source.close();
  }
  const text = opts.format === 'json' ? renderAdviseJson(view) : opts.format === 'md' ? renderAdviseMarkdown(view) : renderAdviseTable(view, makeStyle(process.stdout, opts.color));
  write(1, text);
  return { failed: view.failed };
}
