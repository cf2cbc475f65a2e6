import type { DeviationSkip, RewriteNote } from '../../contract/rewrite.js';
import { type Words, wordsOf } from '../words.js';

/** The words of `mbn rewrite`, one entry per message code (contract/rewrite.ts): the only place they are written. */
const NOTE_TEXT: Words<RewriteNote> = {
  'non-float32-left': (m) => `${m.patterns} pattern(s) on a type other than float32 left as they are: ONNX Runtime's CPU provider runs HardSigmoid and HardSwish in float32 only`,
  'hard-sigmoid-form': (m) => `the model's opset is ${m.opset} (HardSwish needs 14): each swish became x·HardSigmoid(x) (alpha 1/6, beta 1/2), the same function as HardSwish, and the opset is left alone`,
  'swish-ops-left': (m) => `${m.ops} Swish/SiLU op(s) left as they are (${m.names.join(', ')}): only the Mul(x, Sigmoid(x)) form is rewritten`,
  'subgraphs-left': () => 'patterns inside If/Loop/Scan bodies and model-local functions are left alone: only the main graph is rewritten',
};

const DEVIATION_SKIP_TEXT: Words<DeviationSkip> = {
  'cannot-run': (m) => m.message,
  'input-shape-unknown': (m) => `input '${m.input}' has no known shape (give it with --input)`,
  'nothing-rewritten': () => 'nothing was rewritten',
  'external-data-dry-run': () => 'the model keeps weights in external data: the dry run does not run it',
};

export const rewriteNoteText = (m: RewriteNote): string => wordsOf(NOTE_TEXT, m);
export const deviationSkipText = (m: DeviationSkip): string => wordsOf(DEVIATION_SKIP_TEXT, m);

/** Every code these tables word (README, "Message codes"). */
export const REWRITE_CODES: readonly string[] = [...Object.keys(NOTE_TEXT), ...Object.keys(DEVIATION_SKIP_TEXT)];
