import { describe, expect, it } from 'vitest';
import { bar } from '../src/report/units.js';

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
