import { checkModels, type CheckOptions } from '../api/check.js';
import { quote } from '../errors.js';
import { CHECK_REPORTER, checkLine, renderAnnotations } from '../report/check-report.js';
import type { FormatOf } from '../report/formats.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';

export interface CheckCliOptions extends CheckOptions {
  format: FormatOf<'check'>;
  color?: boolean;
}

/** Runs `mbn check`; returns whether any budget is exceeded or any configured model is missing or could not be checked. */
export function runCheck(options: CheckCliOptions): { budgetsExceeded: boolean } {
  const { result, configFile, unbudgeted } = checkModels(options);
  const style = makeStyle(terminal(1), options.color);
  const text = CHECK_REPORTER[options.format](result, { style });
  write(1, text);
  const err = makeStyle(terminal(2), options.color);
  if (options.format !== 'table') {
    // stdout is a document: people still get the failures, on stderr.
    for (const r of result.checks) if (!r.passed) write(2, `${err.red('✖')} ${checkLine(r)}\n`);
  }
  for (const name of unbudgeted) {
    write(2, `mbn: warning: ${quote(name)} sets no budget (add maxMacs, maxFlops, maxParams, maxWeightBytes or maxActivationBytes)\n`);
  }
  if (process.env.GITHUB_ACTIONS === 'true') {
    // Annotations go with the table on stdout; a JSON or markdown document on stdout must stay clean, and the
    // runner also reads workflow commands from stderr.
    const annotations = renderAnnotations(result, configFile);
    if (annotations) write(options.format === 'table' ? 1 : 2, annotations);
  }
  return { budgetsExceeded: !result.passed };
}
