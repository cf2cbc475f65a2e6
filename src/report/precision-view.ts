import type { Report } from '../cost/analyze.js';

/** The per-precision breakdown is shown (table, md, html) when any layer is not float32. */
export function showsPrecision(report: Report): boolean {
  return report.byPrecision.some((p) => p.precision !== 'float32');
}
