import type { GapJson } from './analyze.js';
import type { FindingMessage, FixMessage } from './messages.js';

/**
 * `mbn advise` output. JSON (`"schema": "mbn.advise/1"`) is the contract: `findings` ({rule, severity, layers,
 * message, fix}) and `blocks` ({layers, input, expand, output, stride, residual, macs}), `complete` and `incomplete`
 * as in `mbn analyze`'s report; fields may be added. A MAC or FLOP figure counted on an assumed input dim is null
 * (`?` in text).
 */
export const ADVISE_SCHEMA = 'mbn.advise/1';

/** How serious a finding is (`--fail-on` fails from a severity up). */
export type Severity = 'error' | 'warning' | 'info';

/**
 * What to do about a finding and what it would change, in the cost report's own units (null: not a cost change, or
 * unknown because it depends on an input dim that was assumed; see AdviseGraph.figuresKnown).
 */
export interface Fix {
  /** What to do, as a code (worded in src/report/messages/advise.ts). */
  text: FixMessage;
  /** MACs per inference the fix removes (negative: it adds). */
  macsSaved: number | null;
  /** Other FLOPs per inference the fix removes, per the report's counting convention. */
  otherFlopsSaved: number | null;
  paramsSaved: number | null;
}

export interface Finding {
  rule: string;
  severity: Severity;
  /** Layer names as in the cost report. */
  layers: string[];
  /** The evidence, as a code (worded in src/report/messages/advise.ts). */
  message: FindingMessage;
  fix: Fix;
}

/**
 * A finding in `mbn.advise/1`: `message` and `fix.text` in English, `messageCode` and `fix.textCode` the same as codes
 * (README, "Message codes").
 */
export type FindingJson = Omit<Finding, 'message' | 'fix'> & {
  message: string;
  messageCode: FindingMessage;
  fix: Omit<Fix, 'text'> & { text: string; textCode: FixMessage };
};

/** One row of the blocks table (JSON `blocks`). */
export interface BlockRow {
  /** The block's convs: expansion (when there is one), depthwise, projection. */
  layers: string[];
  input: number;
  /** Channels after expansion (the depthwise width). */
  expand: number;
  output: number;
  stride: number;
  residual: boolean;
  /** Every layer of the block: convs, activations, squeeze-and-excite, the residual Add (null: counted on an assumed input dim). */
  macs: number | null;
}

/** The `mbn.advise/1` document (`mbn advise --format json`, and what the library's `advise` returns). */
export interface AdviseJson {
  schema: typeof ADVISE_SCHEMA;
  /** MACs and FLOPs are null when an input dim was assumed (see `incomplete`). */
  model: { path: string; macs: number | null; flops: number | null; params: number };
  counts: Record<Severity, number>;
  /** The severity from which findings fail (null: never). */
  failOn: Severity | null;
  passed: boolean;
  /** As in `mbn analyze`'s report: false when a layer that runs is not counted or an input dim was assumed. */
  complete: boolean;
  incomplete: GapJson[];
  findings: FindingJson[];
  blocks: BlockRow[];
}
