import { quote } from '../../errors.js';
import type { CheckMessage, GapMessage } from '../../contract/messages.js';
import { gapText } from './analyze.js';
import { type Words, wordsOf } from '../words.js';

/**
 * The English of `mbn check`'s record messages (src/contract/messages.ts has the codes; README, "Message codes"). The gap
 * groups of an incomplete analysis are worded by the completeness gate's one wording (messages/analyze.ts), with the
 * budget config's keys.
 */

type Prediction = Extract<CheckMessage, { code: 'latency-budget' | 'energy-budget' }>;

function prediction(m: Prediction): string {
  const latency = m.code === 'latency-budget';
  const shown = (x: number) => `${Number(x.toPrecision(3))} ${latency ? 'ms' : 'mJ'}`;
  const kind = latency ? 'latency' : 'energy';
  if (m.value === null) return `${kind} on ${m.device}: ${latency ? 'unknown' : 'unknown (estimate)'}, cannot pass the budget of ${shown(m.limit)}`;
  return `${kind} on ${m.device}: ${latency ? 'predicted' : 'estimated'} ${shown(m.value)} ${m.value <= m.limit ? 'within' : 'exceeds'} the budget of ${shown(m.limit)}`;
}

const CHECK_MESSAGES: Words<Exclude<CheckMessage, GapMessage>> = {
  'model-missing': (m) => (m.glob ? `model missing: no file matches ${quote(m.pattern)}` : `model missing: ${quote(m.pattern)} does not exist`),
  'model-error': (m) => m.detail,
  'no-baseline': (m) => `no baseline for this model in ${m.baseline} (new model?): not compared`,
  'baseline-incomplete': (m) => `the baseline for this model in ${m.baseline} is an incomplete analysis: not compared`,
  'advise-passed': (m) => `advise: no finding of severity ${m.failOn} or worse`,
  'advise-failed': (m) =>
    `advise: ${m.findings} finding${m.findings === 1 ? '' : 's'} of severity ${m.failOn} or worse (${m.rules.map((r) => `${r.rule} ×${r.findings}`).join(', ')}); run mbn advise ${m.model}`,
  'latency-budget': prediction,
  'energy-budget': prediction,
};

/** A check record's message in English. */
export function checkMessageText(m: CheckMessage): string {
  if (m.code === 'gap-assumed-dims' || m.code === 'gap-no-rule' || m.code === 'gap-shapes-unknown') return gapText(m);
  const text = wordsOf(CHECK_MESSAGES, m);
  // A figure checked on an incomplete analysis never passes, whatever it is.
  return 'incomplete' in m && m.incomplete ? `${text}; the analysis is incomplete, so it cannot pass` : text;
}

/** Every code this table words. */
export const CHECK_CODES: readonly string[] = Object.keys(CHECK_MESSAGES);
