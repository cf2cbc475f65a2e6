import { rewriteFile, type RewriteOptions } from '../api/rewrite.js';
import type { FormatOf } from '../report/formats.js';
import { REWRITE_REPORTER } from '../report/rewrite-report.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';

export interface RewriteCliOptions extends RewriteOptions {
  input?: Map<string, number[]>;
  format: FormatOf<'rewrite'>;
  color?: boolean;
}

/** Runs `mbn rewrite`: the API's rewrite, rendered. */
export async function runRewrite(path: string, opts: RewriteCliOptions): Promise<void> {
  const summary = await rewriteFile(path, opts);
  const text = REWRITE_REPORTER[opts.format](summary, { style: makeStyle(terminal(1), opts.color) });
  write(1, text);
}
