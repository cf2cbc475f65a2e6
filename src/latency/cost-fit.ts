/**
 * Costs that are a sum of counted work times per-unit rates (a grouped conv's per-group costs, an NCHW pool's), and
 * their fit to measured times: `mbn calibrate` measures a few shapes and solves for the rates.
 */

/** A family of costs: the rates' keys and, for a piece of work, the count each rate multiplies. */
export interface CostFamily<R, W> {
  keys: readonly (keyof R & string)[];
  counts(w: W): number[];
}

/** The family's cost of `w` at `rates` (in the rates' unit). */
export function costOf<R, W>(family: CostFamily<R, W>, rates: R, w: W): number {
  const counts = family.counts(w);
  return family.keys.reduce((sum, key, i) => sum + (rates[key] as number) * counts[i], 0);
}

/**
 * Least squares on relative residuals with every rate ≥ 0: the unconstrained optimum over each subset of the rates
 * (the others 0), the best that is non-negative (the non-negative optimum is the unconstrained one on its own
 * support). Undefined when no subset gives a positive cost for every sample. Rates rounded to 4 decimals.
 */
export function fitRates<R, W>(family: CostFamily<R, W>, samples: readonly { work: W; ns: number }[]): R | undefined {
  const rows = samples.map((s) => family.counts(s.work).map((f) => f / s.ns));
  const n = family.keys.length;
  let best: { rates: number[]; cost: number } | undefined;
  for (let mask = 1; mask < 1 << n; mask++) {
    const cols = family.keys.map((_, i) => i).filter((i) => mask & (1 << i));
    const solved = solveLeastSquares(rows.map((r) => cols.map((i) => r[i])));
    if (!solved || solved.some((x) => !(x >= 0))) continue;
    const rates = family.keys.map((_, i) => (cols.includes(i) ? solved[cols.indexOf(i)] : 0));
    const fitted = rows.map((r) => r.reduce((s, x, i) => s + x * rates[i], 0));
    if (fitted.some((x) => !(x > 0))) continue;
    const cost = fitted.reduce((s, x) => s + (x - 1) ** 2, 0);
    if (!best || cost < best.cost) best = { rates, cost };
  }
  if (!best) return undefined;
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return Object.fromEntries(family.keys.map((key, i) => [key, round(best.rates[i])])) as R;
}

/** argmin_x Σ (row · x − 1)², by the normal equations and Gaussian elimination; null when singular. */
function solveLeastSquares(rows: readonly number[][]): number[] | null {
  const n = rows[0]?.length ?? 0;
  if (n === 0 || rows.length < n) return null;
  const a = Array.from({ length: n }, (_, i) => [...Array.from({ length: n }, (_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0)), rows.reduce((s, r) => s + r[i], 0)]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    if (!(Math.abs(a[pivot][c]) > 1e-12 * Math.abs(a[c][c] || 1))) return null;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const k = a[r][c] / a[c][c];
      for (let j = c; j <= n; j++) a[r][j] -= k * a[c][j];
    }
  }
  return a.map((r, i) => r[n] / r[i]);
}
