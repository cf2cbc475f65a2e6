import { defineRule } from './define.js';
import type { Finding } from '../contract/advise.js';

/**
 * MobileNet V1 (Howard et al., 2017, §3.1): a standard conv with a kernel larger than 1×1 costs D_K²·M·N·D_F²;
 * a depthwise + pointwise pair costs D_K²·M·D_F² + M·N·D_F². Reported when the saving, from the cost report's own
 * separable projection, is at least --min-saving of the whole model's MACs. The stem, a conv on the model's input
 * or on at most 4 channels (an image's), is left alone: MobileNet keeps its first layer a full conv (Table 1),
 * since a depthwise filter per colour channel has too little to work with. A conv counted on an assumed input dim
 * has no known saving: it is reported whatever --min-saving says, its MACs as unknown.
 */
export const separableConv = defineRule({
  id: 'separable-conv',
  source: 'Howard et al., MobileNets, 2017, §3.1',
  summary: 'a standard conv (kernel > 1×1) whose depthwise separation would save at least minSaving of the model’s MACs',
  check({ report, graph, options }) {
    const total = graph.totalsKnown ? report.totals.macs : null;
    const findings: Finding[] = [];
    const graphInputs = new Set(graph.model.graph.inputs.map((i) => i.name));
    const stems = new Set(graph.layers.filter((g) => graphInputs.has(g.node.inputs[0])).map((g) => g.report));
    for (const l of report.layers) {
      const s = l.separable;
      if (!s || !l.counted || total === 0 || stems.has(l) || s.M <= 4) continue;
      const known = graph.figuresKnown(l);
      const macs = known ? l.macs : null;
      const saved = known ? l.macs - s.macsAfter * l.executions : null;
      const share = saved !== null && total !== null ? saved / total : null;
      if (share !== null && share < options.minSaving) continue;
      // mbn separate rewrites float ONNX convs: a .tflite is separated in the model's source.
      const form = graph.convOf(l)?.form;
      const how = graph.model.format === 'tflite' ? 'tflite' : !form || form === 'float' ? 'float' : 'quantized';
      findings.push({
        rule: 'separable-conv',
        severity: 'warning',
        layers: [l.name],
        message: {
          code: 'separable-conv',
          kernel: s.kernel,
          inChannels: s.M,
          outChannels: s.N,
          group: s.group,
          macs,
          share: macs !== null && total !== null ? macs / total : null,
          reduction: s.reduction,
        },
        fix: {
          text: { code: 'separate-conv', how, layer: l.name, macsSaved: saved, share, paramsSaved: s.params - s.paramsAfter },
          macsSaved: saved,
          otherFlopsSaved: null,
          paramsSaved: s.params - s.paramsAfter,
        },
      });
    }
    return findings;
  },
});
