import { parseQuantity } from '../units.js';
import type { Totals } from '../contract/analyze.js';
import type { FigureKey } from '../contract/check.js';

/**
 * Compute budgets: the metrics a model can be held to, and the check of a report's totals against them.
 * Pure: parsing and comparison only; rendering (describeLimit) lives in report/, exit codes in cli/exit-code.ts.
 */
export const METRICS = [
  { key: 'maxMacs', label: 'MACs', total: 'macs', bytes: false },
  { key: 'maxFlops', label: 'FLOPs', total: 'flops', bytes: false },
  { key: 'maxParams', label: 'Params', total: 'params', bytes: false },
  { key: 'maxWeightBytes', label: 'Weight bytes', total: 'weightBytes', bytes: true },
  { key: 'maxActivationBytes', label: 'Peak activation bytes', total: 'peakActivationBytes', bytes: true },
] as const satisfies readonly { key: string; label: string; total: FigureKey; bytes: boolean }[];

export type MetricKey = (typeof METRICS)[number]['key'];

/**
 * The figures a model is held to (`mbn check`) and compared on (`mbn diff`): the Totals fields that METRICS limit,
 * in METRICS order. The one list of them.
 */
export const FIGURES = METRICS.map((m) => ({ key: m.total, label: m.label, bytes: m.bytes, limitKey: m.key }));
export type Limits = Partial<Record<MetricKey, number>>;

export interface BudgetResult {
  metric: MetricKey;
  label: string;
  value: number;
  limit: number;
  passed: boolean;
  /** limit − value: positive is headroom, negative is the excess. */
  margin: number;
}

export function metricOf(key: MetricKey) {
  return METRICS.find((m) => m.key === key)!;
}

/** Parses a limit for a metric; null when it is not a valid quantity for it. */
export function parseLimit(key: MetricKey, value: string | number): number | null {
  return parseQuantity(value, metricOf(key).bytes);
}

export function checkLimits(totals: Totals, limits: Limits): BudgetResult[] {
  const results: BudgetResult[] = [];
  for (const m of METRICS) {
    const limit = limits[m.key];
    if (limit === undefined) continue;
    const value = totals[m.total];
    results.push({ metric: m.key, label: m.label, value, limit, passed: value <= limit, margin: limit - value });
  }
  return results;
}
