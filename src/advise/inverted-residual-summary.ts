import { defineRule } from './define.js';

/**
 * How MobileNet-family engineers read a model: its inverted residual blocks with their expansion ratios and
 * widths (Sandler et al., CVPR 2018, Table 2). One informational finding; the blocks themselves are the report's
 * `blocks` table.
 */
export const invertedResidualSummary = defineRule({
  id: 'inverted-residual-summary',
  source: 'Sandler et al., MobileNetV2, CVPR 2018, §3.3 and Table 2',
  summary: 'the inverted residual blocks: count, expansion ratios, widths, residuals (the blocks table)',
  check({ graph, blocks, report }) {
    if (blocks.length === 0) return [];
    const residual = blocks.filter((b) => b.residual).length;
    const se = blocks.filter((b) => b.squeezeExcite).length;
    const macs = graph.knownMacs(blocks.flatMap((b) => b.nodes));
    const share = macs !== null && graph.totalsKnown && report.totals.macs > 0 ? macs / report.totals.macs : null;
    return [{
      rule: 'inverted-residual-summary',
      severity: 'info',
      layers: blocks.map((b) => graph.layerName(b.depthwise)),
      message: { code: 'inverted-residual-summary', blocks: blocks.length, expansions: blocks.map((b) => b.width / b.input), residual, squeezeExcite: se, macs, share },
      fix: { text: { code: 'none-needed' }, macsSaved: null, otherFlopsSaved: null, paramsSaved: null },
    }];
  },
});
