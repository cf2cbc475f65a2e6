import { describe, expect, it } from 'vitest';
import {
  bfloat16ToNumber,
  decodeFloats,
  encodeFloats,
  float16ToNumber,
  numberToBfloat16,
  numberToFloat16,
} from '../src/tensor/float.js';

describe('float16', () => {
  const known: Array<[number, number]> = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x3bff, 1 - 2 ** -11],
    [0x3c01, 1 + 2 ** -10],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('decodes known bit patterns', () => {
    for (const [bits, value] of known) expect(float16ToNumber(bits)).toBe(value);
    expect(Object.is(float16ToNumber(0x8000), -0)).toBe(true);
    expect(float16ToNumber(0x7e00)).toBeNaN();
    expect(float16ToNumber(0xfc01)).toBeNaN();
  });

  it('encodes known values exactly', () => {
    for (const [bits, value] of known) expect(numberToFloat16(value)).toBe(bits);
    expect(numberToFloat16(-0)).toBe(0x8000);
    expect(numberToFloat16(NaN)).toBe(0x7e00);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is exactly halfway between 0x3C00 (even) and 0x3C01: goes down.
    expect(numberToFloat16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3*2^-11 is halfway between 0x3C01 (odd) and 0x3C02 (even): goes up.
    expect(numberToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // Just above the tie rounds up.
    expect(numberToFloat16(1 + 2 ** -11 + 2 ** -30)).toBe(0x3c01);
    // Subnormal ties: 0.5 ulp -> 0 (even), 1.5 ulp -> 2, 2.5 ulp -> 2.
    expect(numberToFloat16(2 ** -25)).toBe(0x0000);
    expect(numberToFloat16(1.5 * 2 ** -24)).toBe(0x0002);
    expect(numberToFloat16(2.5 * 2 ** -24)).toBe(0x0002);
    expect(numberToFloat16(-1.5 * 2 ** -24)).toBe(0x8002);
    // Just above half the smallest subnormal rounds up to it.
    expect(numberToFloat16(2 ** -25 + 2 ** -40)).toBe(0x0001);
    // Largest subnormal + half ulp ties to even = smallest normal 0x0400.
    expect(numberToFloat16(1023.5 * 2 ** -24)).toBe(0x0400);
    // Mantissa carry into exponent: 2 - 2^-12 rounds up to 2.
    expect(numberToFloat16(2 - 2 ** -12)).toBe(0x4000);
  });

  it('overflows to infinity at the halfway point above 65504', () => {
    expect(numberToFloat16(65519.99)).toBe(0x7bff);
    expect(numberToFloat16(65520)).toBe(0x7c00); // tie; 0x7BFF is odd -> rounds to inf
    expect(numberToFloat16(1e6)).toBe(0x7c00);
    expect(numberToFloat16(-1e6)).toBe(0xfc00);
  });

  it('round-trips every finite pattern', () => {
    for (let b = 0; b < 0x10000; b++) {
      const x = float16ToNumber(b);
      if (Number.isNaN(x)) continue;
      expect(numberToFloat16(x)).toBe(b);
    }
  });
});

describe('bfloat16', () => {
  it('decodes and encodes known bit patterns', () => {
    const known: Array<[number, number]> = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625],
      [0x7f7f, (2 - 2 ** -7) * 2 ** 127], // max finite
      [0x0080, 2 ** -126], // smallest normal
      [0x0001, 2 ** -133], // smallest subnormal
      [0x7f80, Infinity],
      [0xff80, -Infinity],
    ];
    for (const [bits, value] of known) {
      expect(bfloat16ToNumber(bits)).toBe(value);
      expect(numberToBfloat16(value)).toBe(bits);
    }
    expect(bfloat16ToNumber(0x7fc0)).toBeNaN();
    expect(numberToBfloat16(NaN)).toBe(0x7fc0);
  });

  it('rounds to nearest, ties to even', () => {
    expect(numberToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie, 0x3F80 even
    expect(numberToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, 0x3F81 odd -> up
    expect(numberToBfloat16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(numberToBfloat16(Math.PI)).toBe(0x4049); // 3.14159.. -> 3.140625
    // Rounding directly from float64 avoids float32 double rounding:
    // x = 1 + 2^-8 + 2^-30 rounds to float32 as 1 + 2^-8 (a tie) which would
    // then round down to 0x3F80; the correct single rounding goes up.
    expect(numberToBfloat16(1 + 2 ** -8 + 2 ** -30)).toBe(0x3f81);
    // Overflow threshold: halfway above max finite ties to inf (0x7F7F is odd).
    expect(numberToBfloat16((2 - 2 ** -8) * 2 ** 127)).toBe(0x7f80);
    expect(numberToBfloat16(3.39e38)).toBe(0x7f7f); // max finite is 3.3895e38
    expect(numberToBfloat16(3.4e38)).toBe(0x7f80); // beyond the 3.3961e38 threshold
  });

  it('round-trips every finite pattern', () => {
    for (let b = 0; b < 0x10000; b++) {
      const x = bfloat16ToNumber(b);
      if (Number.isNaN(x)) continue;
      expect(numberToBfloat16(x)).toBe(b);
    }
  });

  it('agrees with float32 truncation for values exactly representable in bf16', () => {
    const dv = new DataView(new ArrayBuffer(4));
    for (const x of [1.5, -0.15625, 1024, 2 ** -100]) {
      dv.setFloat32(0, x);
      expect(numberToBfloat16(x)).toBe(dv.getUint32(0) >>> 16);
    }
  });
});

describe('decodeFloats / encodeFloats', () => {
  it('reads little-endian values from an unaligned slice', () => {
    const buf = new Uint8Array(1 + 8);
    // float32 1.0 = 0x3F800000, -2.5 = 0xC0200000, little-endian, at offset 1
    buf.set([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0], 1);
    const view = buf.subarray(1);
    expect(Array.from(decodeFloats(view, 'float32'))).toEqual([1, -2.5]);
  });

  it('decodes float16, bfloat16 and float64 raw data', () => {
    expect(Array.from(decodeFloats(new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]), 'float16'))).toEqual([
      1, -2, 65504,
    ]);
    expect(Array.from(decodeFloats(new Uint8Array([0x80, 0x3f, 0x49, 0x40]), 'bfloat16'))).toEqual([1, 3.140625]);
    // 0.1 as float64 = 0x3FB999999999999A
    const f64 = new Uint8Array([0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f]);
    expect(Array.from(decodeFloats(f64, 'float64'))).toEqual([0.1]);
  });

  it('encodes with exact byte layout', () => {
    expect(Array.from(encodeFloats(Float64Array.of(1, -2.5), 'float32'))).toEqual([
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
    ]);
    expect(Array.from(encodeFloats(Float64Array.of(1, -2, 65504), 'float16'))).toEqual([
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b,
    ]);
    expect(Array.from(encodeFloats(Float64Array.of(1, Math.PI), 'bfloat16'))).toEqual([0x80, 0x3f, 0x49, 0x40]);
    expect(Array.from(encodeFloats(Float64Array.of(0.1), 'float64'))).toEqual([
      0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f,
    ]);
  });

  it('float32 encoding rounds ties to even', () => {
    // 1 + 2^-24 is a tie between 1 and 1 + 2^-23: rounds to 1.
    expect(Array.from(encodeFloats(Float64Array.of(1 + 2 ** -24), 'float32'))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('round-trips through every dtype', () => {
    const vals = Float64Array.of(0, 1, -0.5, 0.25, 3, -96);
    for (const dt of ['float32', 'float16', 'bfloat16', 'float64'] as const) {
      expect(Array.from(decodeFloats(encodeFloats(vals, dt), dt))).toEqual(Array.from(vals));
    }
  });

  it('rejects a byte length that is not a whole number of elements', () => {
    expect(() => decodeFloats(new Uint8Array(3), 'float16')).toThrow(/length 3.*float16/);
    expect(() => decodeFloats(new Uint8Array(6), 'float32')).toThrow(/length 6/);
  });
});
