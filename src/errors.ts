import { clipEnd, escapeControls } from './text.js';

/**
 * User-facing failures. Every problem with the user's input or environment is an MbnError: the CLI prints its
 * message as one line on stderr and exits with its exit code. Anything else that escapes is a bug in mbn.
 */
export type ErrorCode =
  | 'usage'
  | 'io'
  | 'not-onnx'
  | 'corrupt'
  | 'unsupported'
  | 'invalid-model'
  | 'external-data'
  | 'output-exists'
  | 'write-failed'
  | 'config'
  | 'budget'
  | 'interrupted';

export class MbnError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'MbnError';
    this.code = code;
  }
}

/** A catchable signal (SIGINT, SIGTERM, SIGHUP) stopped a write: everything staged was removed. */
export class Interrupted extends MbnError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super('interrupted', 'interrupted; nothing was written');
    this.signal = signal;
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new MbnError(code, message);
}

/** The longest quote of a bad value in a message: a hostile value cannot flood the terminal or a CI log. */
export const MAX_QUOTE = 200;

/**
 * Quotes a user-supplied value for an error message: control characters escaped (`\x1b`, `\u202e`), at most `max`
 * characters (never more than MAX_QUOTE) of it.
 */
export function quote(value: unknown, max = 80): string {
  const limit = Math.min(max, MAX_QUOTE);
  const text = typeof value === 'string' ? value : String(value);
  // Escapes make the text longer, so it is cut after escaping; cutting a long value first keeps that cheap.
  const escaped = escapeControls(text.length > limit ? text.slice(0, limit + 1) : text);
  return `'${escaped.length > limit ? `${escaped.slice(0, limit)}…` : escaped}'`;
}

/** A whole message made safe for one line of a terminal or CI log: controls escaped, length bounded. */
export function oneLine(text: string, max = 1000): string {
  return clipEnd(escapeControls(clipEnd(text, max)), max);
}
