import { defineRule, figure } from './define.js';

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
    const ratios = [...new Set(blocks.map((b) => ratio(b.width / b.input)))];
    const residual = blocks.filter((b) => b.residual).length;
    const se = blocks.filter((b) => b.squeezeExcite).length;
    const macs = graph.knownMacs(blocks.flatMap((b) => b.nodes));
    const share = macs !== null && graph.totalsKnown && report.totals.macs > 0 ? ` (${((100 * macs) / report.totals.macs).toFixed(1)}% of the model's MACs)` : '';
    return [{
      rule: 'inverted-residual-summary',
      severity: 'info',
      layers: blocks.map((b) => graph.layerName(b.depthwise)),
      message: `${blocks.length} inverted residual block${blocks.length === 1 ? '' : 's'}, expansion ratios ${ratios.join(', ')}; ${residual} with a residual Add${se ? `, ${se} with squeeze-and-excite` : ''}; ${figure(macs)} MACs${share}`,
      fix: { text: 'none needed: see the blocks table', macsSaved: null, otherFlopsSaved: null, paramsSaved: null },
    }];
  },
});

function ratio(x: number): string {
  return Number.isInteger(x) ? `${x}` : x.toFixed(2);
}
