import type { Node } from '../ir/types.js';
import { type AdviseGraph, type Step, opOf } from './graph.js';

/**
 * MobileNetV2's inverted residual block (Sandler et al., CVPR 2018, §3.3 and Table 1): an optional 1×1 expansion,
 * a depthwise conv, a 1×1 projection back to a narrow tensor, and a residual Add between the narrow ends when the
 * shapes allow. Found through the ops exporters put around them: BatchNormalization (folded or not), Clip for
 * ReLU6, HardSwish written out as x·ReLU6(x+3)/6, and squeeze-and-excite gates between depthwise and projection.
 */
export interface Block {
  expand: Node | null;
  depthwise: Node;
  project: Node;
  /** Channels in (the narrow end), after expansion (the depthwise width), and out. */
  input: number;
  width: number;
  output: number;
  stride: number;
  residual: Node | null;
  squeezeExcite: boolean;
  /** Non-linearities applied to the projection's output before the block ends, in order. */
  afterProject: Step[];
  /** Every node of the block, for its MACs. */
  nodes: Node[];
}

export function findBlocks(graph: AdviseGraph): Block[] {
  const blocks: Block[] = [];
  for (const { node } of graph.layers) {
    if (!graph.isDepthwise(node)) continue;
    const block = blockAt(graph, node);
    if (block) blocks.push(block);
  }
  return blocks;
}

function blockAt(graph: AdviseGraph, dw: Node): Block | null {
  const nodes: Node[] = [dw];
  // Back from the depthwise conv to the expansion (through its norm and activation).
  let start = dw.inputs[0];
  let expand: Node | null = null;
  for (let back = graph.previous(start); back; back = graph.previous(start)) {
    nodes.push(...back.step.nodes);
    start = back.from;
  }
  const producer = graph.producer(start);
  // The expansion's output feeds only this path (its activation may read it twice, as x·σ(x) does).
  const onPath = new Set(nodes);
  if (producer && graph.isPointwise(producer) && graph.consumers(start).every((r) => onPath.has(r) || r === dw)) {
    expand = producer;
    nodes.push(producer);
  } else {
    // No expansion (t = 1): the block starts at the depthwise conv's own input.
    nodes.length = 1;
    start = dw.inputs[0];
  }
  const blockInput = expand ? expand.inputs[0] : start;

  // Forward from the depthwise conv to the projection.
  let t = dw.outputs[0];
  let squeezeExcite = false;
  for (let step = graph.next(t); step; step = graph.next(t)) {
    nodes.push(...step.nodes);
    if (step.kind === 'gate') squeezeExcite = true;
    t = step.out;
  }
  const readers = graph.consumers(t);
  if (readers.length !== 1 || !graph.isPointwise(readers[0])) return null;
  const project = readers[0];
  nodes.push(project);

  // After the projection: anything but a norm or an affine is a non-linearity on the bottleneck, the conv's own
  // fused activation (TFLite) first.
  const afterProject: Step[] = [];
  const fused = graph.conv(project)?.fusedActivation;
  if (fused) afterProject.push({ kind: 'activation', name: { fused }, nodes: [project], out: project.outputs[0] });
  t = project.outputs[0];
  for (let step = graph.next(t); step; step = graph.next(t)) {
    if (step.kind === 'activation' || step.kind === 'gate') afterProject.push(step);
    nodes.push(...step.nodes);
    t = step.out;
  }
  let residual: Node | null = null;
  const add = graph.consumers(t).find((n) => opOf(n) === 'Add' && graph.dynamicInputs(n).length === 2);
  if (add && add.inputs.includes(t) && add.inputs.includes(blockInput)) {
    residual = add;
    nodes.push(add);
  }

  const dwConv = graph.conv(dw)!.geometry;
  const projectConv = graph.conv(project)!.geometry;
  // Without an expansion the block's input is the depthwise conv's (through norms and activations): its channels.
  const input = expand ? graph.conv(expand)!.geometry.inChannels : dwConv.inChannels;
  const width = dwConv.outChannels;
  const output = projectConv.outChannels;
  // A depthwise conv followed by a 1×1 conv is also MobileNet V1's separable layer; an inverted residual narrows
  // at the projection or joins a residual, and (when trained as the paper says) leaves the projection linear.
  if (!(output < width || residual || afterProject.length === 0)) return null;
  return {
    expand,
    depthwise: dw,
    project,
    input,
    width,
    output,
    stride: graph.stride(dw),
    residual,
    squeezeExcite,
    afterProject,
    nodes: [...new Set(nodes)],
  };
}
