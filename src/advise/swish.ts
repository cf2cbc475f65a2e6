import type { Graph, Node } from '../ir/types.js';
import { onnxOpType } from '../ops/index.js';

/**
 * The sigmoid patterns of MobileNetV3's §5.2 (Howard et al., ICCV 2019), over one graph's nodes: swish written as
 * Mul(x, Sigmoid(x)) (torch's SiLU export), swish as one op (Swish, SiLU: a newer opset or a custom domain), and
 * sigmoid gates Mul(y, Sigmoid(g)) as squeeze-and-excite uses them. Shared by `mbn advise` and `mbn rewrite`.
 */
export interface SwishMatch {
  x: string;
  sigmoid: Node;
  /** The Mul nodes computing x·σ(x) (one in exported models); they are the only readers of σ(x). */
  muls: Node[];
}

export interface GateMatch {
  sigmoid: Node;
  /** The Mul nodes scaling a tensor by the gate. */
  muls: Node[];
}

export interface SigmoidPatterns {
  swish: SwishMatch[];
  gates: GateMatch[];
  /** Swish as a single op, in any domain. */
  swishOps: Node[];
}

export const SWISH_OPS = new Set(['Swish', 'SiLU', 'Silu']);

export function findSigmoidPatterns(graph: Graph): SigmoidPatterns {
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of new Set(n.inputs)) {
      if (!i) continue;
      const list = readers.get(i);
      if (list) list.push(n);
      else readers.set(i, [n]);
    }
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // Names an If/Loop/Scan body reads from this graph: a Sigmoid output read there must stay.
  for (const name of subgraphReads(graph)) outputs.add(name);
  const out: SigmoidPatterns = { swish: [], gates: [], swishOps: [] };
  for (const n of graph.nodes) {
    if (SWISH_OPS.has(n.opType)) {
      out.swishOps.push(n);
      continue;
    }
    if (onnxOpType(n) !== 'Sigmoid' || !n.inputs[0] || !n.outputs[0]) continue;
    const x = n.inputs[0];
    const s = n.outputs[0];
    const muls = (readers.get(s) ?? []).filter((r) => onnxOpType(r) === 'Mul' && r.inputs.length === 2 && r.inputs.includes(s));
    if (muls.length === 0) continue;
    const swishMuls = muls.filter((m) => m.inputs.includes(x) && x !== s);
    const allReaders = readers.get(s) ?? [];
    if (swishMuls.length > 0 && swishMuls.length === allReaders.length && !outputs.has(s)) {
      out.swish.push({ x, sigmoid: n, muls: swishMuls });
    } else if (swishMuls.length === 0) {
      out.gates.push({ sigmoid: n, muls });
    }
  }
  return out;
}

function subgraphReads(graph: Graph): Set<string> {
  const names = new Set<string>();
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      if (g !== graph) for (const i of n.inputs) if (i) names.add(i);
      for (const a of n.attributes) {
        if (a.data.type === 'graph') visit(a.data.value);
        else if (a.data.type === 'graphs') a.data.value.forEach(visit);
      }
    }
  };
  visit(graph);
  return names;
}
