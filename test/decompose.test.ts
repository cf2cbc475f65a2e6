import { describe, expect, it } from 'vitest';
import {
  composeSeparated,
  heNormalSeparated,
  separateConvWeight,
  type SeparatedWeights,
  type WeightTensor,
} from '../src/rewrite/decompose.js';
import { mulberry32 } from '../src/util/random.js';

// ---------------------------------------------------------------- helpers ---

const prng = mulberry32;

function tensor(dims: number[], values: number[]): WeightTensor {
  return { dims, data: Float64Array.from(values) };
}

function numel(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Weight whose per-channel slices are sum_j sv[j] x_j y_j^T + noise: random
 * weights have a flat spectrum, which would make truncation meaningless.
 */
function structured(dims: number[], group: number, sv: number[], noise: number, seed: number): WeightTensor {
  const rand = prng(seed);
  const gauss = () => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const [N, cg] = dims;
  const K = numel(dims.slice(2));
  const ng = N / group;
  const data = new Float64Array(numel(dims));
  for (let G = 0; G < group; G++) {
    for (let cl = 0; cl < cg; cl++) {
      for (const s of sv) {
        const x = Array.from({ length: ng }, gauss);
        const y = Array.from({ length: K }, gauss);
        const nx = Math.hypot(...x);
        const ny = Math.hypot(...y);
        for (let nl = 0; nl < ng; nl++) {
          for (let q = 0; q < K; q++) data[((G * ng + nl) * cg + cl) * K + q] += (s * x[nl] * y[q]) / (nx * ny);
        }
      }
    }
  }
  for (let i = 0; i < data.length; i++) data[i] += noise * gauss();
  return { dims, data };
}

function frob(a: Float64Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s);
}

function diffNorm(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** Slice A_c as a plain (N/g) x K matrix, read straight from the definition. */
function channelMatrix(w: WeightTensor, group: number, c: number): number[][] {
  const [N, cg] = w.dims;
  const K = numel(w.dims.slice(2));
  const ng = N / group;
  const G = Math.floor(c / cg);
  const cl = c % cg;
  const rows: number[][] = [];
  for (let nl = 0; nl < ng; nl++) {
    const off = ((G * ng + nl) * cg + cl) * K;
    rows.push(Array.from(w.data.subarray(off, off + K)));
  }
  return rows;
}

/**
 * Independent reference: top singular values squared of A by power iteration
 * with deflation on A A^T (the N/g-sized Gram, i.e. a different Gram order and
 * algorithm than the implementation uses when K <= N/g).
 */
function topSigma2(A: number[][], count: number): number[] {
  const m = A.length;
  const B = A.map((ri) => A.map((rj) => ri.reduce((s, x, q) => s + x * rj[q], 0)));
  const out: number[] = [];
  const rand = prng(99);
  for (let t = 0; t < count; t++) {
    let x = Array.from({ length: m }, () => rand() - 0.5);
    let lam = 0;
    for (let it = 0; it < 2000; it++) {
      const y = B.map((row) => row.reduce((s, b, j) => s + b * x[j], 0));
      const ny = Math.hypot(...y);
      if (ny === 0) break;
      x = y.map((v) => v / ny);
      lam = ny;
    }
    out.push(lam);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) B[i][j] -= lam * x[i] * x[j];
  }
  return out;
}

function expectedRelativeError(w: WeightTensor, group: number, r: number): number {
  const C = w.dims[1] * group;
  const total = frob(w.data) ** 2;
  let kept = 0;
  for (let c = 0; c < C; c++) kept += topSigma2(channelMatrix(w, group, c), r).reduce((a, b) => a + b, 0);
  return Math.sqrt((total - kept) / total);
}

/** Filters of each channel are orthonormal and their largest entry is positive. */
function expectOrthonormalFilters(sep: SeparatedWeights, C: number): void {
  const r = sep.rank;
  const K = numel(sep.depthwise.dims.slice(2));
  const D = sep.depthwise.data;
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < r; t++) {
      const a = D.subarray((c * r + t) * K, (c * r + t + 1) * K);
      const big = a.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
      expect(big).toBeGreaterThan(0);
      for (let u = 0; u < r; u++) {
        const b = D.subarray((c * r + u) * K, (c * r + u + 1) * K);
        const dot = a.reduce((s, x, q) => s + x * b[q], 0);
        // Gram-based SVD: filters of noise-level singular values are only
        // orthogonal to ~eps * (sigma_max / sigma)^2, hence 1e-8 not 1e-15.
        expect(dot).toBeCloseTo(t === u ? 1 : 0, 8);
      }
    }
  }
}

// ------------------------------------------------------------------ tests ---

describe('separateConvWeight: hand-worked cases', () => {
  it('rank-1 2x2 slice: W = [1,2]^T [3,4]', () => {
    // N=2, C=1, kernel 1x2. A = [[3,4],[6,8]] = u s v^T with v = [0.6, 0.8],
    // s*u = A v = [5, 10].
    const w = tensor([2, 1, 1, 2], [3, 4, 6, 8]);
    const sep = separateConvWeight(w, 1, 1);
    expect(sep.rank).toBe(1);
    expect(sep.depthwise.dims).toEqual([1, 1, 1, 2]);
    expect(sep.pointwise.dims).toEqual([2, 1, 1, 1]);
    expect(sep.depthwise.data[0]).toBeCloseTo(0.6, 14);
    expect(sep.depthwise.data[1]).toBeCloseTo(0.8, 14);
    expect(sep.pointwise.data[0]).toBeCloseTo(5, 13);
    expect(sep.pointwise.data[1]).toBeCloseTo(10, 13);
    expect(sep.relativeError).toBeLessThan(1e-7);
  });

  it('sign is fixed by the filter, so negating W negates the pointwise weights', () => {
    const sep = separateConvWeight(tensor([2, 1, 1, 2], [-3, -4, -6, -8]), 1, 1);
    expect(sep.depthwise.data[0]).toBeCloseTo(0.6, 14);
    expect(sep.depthwise.data[1]).toBeCloseTo(0.8, 14);
    expect(sep.pointwise.data[0]).toBeCloseTo(-5, 13);
    expect(sep.pointwise.data[1]).toBeCloseTo(-10, 13);
  });

  it('rank 2 of A = [[1,0],[0,2]]: ordered by singular value, truncation error sqrt(1/5)', () => {
    const w = tensor([2, 1, 2], [1, 0, 0, 2]);
    const r1 = separateConvWeight(w, 1, 1);
    expect(Array.from(r1.depthwise.data)).toEqual([0, 1]);
    expect(Array.from(r1.pointwise.data)).toEqual([0, 2]);
    expect(r1.relativeError).toBeCloseTo(Math.sqrt(1 / 5), 14);

    const r2 = separateConvWeight(w, 1, 2);
    expect(r2.depthwise.dims).toEqual([2, 1, 2]);
    expect(r2.pointwise.dims).toEqual([2, 2, 1]);
    // depthwise channel t=0: [0,1] (sigma 2), t=1: [1,0] (sigma 1)
    expect(Array.from(r2.depthwise.data)).toEqual([0, 1, 1, 0]);
    // P[n, t]: row n=0 -> [0, 1], row n=1 -> [2, 0]
    expect(Array.from(r2.pointwise.data)).toEqual([0, 1, 2, 0]);
    expect(r2.relativeError).toBe(0);
  });

  it('wide slice (K > N/g): A = [[1,-2,2]], tie in |v| goes to the first index', () => {
    // sigma = 3, v = +-[1,-2,2]/3; the largest |entry| is at index 1 (tie with 2),
    // which must be positive: v = [-1,2,-2]/3 and P = -3.
    const sep = separateConvWeight(tensor([1, 1, 3], [1, -2, 2]), 1, 5);
    expect(sep.rank).toBe(1); // clamped to min(N/g, K) = 1
    const d = Array.from(sep.depthwise.data);
    [-1 / 3, 2 / 3, -2 / 3].forEach((x, i) => expect(d[i]).toBeCloseTo(x, 15));
    expect(sep.pointwise.data[0]).toBeCloseTo(-3, 14);
    expect(sep.relativeError).toBe(0);
  });

  it('grouped hand case: channel c goes to depthwise channel c*r, pointwise group layout kept', () => {
    // g=2, N=2, C=2, kernel [2]: group 0 = W[0,0,:] = [3,4], group 1 = W[1,0,:] = [0,-5].
    const sep = separateConvWeight(tensor([2, 1, 2], [3, 4, 0, -5]), 2, 1);
    expect(sep.depthwise.dims).toEqual([2, 1, 2]);
    expect(sep.pointwise.dims).toEqual([2, 1, 1]);
    const d = Array.from(sep.depthwise.data);
    [0.6, 0.8, 0, 1].forEach((x, i) => expect(d[i]).toBeCloseTo(x, 15));
    const p = Array.from(sep.pointwise.data);
    expect(p[0]).toBeCloseTo(5, 14);
    expect(p[1]).toBeCloseTo(-5, 14);
  });
});

describe('composeSeparated', () => {
  it('computes W[n,cl,:] = sum_t P[n, cl*r+t] D[c*r+t, 0, :] (hand case)', () => {
    // C=2, g=1, r=2, kernel [2], N=1.
    const sep: SeparatedWeights = {
      depthwise: tensor([4, 1, 2], [1, 0, 0, 1, 2, 3, 4, 5]),
      pointwise: tensor([1, 4, 1], [10, 20, 1, -1]),
      relativeError: 0,
      rank: 2,
    };
    const w = composeSeparated(sep, 1, 2);
    expect(w.dims).toEqual([1, 2, 2]);
    // c=0: 10*[1,0] + 20*[0,1] = [10,20]; c=1: 1*[2,3] - 1*[4,5] = [-2,-2]
    expect(Array.from(w.data)).toEqual([10, 20, -2, -2]);
  });

  it('uses the group to pick input channels (g=2)', () => {
    // C=2, g=2, N=2, r=1, kernel [1]: out n=0 sees channel 0, n=1 sees channel 1.
    const sep: SeparatedWeights = {
      depthwise: tensor([2, 1, 1], [2, 3]),
      pointwise: tensor([2, 1, 1], [5, 7]),
      relativeError: 0,
      rank: 1,
    };
    expect(Array.from(composeSeparated(sep, 2, 2).data)).toEqual([10, 21]);
  });

  it('rejects inconsistent shapes with the bad value in the message', () => {
    const sep = separateConvWeight(tensor([2, 1, 1, 2], [3, 4, 6, 8]), 1, 1);
    expect(() => composeSeparated(sep, 1, 2)).toThrow(/depthwise dims \[1,1,1,2\]/);
    expect(() => composeSeparated(sep, 0, 1)).toThrow(/group.*0/);
    expect(() => composeSeparated(sep, 2, 3)).toThrow(/inChannels 3/);
    const bad = { ...sep, pointwise: tensor([2, 2, 1, 1], [1, 2, 3, 4]) };
    expect(() => composeSeparated(bad, 1, 1)).toThrow(/pointwise dims \[2,2,1,1\]/);
  });
});

describe('separateConvWeight: structured weights', () => {
  const cases: Array<{ name: string; dims: number[]; group: number; full: number }> = [
    { name: '3x3, N/g > K', dims: [24, 5, 3, 3], group: 1, full: 9 },
    { name: 'grouped g=4, N/g < K', dims: [16, 2, 3, 3], group: 4, full: 4 },
    { name: 'grouped g=4, N/g > K', dims: [48, 3, 3, 3], group: 4, full: 9 },
    { name: '1-D kernel 11', dims: [20, 4, 11], group: 1, full: 11 },
    { name: '3-D kernel 3x3x3', dims: [12, 3, 3, 3, 3], group: 1, full: 12 },
    { name: 'N < K (7x7, N=4)', dims: [4, 3, 7, 7], group: 1, full: 4 },
  ];

  for (const { name, dims, group, full } of cases) {
    describe(name, () => {
      const w = structured(dims, group, [10, 3, 1], 1e-3, dims.reduce((a, b) => a * 31 + b, 7));
      const C = dims[1] * group;
      const kernel = dims.slice(2);

      it('is exact at full rank', () => {
        const sep = separateConvWeight(w, group, 1000);
        expect(sep.rank).toBe(full);
        const back = composeSeparated(sep, group, C);
        expect(back.dims).toEqual(dims);
        expect(diffNorm(back.data, w.data)).toBeLessThan(1e-10);
        expect(sep.relativeError).toBeLessThan(1e-7);
        expectOrthonormalFilters(sep, C);
      });

      for (const r of [1, 2]) {
        it(`rank ${r}: shapes, optimal error, orthonormal sign-fixed filters`, () => {
          const sep = separateConvWeight(w, group, r);
          expect(sep.rank).toBe(r);
          expect(sep.depthwise.dims).toEqual([C * r, 1, ...kernel]);
          expect(sep.pointwise.dims).toEqual([dims[0], (C * r) / group, ...kernel.map(() => 1)]);
          expect(sep.depthwise.data.length).toBe(C * r * numel(kernel));
          expect(sep.pointwise.data.length).toBe((dims[0] * C * r) / group);

          const expected = expectedRelativeError(w, group, r);
          // The spectrum [10, 3, 1, noise] makes truncation meaningful.
          expect(expected).toBeGreaterThan(r === 1 ? 0.2 : 0.02);
          expect(sep.relativeError).toBeCloseTo(expected, 9);
          const back = composeSeparated(sep, group, C);
          expect(diffNorm(back.data, w.data) / frob(w.data)).toBeCloseTo(expected, 9);
          expectOrthonormalFilters(sep, C);
        });
      }

      it('a perturbed factorisation is never better (local optimality)', () => {
        const sep = separateConvWeight(w, group, 1);
        const base = diffNorm(composeSeparated(sep, group, C).data, w.data);
        const rand = prng(5);
        for (let trial = 0; trial < 5; trial++) {
          const D = sep.depthwise.data.map((x) => x + 1e-3 * (rand() - 0.5));
          const P = sep.pointwise.data.map((x) => x + 1e-3 * (rand() - 0.5));
          const moved = composeSeparated(
            { ...sep, depthwise: { ...sep.depthwise, data: D }, pointwise: { ...sep.pointwise, data: P } },
            group,
            C,
          );
          expect(diffNorm(moved.data, w.data)).toBeGreaterThan(base);
        }
      });
    });
  }

  it('is deterministic', () => {
    const w = structured([16, 4, 3, 3], 1, [5, 2], 1e-2, 3);
    const a = separateConvWeight(w, 1, 2);
    const b = separateConvWeight({ dims: [...w.dims], data: w.data.slice() }, 1, 2);
    expect(Array.from(a.depthwise.data)).toEqual(Array.from(b.depthwise.data));
    expect(Array.from(a.pointwise.data)).toEqual(Array.from(b.pointwise.data));
  });

  it('does not modify its input', () => {
    const w = structured([8, 2, 3, 3], 1, [5, 2], 1e-2, 4);
    const copy = w.data.slice();
    separateConvWeight(w, 1, 2);
    expect(Array.from(w.data)).toEqual(Array.from(copy));
  });
});

describe('separateConvWeight: degenerate inputs', () => {
  it('zero weight gives zero factors and zero error, no NaN', () => {
    for (const dims of [
      [8, 3, 3, 3], // K <= N/g
      [2, 3, 3, 3], // K > N/g
    ]) {
      const sep = separateConvWeight({ dims, data: new Float64Array(numel(dims)) }, 1, 2);
      expect(sep.relativeError).toBe(0);
      expect(sep.depthwise.data.every((x) => x === 0)).toBe(true);
      expect(sep.pointwise.data.every((x) => x === 0)).toBe(true);
    }
  });

  it('one zero channel among non-zero ones; exact rank-deficient slices', () => {
    // C=2: channel 0 is rank 1, channel 1 is zero; full rank 2 requested.
    const dims = [3, 2, 2];
    const data = Float64Array.from([1, 2, 0, 0, 2, 4, 0, 0, -1, -2, 0, 0]);
    const sep = separateConvWeight({ dims, data }, 1, 2);
    expect(sep.depthwise.data.every(Number.isFinite)).toBe(true);
    expect(sep.pointwise.data.every(Number.isFinite)).toBe(true);
    expect(Array.from(sep.depthwise.data.subarray(4))).toEqual([0, 0, 0, 0]);
    expect(diffNorm(composeSeparated(sep, 1, 2).data, data)).toBeLessThan(1e-12);
    // Wide orientation of a rank-deficient slice (N/g = 2 < K = 3): second sigma is 0.
    const wide = Float64Array.from([1, 2, 3, 2, 4, 6]);
    const s2 = separateConvWeight({ dims: [2, 1, 3], data: wide }, 1, 2);
    expect(s2.rank).toBe(2);
    expect(s2.depthwise.data.every(Number.isFinite)).toBe(true);
    expect(diffNorm(composeSeparated(s2, 1, 1).data, wide)).toBeLessThan(1e-12);
  });

  it('rejects invalid input, quoting the bad value', () => {
    const w = tensor([4, 2, 3], new Array(24).fill(1));
    expect(() => separateConvWeight(w, 1, 0)).toThrow(/rank.*0/);
    expect(() => separateConvWeight(w, 1, 1.5)).toThrow(/rank.*1\.5/);
    expect(() => separateConvWeight(w, 0, 1)).toThrow(/group.*0/);
    expect(() => separateConvWeight(w, 3, 1)).toThrow(/4 output channels.*group 3/);
    expect(() => separateConvWeight(tensor([4, 2], new Array(8).fill(1)), 1, 1)).toThrow(/\[4,2\]/);
    expect(() => separateConvWeight(tensor([4, 0, 3], []), 1, 1)).toThrow(/invalid extent 0/);
    expect(() => separateConvWeight(tensor([4, 2, 3], [1, 2]), 1, 1)).toThrow(/2 values.*need 24/);
  });
});

describe('heNormalSeparated', () => {
  it('has the separable shapes, clamped rank and NaN error', () => {
    const sep = heNormalSeparated([64, 8, 3, 3], 4, 2, 1);
    expect(sep.rank).toBe(2);
    expect(sep.depthwise.dims).toEqual([64, 1, 3, 3]); // C = 32, r = 2
    expect(sep.pointwise.dims).toEqual([64, 16, 1, 1]);
    expect(sep.relativeError).toBeNaN();
    expect(heNormalSeparated([4, 3, 7, 7], 1, 10, 1).rank).toBe(4);
  });

  it('is deterministic per seed', () => {
    const a = heNormalSeparated([16, 4, 3, 3], 1, 1, 42);
    const b = heNormalSeparated([16, 4, 3, 3], 1, 1, 42);
    const c = heNormalSeparated([16, 4, 3, 3], 1, 1, 43);
    expect(Array.from(a.depthwise.data)).toEqual(Array.from(b.depthwise.data));
    expect(Array.from(a.pointwise.data)).toEqual(Array.from(b.pointwise.data));
    expect(Array.from(a.depthwise.data)).not.toEqual(Array.from(c.depthwise.data));
  });

  it('uses Kaiming fan_in standard deviations', () => {
    // depthwise fan_in = K = 25 -> std sqrt(2/25); pointwise fan_in = C*r/g = 128*2 -> std sqrt(2/256).
    const sep = heNormalSeparated([256, 128, 5, 5], 1, 2, 7);
    const stats = (a: Float64Array) => {
      const mean = a.reduce((s, x) => s + x, 0) / a.length;
      const sd = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
      return { mean, sd };
    };
    const d = stats(sep.depthwise.data); // 6400 samples
    const p = stats(sep.pointwise.data); // 65536 samples
    expect(d.sd / Math.sqrt(2 / 25)).toBeCloseTo(1, 1);
    expect(p.sd / Math.sqrt(2 / 256)).toBeCloseTo(1, 1);
    expect(Math.abs(d.mean)).toBeLessThan(0.05 * Math.sqrt(2 / 25));
    expect(Math.abs(p.mean)).toBeLessThan(0.02 * Math.sqrt(2 / 256));
    expect(sep.depthwise.data.every(Number.isFinite)).toBe(true);
  });

  it('validates like separateConvWeight', () => {
    expect(() => heNormalSeparated([6, 2, 3], 4, 1, 0)).toThrow(/6 output channels.*group 4/);
    expect(() => heNormalSeparated([6, 2, 3], 1, 0, 0)).toThrow(/rank.*0/);
    expect(() => heNormalSeparated([6, 2, 3], 1, 1, NaN)).toThrow(/seed.*NaN/);
  });
});

describe('a VGG-sized layer', () => {
  // Speed is measured by `npm run bench`, never asserted here; this checks a large layer's result only.
  it('decomposes a [512, 512, 3, 3] weight at r=1 into the right shapes', () => {
    const w = structured([512, 512, 3, 3], 1, [], 1, 11);
    const sep = separateConvWeight(w, 1, 1);
    expect(sep.depthwise.dims).toEqual([512, 1, 3, 3]);
    expect(sep.pointwise.dims).toEqual([512, 512, 1, 1]);
  });
});
