import { defineRule } from './define.js';
import type { Finding } from '../contract/advise.js';

/**
 * MobileNetV2's linear bottleneck (Sandler et al., CVPR 2018, §3.2 and Figure 1): a ReLU applied to a
 * low-dimensional tensor destroys the information in the channels it zeroes, so the 1×1 projection that narrows
 * an inverted residual block back to its bottleneck width is left linear. Worse when the activated bottleneck is
 * what the residual connection adds to. The fix is a retraining without it: removing a trained non-linearity
 * changes the function, so mbn never does that itself.
 */
export const bottleneckNonlinearity = defineRule({
  id: 'bottleneck-nonlinearity',
  source: 'Sandler et al., MobileNetV2, CVPR 2018, §3.2 and Figure 1',
  summary: 'a non-linearity on the output of a narrowing 1×1 projection (the bottleneck of an inverted residual block)',
  check({ graph, blocks }) {
    const findings: Finding[] = [];
    for (const b of blocks) {
      if (b.afterProject.length === 0 || b.output >= b.width) continue;
      const activationLayers = b.afterProject.flatMap((s) => s.nodes.map((n) => graph.layerName(n)));
      const nodes = b.afterProject.flatMap((s) => s.nodes);
      const flops = nodes.every((n) => graph.nodeKnown(n)) ? nodes.reduce((sum, n) => sum + (graph.byNode.get(n)?.report.otherFlops ?? 0), 0) : null;
      findings.push({
        rule: 'bottleneck-nonlinearity',
        severity: b.residual ? 'error' : 'warning',
        // A fused activation is the projection's own layer: listed once.
        layers: [...new Set([graph.layerName(b.project), ...activationLayers])],
        message: { code: 'bottleneck-nonlinearity', activations: b.afterProject.map((s) => s.name), width: b.width, output: b.output, residual: b.residual !== null },
        fix: {
          text: { code: 'linear-projection' },
          macsSaved: 0,
          otherFlopsSaved: flops,
          paramsSaved: 0,
        },
      });
    }
    return findings;
  },
});
