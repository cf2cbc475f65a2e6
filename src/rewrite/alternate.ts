/**
 * Alternating refit of a separated conv: the depthwise filters too, not only the pointwise weights (pure, float64).
 *
 * The statistics. Let X_c[k, p] be input channel c's patches (K = prod(kernel) values per output pixel p) and
 * W_c = U Σ Vᵀ the SVD of channel c's filters ([N/g, K]); the rank-q separation's depthwise outputs are
 * Zq[c·q + j, p] = Σ_k V_c[k, j] X_c[k, p], j < q. A rank-r pair (r < q) whose depthwise filters stay in the span of
 * the leading q right singular vectors is D_c = A_c V_cᵀ with A_c of size r × q (the SVD is A_c = [I 0]), so its
 * depthwise outputs are Z_c = A_c Zq_c and the pair predicts
 *     ŷ[n, p] = Σ_c Σ_u P[n, c·r+u] Σ_j A_c[u, j] Zq[c·q+j, p] + b[n].
 * The loss L = Σ_{n,p} (ŷ − y)² is quadratic in (P, b) for fixed A and in A for fixed (P, b), and everything it
 * needs is in the statistics the pointwise fit already collects, taken at rank q instead of r:
 * Gq = Σ_p Z̃q Z̃qᵀ and Hq = Σ_p Z̃q yᵀ (Z̃q = [Zq; 1]) and Σ y². No feature map is kept.
 *   - Pointwise step (A fixed): Z̃ = Â Z̃q, so G = Â Gq Âᵀ and H = Â Hq (PointwiseStats.mixed), and the existing
 *     ridge least squares gives P and b.
 *   - Filter step (P, b fixed), per input channel c holding the others: ∂L/∂A_c[u, j] = 0 gives
 *       Σ_{u′,j′} (PᵀP)[cu, cu′] Gq[cj′, cj] A_c[u′, j′]
 *         = Σ_n P[n, cu] (Hq[cj, n] − b[n] Σ_p Zq[cj, p]) − Σ_{c′≠c} Σ_{u′} (PᵀP)[cu, c′u′] B[cj, c′u′],
 *     with B[cj, c′u′] = Σ_{j′} Gq[cj, c′j′] A_{c′}[u′, j′] (Σ_p Zq[cj,p] is Gq's bias column). One (r·q)² system per
 *     channel; channels are visited in turn (block Gauss–Seidel), B updated after each. The coupling between
 *     channels is why the per-channel patch moments alone (K×K per channel) are not enough: channel c's best filter
 *     depends on what every other channel's depthwise output contributes through PᵀP, which needs the cross-channel
 *     moments Gq. Collecting them for all K directions (q = K, the full (C·K)² patch Gram) costs K²/r² times the
 *     pointwise statistics; q = r + 1 keeps much of the gain at (r+1)²/r² of it (see calibrate/run.ts).
 * With output weights W (AlternatingOptions.outputWeights) the loss is Σ_n w_n Σ_p (ŷ − y)²: PᵀP above becomes
 * PᵀWP and the right-hand side's Σ_n gains w_n; the pointwise step does not change (one least squares per output).
 * Both steps are proximal (the ridge pulls towards the current values), so neither can raise L; a round is still
 * accepted only if L on the statistics went down, and rounds stop when it improves by less than `tolerance`
 * (relative). Between rounds each depthwise filter is rescaled to unit norm (the pointwise column takes the scale),
 * which leaves ŷ unchanged.
 */

import { type PointwiseStats, choleskySolve } from './refit.js';

export interface AlternatingResult {
  /** [C, r, q]: depthwise filter (c, u) = Σ_j mix[c, u, j] · the j-th rank-q SVD filter of channel c. */
  mix: Float64Array;
  /** [N, C·r/g] pointwise weights and [N] bias, as PointwiseStats.solve. */
  weights: Float64Array;
  bias: Float64Array;
  /** ‖ŷ − Y‖/‖Y‖ on the statistics: at most the starting point's. */
  error: number;
  /** Rounds accepted (0: the start was kept). */
  rounds: number;
  /** With `validation`: after how many rounds (0: none) the objective on the validation statistics was lowest. */
  bestValidated?: number;
}

export interface AlternatingOptions {
  /** Ridge of the pointwise step (as PointwiseStats.solve) and of the filter step (relative to each block's trace). */
  ridge: number;
  filterRidge: number;
  maxRounds: number;
  tolerance: number;
  /**
   * [N]: how much each output channel's error counts in the filter step and in accepting a round, e.g. (γ/σ)² of a
   * BatchNormalization that follows the conv (its error is scaled so on the way on). Absent: all alike. The pointwise
   * step is the same whatever the weights (each output channel is its own least squares); the filter step is not:
   * through PᵀWP it trades error between output channels.
   */
  outputWeights?: Float64Array;
  /** Statistics of other data, on which each round's result is also measured (see AlternatingResult.bestValidated). */
  validation?: PointwiseStats;
}

/**
 * `stats` collected at rank q; `start` the rank-r pointwise fit with the SVD filters (mix = [I 0]), e.g.
 * stats.solve(ridge, keep) spread to rank-r layout. Returns the best (mix, P, b) found.
 */
export function alternateRefit(stats: PointwiseStats, r: number, q: number, start: { weights: Float64Array; bias: Float64Array; error: number }, options: AlternatingOptions): AlternatingResult {
  const cg = stats.zPerGroup / q;
  const channels = stats.groups * cg;
  let mix = new Float64Array(channels * r * q);
  for (let c = 0; c < channels; c++) for (let u = 0; u < r; u++) mix[(c * r + u) * q + u] = 1;
  let best: AlternatingResult = { mix, weights: start.weights, bias: start.bias, error: start.error, rounds: 0 };
  if (r >= q) return best;
  const w = options.outputWeights ?? new Float64Array(stats.groups * stats.outPerGroup).fill(1);
  // The objective: Σ_n w_n·residual_n / Σ_n w_n·Σy_n² (the relative error when all weights are 1).
  const weighted = (s: PointwiseStats, weights: Float64Array, bias: Float64Array) => {
    let e = 0;
    let total = 0;
    s.residuals(weights, bias).forEach((res, n) => (e += w[n] * res));
    s.yyOut.forEach((yy, n) => (total += w[n] * yy));
    return total > 0 ? Math.sqrt(e / total) : Math.sqrt(e);
  };
  let bestObjective = weighted(stats.mixed(mix, r, q), best.weights, best.bias);
  const validation = options.validation;
  let bestValidation = validation ? weighted(validation.mixed(mix, r, q), best.weights, best.bias) : 0;
  let bestValidated = 0;
  for (let round = 1; round <= options.maxRounds; round++) {
    mix = Float64Array.from(best.mix);
    const weights = Float64Array.from(best.weights);
    for (let G = 0; G < stats.groups; G++) filterStep(stats, G, mix, weights, best.bias, r, q, options.filterRidge, w);
    normalise(mix, weights, stats.groups, cg, stats.outPerGroup, r, q);
    const mixed = stats.mixed(mix, r, q);
    const fit = mixed.solve(options.ridge, undefined, weights);
    const objective = weighted(mixed, fit.weights, fit.bias);
    if (!(objective < bestObjective)) break;
    const gain = bestObjective - objective;
    best = { mix, weights: fit.weights, bias: fit.bias, error: fit.error, rounds: round };
    bestObjective = objective;
    if (validation) {
      const v = weighted(validation.mixed(mix, r, q), fit.weights, fit.bias);
      if (v < bestValidation) {
        bestValidation = v;
        bestValidated = round;
      }
    }
    if (gain < options.tolerance * objective) break;
  }
  return validation ? { ...best, bestValidated } : best;
}

/** The rank-r depthwise filters [C·r, K] from the rank-q ones [C·q, K] and the mix [C, r, q]. */
export function mixFilters(filters: Float64Array, mix: Float64Array, channels: number, r: number, q: number): Float64Array {
  const K = filters.length / (channels * q);
  const out = new Float64Array(channels * r * K);
  for (let c = 0; c < channels; c++) {
    for (let u = 0; u < r; u++) {
      for (let j = 0; j < q; j++) {
        const w = mix[(c * r + u) * q + j];
        if (w === 0) continue;
        for (let k = 0; k < K; k++) out[(c * r + u) * K + k] += w * filters[(c * q + j) * K + k];
      }
    }
  }
  return out;
}

/** One block Gauss–Seidel sweep over the input channels of group G (see the header); updates mix in place. */
function filterStep(stats: PointwiseStats, G: number, mix: Float64Array, weights: Float64Array, bias: Float64Array, r: number, q: number, ridge: number, w: Float64Array): void {
  const ng = stats.outPerGroup;
  const zq = stats.zPerGroup;
  const cg = zq / q;
  const zr = cg * r;
  const d = zq + 1;
  const full = stats.gram[G];
  const cross = stats.cross[G];
  const at = (i: number, j: number) => (i <= j ? full[i * d + j] : full[j * d + i]);
  const P = (n: number, i: number) => weights[(G * ng + n) * zr + i];
  const ptp = new Float64Array(zr * zr);
  for (let n = 0; n < ng; n++) {
    const row = (G * ng + n) * zr;
    const wn = w[G * ng + n];
    for (let i = 0; i < zr; i++) {
      const pi = wn * weights[row + i];
      if (pi === 0) continue;
      for (let j = 0; j < zr; j++) ptp[i * zr + j] += pi * weights[row + j];
    }
  }
  // h[(cl·r+u)·q + j] = Σ_n P[n, cl·r+u] (Hq[cl·q+j, n] − b[n]·Σ Zq[cl·q+j]).
  const h = new Float64Array(zr * q);
  for (let cl = 0; cl < cg; cl++) {
    for (let j = 0; j < q; j++) {
      const i = cl * q + j;
      const sum = at(i, zq);
      for (let u = 0; u < r; u++) {
        let s = 0;
        for (let n = 0; n < ng; n++) s += w[G * ng + n] * P(n, cl * r + u) * (cross[i * ng + n] - bias[G * ng + n] * sum);
        h[(cl * r + u) * q + j] = s;
      }
    }
  }
  const mixAt = (cl: number, u: number, j: number) => mix[((G * cg + cl) * r + u) * q + j];
  // B[i, cl′·r+u′] = Σ_j′ Gq[i, cl′·q+j′] A_cl′[u′, j′].
  const B = new Float64Array(zq * zr);
  const refresh = (cl: number) => {
    for (let i = 0; i < zq; i++) {
      for (let u = 0; u < r; u++) {
        let s = 0;
        for (let j = 0; j < q; j++) s += at(i, cl * q + j) * mixAt(cl, u, j);
        B[i * zr + cl * r + u] = s;
      }
    }
  };
  for (let cl = 0; cl < cg; cl++) refresh(cl);
  const m = r * q;
  for (let cl = 0; cl < cg; cl++) {
    const a = new Float64Array(m * m);
    const rhs = new Float64Array(m);
    let trace = 0;
    for (let u = 0; u < r; u++) {
      for (let j = 0; j < q; j++) {
        const row = u * q + j;
        for (let u2 = 0; u2 < r; u2++) {
          const pp = ptp[(cl * r + u) * zr + cl * r + u2];
          for (let j2 = 0; j2 < q; j2++) a[row * m + u2 * q + j2] = pp * at(cl * q + j, cl * q + j2);
        }
        trace += a[row * m + row];
        // The other channels' part of Σ_{c′,u′} (PᵀP)[cu, c′u′] B[cj, c′u′]: all of it minus channel cl's own.
        let other = 0;
        const bi = (cl * q + j) * zr;
        const pi = (cl * r + u) * zr;
        for (let col = 0; col < zr; col++) other += ptp[pi + col] * B[bi + col];
        for (let u2 = 0; u2 < r; u2++) other -= ptp[pi + cl * r + u2] * B[bi + cl * r + u2];
        rhs[row] = h[(cl * r + u) * q + j] - other;
      }
    }
    const lambda = (ridge * trace) / m;
    for (let i = 0; i < m; i++) {
      a[i * m + i] += lambda;
      rhs[i] += lambda * mixAt(cl, Math.floor(i / q), i % q);
    }
    const x = choleskySolve(a, m, rhs, 1);
    for (let u = 0; u < r; u++) for (let j = 0; j < q; j++) mix[((G * cg + cl) * r + u) * q + j] = x[u * q + j];
    refresh(cl);
  }
}

/** Each filter (row of mix) to unit norm, its pointwise column scaled to match: the pair's output is unchanged. */
function normalise(mix: Float64Array, weights: Float64Array, groups: number, cg: number, ng: number, r: number, q: number): void {
  const zr = cg * r;
  for (let G = 0; G < groups; G++) {
    for (let cl = 0; cl < cg; cl++) {
      for (let u = 0; u < r; u++) {
        const m = ((G * cg + cl) * r + u) * q;
        let s = 0;
        for (let j = 0; j < q; j++) s += mix[m + j] ** 2;
        s = Math.sqrt(s);
        if (!(s > 0)) continue;
        for (let j = 0; j < q; j++) mix[m + j] /= s;
        for (let n = 0; n < ng; n++) weights[(G * ng + n) * zr + cl * r + u] *= s;
      }
    }
  }
}
