import { initConfig } from '../api/init.js';
import { renderInitSummary } from '../report/init-report.js';
import { terminalText } from '../report/safe-text.js';
import { write } from './output.js';

export interface InitCliOptions {
  /** Where to write the config (default ./mbn.config.json). */
  config?: string;
  /** Share of growth allowed over the current figures (0.05 for 5%). */
  headroom: number;
  force: boolean;
}

/** Runs `mbn init`: the API's init (which writes the config), then its summary and warnings. */
export function runInit(names: string[], options: InitCliOptions): void {
  const result = initConfig({ models: names, config: options.config, headroom: options.headroom, force: options.force });
  write(1, renderInitSummary(result.file, result.entries, result.headroom));
  for (const w of result.warnings) write(2, `mbn: warning: ${terminalText(w)}\n`);
}
