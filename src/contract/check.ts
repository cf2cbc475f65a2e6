/** The `mbn.check/1` contract (`mbn check --format json`; budget/check.ts builds the document). See the README, "Budgets in CI". */
import type { Gap, GapJson } from './analyze.js';
import type { CheckMessage } from './messages.js';

/**
 * The figures a model is held to (`mbn check`) and compared on (`mbn diff`): the Totals fields that budget/limits.ts's
 * METRICS limit (METRICS is checked against this list).
 */
export type FigureKey = 'macs' | 'flops' | 'params' | 'weightBytes' | 'peakActivationBytes';

export const CHECK_SCHEMA = 'mbn.check/1';

export type Figures = Record<FigureKey, number>;

export type CheckKind = 'budget' | 'baseline' | 'missing' | 'error' | 'no-baseline' | 'advise' | 'incomplete' | 'latency' | 'energy';

export interface CheckRecord {
  /** The config entry's name (its model pattern when it has none). */
  name: string;
  /** The model file as given to the user (relative to the working folder), or the unmatched pattern. */
  model: string;
  /** A Totals figure ('macs', 'flops', 'params', 'weightBytes', 'peakActivationBytes'), or 'model' for missing-model records. */
  metric: FigureKey | 'model';
  kind: CheckKind;
  passed: boolean;
  value: number | null;
  /** The budget, or for a baseline check the largest allowed value (baseline × (1 + max increase), rounded down). */
  limit: number | null;
  /** limit − value: headroom when positive, the excess when negative. */
  margin: number | null;
  /** 100 · margin / limit (null when the limit is 0 or absent). */
  marginPercent: number | null;
  /** For baseline checks: the stored figure. */
  baseline: number | null;
  /** For missing / error / no-baseline / incomplete / advise / latency / energy records: what happened, as a code. */
  message: CheckMessage | null;
  /**
   * False when `value` is only what mbn could count (the analysis is incomplete and the figure depends on shapes):
   * such a record never passes.
   */
  complete: boolean;
}

export interface CheckedModel {
  name: string;
  model: string;
  totals: Figures;
  /** The analysis has no gap (see `incomplete`, the gaps of `mbn analyze`'s report). */
  complete: boolean;
  incomplete: Gap[];
}

/** `mbn check` as data: the `mbn.check/1` document's members, its messages as codes (report/check-report.ts words them). */
export interface CheckResult {
  schema: typeof CHECK_SCHEMA;
  passed: boolean;
  /** The baseline file given with --baseline, or null. */
  baseline: string | null;
  /** --max-increase as a percentage (null without --baseline). */
  maxIncreasePercent: number | null;
  models: CheckedModel[];
  checks: CheckRecord[];
}

/** A check in `mbn.check/1`: `message` in English, `messageCode` the same message as a code (README, "Message codes"). */
export type CheckRecordJson = Omit<CheckRecord, 'message'> & { message: string | null; messageCode: CheckMessage | null };

/** A checked model in `mbn.check/1`: its gaps as `mbn analyze` writes them. */
export type CheckedModelJson = Omit<CheckedModel, 'incomplete'> & { incomplete: GapJson[] };

/** The `mbn.check/1` document (`mbn check --format json`, and what the library's `check` returns). */
export type CheckJson = Omit<CheckResult, 'models' | 'checks'> & { models: CheckedModelJson[]; checks: CheckRecordJson[] };
