import type { Graph, Node } from '../ir/types.js';

/** The dataflow between report layers (the HTML report's graph view draws it). */
export interface Dataflow {
  /** Producer → consumer pairs of layer indices, flat: `[from0, to0, from1, to1, …]`, each pair once. */
  edges: number[];
  /**
   * Layers of the main graph that read no activation: no input, or only weights and constants (a Constant, an
   * Identity of a weight, shape arithmetic on constants). Viewers draw them folded into the layer that reads them.
   */
  constant: number[];
}

interface LayerLike {
  name: string;
  /**
   * Enclosing body ('' for the main graph): `HOLDER/then_branch`, `HOLDER/else_branch` or `HOLDER/body` for an
   * If/Loop/Scan layer's body, `CALLER` for a model-local function's (shape/infer.ts names them so).
   */
  scope: string;
  node: Pick<Node, 'opType' | 'inputs' | 'outputs'>;
}

const SUBGRAPH_OPS = new Set(['If', 'Loop', 'Scan']);

/**
 * The layer whose body is `scope`, and whether that body sees the holder's tensors (an If/Loop/Scan body does; a
 * function body sees only its own inputs). undefined for the main graph, or a scope no layer holds.
 */
function holderOf(layers: readonly LayerLike[], byName: ReadonlyMap<string, number>, scope: string): { index: number; seesOuter: boolean } | undefined {
  const cut = scope.lastIndexOf('/');
  const control = cut > 0 ? byName.get(scope.slice(0, cut)) : undefined;
  if (control !== undefined && SUBGRAPH_OPS.has(layers[control].node.opType)) return { index: control, seesOuter: true };
  const caller = byName.get(scope);
  return caller !== undefined ? { index: caller, seesOuter: false } : undefined;
}

/**
 * An edge from the layer that writes a tensor to each layer that reads it. Graph inputs and weights have no
 * producing layer, so they add no edge. Tensor names are looked up in the reader's own body first, then in the
 * bodies around it: an If/Loop/Scan body sees its enclosing graph's tensors, a model-local function body only its
 * own (its inputs are bound to the caller's, whose layer has the edges).
 */
export function dataflow(layers: readonly LayerLike[], main: Pick<Graph, 'inputs' | 'initializers'>): Dataflow {
  const key = (scope: string, tensor: string) => `${scope}\u0000${tensor}`;
  const producer = new Map<string, number>();
  const byName = new Map<string, number>();
  layers.forEach((l, i) => {
    byName.set(l.name, i);
    for (const name of l.node.outputs) if (name && !producer.has(key(l.scope, name))) producer.set(key(l.scope, name), i);
  });
  const lookup = (scope: string, tensor: string): number | undefined => {
    for (let s: string | null = scope; s !== null; ) {
      const found = producer.get(key(s, tensor));
      if (found !== undefined) return found;
      if (s === '') return undefined;
      const holder = holderOf(layers, byName, s);
      s = holder?.seesOuter ? layers[holder.index].scope : null;
    }
    return undefined;
  };
  // Graph inputs that an initializer does not give a default: the activations the model is fed.
  const weights = new Set(main.initializers.map((t) => t.name));
  const inputs = new Set(main.inputs.map((v) => v.name).filter((n) => !weights.has(n)));
  const edges: number[] = [];
  const constant: number[] = [];
  layers.forEach((l, to) => {
    const seen = new Set<number>();
    let readsActivation = false;
    for (const name of l.node.inputs) {
      if (!name) continue;
      const from = lookup(l.scope, name);
      if (from === undefined) {
        if (inputs.has(name)) readsActivation = true;
        continue;
      }
      readsActivation = true;
      if (from === to || seen.has(from)) continue;
      seen.add(from);
      edges.push(from, to);
    }
    if (l.scope === '' && !readsActivation) constant.push(to);
  });
  // A layer that reads only constant layers is constant too (shape arithmetic on constants).
  const isConstant = new Set(constant);
  for (let k = 0; k < edges.length; ) {
    // Edges are in reader order: one pass settles chains whose producers come first.
    const to = edges[k + 1];
    let all = layers[to].scope === '' && !isConstant.has(to);
    let end = k;
    while (end < edges.length && edges[end + 1] === to) {
      if (!isConstant.has(edges[end])) all = false;
      end += 2;
    }
    if (all && !layers[to].node.inputs.some((n) => n && inputs.has(n))) isConstant.add(to);
    k = end;
  }
  return { edges, constant: [...isConstant].sort((a, b) => a - b) };
}

/** Which node of the main graph each layer is, or is inside (an If/Loop/Scan body, a model-local function). */
export interface MainGraphNodes {
  /** The main graph's name ('' when it has none). */
  graphName: string;
  /** Per main-graph node, in file order: its name ('' when it has none). */
  names: string[];
  /** Per layer: the index of its main-graph node, or -1 (a layer mbn made up, which no node holds). */
  nodeOf: number[];
}

export function mainGraphNodes(layers: readonly (LayerLike & { node: object })[], main: Pick<Graph, 'name' | 'nodes'>): MainGraphNodes {
  const index = new Map<object, number>(main.nodes.map((n, i) => [n, i]));
  const byName = new Map<string, number>();
  layers.forEach((l, i) => byName.set(l.name, i));
  const nodeOf = layers.map((l) => {
    let at: LayerLike & { node: object } = l;
    // Up through the bodies that hold the layer, to the main-graph layer whose node holds them all.
    for (let hops = 0; at.scope !== '' && hops < 1000; hops++) {
      const holder = holderOf(layers, byName, at.scope);
      if (holder === undefined) return -1;
      at = layers[holder.index];
    }
    return index.get(at.node) ?? -1;
  });
  return { graphName: main.name, names: main.nodes.map((n) => n.name), nodeOf };
}
