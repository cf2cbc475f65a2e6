import { elements } from '../ops/define.js';
import { defineRule } from './define.js';
import { findSigmoidPatterns } from './swish.js';
import type { Finding } from '../contract/advise.js';

/**
 * MobileNetV3 (Howard et al., ICCV 2019, §5.2): h-swish(x) = x·ReLU6(x+3)/6 replaces swish x·σ(x). It needs no
 * exponential, is cheap on mobile hardware and quantizes without the loss σ's curve brings, at no accuracy cost
 * in the deeper layers (the paper keeps ReLU in the early ones). One finding per swish.
 */
export const swishToHardswish = defineRule({
  id: 'swish-to-hardswish',
  source: 'Howard et al., Searching for MobileNetV3, ICCV 2019, §5.2',
  summary: 'swish x·σ(x) (Mul(x, Sigmoid(x)), or a Swish/SiLU op) that hard-swish x·ReLU6(x+3)/6 can replace',
  check({ graph }) {
    const patterns = findSigmoidPatterns(graph.model.graph);
    const findings: Finding[] = [];
    const report = (n: { opType: string } & object) => graph.byNode.get(n as never)?.report;
    for (const m of patterns.swish) {
      const nodes = [m.sigmoid, ...m.muls];
      const before = nodes.reduce((s, n) => s + (report(n)?.otherFlops ?? 0), 0);
      // A shape worked out from an assumed input dim is not the tensor's: unknown, as the FLOPs that follow from it.
      const known = nodes.every((n) => graph.nodeKnown(n));
      const shapes = m.muls.map((n) => (known ? report(n)?.outputShapes[0] ?? null : null));
      // mbn's convention counts HardSwish as 1 FLOP per output element, like Sigmoid and Mul each.
      const after = shapes.every((s) => s !== null) ? shapes.reduce((s, shape) => s + elements(shape!), 0) : null;
      const saved = after === null ? null : before - after;
      findings.push({
        rule: 'swish-to-hardswish',
        severity: 'warning',
        layers: nodes.map((n) => graph.layerName(n)),
        message: { code: 'swish', shape: shapes[0] ?? null },
        fix: {
          text: { code: 'hard-swish', format: graph.model.format === 'tflite' ? 'tflite' : 'onnx', flopsSaved: saved },
          macsSaved: 0,
          otherFlopsSaved: saved,
          paramsSaved: 0,
        },
      });
    }
    for (const n of patterns.swishOps) {
      findings.push({
        rule: 'swish-to-hardswish',
        severity: 'warning',
        layers: [graph.layerName(n)],
        message: { code: 'swish-op', op: n.opType, domain: n.domain },
        fix: {
          text: { code: 'hard-swish-in-source' },
          macsSaved: 0,
          otherFlopsSaved: 0,
          paramsSaved: 0,
        },
      });
    }
    return findings;
  },
});
