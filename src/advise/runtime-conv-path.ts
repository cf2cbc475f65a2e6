import { convPathOf } from '../latency/layout.js';
import { defineRule } from './define.js';
import type { Finding } from '../contract/advise.js';

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
  source: 'ONNX Runtime nchwc_transformer (1.30), measured with mbn bench --per-layer',
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
      const where = everywhere ? 'ONNX Runtime on x86' : 'ONNX Runtime on AVX-512 CPUs';
      // A dense 1×1 conv on the generic path is one plain GEMM, no slower than the blocked kernel.
      if (conv.pointwise && conv.group === 1 && graph.stride(node) === 1) continue;
      // ORT's depthwise kernel: one output channel per input channel (depth multiplier 1).
      const depthwise = conv.depthwise && conv.outChannels === conv.group;
      const up4 = Math.ceil(conv.outChannels / 4) * 4;
      const message = depthwise
        ? `depthwise conv on ${conv.inChannels} channels, not a multiple of 4: ${where} runs it as im2col + GEMM per channel, not in its depthwise kernel`
        : conv.group > 1
          ? `${conv.group} groups of ${perGroup} → ${conv.outChannels / conv.group} channels: ${where} blocks a grouped conv only with whole blocks of ${everywhere ? AVX2_BLOCK : AVX512_BLOCK} channels per group, so it runs im2col + GEMM per group`
          : `${conv.inChannels} input channels, not a multiple of 4: ${where} cannot convert them to its blocked layout and runs im2col + GEMM`;
      const onInput = model.model.inputs.some((i) => i.name === node.inputs[0]);
      const fix = depthwise && onInput
        ? `it reads the model's ${conv.inChannels}-channel input: keep the first conv dense, as MobileNet does (mbn separate --exclude '${report.name.replace(/_depthwise$/, '')}')`
        : depthwise
        ? `use ${up4} channels (a multiple of 4) in this block, or measure with mbn bench --per-layer`
        : conv.group > 1
          ? `use 16 channels per group (fewer, wider groups), or measure with mbn bench --per-layer`
          : `make the producer's channels a multiple of 4 (${Math.ceil(conv.inChannels / 4) * 4}), or measure with mbn bench --per-layer`;
      findings.push({ rule: 'runtime-conv-path', severity: 'warning', layers: [report.name], message, fix: { text: fix, macsSaved: null, otherFlopsSaved: null, paramsSaved: null } });
    }
    return findings;
  },
});
