import type { Totals } from '../cost/analyze.js';
import { human, humanBytes, parseQuantity } from '../report/units.js';

/**
 * Compute budgets: the metrics a model can be held to, and the check of a report's totals against them.
 * Pure: parsing and comparison only; rendering lives in report/, exit codes in cli/exit-code.ts.
 */
export const METRICS = [
  { key: 'maxMacs', flag: '--max-macs', label: 'MACs', total: 'macs', bytes: false },
  { key: 'maxFlops', flag: '--max-flops', label: 'FLOPs', total: 'flops', bytes: false },
  { key: 'maxParams', flag: '--max-params', label: 'Params', total: 'params', bytes: false },
  { key: 'maxWeightBytes', flag: '--max-weight-bytes', label: 'Weight bytes', total: 'weightBytes', bytes: true },
  { key: 'maxActivationBytes', flag: '--max-activation-bytes', label: 'Peak activation bytes', total: 'peakActivationBytes', bytes: true },
] as const;

export type MetricKey = (typeof METRICS)[number]['key'];
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

/** A value with its unit, in the metric's own terms. */
export function formatMetric(key: MetricKey, value: number): string {
  return metricOf(key).bytes ? humanBytes(value) : human(value);
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

/** "MACs 612M exceed the budget of 600M by 12M (2.0%)" — one line per failed budget. */
export function describeFailure(r: BudgetResult): string {
  const over = r.value - r.limit;
  const pct = r.limit > 0 ? ` (${((100 * over) / r.limit).toFixed(1)}%)` : '';
  return `${r.label} ${formatMetric(r.metric, r.value)} exceed the budget of ${formatMetric(r.metric, r.limit)} by ${formatMetric(r.metric, over)}${pct}`;
}
