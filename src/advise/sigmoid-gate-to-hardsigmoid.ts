import { defineRule } from './define.js';
import { findSigmoidPatterns } from './swish.js';
import type { Finding } from '../contract/advise.js';

/**
 * MobileNetV3 (Howard et al., ICCV 2019, §5.2 and §5.3): squeeze-and-excite gates use hard-sigmoid
 * ReLU6(x+3)/6 instead of σ(x). Under mbn's counting convention both cost 1 FLOP per element, so the fix changes no
 * figure of the report; the gain is an exp-free, quantization-friendly gate.
 */
export const sigmoidGateToHardsigmoid = defineRule({
  id: 'sigmoid-gate-to-hardsigmoid',
  source: 'Howard et al., Searching for MobileNetV3, ICCV 2019, §5.2–5.3',
  summary: 'a Sigmoid gate (squeeze-and-excite: y·σ(g)) that hard-sigmoid ReLU6(g+3)/6 can replace',
  check({ graph }) {
    const findings: Finding[] = [];
    for (const g of findSigmoidPatterns(graph.model.graph).gates) {
      const shape = graph.nodeKnown(g.sigmoid) ? graph.byNode.get(g.sigmoid)?.report.outputShapes[0] ?? null : null;
      findings.push({
        rule: 'sigmoid-gate-to-hardsigmoid',
        severity: 'warning',
        layers: [g.sigmoid, ...g.muls].map((n) => graph.layerName(n)),
        message: { code: 'sigmoid-gate', shape },
        fix: {
          text: { code: 'hard-sigmoid' },
          macsSaved: 0,
          otherFlopsSaved: 0,
          paramsSaved: 0,
        },
      });
    }
    return findings;
  },
});
