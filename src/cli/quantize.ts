import { quantizeFile, type QuantizeOptions } from '../api/quantize.js';
import { renderQuantize } from '../report/quantize-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';
import { progressReporter } from './progress.js';

export interface QuantizeCliOptions extends QuantizeOptions {
  input?: Map<string, number[]>;
  inputValue?: Map<string, number>;
  format: 'table' | 'json' | 'md';
  color?: boolean;
}

export async function runQuantize(path: string, opts: QuantizeCliOptions): Promise<void> {
  // Progress only with the table: a JSON or markdown run stays quiet on stderr.
  const summary = await quantizeFile(path, opts, (label) => (opts.format === 'table' ? progressReporter(label) : undefined));
  write(1, renderQuantize(summary, opts.format, makeStyle(process.stdout, opts.color)));
}
