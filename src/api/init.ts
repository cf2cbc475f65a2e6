import { existsSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { type InitEntry, type InitModel, initEntries, renderInitConfig } from '../budget/init.js';
import { expandGlob, hasMagic } from '../budget/glob.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { readAnyModel } from '../formats/read.js';
import { BufferSource } from '../onnx/source.js';
import { writePieces } from '../onnx/write-file.js';
import { CONFIG_FILE, display, realFs } from './check.js';
import { parseShare } from './options.js';
import type { InitWarning } from '../contract/messages.js';
import { initWarningText } from '../report/messages/init.js';

export interface InitOptions {
  /** Model files or globs, from `cwd` (default: every `**\/*.onnx` below `cwd`, skipping node_modules and dot folders). */
  models?: string[];
  /** The config to write, from `cwd` (default `mbn.config.json`). */
  config?: string;
  /** Growth allowed over the current figures: a fraction (0.05) or a percentage text ('5%'); default 0.05, at most 1. */
  headroom?: number | string;
  /** Overwrite an existing config. */
  force?: boolean;
  /** Folder the models and the config are found from (default: process.cwd()). */
  cwd?: string;
}

/**
 * What `init` wrote (mbn init has no JSON output: this is the file's content and what the command says about it).
 * `entries` is the config exactly as written: the file parses to the same array.
 */
export interface InitResult {
  /** The config file written, absolute. */
  path: string;
  /** The same file as mbn init names it: relative to `cwd` when inside it, with '/'. */
  file: string;
  /** The headroom the limits hold, as a fraction. */
  headroom: number;
  /** One budget per model: its limits at the current figures + headroom, rounded up to three digits. */
  entries: InitEntry[];
  /** What the CLI prints as `mbn: warning: …` (a model with layers mbn cannot count, or with symbolic input dims). */
  warnings: string[];
  /** The same warnings as codes (README, "Message codes"). */
  warningCodes: InitWarning[];
}

function headroomOf(value: number | string | undefined): number {
  if (value === undefined) return 0.05;
  const fraction = typeof value === 'number' ? value : typeof value === 'string' ? parseShare(value) : null;
  if (fraction === null || !Number.isFinite(fraction) || fraction < 0) {
    throw new MbnError('usage', `--headroom ${quote(String(value))} is not a fraction or percentage such as 0.05 or 5%`);
  }
  if (fraction > 1) {
    throw new MbnError('usage', `--headroom ${+(fraction * 100).toFixed(4)}% is more than 100%: a budget that loose would catch nothing (use 0.05 or 5%)`);
  }
  return fraction;
}

/** Models to hold to budgets: the named ones (paths or globs), else every `**\/*.onnx` and `**\/*.tflite` below the working folder. */
function findModels(names: string[], cwd: string): string[] {
  const base = cwd.split(sep).join('/');
  if (names.length === 0) {
    const found = [...expandGlob('**/*.onnx', base, realFs), ...expandGlob('**/*.tflite', base, realFs)];
    if (found.length === 0) {
      throw new MbnError('usage', `no .onnx or .tflite files below ${quote(cwd)} (node_modules and dot folders are skipped); name them: mbn init models/a.onnx`);
    }
    return found.map((p) => resolve(cwd, p));
  }
  const files: string[] = [];
  for (const name of names) {
    if (typeof name !== 'string') throw new MbnError('usage', `models must be file names or globs, not ${quote(String(name))}`);
    if (hasMagic(name)) {
      const found = expandGlob(name.split(sep).join('/'), base, realFs);
      if (found.length === 0) throw new MbnError('usage', `${quote(name)} matches no file`);
      files.push(...found.map((p) => resolve(cwd, p)));
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

/**
 * `mbn init` as a function: analyzes the models, writes a budget config (`mbn.config.json`) holding each to its
 * current figures plus the headroom, and returns what it wrote. Writing that file is its side effect; an existing
 * config is refused (`output-exists`) unless `force`.
 */
export async function init(options: InitOptions = {}): Promise<InitResult> {
  return initConfig(options);
}

/** `init`, synchronous: what the CLI calls. */
export function initConfig(options: InitOptions = {}): InitResult {
  const headroom = headroomOf(options.headroom);
  if (options.models !== undefined && !Array.isArray(options.models)) throw new MbnError('usage', 'models must be an array of file names or globs');
  const cwd = resolve(options.cwd ?? process.cwd());
  const force = options.force ?? false;
  const target = resolve(cwd, options.config ?? CONFIG_FILE);
  // Refuse early, before analysing anything; the atomic write checks again.
  if (existsSync(target) && !force) {
    throw new MbnError('output-exists', `${quote(display(target, cwd))} already exists; use --force to overwrite it`);
  }
  const configDir = dirname(target);
  const models: InitModel[] = [];
  const warnings: InitWarning[] = [];
  for (const file of findModels(options.models ?? [], cwd)) {
    const shown = display(file, cwd);
    // Opened by its path from the process's folder (the same text as `shown` when `cwd` is that folder).
    const model = readAnyModel(display(file, process.cwd()));
    let report;
    try {
      report = analyzeModel(model);
    } finally {
      model.source.close();
    }
    const path = relative(configDir, file).split(sep).join('/');
    models.push({ model: path, totals: report.totals });
    if (report.totals.notCounted > 0) {
      warnings.push({ code: 'init-uncounted', model: shown, layers: report.totals.notCounted });
    }
    if (report.notes.some((n) => n.code === 'input-dim-assumed')) {
      // The example is the model's own inputs as analysed, in its own layout (NHWC for a TFLite model).
      const assumed = report.model.inputs.filter((i) => i.assumedDims.length > 0 && i.shape);
      warnings.push({ code: 'init-assumed-dims', model: shown, inputs: assumed.length > 0 ? Object.fromEntries(assumed.map((i) => [i.name, i.shape!])) : null });
    }
  }
  const entries = initEntries(models, headroom);
  const bytes = Buffer.from(renderInitConfig(entries));
  writePieces({ path: target, force, protect: models.map((m) => resolve(configDir, m.model)) }, [bytes], new BufferSource(bytes));
  return { path: target, file: display(target, cwd), headroom, entries, warnings: warnings.map(initWarningText), warningCodes: warnings };
}
