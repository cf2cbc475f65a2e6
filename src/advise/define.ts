import type { AdviseGraph } from './graph.js';
import type { Block } from './blocks.js';
import type { Report } from '../contract/analyze.js';

/**
 * One advice rule = one file under src/advise, registered with defineRule (as operator families are with
 * defineOps). A rule reads the model's graph (patterns over the IR) and the cost report (the figures), and returns
 * findings; it never renders, writes or changes anything.
 */
export type Severity = 'error' | 'warning' | 'info';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error'];

/**
 * What to do about a finding and what it would change, in the cost report's own units (null: not a cost change, or
 * unknown because it depends on an input dim that was assumed; see AdviseGraph.figuresKnown).
 */
export interface Fix {
  text: string;
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
  /** The evidence, in one sentence or two. */
  message: string;
  fix: Fix;
}

export interface AdviseOptions {
  /** separable-conv: smallest share of the model's MACs a separation must save to be reported (0..1). */
  minSaving: number;
}

export const DEFAULT_ADVISE_OPTIONS: AdviseOptions = { minSaving: 0.01 };

export interface AdviseContext {
  report: Report;
  graph: AdviseGraph;
  /** Inverted-residual blocks found in the main graph (shared by the rules that need them). */
  blocks: Block[];
  options: AdviseOptions;
}

export interface AdviseRule {
  id: string;
  /** The MobileNet paper and section the rule comes from. */
  source: string;
  /** One line: what the rule looks for. */
  summary: string;
  check(ctx: AdviseContext): Finding[];
}

export function defineRule(rule: AdviseRule): AdviseRule {
  return rule;
}

/** A figure in a finding's text: `?` when it is unknown (it would depend on an input dim that was assumed). */
export function figure(n: number | null): string {
  return n === null ? '?' : String(n);
}

/** A share as a percentage, `?` when unknown. */
export function percent(x: number | null): string {
  return x === null ? '?' : `${(100 * x).toFixed(1)}%`;
}

export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}
