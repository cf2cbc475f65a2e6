import { convPathOf } from '../latency/layout.js';
import { defineRule } from './define.js';
import type { Finding } from '../contract/advise.js';
import type { FindingMessage, FixMessage } from '../contract/messages.js';

/**
 * ONNX Runtime on x86-64 (the CPU most CI and many edge gateways run) runs a conv in its blocked NCHWc kernels only
 * when the channels fit them (src/latency/layout.ts: a depthwise conv needs a multiple of 4 channels, a grouped conv
 * whole blocks of 8 (AVX2) or 16 (AVX-512) channels per group, a dense conv with at least a block of input channels
 * a multiple of 4); anything else goes through its generic im2col + GEMM path, measured 4–5× slower per MAC here
 * (RegNet-Y's 8-channel groups on AVX-512, a 3-channel depthwise stem). A conv generic at the 8-channel block is
 * generic on every x86 CPU; one generic only at 16 is generic on AVX-512 CPUs.
 */
const AVX2_BLOCK = 8;
const AVX512_BLOCK = 16;

export const runtimeConvPath = defineRule({
  id: 'runtime-conv-path',
  source: 'ONNX Runtime nchwc_transformer (1.30), measured per layer with mbn bench',
  summary: 'convs whose channels keep ONNX Runtime on x86 off its blocked kernels',
  check({ graph, report: model }) {
    const findings: Finding[] = [];
    // A .tflite runs in TFLite's kernels (XNNPACK on CPUs), not ONNX Runtime's: these layout rules do not apply.
    if (graph.model.format === 'tflite') return findings;
    for (const { node, report } of graph.layers) {
      const traits = graph.conv(node);
      // ORT's blocked layout takes float convs only: a quantized conv runs in its own integer kernels.
      if (!traits || traits.form !== 'float' || traits.geometry.kernel.length !== 2 || !report.counted) continue;
      const conv = traits.geometry;
      // A layer under 0.1% of the model's MACs (a squeeze-and-excite conv on a 1×1 map) cannot matter; when the
      // figures rest on an assumed input dim, the share is unknown and the layer is listed.
      if (graph.figuresKnown(report) && graph.totalsKnown && report.macs < model.totals.macs / 1000) continue;
      const perGroup = conv.inChannels / conv.group;
      const everywhere = convPathOf(perGroup, conv.outChannels, conv.group, AVX2_BLOCK) === 'generic';
      if (!everywhere && convPathOf(perGroup, conv.outChannels, conv.group, AVX512_BLOCK) !== 'generic') continue;
      const where = everywhere ? 'x86' : 'avx512';
      // A dense 1×1 conv on the generic path is one plain GEMM, no slower than the blocked kernel.
      if (conv.pointwise && conv.group === 1 && graph.stride(node) === 1) continue;
      // ORT's depthwise kernel: one output channel per input channel (depth multiplier 1).
      const depthwise = conv.depthwise && conv.outChannels === conv.group;
      const up4 = Math.ceil(conv.outChannels / 4) * 4;
      const message: FindingMessage = depthwise
        ? { code: 'runtime-conv-depthwise', channels: conv.inChannels, where }
        : conv.group > 1
          ? { code: 'runtime-conv-grouped', groups: conv.group, inPerGroup: perGroup, outPerGroup: conv.outChannels / conv.group, where, block: everywhere ? AVX2_BLOCK : AVX512_BLOCK }
          : { code: 'runtime-conv-channels', channels: conv.inChannels, where };
      const onInput = model.model.inputs.some((i) => i.name === node.inputs[0]);
      const fix: FixMessage = depthwise && onInput
        ? { code: 'keep-stem-dense', channels: conv.inChannels, layer: report.name.replace(/_depthwise$/, '') }
        : depthwise
        ? { code: 'align-depthwise-channels', channels: up4 }
        : conv.group > 1
          ? { code: 'widen-groups' }
          : { code: 'align-producer-channels', channels: Math.ceil(conv.inChannels / 4) * 4 };
      findings.push({ rule: 'runtime-conv-path', severity: 'warning', layers: [report.name], message, fix: { text: fix, macsSaved: null, otherFlopsSaved: null, paramsSaved: null } });
    }
    return findings;
  },
});
