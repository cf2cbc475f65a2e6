import { MbnError, quote } from '../errors.js';
import type { Node } from '../ir/types.js';

/** What the order needs of the scope a graph is walked in: its own values, and every name visible from it. */
export interface ValueScope {
  readonly values: { has(name: string): boolean };
  knows(name: string): boolean;
}

/**
 * Kahn's algorithm over the nodes, keeping file order where it is already valid. A value no node, input or
 * initializer provides, a value produced twice, or a cycle is an invalid model.
 */
export function topologicalOrder(nodes: Node[], scope: ValueScope, main: boolean): number[] {
  const producer = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    for (const o of n.outputs) {
      if (!o) continue;
      if (producer.has(o) || (main && scope.values.has(o))) {
        throw new MbnError('invalid-model', `value ${quote(o)} is produced more than once (again by node ${quote(n.name || n.opType)})`);
      }
      producer.set(o, i);
    }
  }
  // Edges producer → consumer, deduplicated per consumer; `sorted` stays true while file order is already valid.
  const from: number[] = [];
  const to: number[] = [];
  let sorted = true;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    const first = from.length;
    for (const input of n.inputs) {
      if (!input) continue;
      const p = producer.get(input);
      if (p === undefined) {
        if (!scope.knows(input)) {
          throw new MbnError('invalid-model', `node ${quote(n.name || n.opType)} reads ${quote(input)}, which no node, input or initializer provides`);
        }
        continue;
      }
      if (p === i) throw new MbnError('invalid-model', `graph has a cycle: node ${quote(n.name || n.opType)} reads its own output ${quote(input)}`);
      let duplicate = false;
      for (let k = first; k < from.length; k++) if (from[k] === p) duplicate = true;
      if (duplicate) continue;
      from.push(p);
      to.push(i);
      if (p > i) sorted = false;
    }
  }
  const order = new Array<number>(nodes.length);
  if (sorted) {
    // The usual case: exporters write nodes in topological order.
    for (let i = 0; i < nodes.length; i++) order[i] = i;
    return order;
  }
  const waiting = new Int32Array(nodes.length);
  const start = new Int32Array(nodes.length + 1);
  for (let e = 0; e < from.length; e++) {
    waiting[to[e]]++;
    start[from[e] + 1]++;
  }
  for (let i = 0; i < nodes.length; i++) start[i + 1] += start[i];
  const consumers = new Int32Array(from.length);
  const fill = start.slice(0, nodes.length);
  for (let e = 0; e < from.length; e++) consumers[fill[from[e]]++] = to[e];
  // Kahn's algorithm; a min-heap on index keeps file order wherever it is valid.
  const heap = new MinHeap([]);
  for (let i = 0; i < nodes.length; i++) if (waiting[i] === 0) heap.push(i);
  let count = 0;
  while (heap.size > 0) {
    const i = heap.pop();
    order[count++] = i;
    for (let k = start[i]; k < start[i + 1]; k++) if (--waiting[consumers[k]] === 0) heap.push(consumers[k]);
  }
  if (count !== nodes.length) {
    const stuck = nodes.findIndex((_, i) => waiting[i] > 0);
    throw new MbnError('invalid-model', `graph has a cycle through node ${quote(nodes[stuck].name || nodes[stuck].opType)}`);
  }
  return order;
}

class MinHeap {
  private readonly items: number[] = [];
  constructor(initial: number[]) {
    for (const x of initial) this.push(x);
  }
  get size(): number {
    return this.items.length;
  }
  push(x: number): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= a[i]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
