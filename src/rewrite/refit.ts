/**
 * Data-driven pointwise weights for a separated conv (Zhang et al., TPAMI 2016, applied to the depthwise + pointwise
 * pair): with the depthwise filters fixed, the pointwise conv is linear in its weights, so the P and bias c that best
 * reproduce the original conv's output Y from the depthwise outputs Z (least squares over every pixel of every
 * calibration sample) solve (G + λI) [P c]ᵀ = H, with G = Σ Z̃Z̃ᵀ and H = Σ Z̃Yᵀ, Z̃ = [Z; 1]. Only G and H are kept,
 * never the feature maps, so memory is (C·r/g + 1)² per group whatever the data. Float64 throughout; pure, no I/O.
 */

type Values = ArrayLike<number>;

export interface RefitSolution {
  /** [N, zPerGroup] row-major: the pointwise weight of a conv with `groups` groups. */
  weights: Float64Array;
  /** [N]. */
  bias: Float64Array;
  /** ‖P·Z + c − Y‖ / ‖Y‖ over the accumulated data (0 when Y is all zero and fitted exactly). */
  error: number;
}

export class PointwiseStats {
  /** Per group: (zg+1)² Gram matrix of [Z; 1] (upper triangle filled; the bias row/column last). */
  readonly gram: Float64Array[];
  /** Per group: (zg+1) × ng cross terms with Y. */
  readonly cross: Float64Array[];
  /** Σ y² over every output value. */
  yy = 0;
  /** [g·ng]: Σ y² per output channel. */
  readonly yyOut: Float64Array;
  pixels = 0;

  constructor(
    readonly groups: number,
    /** Depthwise channels per group (C·r/g). */
    readonly zPerGroup: number,
    /** Output channels per group (N/g). */
    readonly outPerGroup: number,
  ) {
    const d = zPerGroup + 1;
    this.gram = Array.from({ length: groups }, () => new Float64Array(d * d));
    this.cross = Array.from({ length: groups }, () => new Float64Array(d * outPerGroup));
    this.yyOut = new Float64Array(groups * outPerGroup);
  }

  /**
   * Adds one batch: z is [B, g·zg, pixels] and y is [B, g·ng, pixels] (NCHW flattened), both with the same pixels.
   */
  add(z: Values, y: Values, batch: number, allPixels: number, sample?: Int32Array): void {
    const { groups: g, zPerGroup: zg, outPerGroup: ng } = this;
    if (z.length !== batch * g * zg * allPixels || y.length !== batch * g * ng * allPixels) {
      throw new Error(`refit: z has ${z.length} values and y ${y.length}, expected ${batch * g * zg * allPixels} and ${batch * g * ng * allPixels}`);
    }
    const d = zg + 1;
    // `sample`: the pixels used (see samplePixels), all by default.
    const pixels = sample ? sample.length : allPixels;
    const zs = new Float64Array(zg * pixels);
    const ys = new Float64Array(ng * pixels);
    for (let b = 0; b < batch; b++) {
      for (let G = 0; G < g; G++) {
        // Copy the group's rows into float64 once: every dot product below then runs on contiguous doubles.
        const zBase = (b * g + G) * zg * allPixels;
        const yBase = (b * g + G) * ng * allPixels;
        if (sample) {
          for (let i = 0; i < zg; i++) for (let p = 0; p < pixels; p++) zs[i * pixels + p] = z[zBase + i * allPixels + sample[p]];
          for (let i = 0; i < ng; i++) for (let p = 0; p < pixels; p++) ys[i * pixels + p] = y[yBase + i * allPixels + sample[p]];
        } else {
          for (let i = 0; i < zg * pixels; i++) zs[i] = z[zBase + i];
          for (let i = 0; i < ng * pixels; i++) ys[i] = y[yBase + i];
        }
        const gram = this.gram[G];
        const cross = this.cross[G];
        for (let i = 0; i < zg; i++) {
          const oi = i * pixels;
          dots(zs, oi, zs, i, zg, pixels, gram, i * d);
          let sum = 0;
          for (let p = 0; p < pixels; p++) sum += zs[oi + p];
          gram[i * d + zg] += sum;
          dots(zs, oi, ys, 0, ng, pixels, cross, i * ng);
        }
        gram[zg * d + zg] += pixels;
        for (let n = 0; n < ng; n++) {
          const on = n * pixels;
          let sum = 0;
          let sq = 0;
          for (let p = 0; p < pixels; p++) {
            sum += ys[on + p];
            sq += ys[on + p] * ys[on + p];
          }
          cross[zg * ng + n] += sum;
          this.yy += sq;
          this.yyOut[G * ng + n] += sq;
        }
      }
    }
    this.pixels += batch * pixels;
  }

  /**
   * The pixels of a feature map to use when there are more than the fit needs: with `total` pixels over every
   * fitting sample, at most max(2¹⁵, 128 per unknown of a group) are kept, picked by a hash of the pixel index and
   * `salt` (vary it per batch) so that rows, columns and batches are all covered. Null: use every pixel. A least
   * squares with 193 unknowns is decided long before 150 000 samples; the statistics' cost is per pixel, and the
   * alternating refit's wider statistics would otherwise multiply it.
   */
  samplePixels(pixels: number, total: number, salt: number): Int32Array | null {
    const want = Math.max(1 << 15, 128 * (this.zPerGroup + 1));
    const step = Math.floor(total / want);
    if (step < 2) return null;
    const out: number[] = [];
    for (let p = 0; p < pixels; p++) if ((Math.imul(p + salt * 40503, 2654435761) >>> 7) % step === 0) out.push(p);
    return Int32Array.from(out);
  }

  /** ‖P·Z + c − Y‖/‖Y‖ of given weights ([N, zg] row-major) and bias ([N]) on the accumulated data. */
  errorOf(weights: Float64Array, bias: Float64Array): number {
    const residual = this.residuals(weights, bias).reduce((a, b) => a + b, 0);
    return this.yy > 0 ? Math.sqrt(residual / this.yy) : Math.sqrt(residual);
  }

  /** The statistics of both data sets together (same layer, same layout). */
  plus(other: PointwiseStats): PointwiseStats {
    const out = new PointwiseStats(this.groups, this.zPerGroup, this.outPerGroup);
    for (let G = 0; G < this.groups; G++) {
      this.gram[G].forEach((v, i) => (out.gram[G][i] = v + other.gram[G][i]));
      this.cross[G].forEach((v, i) => (out.cross[G][i] = v + other.cross[G][i]));
    }
    this.yyOut.forEach((v, i) => (out.yyOut[i] = v + other.yyOut[i]));
    out.yy = this.yy + other.yy;
    out.pixels = this.pixels + other.pixels;
    return out;
  }

  /** [g·ng]: Σ (P·Z + c − Y)² per output channel, for weights [N, zg] and bias [N], on the accumulated data. */
  residuals(weights: Float64Array, bias: Float64Array): Float64Array {
    const { groups: g, zPerGroup: zg, outPerGroup: ng } = this;
    const d = zg + 1;
    const out = new Float64Array(g * ng);
    const x = new Float64Array(d);
    for (let G = 0; G < g; G++) {
      const full = this.gram[G];
      for (let n = 0; n < ng; n++) {
        const row = (G * ng + n) * zg;
        for (let i = 0; i < zg; i++) x[i] = weights[row + i];
        x[zg] = bias[G * ng + n];
        let r = this.yyOut[G * ng + n];
        for (let i = 0; i < d; i++) {
          if (x[i] === 0) continue;
          r -= 2 * x[i] * this.cross[G][i * ng + n];
          let gx = 0;
          for (let j = 0; j < d; j++) gx += (i <= j ? full[i * d + j] : full[j * d + i]) * x[j];
          r += x[i] * gx;
        }
        out[G * ng + n] = Math.max(0, r);
      }
    }
    return out;
  }

  /**
   * The statistics of Z = Â·Zq, where these were collected on Zq with q depthwise channels per input channel and
   * `mix` ([C, r, q]) gives each input channel's r outputs as combinations of its q: G' = Â G Âᵀ, H' = Â H (the bias
   * row stays). Exact: no data is needed again.
   */
  mixed(mix: Float64Array, r: number, q: number): PointwiseStats {
    const { groups: g, zPerGroup: zq, outPerGroup: ng } = this;
    const cg = zq / q;
    const zr = cg * r;
    const out = new PointwiseStats(g, zr, ng);
    out.yy = this.yy;
    out.yyOut.set(this.yyOut);
    out.pixels = this.pixels;
    const d = zq + 1;
    const dr = zr + 1;
    for (let G = 0; G < g; G++) {
      const full = this.gram[G];
      const at = (i: number, j: number) => (i <= j ? full[i * d + j] : full[j * d + i]);
      // T = Â G (zr × d), then G' = T Âᵀ (upper triangle) and H' = Â H.
      const t = new Float64Array(zr * d);
      for (let cl = 0; cl < cg; cl++) {
        for (let u = 0; u < r; u++) {
          const row = cl * r + u;
          const m = ((G * cg + cl) * r + u) * q;
          for (let j = 0; j < q; j++) {
            const w = mix[m + j];
            if (w === 0) continue;
            const from = cl * q + j;
            for (let k = 0; k < d; k++) t[row * d + k] += w * at(from, k);
            for (let n = 0; n < ng; n++) out.cross[G][row * ng + n] += w * this.cross[G][from * ng + n];
          }
        }
      }
      const gram = out.gram[G];
      for (let i = 0; i < zr; i++) {
        for (let cl = 0; cl < cg; cl++) {
          for (let u = 0; u < r; u++) {
            const col = cl * r + u;
            if (col < i) continue;
            const m = ((G * cg + cl) * r + u) * q;
            let s = 0;
            for (let j = 0; j < q; j++) s += t[i * d + cl * q + j] * mix[m + j];
            gram[i * dr + col] = s;
          }
        }
        gram[i * dr + zr] = t[i * d + zq];
      }
      gram[zr * dr + zr] = full[zq * d + zq];
      for (let n = 0; n < ng; n++) out.cross[G][zr * ng + n] = this.cross[G][zq * ng + n];
    }
    return out;
  }

  /**
   * Least-squares weights using only the depthwise channels `keep` of each group (local indices, e.g. the first
   * r′ filters of every input channel for a lower rank; all by default). Columns not kept get weight 0.
   * λ = ridge · trace(G_z)/dim on the Z block (not the bias), so nearly collinear depthwise outputs stay solvable.
   * With a `prior` ([N, zg], e.g. the SVD weights) the ridge pulls towards it instead of towards 0: directions the
   * data does not determine (fewer pixels than unknowns, in a deep layer of a small input) keep the SVD weights.
   */
  solve(ridge = 1e-7, keep?: number[], prior?: Float64Array): RefitSolution {
    const { groups: g, zPerGroup: zg, outPerGroup: ng } = this;
    const d = zg + 1;
    const cols = [...(keep ?? Array.from({ length: zg }, (_, i) => i)), zg];
    const m = cols.length;
    const weights = new Float64Array(g * ng * zg);
    const bias = new Float64Array(g * ng);
    let residual = 0;
    for (let G = 0; G < g; G++) {
      const full = this.gram[G];
      const at = (i: number, j: number) => (i <= j ? full[i * d + j] : full[j * d + i]);
      const a = new Float64Array(m * m);
      let trace = 0;
      for (let i = 0; i < m - 1; i++) trace += at(cols[i], cols[i]);
      const lambda = m > 1 ? (ridge * trace) / (m - 1) : 0;
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) a[i * m + j] = at(cols[i], cols[j]) + (i === j && i < m - 1 ? lambda : 0);
      const rhs = new Float64Array(m * ng);
      for (let i = 0; i < m; i++) {
        for (let n = 0; n < ng; n++) {
          const pull = prior && i < m - 1 ? lambda * prior[(G * ng + n) * zg + cols[i]] : 0;
          rhs[i * ng + n] = this.cross[G][cols[i] * ng + n] + pull;
        }
      }
      const x = choleskySolve(a, m, rhs, ng);
      for (let n = 0; n < ng; n++) {
        const row = (G * ng + n) * zg;
        for (let i = 0; i < m - 1; i++) weights[row + cols[i]] = x[i * ng + n];
        bias[G * ng + n] = x[(m - 1) * ng + n];
        // ‖Y − X̃ᵀx‖² = Σy² − 2xᵀh + xᵀGx, with the unregularised G.
        let xh = 0;
        let xgx = 0;
        for (let i = 0; i < m; i++) {
          const xi = x[i * ng + n];
          xh += xi * this.cross[G][cols[i] * ng + n];
          let gx = 0;
          for (let j = 0; j < m; j++) gx += at(cols[i], cols[j]) * x[j * ng + n];
          xgx += xi * gx;
        }
        residual += xgx - 2 * xh;
      }
    }
    residual += this.yy;
    const error = this.yy > 0 ? Math.sqrt(Math.max(0, residual) / this.yy) : 0;
    return { weights, bias, error };
  }
}

/**
 * out[at + j] += Σ_p a[ai + p] · b[j·pixels + p] for j in [from, to): four rows of b per pass over a's row, which
 * reads a's row a quarter as often (this loop is where calibration spends its time on large feature maps).
 */
function dots(a: Float64Array, ai: number, b: Float64Array, from: number, to: number, pixels: number, out: Float64Array, at: number): void {
  let j = from;
  for (; j + 4 <= to; j += 4) {
    const b0 = j * pixels;
    const b1 = b0 + pixels;
    const b2 = b1 + pixels;
    const b3 = b2 + pixels;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let p = 0; p < pixels; p++) {
      const x = a[ai + p];
      s0 += x * b[b0 + p];
      s1 += x * b[b1 + p];
      s2 += x * b[b2 + p];
      s3 += x * b[b3 + p];
    }
    out[at + j] += s0;
    out[at + j + 1] += s1;
    out[at + j + 2] += s2;
    out[at + j + 3] += s3;
  }
  for (; j < to; j++) {
    const bj = j * pixels;
    let acc = 0;
    for (let p = 0; p < pixels; p++) acc += a[ai + p] * b[bj + p];
    out[at + j] += acc;
  }
}

/**
 * Solves A X = B for symmetric positive definite A (m × m) and B (m × k), both row-major, by Cholesky A = L Lᵀ.
 * A pivot that is not positive (A singular in float64 even after the ridge) is replaced by a tiny positive value
 * relative to A's diagonal, which sets that direction's weight to about zero instead of failing.
 */
export function choleskySolve(a: Float64Array, m: number, b: Float64Array, k: number): Float64Array {
  const l = new Float64Array(m * m);
  let maxDiag = 0;
  for (let i = 0; i < m; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * m + i]));
  const floor = Math.max(maxDiag * 1e-14, Number.MIN_VALUE);
  for (let j = 0; j < m; j++) {
    let s = a[j * m + j];
    for (let p = 0; p < j; p++) s -= l[j * m + p] * l[j * m + p];
    const pivot = Math.sqrt(s > floor ? s : floor);
    l[j * m + j] = pivot;
    for (let i = j + 1; i < m; i++) {
      let t = a[i * m + j];
      for (let p = 0; p < j; p++) t -= l[i * m + p] * l[j * m + p];
      l[i * m + j] = t / pivot;
    }
  }
  const x = Float64Array.from(b);
  // Forward: L Y = B.
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < i; p++) {
      const lip = l[i * m + p];
      if (lip === 0) continue;
      for (let c = 0; c < k; c++) x[i * k + c] -= lip * x[p * k + c];
    }
    const inv = 1 / l[i * m + i];
    for (let c = 0; c < k; c++) x[i * k + c] *= inv;
  }
  // Backward: Lᵀ X = Y.
  for (let i = m - 1; i >= 0; i--) {
    for (let p = i + 1; p < m; p++) {
      const lpi = l[p * m + i];
      if (lpi === 0) continue;
      for (let c = 0; c < k; c++) x[i * k + c] -= lpi * x[p * k + c];
    }
    const inv = 1 / l[i * m + i];
    for (let c = 0; c < k; c++) x[i * k + c] *= inv;
  }
  return x;
}
