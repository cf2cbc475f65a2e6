import { constants } from 'node:os';
import { Interrupted, MbnError } from '../errors.js';

/**
 * Exit codes, documented in the README:
 *   0  success; every budget holds
 *   1  a budget is exceeded, or a model named by the budget config is missing
 *   2  usage error or bad input (unreadable, not ONNX, corrupt, unsafe external data, output exists, write failed)
 *   70 internal error in mbn (a bug: please report it)
 *   128 + n  a write stopped by signal n (130 SIGINT, 143 SIGTERM, 129 SIGHUP), the shells' convention
 */
export const EXIT = { ok: 0, budget: 1, input: 2, internal: 70 } as const;

export interface Outcome {
  error?: unknown;
  budgetsExceeded?: boolean;
}

export function exitCode(outcome: Outcome): number {
  if (outcome.error !== undefined) {
    if (outcome.error instanceof Interrupted) return 128 + (constants.signals[outcome.error.signal] ?? 0);
    if (outcome.error instanceof MbnError) return outcome.error.code === 'budget' ? EXIT.budget : EXIT.input;
    return EXIT.internal;
  }
  return outcome.budgetsExceeded ? EXIT.budget : EXIT.ok;
}
