import { MbnError, quote } from '../errors.js';
import { type MetricKey, metricOf, parseLimit } from '../budget/limits.js';
import type { InferOptions } from '../shape/infer.js';
import type { IfBranch } from '../shape/types.js';
import { parseShare } from '../api/options.js';

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

/** `--input-value NAME=VALUE`: a number (or true/false) that every element of the input holds. */
export function parseInputValue(spec: string, previous: Map<string, number> = new Map()): Map<string, number> {
  const at = spec.lastIndexOf('=');
  const name = at > 0 ? spec.slice(0, at) : '';
  const text = at > 0 ? spec.slice(at + 1).trim() : '';
  const value = text === 'true' ? 1 : text === 'false' ? 0 : /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(text) ? Number(text) : NaN;
  if (!name || !Number.isFinite(value)) {
    throw new MbnError('usage', `--input-value ${quote(spec)} is not NAME=VALUE with a number (for example --input-value sr=16000)`);
  }
  previous.set(name, value);
  return previous;
}

/** `--if-branch NAME=then|else`: the branch an If (by its layer name) is counted with. */
export function parseIfBranch(spec: string, previous: Map<string, IfBranch> = new Map()): Map<string, IfBranch> {
  const at = spec.lastIndexOf('=');
  const name = at > 0 ? spec.slice(0, at) : '';
  const branch = at > 0 ? spec.slice(at + 1).trim() : '';
  if (!name || (branch !== 'then' && branch !== 'else')) {
    throw new MbnError('usage', `--if-branch ${quote(spec)} is not NAME=then or NAME=else (for example --if-branch If_32=else)`);
  }
  previous.set(name, branch);
  return previous;
}

/** `--allow-uncounted OP` (repeatable): an op type, or domain::op. */
export function collectOpType(op: string, previous: string[] = []): string[] {
  if (!/^[^\s]+$/.test(op)) throw new MbnError('usage', `--allow-uncounted ${quote(op)} is not an op type (for example --allow-uncounted MyBlur)`);
  return [...previous, op];
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

export function inferOptions(opts: { input?: Map<string, number[]>; batch?: number; inputValue?: Map<string, number>; ifBranch?: Map<string, IfBranch> }): InferOptions {
  return { inputShapes: opts.input, batch: opts.batch, inputValues: opts.inputValue, ifBranches: opts.ifBranch };
}

/** A budget-style quantity for a metric: 600M, 1.2G for counts; 20MB, 16MiB for bytes. */
export function parseLimitFlag(flag: string, key: MetricKey) {
  return (text: string): number => {
    const v = parseLimit(key, text);
    if (v === null) {
      throw new MbnError('usage', `${flag} ${quote(text)} is not a ${metricOf(key).bytes ? 'size such as 20MB or 16MiB' : 'number such as 600M or 1.2G'}`);
    }
    return v;
  };
}

/**
 * A share: a fraction (0.5) or a percentage (50%), read the same way by every share-valued flag (--min-reduction,
 * --max-increase, --headroom…). With `max`, larger values are refused: a reduction above 100% means nothing.
 */
export function parseFraction(flag: string, max = Infinity) {
  return (text: string): number => {
    const value = parseShare(text);
    if (value === null) throw new MbnError('usage', `${flag} ${quote(text)} is not a fraction such as 0.5 or 50%`);
    if (value > max) throw new MbnError('usage', `${flag} ${quote(text)} is out of range: at most ${max} (${100 * max}%)`);
    return value;
  };
}
