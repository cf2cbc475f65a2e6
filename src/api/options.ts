import { MbnError, quote } from '../errors.js';
import type { InferOptions } from '../shape/infer.js';
import type { IfBranch } from '../shape/types.js';

/**
 * Options the library API shares between commands, as typed values (the CLI parses its flags into these).
 * Input shapes and values may be a plain object or a Map.
 */
export interface ShapeOptions {
  /** Fix graph input shapes: `{ input: [1, 3, 224, 224] }` (`--input input:1x3x224x224`). */
  input?: Record<string, number[]> | ReadonlyMap<string, number[]>;
  /** Value for a symbolic batch (first) dim of every input (`--batch`). */
  batch?: number;
}

export interface ValueOptions {
  /** A graph input holds this value in every element: `{ sr: 16000 }` (`--input-value sr=16000`). */
  inputValue?: Record<string, number> | ReadonlyMap<string, number>;
  /**
   * The branch an If takes, by the If layer's name: `{ If_32: 'else' }` (`--if-branch If_32=else`), counted in place
   * of the costlier branch where the condition is known at run time only.
   */
  ifBranch?: Record<string, IfBranch> | ReadonlyMap<string, IfBranch>;
}

/** Progress of a long step (decomposing weights, writing a file): the CLI draws it on a terminal; the API is silent. */
export interface Progress {
  (done: number, total: number): void;
  done(): void;
}

/** Hooks for callers that show progress; `label` names the step. Without it nothing is reported. */
export type ProgressHook = (label: string) => Progress | undefined;

export function toMap<T>(value: Record<string, T> | ReadonlyMap<string, T> | undefined, what: string): Map<string, T> | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Map) return new Map(value);
  if (value === null || typeof value !== 'object') throw new MbnError('usage', `${what} must be an object of name → value, not ${quote(String(value))}`);
  return new Map(Object.entries(value as Record<string, T>));
}

/** Checks what the CLI's flag parsers check, for callers that pass values directly. */
export function checkShapeOptions(options: ShapeOptions & ValueOptions): InferOptions {
  const inputShapes = toMap(options.input, 'input');
  for (const [name, dims] of inputShapes ?? []) {
    if (!Array.isArray(dims) || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new MbnError('usage', `input ${quote(name)}: every dim must be a positive integer`);
    }
  }
  if (options.batch !== undefined && (!Number.isSafeInteger(options.batch) || options.batch < 1)) {
    throw new MbnError('usage', `batch ${quote(String(options.batch))} is not a positive integer`);
  }
  const inputValues = toMap(options.inputValue, 'inputValue');
  for (const [name, value] of inputValues ?? []) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new MbnError('usage', `inputValue ${quote(name)} is not a finite number`);
  }
  const ifBranches = toMap(options.ifBranch, 'ifBranch');
  for (const [name, branch] of ifBranches ?? []) {
    if (branch !== 'then' && branch !== 'else') throw new MbnError('usage', `ifBranch ${quote(name)} is not 'then' or 'else'`);
  }
  return { inputShapes, batch: options.batch, inputValues, ifBranches };
}

/**
 * A share, the one way every share-valued option reads: a fraction (`0.3`) or a percentage (`30%`). Null when the
 * text is neither; the range is the caller's to check.
 */
export function parseShare(text: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(%?)\s*$/.exec(text);
  if (!m) return null;
  const value = Number(m[1]) / (m[2] ? 100 : 1);
  return Number.isFinite(value) ? value : null;
}
