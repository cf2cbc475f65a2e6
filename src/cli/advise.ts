import { adviseFile, type AdviseOptions } from '../api/advise.js';
import { renderAdviseJson, renderAdviseMarkdown, renderAdviseTable } from '../report/advise-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';

export interface AdviseCliOptions extends AdviseOptions {
  format: 'table' | 'json' | 'md';
  color?: boolean;
}

/** Runs `mbn advise`; returns whether a finding at or above --fail-on was found (exit 1). */
export function runAdvise(path: string, opts: AdviseCliOptions): { failed: boolean } {
  const view = adviseFile(path, opts);
  const text = opts.format === 'json' ? renderAdviseJson(view) : opts.format === 'md' ? renderAdviseMarkdown(view) : renderAdviseTable(view, makeStyle(process.stdout, opts.color));
  write(1, text);
  return { failed: view.failed };
}
