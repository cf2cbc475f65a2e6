import type { AdviseGraph } from './graph.js';
import type { Block } from './blocks.js';
import type { Report } from '../contract/analyze.js';
import type { Finding, Severity } from '../contract/advise.js';

/**
 * One advice rule = one file under src/advise, registered with defineRule (as operator families are with
 * defineOps). A rule reads the model's graph (patterns over the IR) and the cost report (the figures), and returns
 * findings; it never renders, writes or changes anything.
 */

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error'];

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

export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}
