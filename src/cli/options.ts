import { MbnError, quote } from '../errors.js';
import type { InferOptions } from '../shape/infer.js';

/** Option parsers shared by the commands. Each throws a usage MbnError that quotes the bad value. */

export function parseInputSpec(spec: string, previous: Map<string, number[]> = new Map()): Map<string, number[]> {
  const at = spec.lastIndexOf(':');
  const name = at > 0 ? spec.slice(0, at) : '';
  const dims = at > 0 ? spec.slice(at + 1) : '';
  if (!name || !/^[0-9]+(x[0-9]+)*$/i.test(dims)) {
    throw new MbnError('usage', `--input ${quote(spec)} is not NAME:DIMS (for example --input input:1x3x224x224)`);
  }
  const shape = dims.split(/x/i).map(Number);
  if (shape.some((d) => d < 1 || !Number.isSafeInteger(d))) {
    throw new MbnError('usage', `--input ${quote(spec)}: every dim must be a positive integer`);
  }
  previous.set(name, shape);
  return previous;
}

export function parsePositiveInt(flag: string) {
  return (text: string): number => {
    if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
      throw new MbnError('usage', `${flag} ${quote(text)} is not a positive integer`);
    }
    return Number(text);
  };
}

export function parseNonNegativeInt(flag: string) {
  return (text: string): number => {
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new MbnError('usage', `${flag} ${quote(text)} is not a non-negative integer`);
    }
    return Number(text);
  };
}

export function parseChoice<T extends string>(flag: string, choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text)) {
      throw new MbnError('usage', `${flag} ${quote(text)} is not one of ${choices.join(', ')}`);
    }
    return text as T;
  };
}

export function inferOptions(opts: { input?: Map<string, number[]>; batch?: number }): InferOptions {
  return { inputShapes: opts.input, batch: opts.batch };
}
