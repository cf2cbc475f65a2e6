import { posix } from 'node:path';
import { SHAPE_FIGURES } from './completeness.js';
import { type ErrorCode, MbnError, quote } from '../errors.js';
import type { GapMessage } from '../contract/messages.js';
import { parseJsonText } from './config.js';
import { FIGURES, type Limits, METRICS, checkLimits } from './limits.js';
import { ANALYZE_SCHEMA, type Totals } from '../contract/analyze.js';
import { CHECK_SCHEMA, type CheckedModel, type CheckRecord, type CheckResult, type Figures } from '../contract/check.js';

/**
 * `mbn check` as data: every budget and baseline comparison becomes one CheckRecord. Pure: no file system, no
 * output; messages are codes (contract/messages.ts). The JSON contract (schema 'mbn.check/1') is `CheckJson` in
 * contract/check.ts, rendered from `CheckResult` by report/check-report.ts; see the README, "Budgets in CI".
 */

export function figuresOf(totals: Totals | Figures): Figures {
  return Object.fromEntries(FIGURES.map((f) => [f.key, totals[f.key]])) as Figures;
}

function percentOf(margin: number, limit: number): number | null {
  return limit > 0 ? (100 * margin) / limit : null;
}

/**
 * Budget records of one analyzed model, one per limit set. With `complete` false (the analysis has gaps that block),
 * a figure that depends on shapes is only a lower bound: it fails when over the limit, and is unknown (a failure)
 * otherwise.
 */
export function budgetRecords(name: string, model: string, totals: Totals | Figures, limits: Limits, complete = true): CheckRecord[] {
  return checkLimits(totals as Totals, limits).map((r) => {
    const metric = METRICS.find((m) => m.key === r.metric)!.total;
    const known = complete || !SHAPE_FIGURES.has(metric);
    return {
      name,
      model,
      metric,
      kind: 'budget' as const,
      passed: r.passed && known,
      value: r.value,
      limit: r.limit,
      margin: r.margin,
      marginPercent: percentOf(r.margin, r.limit),
      baseline: null,
      message: null,
      complete: known,
    };
  });
}

/** One failed record per gap group of a model whose analysis is incomplete: what is missing and how to fix it. */
export function incompleteRecords(name: string, model: string, messages: GapMessage[]): CheckRecord[] {
  return messages.map((message) => ({
    name,
    model,
    metric: 'model' as const,
    kind: 'incomplete' as const,
    passed: false,
    value: null,
    limit: null,
    margin: null,
    marginPercent: null,
    baseline: null,
    message,
    complete: false,
  }));
}

/** The record of a config entry whose model path or glob matched no file. */
export function missingRecord(name: string, pattern: string, glob: boolean): CheckRecord {
  return {
    name,
    model: pattern,
    metric: 'model',
    kind: 'missing',
    passed: false,
    value: null,
    limit: null,
    margin: null,
    marginPercent: null,
    baseline: null,
    message: { code: 'model-missing', pattern, glob },
    complete: true,
  };
}

/**
 * The record of a model file mbn could not read or analyze (corrupt, not ONNX, counts out of range…): a failed
 * check, so that the other models are still checked: the error's code and its one-line message.
 */
export function errorRecord(name: string, model: string, error: ErrorCode, detail: string): CheckRecord {
  return { ...missingRecord(name, model, false), kind: 'error', message: { code: 'model-error', error, detail } };
}

/** The largest value allowed for a figure that may grow by `percent` over `base` (integers: rounded down). */
export function allowedGrowth(base: number, percent: number): number {
  // base·(100 + p)/100 computed in one division keeps exact integers exact (e.g. 100 at 5% → 105).
  const limit = (base * (100 + percent)) / 100;
  const floor = Math.floor(limit);
  // Guard against 104.99999999 for an exact 105.
  return limit - floor > 1 - 1e-9 ? floor + 1 : floor;
}

/**
 * Baseline records: each figure of `totals` against the stored one, allowed to grow by at most `percent`. With
 * `complete` false, figures that depend on shapes are lower bounds, as in budgetRecords.
 */
export function baselineRecords(name: string, model: string, totals: Figures, base: Figures, percent: number, complete = true): CheckRecord[] {
  return FIGURES.map((f) => {
    const value = totals[f.key];
    const limit = allowedGrowth(base[f.key], percent);
    const margin = limit - value;
    const known = complete || !SHAPE_FIGURES.has(f.key);
    return {
      name,
      model,
      metric: f.key,
      kind: 'baseline' as const,
      passed: value <= limit && known,
      value,
      limit,
      margin,
      marginPercent: percentOf(margin, limit),
      baseline: base[f.key],
      message: null,
      complete: known,
    };
  });
}

/** The baseline's own analysis was incomplete: its figures are no reference, so the model is not compared. */
export function incompleteBaselineRecord(name: string, model: string, baselineLabel: string): CheckRecord {
  return { ...noBaselineRecord(name, model, baselineLabel), message: { code: 'baseline-incomplete', baseline: baselineLabel } };
}

export function noBaselineRecord(name: string, model: string, baselineLabel: string): CheckRecord {
  return {
    name,
    model,
    metric: 'model',
    kind: 'no-baseline',
    passed: true,
    value: null,
    limit: null,
    margin: null,
    marginPercent: null,
    baseline: null,
    message: { code: 'no-baseline', baseline: baselineLabel },
    complete: true,
  };
}

/** One model of a stored report. `name` is null for an `mbn analyze` report. */
export interface BaselineModel {
  name: string | null;
  model: string | null;
  totals: Figures;
  /** False when the stored report says its analysis was incomplete (reports from before this field count as complete). */
  complete: boolean;
}

/**
 * Reads a stored report: `mbn analyze --format json` (schema 'mbn.analyze/1', one model) or
 * `mbn check --format json` (schema 'mbn.check/1', its `models`).
 */
export function parseBaseline(text: string, label: string): BaselineModel[] {
  const value = parseJsonText(text, label) as Record<string, unknown> | null;
  const bad = (why: string): never => {
    throw new MbnError('config', `${label} is not an mbn report (${why}); make one with \`mbn analyze MODEL --format json > ${label}\` or \`mbn check --format json > ${label}\``);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('not a JSON object');
  const schema = value.schema;
  if (schema === ANALYZE_SCHEMA) {
    const model = value.model as { path?: unknown } | undefined;
    const totals = readFigures(value.totals, bad);
    const complete = (value.totals as Record<string, unknown>).complete !== false;
    return [{ name: null, model: typeof model?.path === 'string' ? model.path : null, totals, complete }];
  }
  if (schema === CHECK_SCHEMA) {
    if (!Array.isArray(value.models)) return bad('"models" is not an array');
    return value.models.map((m: unknown) => {
      const o = (m ?? {}) as Record<string, unknown>;
      return {
        name: typeof o.name === 'string' ? o.name : null,
        model: typeof o.model === 'string' ? o.model : null,
        totals: readFigures(o.totals, bad),
        complete: o.complete !== false,
      };
    });
  }
  return bad(`schema is ${schema === undefined ? 'missing' : quote(String(schema))}, expected '${ANALYZE_SCHEMA}' or '${CHECK_SCHEMA}'`);
}

function readFigures(value: unknown, bad: (why: string) => never): Figures {
  if (value === null || typeof value !== 'object') return bad('no "totals"');
  const t = value as Record<string, unknown>;
  for (const f of FIGURES) {
    if (typeof t[f.key] !== 'number' || !Number.isFinite(t[f.key])) bad(`totals.${f.key} is not a number`);
  }
  return figuresOf(t as unknown as Figures);
}

/**
 * Pairs each checked model with its baseline: the same name and path, else the same path, else the same name
 * (when only one baseline has it), else the same file name (when unique on both sides), else — when both sides
 * have exactly one model — those two. Paths are compared after normalization (`./a/../b.onnx` = `b.onnx`).
 * Returns, for each model, the baseline index or -1.
 */
export function matchBaseline(models: { name: string; model: string }[], baseline: BaselineModel[]): number[] {
  const norm = (p: string | null) => (p === null ? null : posix.normalize(p.replace(/\\/g, '/')));
  const used = new Set<number>();
  const result = models.map(() => -1);
  const pass = (pick: (m: { name: string; model: string }, i: number) => number) => {
    models.forEach((m, i) => {
      if (result[i] >= 0) return;
      const j = pick(m, i);
      if (j >= 0 && !used.has(j)) {
        result[i] = j;
        used.add(j);
      }
    });
  };
  const unique = (pred: (b: BaselineModel) => boolean) => {
    const hits = baseline.map((b, j) => (pred(b) && !used.has(j) ? j : -1)).filter((j) => j >= 0);
    return hits.length === 1 ? hits[0] : -1;
  };
  pass((m) => unique((b) => b.name === m.name && norm(b.model) === norm(m.model)));
  pass((m) => unique((b) => norm(b.model) === norm(m.model)));
  pass((m) => {
    // A name shared by several models of one glob entry cannot identify one of them.
    if (models.filter((x) => x.name === m.name).length > 1) return -1;
    return unique((b) => b.name === m.name);
  });
  const base = (p: string | null) => (p === null ? null : posix.basename(norm(p)!));
  pass((m) => {
    if (models.filter((x) => base(x.model) === base(m.model)).length > 1) return -1;
    return unique((b) => b.model !== null && base(b.model) === base(m.model));
  });
  if (models.length === 1 && baseline.length === 1 && result[0] < 0) result[0] = 0;
  return result;
}

export function checkResult(models: CheckedModel[], checks: CheckRecord[], baseline: string | null, maxIncreasePercent: number | null): CheckResult {
  return { schema: CHECK_SCHEMA, passed: checks.every((c) => c.passed), baseline, maxIncreasePercent, models, checks };
}

/** The `advise` key: passes when `mbn advise` finds nothing of severity `failOn` or worse; the message lists the rules. */
export function adviseRecord(name: string, model: string, findings: { rule: string; severity: string }[], failOn: 'warning' | 'error'): CheckRecord {
  const failing = findings.filter((f) => f.severity === 'error' || (failOn === 'warning' && f.severity === 'warning'));
  const byRule = new Map<string, number>();
  for (const f of failing) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  const rules = [...byRule].map(([rule, n]) => ({ rule, findings: n }));
  return {
    name,
    model,
    metric: 'model',
    kind: 'advise',
    passed: failing.length === 0,
    value: null,
    limit: null,
    margin: null,
    marginPercent: null,
    baseline: null,
    message: failing.length === 0
      ? { code: 'advise-passed', failOn, incomplete: false }
      : { code: 'advise-failed', failOn, findings: failing.length, rules, model, incomplete: false },
    complete: true,
  };
}

/** The `maxLatencyMs` key: the latency `mbn analyze --device` predicts against the budget (unknown never passes). */
export function latencyRecord(name: string, model: string, latencyMs: number | null, limitMs: number, device: string): CheckRecord {
  return predictionRecord('latency', name, model, latencyMs, limitMs, device);
}

/** The `maxEnergyMj` key: the energy `mbn analyze --device` estimates against the budget (unknown never passes). */
export function energyRecord(name: string, model: string, energyMj: number | null, limitMj: number, device: string): CheckRecord {
  return predictionRecord('energy', name, model, energyMj, limitMj, device);
}

/** A device prediction (latency, energy) against its budget: unknown is incomplete and never passes. */
function predictionRecord(
  kind: 'latency' | 'energy',
  name: string,
  model: string,
  value: number | null,
  limit: number,
  device: string,
): CheckRecord {
  const margin = value === null ? null : limit - value;
  return {
    name,
    model,
    metric: 'model',
    kind,
    passed: value !== null && value <= limit,
    value,
    limit,
    margin,
    marginPercent: margin === null ? null : (100 * margin) / limit,
    baseline: null,
    complete: value !== null,
    message: { code: kind === 'latency' ? 'latency-budget' : 'energy-budget', device, value, limit, incomplete: false },
  };
}
