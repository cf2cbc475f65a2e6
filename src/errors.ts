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

/** Quotes a user-supplied value for an error message, shortened so that a hostile value cannot flood the terminal. */
export function quote(value: unknown, max = 80): string {
  let text = typeof value === 'string' ? value : String(value);
  text = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (text.length > max) text = `${text.slice(0, max)}…`;
  return `'${text}'`;
}
