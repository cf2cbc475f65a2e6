import { describe, expect, it } from 'vitest';
import { bar, grouped } from '../src/report/units.js';
import { mulberry32 } from '../src/util/random.js';

describe('bar', () => {
  it('rounds to eighths of a cell; 7.92 eighths is one full cell, not a ninth glyph', () => {
    // 9.9% of 10 cells = 0.99 cells = 7.92 eighths → 8 eighths.
    expect(bar(0.099, 10)).toBe('█         ');
    expect(bar(0.5, 4)).toBe('██  ');
    expect(bar(0.0625, 2)).toBe('▏ ');
    expect(bar(1, 3)).toBe('███');
    expect(bar(0, 3)).toBe('   ');
    for (let i = 0; i <= 1000; i++) expect(bar(i / 1000, 10)).not.toContain('undefined');
  });
});

describe('grouped (report/units.ts)', () => {
  it('writes what toLocaleString("en-US") writes', () => {
    const values = [0, -0, 1, 7, 12, 123, 999, 1000, 1001, 12345, 123456, 999999, 1000000, 1234567, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, -1, -1000, -123456, 1.5, 1234.5678, -0.0004, 1e21, 1e300, NaN, Infinity, -Infinity];
    const next = mulberry32(3);
    for (let k = 0; k < 200; k++) values.push(Math.floor(next() * 10 ** (k % 16)) * (k % 3 === 0 ? -1 : 1));
    for (const v of values) expect(grouped(v)).toBe(v.toLocaleString('en-US'));
  });
});
