import { type Dirent, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import {
  type CheckRecord,
  type CheckedModel,
  baselineRecords,
  adviseRecord,
  latencyRecord,
  budgetRecords,
  checkJson,
  figuresOf,
  matchBaseline,
  missingRecord,
  noBaselineRecord,
  parseBaseline,
  parsePercent,
} from '../budget/check.js';
import { type BudgetEntry, EXAMPLE_ENTRY, parseConfigText } from '../budget/config.js';
import { adviseModel } from '../advise/index.js';
import { type GlobEntry, type GlobFs, expandGlob, hasMagic } from '../budget/glob.js';
import { analyzeModel, buildReport } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { BUILTIN_PROFILES } from '../latency/builtin.js';
import { layerLinks } from '../latency/graph.js';
import { addLatency } from '../latency/model.js';
import { loadProfile } from '../latency/profile.js';
import { inferModel } from '../shape/infer.js';
import { readModel } from '../onnx/read.js';
import {
  type BudgetFormat,
  describeCheck,
  renderAnnotations,
  renderCheckJson,
  renderCheckMarkdown,
  renderCheckTable,
} from '../report/budget-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';

export interface CheckOptions {
  config?: string;
  baseline?: string;
  /** Allowed growth over the baseline: "5%", "5" or a number of percent (default 0: any growth fails). */
  maxIncrease?: string | number;
  format: BudgetFormat;
  color?: boolean;
}

export const CONFIG_FILE = 'mbn.config.json';

/** The config's text and where it came from. */
interface ConfigSource {
  file: string;
  text: string;
  /** "mbn" for package.json */
  key?: string;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new MbnError('io', `cannot read ${what} ${quote(file)}: ${why}`);
  }
}

/** `--config FILE`, else ./mbn.config.json, else the "mbn" key of ./package.json. */
export function findConfig(configFlag: string | undefined, cwd: string): ConfigSource {
  if (configFlag !== undefined) {
    const text = readText(configFlag, 'config');
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
const realFs: GlobFs = {
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
function display(abs: string, cwd: string): string {
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

function maxIncreaseOf(value: string | number | undefined): number {
  if (value === undefined) return 0;
  const percent = typeof value === 'number' ? value : parsePercent(value);
  if (percent === null || !(percent >= 0)) throw new MbnError('usage', `--max-increase ${quote(value)} is not a percentage such as 5% or 0.5%`);
  return percent;
}

/** Runs `mbn check`; returns whether any budget is exceeded or any configured model is missing. */
export function runCheck(options: CheckOptions): { budgetsExceeded: boolean } {
  const cwd = process.cwd();
  if (options.maxIncrease !== undefined && options.baseline === undefined) {
    throw new MbnError('usage', '--max-increase needs --baseline FILE (a stored `mbn analyze --format json` or `mbn check --format json` report)');
  }
  const percent = maxIncreaseOf(options.maxIncrease);
  const source = findConfig(options.config, cwd);
  const entries = parseConfigText(source.text, source.file, source.key);
  const configDir = dirname(resolve(cwd, source.file));
  const baseline = options.baseline !== undefined ? parseBaseline(readText(options.baseline, 'baseline'), options.baseline) : null;

  const models: CheckedModel[] = [];
  const perModel: { entry: BudgetEntry; model: CheckedModel | null; records: CheckRecord[] }[] = [];
  for (const entry of entries) {
    const name = entry.name ?? entry.model;
    const files = modelsOf(entry, configDir);
    if (files.length === 0) {
      perModel.push({ entry, model: null, records: [missingRecord(name, entry.model, hasMagic(entry.model))] });
      continue;
    }
    for (const file of files) {
      const shown = display(file, cwd);
      const model = readModel(shown);
      let report;
      let advice = null;
      let latency: CheckRecord | null = null;
      try {
        const shapes = { inputShapes: entry.input ?? undefined, batch: entry.batch ?? undefined };
        // The advise key's rules read the same cost report, so the model is analyzed once either way.
        if (entry.advise) ({ report, findings: advice } = adviseModel(model, shapes));
        else report = analyzeModel(model, shapes);
        if (entry.maxLatencyMs !== null && entry.device !== null) {
          const spec = BUILTIN_PROFILES.some((b) => b.name === entry.device) ? entry.device : resolve(configDir, entry.device);
          const profile = loadProfile(spec, `${source.file}: "device"`);
          const inferred = inferModel(model, shapes);
          const predicted = addLatency(buildReport(model, inferred), layerLinks(inferred), profile).totals.latencyMs ?? null;
          latency = latencyRecord(name, shown, predicted, entry.maxLatencyMs, profile.name);
        }
      } finally {
        model.source.close();
      }
      const checked: CheckedModel = { name, model: shown, totals: figuresOf(report.totals) };
      models.push(checked);
      const records = budgetRecords(name, shown, checked.totals, entry.limits);
      if (entry.advise && advice) records.push(adviseRecord(name, shown, advice, entry.advise));
      if (latency) records.push(latency);
      perModel.push({ entry, model: checked, records });
    }
  }
  if (baseline) {
    const matched = matchBaseline(models, baseline);
    models.forEach((m, i) => {
      const slot = perModel.find((p) => p.model === m)!;
      const j = matched[i];
      slot.records.push(...(j >= 0 ? baselineRecords(m.name, m.model, m.totals, baseline[j].totals, percent) : [noBaselineRecord(m.name, m.model, options.baseline!)]));
    });
  }
  const checks = perModel.flatMap((p) => p.records);
  const result = checkJson(models, checks, options.baseline ?? null, baseline ? percent : null);

  const style = makeStyle(process.stdout, options.color);
  const text = options.format === 'json' ? renderCheckJson(result) : options.format === 'md' ? renderCheckMarkdown(result) : renderCheckTable(result, style);
  write(1, text);
  const err = makeStyle(process.stderr, options.color);
  if (options.format !== 'table') {
    // stdout is a document: people still get the failures, on stderr.
    for (const r of checks) if (!r.passed) write(2, `${err.red('✖')} ${describeCheck(r)}\n`);
  }
  for (const p of perModel) {
    if (p.model && Object.keys(p.entry.limits).length === 0 && !baseline && !p.entry.advise && p.entry.maxLatencyMs === null) {
      write(2, `mbn: warning: ${quote(p.model.name)} sets no budget (add maxMacs, maxFlops, maxParams, maxWeightBytes or maxActivationBytes)\n`);
    }
  }
  if (process.env.GITHUB_ACTIONS === 'true') {
    // Annotations go with the table on stdout; a JSON or markdown document on stdout must stay clean, and the
    // runner also reads workflow commands from stderr.
    const annotations = renderAnnotations(result, display(resolve(cwd, source.file), cwd));
    if (annotations) write(options.format === 'table' ? 1 : 2, annotations);
  }
  return { budgetsExceeded: !result.passed };
}
