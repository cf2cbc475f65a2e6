import { existsSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { type InitModel, initEntries, renderInitConfig } from '../budget/init.js';
import { expandGlob, hasMagic } from '../budget/glob.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { readModel } from '../onnx/read.js';
import { BufferSource } from '../onnx/source.js';
import { writePieces } from '../onnx/write-file.js';
import { renderInitSummary } from '../report/init-report.js';
import { terminalText } from '../report/safe-text.js';
import { CONFIG_FILE, display, realFs } from '../api/check.js';
import { write } from './output.js';

export interface InitOptions {
  /** Where to write the config (default ./mbn.config.json). */
  config?: string;
  /** Share of growth allowed over the current figures (0.05 for 5%). */
  headroom: number;
  force: boolean;
}

/** Models to hold to budgets: the named ones (paths or globs), else every `**\/*.onnx` below the working folder. */
function findModels(names: string[], cwd: string): string[] {
  const base = cwd.split(sep).join('/');
  if (names.length === 0) {
    const found = expandGlob('**/*.onnx', base, realFs);
    if (found.length === 0) {
      throw new MbnError('usage', `no .onnx files below ${quote(cwd)} (node_modules and dot folders are skipped); name them: mbn init models/a.onnx`);
    }
    return found.map((p) => resolve(p));
  }
  const files: string[] = [];
  for (const name of names) {
    if (hasMagic(name)) {
      const found = expandGlob(name.split(sep).join('/'), base, realFs);
      if (found.length === 0) throw new MbnError('usage', `${quote(name)} matches no file`);
      files.push(...found.map((p) => resolve(p)));
      continue;
    }
    const abs = resolve(cwd, name);
    let isFile = false;
    try {
      isFile = statSync(abs).isFile();
    } catch {
      throw new MbnError('io', `cannot read model ${quote(name)}: no such file`);
    }
    if (!isFile) throw new MbnError('usage', `${quote(name)} is not a file`);
    files.push(abs);
  }
  return [...new Set(files)];
}

/** Runs `mbn init`: writes a budget config with every found model's current figures plus the headroom. */
export function runInit(names: string[], options: InitOptions): void {
  if (options.headroom > 1) {
    throw new MbnError('usage', `--headroom ${+(options.headroom * 100).toFixed(4)}% is more than 100%: a budget that loose would catch nothing (use 0.05 or 5%)`);
  }
  const cwd = process.cwd();
  const target = resolve(cwd, options.config ?? CONFIG_FILE);
  // Refuse early, before analysing anything; the atomic write checks again.
  if (existsSync(target) && !options.force) {
    throw new MbnError('output-exists', `${quote(display(target, cwd))} already exists; use --force to overwrite it`);
  }
  const configDir = dirname(target);
  const models: InitModel[] = [];
  const warnings: string[] = [];
  for (const file of findModels(names, cwd)) {
    const shown = display(file, cwd);
    const model = readModel(shown);
    let report;
    try {
      report = analyzeModel(model);
    } finally {
      model.source.close();
    }
    const path = relative(configDir, file).split(sep).join('/');
    models.push({ model: path, totals: report.totals });
    if (report.totals.notCounted > 0) {
      warnings.push(`${quote(shown)}: ${report.totals.notCounted} layers are not counted, so its MACs and FLOPs limits hold only the layers mbn counts`);
    }
    if (report.notes.some((n) => n.includes('is not fixed; assumed 1'))) {
      warnings.push(`${quote(shown)} has symbolic input dims, taken as 1: add "input" (e.g. {"x": [1, 3, 224, 224]}) to its entry and run mbn init --force again, or edit the limits`);
    }
  }
  const entries = initEntries(models, options.headroom);
  const text = renderInitConfig(entries);
  const bytes = Buffer.from(text);
  writePieces({ path: target, force: options.force, protect: models.map((m) => resolve(configDir, m.model)) }, [bytes], new BufferSource(bytes));
  write(1, renderInitSummary(display(target, cwd), entries, options.headroom));
  for (const w of warnings) write(2, `mbn: warning: ${terminalText(w)}\n`);
}
