import { buildReport } from '../cost/analyze.js';
import type { Model } from '../ir/types.js';
import { type InferOptions, type InferResult, inferModel } from '../shape/infer.js';
import { bottleneckNonlinearity } from './bottleneck-nonlinearity.js';
import { channelAlignment } from './channel-alignment.js';
import { type AdviseOptions, type AdviseRule, DEFAULT_ADVISE_OPTIONS, SEVERITIES } from './define.js';
import { findBlocks } from './blocks.js';
import { AdviseGraph } from './graph.js';
import { invertedResidualSummary } from './inverted-residual-summary.js';
import { runtimeConvPath } from './runtime-conv-path.js';
import { separableConv } from './separable-conv.js';
import { sigmoidGateToHardsigmoid } from './sigmoid-gate-to-hardsigmoid.js';
import { swishToHardswish } from './swish-to-hardswish.js';
import type { Report } from '../contract/analyze.js';
import type { BlockRow, Finding } from '../contract/advise.js';

/** Every rule, in report order: MobileNet V1, V2, V3, then hardware. */
export const RULES: readonly AdviseRule[] = [
  separableConv,
  bottleneckNonlinearity,
  invertedResidualSummary,
  swishToHardswish,
  sigmoidGateToHardsigmoid,
  channelAlignment,
  runtimeConvPath,
];

export interface AdviseResult {
  report: Report;
  /** The report's MAC and FLOP totals were counted on no assumed input dim (else advise shows them as unknown). */
  totalsKnown: boolean;
  findings: Finding[];
  blocks: BlockRow[];
}

export function adviseModel(model: Model, inferOptions: InferOptions = {}, options: AdviseOptions = DEFAULT_ADVISE_OPTIONS): AdviseResult {
  const inferred = inferModel(model, inferOptions);
  return adviseAnalysis(model, inferred, buildReport(model, inferred), options);
}

/** The advice on an analysis already made (`report` built from `inferred`, not released): for callers that need it too. */
export function adviseAnalysis(model: Model, inferred: InferResult, report: Report, options: AdviseOptions = DEFAULT_ADVISE_OPTIONS): AdviseResult {
  const graph = new AdviseGraph(model, inferred, report);
  const blocks = findBlocks(graph);
  const ctx = { report, graph, blocks, options };
  const findings = RULES.flatMap((rule) => rule.check(ctx));
  // Most severe first; within a severity, rule order, then model order (stable sort).
  findings.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity));
  const rows = blocks.map((b) => ({
    layers: [b.expand, b.depthwise, b.project].filter((n) => n !== null).map((n) => graph.layerName(n!)),
    input: b.input,
    expand: b.width,
    output: b.output,
    stride: b.stride,
    residual: b.residual !== null,
    macs: graph.knownMacs(b.nodes),
  }));
  return { report, totalsKnown: graph.totalsKnown, findings, blocks: rows };
}
