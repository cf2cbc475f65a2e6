import type { Graph, Model, TensorRef } from './types.js';

/** Every tensor a model holds, in initializers and tensor attributes, subgraphs included. */
export function* allTensors(model: Model): Generator<TensorRef> {
  const visit = function* (g: Graph): Generator<TensorRef> {
    yield* g.initializers;
    for (const n of g.nodes) {
      for (const a of n.attributes) {
        if (a.data.type === 'graph') yield* visit(a.data.value);
        else if (a.data.type === 'graphs') for (const sub of a.data.value) yield* visit(sub);
        else if (a.data.type === 'tensor') yield a.data.value;
        else if (a.data.type === 'tensors') yield* a.data.value;
      }
    }
  };
  yield* visit(model.graph);
}

export function hasExternalData(model: Model): boolean {
  for (const t of allTensors(model)) if (t.storage === 'external') return true;
  return false;
}

/** The data files a model refers to (relative locations, each once). */
export function externalLocations(model: Model): string[] {
  const out = new Set<string>();
  for (const t of allTensors(model)) if (t.external) out.add(t.external.location);
  return [...out];
}
