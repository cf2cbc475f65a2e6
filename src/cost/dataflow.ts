import type { Node } from '../ir/types.js';

/**
 * The dataflow between report layers: an edge from the layer that writes a tensor to each layer that reads it
 * (the HTML report's graph view draws these). Graph inputs and weights have no producing layer, so they add no
 * edge. A layer inside an If/Loop body that reads a tensor of the enclosing graph gets its edge from the outer
 * producer, since tensor names are unique across a model's nested graphs (the ONNX spec's SSA rule).
 *
 * Returned flat, `[from0, to0, from1, to1, …]` as indices into the layer list, each pair once, in reading order.
 */
export function dataflowEdges(layers: readonly { node: Pick<Node, 'inputs' | 'outputs'> }[]): number[] {
  const producer = new Map<string, number>();
  layers.forEach((l, i) => {
    for (const name of l.node.outputs) if (name && !producer.has(name)) producer.set(name, i);
  });
  const edges: number[] = [];
  layers.forEach((l, to) => {
    const seen = new Set<number>();
    for (const name of l.node.inputs) {
      const from = name ? producer.get(name) : undefined;
      if (from === undefined || from === to || seen.has(from)) continue;
      seen.add(from);
      edges.push(from, to);
    }
  });
  return edges;
}
