import { rewriteFile, type RewriteOptions } from '../api/rewrite.js';
import { renderRewriteJson, renderRewriteMarkdown, renderRewriteTable } from '../report/rewrite-report.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';

export interface RewriteCliOptions extends RewriteOptions {
  input?: Map<string, number[]>;
  format: 'table' | 'json' | 'md';
  color?: boolean;
}

/** Runs `mbn rewrite`: the API's rewrite, rendered. */
export async function runRewrite(path: string, opts: RewriteCliOptions): Promise<void> {
  const summary = await rewriteFile(path, opts);
  const text = opts.format === 'json' ? renderRewriteJson(summary) : opts.format === 'md' ? renderRewriteMarkdown(summary) : renderRewriteTable(summary, makeStyle(terminal(1), opts.color));
  write(1, text);
}
