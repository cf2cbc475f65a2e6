import { separateFile, type SeparateOptions } from '../api/separate.js';
import type { FormatOf } from '../report/formats.js';
import { SEPARATE_REPORTER } from '../report/separate-report.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';
import { progressReporter } from './progress.js';

export interface SeparateCliOptions extends SeparateOptions {
  input?: Map<string, number[]>;
  format: FormatOf<'separate'>;
  color?: boolean;
}

export async function runSeparate(path: string, opts: SeparateCliOptions): Promise<void> {
  // Progress only with the table: a JSON or markdown run stays quiet on stderr.
  const summary = await separateFile(path, opts, (label) => (opts.format === 'table' ? progressReporter(label) : undefined));
  write(1, SEPARATE_REPORTER[opts.format](summary, { style: makeStyle(terminal(1), opts.color) }));
}
