/**
 * Numeric core of the depthwise-separable rewrite.
 *
 * A convolution with weight W[N, C/g, k1..kn] is replaced by
 *   depthwise  D[C*r, 1, k1..kn]   (group = C, multiplier r, no bias)
 *   pointwise  P[N, C*r/g, 1..1]   (group = g, carries the original bias)
 * whose composition is W'[n, cl, :] = sum_t P[n, cl*r+t] * D[c*r+t, 0, :]
 * (c = G*C/g + cl the global input channel, n an output of group G).
 *
 * For each input channel the slice A_c = W[n in group, cl, :] is an (N/g) x K
 * matrix and the pair can represent exactly the matrices of rank <= r, so the
 * best possible W' (Frobenius) is the per-channel truncated SVD (Eckart-Young).
 * Because channels are independent, the sum of per-channel optimal errors is
 * the global optimum too.
 *
 * The SVD is taken through a symmetric eigen-decomposition of the smaller Gram
 * matrix with cyclic Jacobi in float64: K is small (9, 27, 49...) while N/g may
 * be thousands, so the Gram matrix is tiny, and Jacobi is simple, robust and
 * yields orthonormal eigenvectors even for clustered or zero eigenvalues.
 * Building the Gram matrices, not the eigen-decomposition, is most of the work
 * (VGG-16 at rank 1: 3,715 9x9 Jacobi runs take ~50 ms, its Gram matrices
 * 74M multiply-adds); the loops that do it are small functions the JIT
 * optimizes early, and their sums keep one order, so results do not depend on
 * how the work is blocked. Pure functions: no I/O, no dependencies.
 */

import { mulberry32 } from '../util/random.js';

/** Dense row-major tensor. */
export interface WeightTensor {
  dims: number[];
  data: Float64Array;
}

export interface SeparatedWeights {
  /** [C*r, 1, ...kernel]; output channel c*r+t holds the t-th filter of input channel c. */
  depthwise: WeightTensor;
  /** [N, C*r/g, 1, ...]; within group G, input index cl*r+t matches depthwise channel c*r+t. */
  pointwise: WeightTensor;
  /** ||W - W'||_F / ||W||_F (0 when ||W|| = 0; NaN for fresh He-normal weights). */
  relativeError: number;
  /** Multiplier r actually used (the request clamped to min(N/g, K)). */
  rank: number;
  /** [N]: a bias of the pointwise conv fitted to data (mbn separate --calibrate); absent: the conv's own bias. */
  bias?: WeightTensor;
}

interface ConvShape {
  n: number; // output channels N
  cg: number; // input channels per group C/g
  ng: number; // output channels per group N/g
  k: number; // kernel size K = prod(kernel)
  kernel: number[];
}

function isPosInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function checkGroup(group: number): void {
  if (!isPosInt(group)) throw new Error(`group must be a positive integer, got ${String(group)}`);
}

function checkRank(rank: number): void {
  if (!isPosInt(rank)) throw new Error(`rank must be a positive integer, got ${String(rank)}`);
}

function convShape(dims: readonly number[], group: number, what: string): ConvShape {
  if (!Array.isArray(dims) || dims.length < 3) {
    throw new Error(`${what} dims [${String(dims)}] must be [N, C/g, k1, ...] with at least one kernel dim`);
  }
  for (const d of dims) {
    if (!isPosInt(d)) throw new Error(`${what} dims [${dims.join(', ')}] contain invalid extent ${String(d)}`);
  }
  checkGroup(group);
  const n = dims[0];
  if (n % group !== 0) {
    throw new Error(`${what} has ${n} output channels, not divisible by group ${group}`);
  }
  const kernel = dims.slice(2);
  const k = kernel.reduce((a, b) => a * b, 1);
  return { n, cg: dims[1], ng: n / group, k, kernel };
}

/** Rank actually used: beyond min(N/g, K) extra filters could only be zero. */
function effectiveRank(s: ConvShape, rank: number): number {
  return Math.min(rank, s.ng, s.k);
}

// --- symmetric eigen-decomposition -------------------------------------------

const EPS = 2.220446049250313e-16;
/** Values of the Gram matrices built together in the tall case (4096 doubles: 32 KB, a first-level cache). */
const GRAM_BLOCK_VALUES = 4096;
const EMPTY = new Float64Array(0);
const MAX_SWEEPS = 60;

/**
 * Cyclic Jacobi on the full symmetric n x n matrix `a` (destroyed: its
 * diagonal ends up holding the eigenvalues). Eigenvectors are written as the
 * columns of `v`. Rotations are skipped when the off-diagonal entry is
 * negligible relative to its diagonal pair (which keeps small eigenvalues
 * relatively accurate) or to the trace (so noise-level entries cannot keep it
 * spinning); a sweep without rotations means convergence.
 */
function jacobiEigen(a: Float64Array, n: number, v: Float64Array): void {
  v.fill(0, 0, n * n);
  let trace = 0;
  for (let i = 0; i < n; i++) {
    v[i * n + i] = 1;
    trace += Math.abs(a[i * n + i]);
  }
  const absFloor = Math.max(EPS * EPS * trace, Number.MIN_VALUE);
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        const absApq = Math.abs(apq);
        if (absApq <= absFloor) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        if (absApq <= EPS * Math.sqrt(Math.abs(app * aqq))) continue;
        rotated = true;
        // Rutishauser's stable form of the rotation that zeroes a[p][q].
        const theta = (aqq - app) / (2 * apq);
        let t: number;
        if (Math.abs(theta) > 1e150) t = 0.5 / theta;
        else {
          t = 1 / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        const tau = s / (1 + c);
        a[p * n + p] = app - t * apq;
        a[q * n + q] = aqq + t * apq;
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          if (r === p || r === q) continue;
          const g = a[r * n + p];
          const h = a[r * n + q];
          const gp = g - s * (h + g * tau);
          const hq = h + s * (g - h * tau);
          a[r * n + p] = gp;
          a[p * n + r] = gp;
          a[r * n + q] = hq;
          a[q * n + r] = hq;
        }
        for (let r = 0; r < n; r++) {
          const g = v[r * n + p];
          const h = v[r * n + q];
          v[r * n + p] = g - s * (h + g * tau);
          v[r * n + q] = h + s * (g - h * tau);
        }
      }
    }
    if (!rotated) return;
  }
}

/** Indices of the diagonal of `a` sorted by value, descending (stable insertion sort; n is small). */
function sortEigen(a: Float64Array, n: number, order: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const lam = a[i * n + i];
    let j = i;
    while (j > 0 && a[order[j - 1] * n + order[j - 1]] < lam) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
}

/**
 * Index of the largest-|.| entry of vec[off + i*stride], i < len. Near-ties
 * (within 1e-12 relative) go to the lowest index so hand-built symmetric cases
 * do not depend on last-bit rounding.
 */
function pivotIndex(vec: Float64Array, off: number, stride: number, len: number): number {
  let max = 0;
  for (let i = 0; i < len; i++) max = Math.max(max, Math.abs(vec[off + i * stride]));
  const cut = max * (1 - 1e-12);
  for (let i = 0; i < len; i++) if (Math.abs(vec[off + i * stride]) >= cut) return i;
  return 0;
}

// The loops of the tall case, each its own small function: called once per block, channel or row, they are
// optimized by the JIT after a few calls, where loops inside one long call would run interpreted for a while (most
// of the time of a cold process).

/** The upper triangles of A_c^T A_c (K x K each) for channels c0..c1 of a group, into `grams` (overwritten). */
function gramsOfBlock(W: Float64Array, groupBase: number, rowStride: number, ng: number, c0: number, c1: number, K: number, grams: Float64Array): void {
  grams.fill(0);
  let nl = 0;
  // Four rows at a time: each entry is loaded and stored once for four products, added in row order as one row at a
  // time would (((g + p0) + p1) + p2) + p3, so the sums are the same to the last bit.
  for (; nl + 4 <= ng; nl += 4) {
    const row = groupBase + nl * rowStride;
    for (let cl = c0; cl < c1; cl++) {
      const b0 = row + cl * K;
      const b1 = b0 + rowStride;
      const b2 = b1 + rowStride;
      const b3 = b2 + rowStride;
      const g0 = (cl - c0) * K * K;
      for (let i = 0; i < K; i++) {
        const a0 = W[b0 + i];
        const a1 = W[b1 + i];
        const a2 = W[b2 + i];
        const a3 = W[b3 + i];
        const gi = g0 + i * K;
        if (a0 !== 0 && a1 !== 0 && a2 !== 0 && a3 !== 0) {
          for (let j = i; j < K; j++) grams[gi + j] = grams[gi + j] + a0 * W[b0 + j] + a1 * W[b1 + j] + a2 * W[b2 + j] + a3 * W[b3 + j];
        } else {
          addRow(W, b0, a0, i, K, grams, gi);
          addRow(W, b1, a1, i, K, grams, gi);
          addRow(W, b2, a2, i, K, grams, gi);
          addRow(W, b3, a3, i, K, grams, gi);
        }
      }
    }
  }
  for (; nl < ng; nl++) {
    const row = groupBase + nl * rowStride;
    for (let cl = c0; cl < c1; cl++) {
      const b = row + cl * K;
      const g0 = (cl - c0) * K * K;
      for (let i = 0; i < K; i++) addRow(W, b, W[b + i], i, K, grams, g0 + i * K);
    }
  }
}

/** grams[gi + j] += a * W[b + j] for j ≥ i; a zero `a` adds nothing (not even 0 * Infinity). */
function addRow(W: Float64Array, b: number, a: number, i: number, K: number, grams: Float64Array, gi: number): void {
  if (a === 0) return;
  for (let j = i; j < K; j++) grams[gi + j] += a * W[b + j];
}

/** P[n, cl*r+t] = A_c[n] · D[c*r+t] for channels c0..c1 of one weight row (offset `row`), c = cBase + cl. */
function projectRow(W: Float64Array, row: number, D: Float64Array, cBase: number, c0: number, c1: number, K: number, r: number, P: Float64Array, pRow: number): void {
  for (let cl = c0; cl < c1; cl++) {
    const b = row + cl * K;
    for (let t = 0; t < r; t++) {
      const dOff = ((cBase + cl) * r + t) * K;
      let acc = 0;
      for (let q = 0; q < K; q++) acc += W[b + q] * D[dOff + q];
      P[pRow + cl * r + t] = acc;
    }
  }
}

// --- decomposition --------------------------------------------------------------

/**
 * Per-input-channel truncated SVD of a conv weight into depthwise + pointwise
 * factors (Frobenius-optimal for the multiplier r; exact when r >= min(N/g, K)).
 * Depthwise filters are unit vectors, pointwise weights carry sigma_t * u_t;
 * each pair's sign is fixed by making the filter's largest entry positive.
 */
export function separateConvWeight(weight: WeightTensor, group: number, rank: number): SeparatedWeights {
  if (weight === null || typeof weight !== 'object') throw new Error(`weight must be a tensor, got ${String(weight)}`);
  const s = convShape(weight.dims, group, 'weight');
  checkRank(rank);
  const W = weight.data;
  if (!(W instanceof Float64Array)) throw new Error('weight data must be a Float64Array');
  const total = s.n * s.cg * s.k;
  if (W.length !== total) {
    throw new Error(`weight data has ${W.length} values but dims [${weight.dims.join(', ')}] need ${total}`);
  }
  const { cg, ng, k: K } = s;
  const C = cg * group;
  const r = effectiveRank(s, rank);
  const tall = K <= ng; // Gram over the kernel (K x K) when it is the smaller side
  const m = tall ? K : ng;
  const rowStride = cg * K; // distance between W[n, cl, 0] and W[n+1, cl, 0]
  const pIn = cg * r; // pointwise input channels per group

  const D = new Float64Array(C * r * K);
  const P = new Float64Array(s.n * pIn);
  // Scratch reused for every channel: no allocation inside the loops.
  const gram = new Float64Array(m * m);
  const vecs = new Float64Array(m * m);
  const order = new Int32Array(m);
  const wbuf = new Float64Array(K);

  let sumTotal = 0;
  let sumDiscarded = 0;

  // In the tall case the Gram matrices of a block of channels are built at once, streaming the weight row by row
  // (n outer, channel inner) over the block's slice: each weight is read once to build them and once for the
  // pointwise weights, and the block's Gram matrices (32 KB) stay in the CPU's first-level cache while every row adds
  // to them. Sums run over n in the same order whatever the block size.
  const block = tall ? Math.max(1, Math.min(cg, Math.floor(GRAM_BLOCK_VALUES / (K * K)))) : 1;
  const grams = tall ? new Float64Array(block * K * K) : EMPTY;
  for (let G = 0; G < group; G++) {
    const groupBase = G * ng * rowStride;
    for (let c0 = 0; c0 < cg; c0 += block) {
      const c1 = Math.min(cg, c0 + block);
      if (tall) gramsOfBlock(W, groupBase, rowStride, ng, c0, c1, K, grams);
      for (let cl = c0; cl < c1; cl++) {
        const c = G * cg + cl;
        const base0 = groupBase + cl * K; // W[G*ng, cl, 0]
        if (tall) {
          gram.set(grams.subarray((cl - c0) * K * K, (cl - c0 + 1) * K * K));
        } else {
          // gram = A A^T (ng x ng).
          for (let i = 0, bi = base0; i < ng; i++, bi += rowStride) {
            for (let j = i, bj = bi; j < ng; j++, bj += rowStride) {
              let acc = 0;
              for (let q = 0; q < K; q++) acc += W[bi + q] * W[bj + q];
              gram[i * ng + j] = acc;
            }
          }
        }
        let tr = 0;
        for (let i = 0; i < m; i++) {
          tr += gram[i * m + i];
          for (let j = i + 1; j < m; j++) gram[j * m + i] = gram[i * m + j];
        }
        sumTotal += tr;
        if (tr === 0) continue; // all-zero channel: zero filters and weights, not NaN

        jacobiEigen(gram, m, vecs);
        sortEigen(gram, m, order);
        for (let t = r; t < m; t++) sumDiscarded += Math.max(0, gram[order[t] * m + order[t]]);

        for (let t = 0; t < r; t++) {
          const col = order[t];
          const dOff = (c * r + t) * K;
          const pCol = G * ng * pIn + cl * r + t; // P[G*ng, cl*r+t]
          if (tall) {
            // v_t = eigenvector; sigma_t u_t = A v_t, computed below in one streaming pass.
            const sign = vecs[pivotIndex(vecs, col, m, K) * m + col] < 0 ? -1 : 1;
            for (let q = 0; q < K; q++) D[dOff + q] = sign * vecs[q * m + col];
          } else {
            // u_t = eigenvector; sigma_t v_t = A^T u_t.
            wbuf.fill(0);
            for (let nl = 0, b = base0; nl < ng; nl++, b += rowStride) {
              const u = vecs[nl * m + col];
              if (u === 0) continue;
              for (let q = 0; q < K; q++) wbuf[q] += u * W[b + q];
            }
            let ss = 0;
            for (let q = 0; q < K; q++) ss += wbuf[q] * wbuf[q];
            const sigma = Math.sqrt(ss);
            if (sigma === 0) continue; // contributes nothing: leave zeros
            const sign = wbuf[pivotIndex(wbuf, 0, 1, K)] < 0 ? -1 : 1;
            const inv = sign / sigma;
            for (let q = 0; q < K; q++) D[dOff + q] = wbuf[q] * inv;
            const ps = sign * sigma;
            for (let nl = 0; nl < ng; nl++) P[pCol + nl * pIn] = ps * vecs[nl * m + col];
          }
        }
      }
      // sigma_t u_t = A v_t directly (no division, so zero singular values give zero weights rather than NaN).
      if (tall) for (let nl = 0; nl < ng; nl++) projectRow(W, groupBase + nl * rowStride, D, G * cg, c0, c1, K, r, P, (G * ng + nl) * pIn);
    }
  }

  const ones = s.kernel.map(() => 1);
  return {
    depthwise: { dims: [C * r, 1, ...s.kernel], data: D },
    pointwise: { dims: [s.n, pIn, ...ones], data: P },
    relativeError: sumTotal > 0 ? Math.sqrt(Math.min(1, sumDiscarded / sumTotal)) : 0,
    rank: r,
  };
}

/**
 * Rebuilds the dense [N, C/g, ...kernel] weight that depthwise followed by
 * pointwise computes, W'[n, cl, :] = sum_t P[n, cl*r+t] D[c*r+t, 0, :].
 * Used by tests and to measure the error of any (e.g. fine-tuned) pair.
 */
export function composeSeparated(sep: SeparatedWeights, group: number, inChannels: number): WeightTensor {
  checkGroup(group);
  if (!isPosInt(inChannels) || inChannels % group !== 0) {
    throw new Error(`inChannels ${String(inChannels)} must be a positive multiple of group ${group}`);
  }
  const dd = sep.depthwise.dims;
  const pd = sep.pointwise.dims;
  if (!Array.isArray(dd) || dd.length < 3 || dd[1] !== 1 || !dd.every(isPosInt) || dd[0] % inChannels !== 0) {
    throw new Error(`depthwise dims [${String(dd)}] must be [C*r, 1, k1, ...] with C = ${inChannels}`);
  }
  const r = dd[0] / inChannels;
  const kernel = dd.slice(2);
  const K = kernel.reduce((a, b) => a * b, 1);
  const cg = inChannels / group;
  const pIn = cg * r;
  if (
    !Array.isArray(pd) ||
    pd.length !== dd.length ||
    !pd.every(isPosInt) ||
    pd[1] !== pIn ||
    pd.slice(2).some((d) => d !== 1) ||
    pd[0] % group !== 0
  ) {
    throw new Error(
      `pointwise dims [${String(pd)}] must be [N, ${pIn}${', 1'.repeat(kernel.length)}] with N divisible by group ${group}`,
    );
  }
  const N = pd[0];
  const ng = N / group;
  const D = sep.depthwise.data;
  const P = sep.pointwise.data;
  if (D.length !== dd[0] * K) throw new Error(`depthwise data has ${D.length} values, dims need ${dd[0] * K}`);
  if (P.length !== N * pIn) throw new Error(`pointwise data has ${P.length} values, dims need ${N * pIn}`);

  const out = new Float64Array(N * cg * K);
  for (let n = 0; n < N; n++) composeRow(D, P, n, Math.floor(n / ng) * cg, cg, K, r, pIn, out);
  return { dims: [N, cg, ...kernel], data: out };
}

/** Row n of the composed weight: out[n, cl, :] = sum_t P[n, cl*r+t] D[c*r+t, 0, :], c = cBase + cl (see projectRow). */
function composeRow(D: Float64Array, P: Float64Array, n: number, cBase: number, cg: number, K: number, r: number, pIn: number, out: Float64Array): void {
  for (let cl = 0; cl < cg; cl++) {
    const o = (n * cg + cl) * K;
    for (let t = 0; t < r; t++) {
      const p = P[n * pIn + cl * r + t];
      if (p === 0) continue;
      const d = ((cBase + cl) * r + t) * K;
      // The first term is written without reading `out` (still all zeros, 0 + x as before): a fresh array's pages
      // are then faulted in once, for the write, rather than once to read and again to write.
      if (t === 0) for (let q = 0; q < K; q++) out[o + q] = 0 + p * D[d + q];
      else for (let q = 0; q < K; q++) out[o + q] += p * D[d + q];
    }
  }
}


/** Fill `out` with N(0, std^2) samples via Box-Muller (both outputs used). */
function fillNormal(out: Float64Array, std: number, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rand(); // (0, 1]: log never sees 0
    const u2 = rand();
    const rad = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = rad * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = rad * Math.sin(2 * Math.PI * u2);
  }
}

/**
 * Fresh He-normal (Kaiming, fan_in, gain sqrt(2)) weights for the pair, for
 * training the separable model from scratch instead of approximating W.
 * Shapes and rank clamping match separateConvWeight so both modes produce the
 * same graph. Deterministic for a given seed (depthwise drawn first).
 */
export function heNormalSeparated(weightDims: number[], group: number, rank: number, seed: number): SeparatedWeights {
  const s = convShape(weightDims, group, 'weight');
  checkRank(rank);
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${String(seed)}`);
  const r = effectiveRank(s, rank);
  const C = s.cg * group;
  const pIn = s.cg * r;
  const rand = mulberry32(seed);
  const D = new Float64Array(C * r * s.k);
  const P = new Float64Array(s.n * pIn);
  fillNormal(D, Math.sqrt(2 / s.k), rand); // depthwise fan_in = 1 * K
  fillNormal(P, Math.sqrt(2 / pIn), rand); // pointwise fan_in = (C*r/g) * 1
  return {
    depthwise: { dims: [C * r, 1, ...s.kernel], data: D },
    pointwise: { dims: [s.n, pIn, ...s.kernel.map(() => 1)], data: P },
    relativeError: NaN,
    rank: r,
  };
}
