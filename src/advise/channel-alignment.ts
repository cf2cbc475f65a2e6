import { defineRule } from './define.js';
import type { Finding } from '../contract/advise.js';

/**
 * MobileNet's `_make_divisible` (torchvision and the TF reference code) rounds every width to a multiple of 8:
 * vector units and many accelerators process channels in groups of 8 or 16 and pad the rest. Reported for conv
 * outputs (the first conv's input channels come from the data and are left alone).
 */
export const ALIGNMENT = 8;

export const channelAlignment = defineRule({
  id: 'channel-alignment',
  source: 'Sandler et al., MobileNetV2, CVPR 2018 (reference code: _make_divisible to 8)',
  summary: `conv output channels not divisible by ${ALIGNMENT}`,
  check({ graph }) {
    const findings: Finding[] = [];
    for (const { node, report } of graph.layers) {
      const conv = graph.conv(node)?.geometry;
      // Fewer than 8 channels is a task output (a mask, a box head), not a width anyone chose.
      if (!conv || conv.outChannels % ALIGNMENT === 0 || conv.outChannels < ALIGNMENT || !report.counted) continue;
      const up = Math.ceil(conv.outChannels / ALIGNMENT) * ALIGNMENT;
      const down = Math.floor(conv.outChannels / ALIGNMENT) * ALIGNMENT;
      // This layer's cost scales with its output channels; its readers' costs change too and are not counted here.
      const costUp = graph.figuresKnown(report) ? Math.round((report.macs * up) / conv.outChannels) - report.macs : null;
      findings.push({
        rule: 'channel-alignment',
        severity: 'info',
        layers: [report.name],
        message: { code: 'channel-alignment', channels: conv.outChannels, alignment: ALIGNMENT },
        fix: {
          text: { code: 'align-channels', up, down, macsAdded: costUp },
          macsSaved: costUp === null ? null : -costUp,
          otherFlopsSaved: null,
          paramsSaved: null,
        },
      });
    }
    return findings;
  },
});
