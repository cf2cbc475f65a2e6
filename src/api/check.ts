import { type Dirent, closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { baselineRecords, adviseRecord, latencyRecord, energyRecord, budgetRecords, checkResult, errorRecord, figuresOf, incompleteBaselineRecord, incompleteRecords, matchBaseline, missingRecord, noBaselineRecord, parseBaseline } from '../budget/check.js';
import { blockingGaps, gapMessages } from '../budget/completeness.js';
import { checkJson } from '../report/check-report.js';
import { type BudgetEntry, EXAMPLE_ENTRY, decodeText, parseConfigText } from '../budget/config.js';
import { adviseAnalysis } from '../advise/index.js';
import { type GlobEntry, type GlobFs, expandGlob, hasMagic } from '../budget/glob.js';
import { buildReport } from '../cost/analyze.js';
import { type ErrorCode, MbnError, oneLine, quote } from '../errors.js';
import { parseShare } from './options.js';
import { BUILTIN_PROFILES } from '../latency/builtin.js';
import { layerLinks } from '../latency/graph.js';
import { predictEnergy } from '../latency/energy.js';
import { predictLatency } from '../latency/model.js';
import { loadProfile } from '../latency/load-profile.js';
import { inferModel } from '../shape/infer.js';
import { readAnyModel } from '../formats/read.js';
import { fsErrorReason } from '../util/fs-error.js';
import type { CheckedModel, CheckJson, CheckRecord, CheckResult } from '../contract/check.js';

export interface CheckOptions {
  /** Budget config file (default: ./mbn.config.json, else the "mbn" key of ./package.json, from `cwd`). */
  config?: string;
  /** A stored `mbn analyze --format json` or `mbn check --format json` report to compare against. */
  baseline?: string;
  /** With `baseline`: allowed growth of each figure, a fraction (0.05) or a percentage text ('5%'); default 0. */
  maxIncrease?: string | number;
  /** Op types whose uncounted layers do not block any entry, beside each entry's own `allowUncounted`. */
  allowUncounted?: string[];
  /** Folder the config and the models are found from (default: process.cwd()). */
  cwd?: string;
}

/** A check run: the `mbn.check/1` document, and what the CLI says beside it. */
export interface CheckRun {
  result: CheckResult;
  /** The config file read, as shown to people. */
  configFile: string;
  /** Entries with a model but no budget at all (no limit, baseline, advise or latency): the CLI warns. */
  unbudgeted: string[];
}

export const CONFIG_FILE = 'mbn.config.json';

/** The config's text and where it came from. */
interface ConfigSource {
  file: string;
  text: string;
  /** "mbn" for package.json */
  key?: string;
}

/** The largest config or baseline mbn reads: real ones are a few kilobytes. */
export const MAX_TEXT_BYTES = 16 * 1024 * 1024;

/**
 * A config or baseline file's text. Only a regular file of at most MAX_TEXT_BYTES is read: /dev/zero, a FIFO that
 * never ends or a huge file is refused at once. The file is opened non-blocking, so that opening a FIFO with no
 * writer does not wait, and checked with fstat before any byte is read.
 */
function readText(file: string, what: string, label = file): string {
  const fail = (why: string): never => {
    throw new MbnError('io', `cannot read ${what} ${quote(label)}: ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return fail(fsErrorReason(error, 'read'));
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) fail('it is a directory');
    if (!stat.isFile()) fail('not a regular file');
    if (stat.size > MAX_TEXT_BYTES) fail(`it is ${stat.size.toLocaleString('en-US')} bytes; a ${what} is at most ${MAX_TEXT_BYTES / 1024 / 1024} MiB`);
    // The file may grow while it is read: read until its end, but never more than one byte past the limit.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(stat.size - total, 0) + 1, 1 << 20, MAX_TEXT_BYTES + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > MAX_TEXT_BYTES) fail(`it is larger than ${MAX_TEXT_BYTES / 1024 / 1024} MiB`);
    }
    return decodeText(Buffer.concat(chunks, total), `${what} ${quote(label)}`);
  } catch (error) {
    if (error instanceof MbnError) throw error;
    return fail((error as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** `--config FILE`, else ./mbn.config.json, else the "mbn" key of ./package.json. */
export function findConfig(configFlag: string | undefined, cwd: string): ConfigSource {
  if (configFlag !== undefined) {
    const text = readText(resolve(cwd, configFlag), 'config', configFlag);
    return { file: configFlag, text, key: basename(configFlag) === 'package.json' ? 'mbn' : undefined };
  }
  const own = resolve(cwd, CONFIG_FILE);
  if (existsSync(own)) return { file: CONFIG_FILE, text: readText(own, 'config') };
  const pkg = resolve(cwd, 'package.json');
  if (existsSync(pkg)) {
    const text = readText(pkg, 'config');
    let hasKey = false;
    try {
      const value = JSON.parse(text);
      hasKey = value !== null && typeof value === 'object' && 'mbn' in value;
    } catch {
      // An invalid package.json without our key is not ours to report.
    }
    if (hasKey) return { file: 'package.json', text, key: 'mbn' };
  }
  throw new MbnError('usage', `no budget config: create ${CONFIG_FILE} with a JSON array such as [${EXAMPLE_ENTRY}], add an "mbn" key to package.json, or pass --config FILE`);
}

/** The real file system for expandGlob. */
export const realFs: GlobFs = {
  list(dir: string): GlobEntry[] {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.map((e) => {
      const link = e.isSymbolicLink();
      let isDir = e.isDirectory();
      if (link) {
        try {
          isDir = statSync(resolve(dir, e.name)).isDirectory();
        } catch {
          isDir = false;
        }
      }
      return { name: e.name, dir: isDir, link };
    });
  },
};

/** A path for people and for matching: relative to the working folder when inside it, with '/'. */
export function display(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  const text = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
  return text.split(sep).join('/');
}

/** The model files of one entry, as absolute paths. */
function modelsOf(entry: BudgetEntry, configDir: string): string[] {
  if (!hasMagic(entry.model)) {
    const abs = resolve(configDir, entry.model);
    return existsSync(abs) ? [abs] : [];
  }
  const pattern = entry.model.split(sep).join('/');
  return expandGlob(pattern, configDir.split(sep).join('/'), realFs).map((p) => resolve(p));
}

/** The allowed growth as a percentage: a fraction (0.05, or the text '0.05') or a percentage text ('5%'). */
function maxIncreaseOf(value: string | number | undefined): number {
  if (value === undefined) return 0;
  const fraction = typeof value === 'number' ? value : parseShare(value);
  if (fraction === null || !(fraction >= 0) || !Number.isFinite(fraction)) {
    throw new MbnError('usage', `--max-increase ${quote(value)} is not a fraction or percentage such as 0.05 or 5%`);
  }
  if (typeof value === 'string' && !value.trim().endsWith('%') && fraction > 1) {
    throw new MbnError('usage', `--max-increase ${quote(value)} would allow ${fraction * 100}% growth: write ${value.trim()}% for ${value.trim()} percent, or a fraction such as 0.05`);
  }
  // In percent, rounded to drop the float noise of 0.07 * 100.
  return Number((fraction * 100).toPrecision(12));
}

/** Errors that belong to one model file: its check fails and the other models are still checked. */
const MODEL_ERRORS: ReadonlySet<ErrorCode> = new Set(['io', 'not-onnx', 'corrupt', 'unsupported', 'invalid-model', 'external-data']);

/** Reads the config, analyzes every model it names and holds each to its budgets and the baseline. */
export function checkModels(options: CheckOptions = {}): CheckRun {
  const cwd = options.cwd ?? process.cwd();
  if (options.maxIncrease !== undefined && options.baseline === undefined) {
    throw new MbnError('usage', '--max-increase needs --baseline FILE (a stored `mbn analyze --format json` or `mbn check --format json` report)');
  }
  const percent = maxIncreaseOf(options.maxIncrease);
  const source = findConfig(options.config, cwd);
  const entries = parseConfigText(source.text, source.file, source.key);
  const configDir = dirname(resolve(cwd, source.file));
  const baseline = options.baseline !== undefined ? parseBaseline(readText(resolve(cwd, options.baseline), 'baseline', options.baseline), options.baseline) : null;

  const models: CheckedModel[] = [];
  const perModel: { entry: BudgetEntry; model: CheckedModel | null; records: CheckRecord[]; blocked?: boolean }[] = [];
  for (const [index, entry] of entries.entries()) {
    const name = entry.name ?? entry.model;
    const files = modelsOf(entry, configDir);
    if (files.length === 0) {
      perModel.push({ entry, model: null, records: [missingRecord(name, entry.model, hasMagic(entry.model))] });
      continue;
    }
    for (const file of files) {
      const shown = display(file, cwd);
      let report;
      let advice = null;
      let latency: CheckRecord | null = null;
      let energy: CheckRecord | null = null;
      try {
        // Opened by its path from the process's folder (the same text as `shown` when `cwd` is that folder).
        const model = readAnyModel(display(file, process.cwd()));
        try {
          const shapes = { inputShapes: entry.input ?? undefined, batch: entry.batch ?? undefined, inputOrigin: `${source.file}: entry ${index + 1} "input"` };
          // The model is analyzed once: the budgets, the advise key's rules and the latency and energy predictions read one report.
          const inferred = inferModel(model, shapes);
          report = buildReport(model, inferred);
          if (entry.advise) advice = adviseAnalysis(model, inferred, report).findings;
          if ((entry.maxLatencyMs !== null || entry.maxEnergyMj !== null) && entry.device !== null) {
            const spec = BUILTIN_PROFILES.some((b) => b.name === entry.device) ? entry.device : resolve(configDir, entry.device);
            const profile = loadProfile(spec, `${source.file}: "device"`);
            const links = layerLinks(inferred);
            if (entry.maxLatencyMs !== null) latency = latencyRecord(name, shown, predictLatency(report, links, profile).totals.latencyMs, entry.maxLatencyMs, profile.name);
            if (entry.maxEnergyMj !== null) energy = energyRecord(name, shown, predictEnergy(report, links, profile).totals.energyMj, entry.maxEnergyMj, profile.name);
          }
        } finally {
          model.source.close();
        }
      } catch (error) {
        // A model mbn refuses is this model's failure, not the run's; usage and config errors still end the run.
        if (!(error instanceof MbnError) || !MODEL_ERRORS.has(error.code)) throw error;
        perModel.push({ entry, model: null, records: [errorRecord(name, shown, error.code, oneLine(error.message))] });
        continue;
      }
      const gaps = blockingGaps(report.incomplete, [...entry.allowUncounted, ...(options.allowUncounted ?? [])]);
      const checked: CheckedModel = { name, model: shown, totals: figuresOf(report.totals), complete: report.totals.complete, incomplete: report.incomplete };
      models.push(checked);
      const records = budgetRecords(name, shown, checked.totals, entry.limits, gaps.length === 0);
      if (entry.advise && advice) {
        // As latency: advice on an incomplete analysis never passes (its findings' figures may be unknown too).
        const record = adviseRecord(name, shown, advice, entry.advise);
        records.push(gaps.length > 0 ? incompleteFailure(record) : record);
      }
      // Predicted latency of an incomplete analysis leaves out the layers mbn could not count: it never passes.
      for (const predicted of [latency, energy]) {
        if (predicted) records.push(gaps.length > 0 ? incompleteFailure(predicted) : predicted);
      }
      records.push(...incompleteRecords(name, shown, gapMessages(gaps, report.model.inputs)));
      perModel.push({ entry, model: checked, records, blocked: gaps.length > 0 });
    }
  }
  if (baseline) {
    const matched = matchBaseline(models, baseline);
    const slots = new Map(perModel.map((p) => [p.model, p]));
    models.forEach((m, i) => {
      const slot = slots.get(m)!;
      const j = matched[i];
      const records =
        j < 0
          ? [noBaselineRecord(m.name, m.model, options.baseline!)]
          : !baseline[j].complete
            ? [incompleteBaselineRecord(m.name, m.model, options.baseline!)]
            : baselineRecords(m.name, m.model, m.totals, baseline[j].totals, percent, !slot.blocked);
      // Baseline records go before the model's incomplete records, which say how to fix it.
      const at = slot.records.findIndex((r) => r.kind === 'incomplete');
      slot.records.splice(at < 0 ? slot.records.length : at, 0, ...records);
    });
  }
  const checks = perModel.flatMap((p) => p.records);
  const result = checkResult(models, checks, options.baseline ?? null, baseline ? percent : null);

  const unbudgeted = perModel
    .filter((p) => p.model && Object.keys(p.entry.limits).length === 0 && !baseline && !p.entry.advise && p.entry.maxLatencyMs === null && p.entry.maxEnergyMj === null)
    .map((p) => p.model!.name);
  return { result, configFile: display(resolve(cwd, source.file), cwd), unbudgeted };
}

/**
 * `mbn check --format json` as a function: every model of the budget config held to its budgets (and to a stored
 * baseline), the `mbn.check/1` document. `passed` is false when a budget is exceeded or a model is missing or cannot be read or analyzed (an `error` record).
 */
export async function check(options: CheckOptions = {}): Promise<CheckJson> {
  return checkJson(checkModels(options).result);
}

/** A record that cannot pass because the analysis is incomplete (advise, latency, energy): its message says so. */
function incompleteFailure(record: CheckRecord): CheckRecord {
  const message = record.message && 'incomplete' in record.message ? { ...record.message, incomplete: true } : record.message;
  return { ...record, passed: false, message };
}
