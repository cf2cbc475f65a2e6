import { MbnError } from '../errors.js';

/**
 * Every count mbn reports (elements, MACs, FLOPs, params, bytes) is a double, exact only up to 2^53. Rather than
 * print a rounded figure as if it were exact, mbn refuses a model where any count passes that bound: no real model
 * comes near it (2^53 MACs would keep a 1 TMAC/s accelerator busy for two and a half hours per inference).
 * Products of dims go through `product`; sums of counts that are each within the bound are checked once at the end with `checkCount`, which is
 * exact because such sums only round once they pass 2^53.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** A count past 2^53: a usage/input error (exit 2). `what` names the figure; the caller may add where it arose. */
export class CountOverflow extends MbnError {
  constructor(readonly what: string) {
    super('unsupported', `${what} exceeds 2^53, past which counts are not exact; mbn refuses such a model`);
  }
  /** The same error, prefixed with where it arose (a layer, an input). */
  at(where: string): CountOverflow {
    return new CountOverflow(`${where}: ${this.what}`);
  }
}

/** The product of non-negative integers (dims, counts), refused past 2^53. */
export function product(values: readonly number[], what = 'an element count'): number {
  let n = 1;
  for (const v of values) n *= v;
  // With every factor ≥ 1 (or a 0 somewhere, which makes the product exact) a rounded product is ≥ 2^53 too.
  if (!(n <= MAX_COUNT)) throw new CountOverflow(`${what} [${values.join(',')}] (about ${approx(n)})`);
  return n;
}

/** Refuses a computed count past 2^53 (or not a number). */
export function checkCount(value: number, what: string): number {
  if (!(value <= MAX_COUNT) && !Number.isNaN(value)) throw new CountOverflow(`${what} (about ${approx(value)})`);
  return value;
}

function approx(n: number): string {
  return Number.isFinite(n) ? n.toPrecision(3) : 'infinity';
}
