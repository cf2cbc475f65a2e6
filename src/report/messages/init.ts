import { quote } from '../../errors.js';
import type { InitWarning } from '../../contract/messages.js';
import { type Words, wordsOf } from '../words.js';

/** The English of `mbn init`'s warnings (src/contract/messages.ts has the codes; README, "Message codes"). */

const INIT_WARNINGS: Words<InitWarning> = {
  'init-uncounted': (m) => `${quote(m.model)}: ${m.layers} layers are not counted, so its MACs and FLOPs limits hold only the layers mbn counts`,
  'init-assumed-dims': (m) =>
    `${quote(m.model)} has symbolic input dims, taken as 1: add "input" (e.g. ${m.inputs ? JSON.stringify(m.inputs) : '{"x": [1, 3, 224, 224]}'}) to its entry and run mbn init --force again, or edit the limits`,
};

export function initWarningText(m: InitWarning): string {
  return wordsOf(INIT_WARNINGS, m);
}

/** Every code this table words. */
export const INIT_CODES: readonly string[] = Object.keys(INIT_WARNINGS);
