import { describe, expect, it } from 'vitest';
import { PointwiseStats, choleskySolve } from '../src/rewrite/refit.js';

describe('choleskySolve', () => {
  it('solves a 2×2 SPD system with two right-hand sides', () => {
    // [[4, 2], [2, 3]] x = b: for b = (8, 7) x = (1.25, 1.5); for b = (2, 1) x = (0.5, 0).
    const x = choleskySolve(Float64Array.from([4, 2, 2, 3]), 2, Float64Array.from([8, 2, 7, 1]), 2);
    expect([...x].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([1.25, 0.5, 1.5, 0]);
  });
});

describe('PointwiseStats', () => {
  it('recovers exact weights and bias (y = 2·z0 − 3·z1 + 5)', () => {
    const s = new PointwiseStats(1, 2, 1);
    s.add([1, 2, 3, 4, 0, 1, 0, 1], [7, 6, 11, 10], 1, 4);
    const fit = s.solve(0);
    expect(fit.weights[0]).toBeCloseTo(2, 10);
    expect(fit.weights[1]).toBeCloseTo(-3, 10);
    expect(fit.bias[0]).toBeCloseTo(5, 10);
    expect(fit.error).toBeLessThan(1e-7);
    // Only z0 kept: the regression of y on z0 alone, slope 7/5 and intercept 8.5 − 2.5·1.4 = 5; z1's weight is 0.
    const one = s.solve(0, [0]);
    expect(one.weights[0]).toBeCloseTo(1.4, 10);
    expect(one.weights[1]).toBe(0);
    expect(one.bias[0]).toBeCloseTo(5, 10);
    // errorOf: residuals 0.6, −1.8, 1.8, −0.6 (sum of squares 7.2) against Σy² = 306.
    expect(s.errorOf(Float64Array.from([1.4, 0]), Float64Array.from([5]))).toBeCloseTo(Math.sqrt(7.2 / 306), 10);
    expect(s.errorOf(Float64Array.from([2, -3]), Float64Array.from([5]))).toBeLessThan(1e-7);
  });

  it('gives the least-squares line and its residual on data no line fits, accumulated over batches', () => {
    // z = 0..3, y = 1, 3, 2, 5: slope 5.5/5 = 1.1, intercept 1.1, residuals −0.1, 0.8, −1.3, 0.6 (sum of squares 2.7).
    const s = new PointwiseStats(1, 1, 1);
    s.add([0, 1, 2, 3], [1, 3, 2, 5], 2, 2);
    const fit = s.solve(0);
    expect(fit.weights[0]).toBeCloseTo(1.1, 10);
    expect(fit.bias[0]).toBeCloseTo(1.1, 10);
    expect(fit.error).toBeCloseTo(Math.sqrt(2.7 / 39), 10);
    expect(s.pixels).toBe(4);
  });

  it('fits each group from its own depthwise channels only', () => {
    // Two groups, one depthwise channel and one output each: y0 = 3·z0, y1 = −z1 + 1.
    const s = new PointwiseStats(2, 1, 1);
    s.add([1, 2, 4, 0, 1, 2], [3, 6, 12, 1, 0, -1], 1, 3);
    const fit = s.solve(0);
    expect([...fit.weights].map((v) => +v.toFixed(9))).toEqual([3, -1]);
    expect([...fit.bias].map((v) => +v.toFixed(9))).toEqual([0, 1]);
  });

  it('stays finite when the depthwise outputs are collinear (ridge)', () => {
    const s = new PointwiseStats(1, 2, 1);
    s.add([1, 2, 3, 1, 2, 3], [2, 4, 6], 1, 3);
    const fit = s.solve(1e-7);
    // The two equal channels share the slope 2 equally; the ridge picks the minimum-norm split.
    expect(fit.weights[0]).toBeCloseTo(1, 5);
    expect(fit.weights[1]).toBeCloseTo(1, 5);
    expect(fit.error).toBeLessThan(1e-5);
  });
});
