import type { MainGraphNodes } from '../cost/dataflow.js';
import type { LatencyReport } from '../latency/model.js';
import type { LayerReport } from '../contract/analyze.js';

/**
 * `mbn analyze --format model-explorer`: per-node data for Google's Model Explorer node-data overlay ("Load node
 * data" in its side panel). The format is Model Explorer's `ModelNodeData` (google-ai-edge/model-explorer,
 * src/server/package/src/model_explorer/node_data_builder.py): one `GraphNodeData` per graph id,
 * `{graphId: {results: {nodeId: {value}}, gradient: [{stop, bgColor}]}}`, where gradient stop 0 is the smallest
 * value in `results` and 1 the largest (it takes precedence over `thresholds`, so mbn writes the gradient only).
 *
 * The ids are those of Model Explorer's ONNX adapter (justinchuby/model-explorer-onnx, main.py): the graph id is the
 * main graph's name, `<main>` when it has none; a node's id is its name, `<node_I>` (I its index in the graph) when
 * it has none. That adapter draws the main graph and model-local functions; If/Loop/Scan bodies are not drawn, so a
 * node that holds a body (or calls a function) carries the sum of every layer inside it. A function's own graph
 * gets no data: its nodes are shared by every call, and mbn's figures are per call.
 *
 * One figure per file, as the overlay shows one: predicted latency (ms) with --device, FLOPs with --flops, else
 * MACs. A node with a layer mbn could not count is left out (its figure is unknown, not 0).
 */

export type ExplorerFigure = 'macs' | 'flops' | 'latency';

/** Model Explorer's ModelNodeData, as its JSON. */
export type ModelNodeData = Record<string, { results: Record<string, { value: number }>; gradient: { stop: number; bgColor: string }[] }>;

/** White → amber → red: low cost fades into the graph, the costliest nodes stand out. */
const GRADIENT = [
  { stop: 0, bgColor: '#ffffff' },
  { stop: 0.5, bgColor: '#f5b041' },
  { stop: 1, bgColor: '#c0392b' },
];

function figureOf(l: LayerReport & { latencyMs?: number }, figure: ExplorerFigure): number {
  return figure === 'macs' ? l.macs : figure === 'flops' ? 2 * l.macs + l.otherFlops : (l.latencyMs ?? 0);
}

export function modelExplorerData(report: LatencyReport, nodes: MainGraphNodes, figure: ExplorerFigure): ModelNodeData {
  const sums = new Map<number, number>();
  const unknown = new Set<number>();
  report.layers.forEach((l, i) => {
    const node = nodes.nodeOf[i];
    if (node < 0) return;
    if (!l.counted) unknown.add(node);
    sums.set(node, (sums.get(node) ?? 0) + figureOf(l, figure));
  });
  const results: Record<string, { value: number }> = {};
  for (const [node, value] of [...sums].sort((a, b) => a[0] - b[0])) {
    if (unknown.has(node)) continue;
    results[nodes.names[node] || `<node_${node}>`] = { value };
  }
  return { [nodes.graphName || '<main>']: { results, gradient: GRADIENT } };
}

export function renderModelExplorer(report: LatencyReport, nodes: MainGraphNodes, figure: ExplorerFigure): string {
  return `${JSON.stringify(modelExplorerData(report, nodes, figure), null, 2)}\n`;
}
