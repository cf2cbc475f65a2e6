import { adviseFile, type AdviseOptions } from '../api/advise.js';
import { gateLines } from '../report/messages/analyze.js';
import { ADVISE_REPORTER } from '../report/advise-report.js';
import type { FormatOf } from '../report/formats.js';
import { terminalText } from '../report/safe-text.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';

export interface AdviseCliOptions extends AdviseOptions {
  format: FormatOf<'advise'>;
  color?: boolean;
}

/** Runs `mbn advise`; returns whether --fail-on failed: a finding at or above it, or an incomplete analysis (exit 1). */
export function runAdvise(path: string, opts: AdviseCliOptions): { failed: boolean } {
  const view = adviseFile(path, opts);
  const text = ADVISE_REPORTER[opts.format](view, { style: makeStyle(terminal(1), opts.color) });
  write(1, text);
  // As `analyze` says for its budgets: what is missing and how to fix it.
  if (view.failOn !== null && view.blocking.length > 0) {
    const err = makeStyle(terminal(2), opts.color);
    write(2, `${err.red('✖')} the analysis is incomplete, so --fail-on cannot pass:\n`);
    for (const line of gateLines(view.blocking, view.result.report.model.inputs)) write(2, `  ${terminalText(line)}\n`);
  }
  return { failed: view.failed };
}
