import { type Attribute, type Model, type Node, type TensorRef, attr } from '../ir/types.js';
import { smallTensorValues } from '../onnx/tensor-data.js';
import { type OpTraits, type RuleContext, type TensorState, UnknownShape } from '../ops/define.js';
import type { LayerNote } from '../contract/messages.js';

const decoder = new TextDecoder();

/** A rule's view of one node. A class, not closures: it is made once per node, and large graphs have many. */
export class NodeContext implements RuleContext {
  constructor(
    /** Where Constant tensors' values are read from; null when there is no model (rules driven directly). */
    private readonly model: Model | null,
    readonly node: Node,
    readonly opset: number,
    readonly inputs: (TensorState | null)[],
    private readonly notes: LayerNote[],
    /** The traits of the node that produces a value, by name (none known when absent). */
    private readonly producers: ((name: string) => OpTraits | null) | null = null,
  ) {}
  input(i: number): TensorState {
    const s = this.inputs[i];
    if (!s) throw new UnknownShape();
    return s;
  }
  shape(i: number): number[] {
    const s = this.inputs[i];
    if (!s || !s.shape) throw new UnknownShape();
    return s.shape;
  }
  values(i: number): number[] {
    const s = this.inputs[i];
    if (!s) throw new UnknownShape();
    if (!s.value) throw new UnknownShape(`the value of input ${i} is only known at run time`);
    return s.value;
  }
  has(i: number): boolean {
    return i < this.node.inputs.length && this.node.inputs[i] !== '';
  }
  attribute(name: string): Attribute | undefined {
    return attr(this.node, name);
  }
  int(name: string, fallback: number): number {
    const a = attr(this.node, name);
    return a && a.data.type === 'int' ? a.data.value : fallback;
  }
  ints(name: string, fallback: number[]): number[] {
    const a = attr(this.node, name);
    return a && a.data.type === 'ints' ? a.data.value : fallback;
  }
  intsOrNull(name: string): number[] | null {
    const a = attr(this.node, name);
    return a && a.data.type === 'ints' ? a.data.value : null;
  }
  float(name: string, fallback: number): number {
    const a = attr(this.node, name);
    return a && a.data.type === 'float' ? a.data.value : fallback;
  }
  floats(name: string, fallback: number[]): number[] {
    const a = attr(this.node, name);
    return a && a.data.type === 'floats' ? a.data.value : fallback;
  }
  string(name: string, fallback: string): string {
    const a = attr(this.node, name);
    return a && a.data.type === 'string' ? decoder.decode(a.data.value) : fallback;
  }
  tensorValues(t: TensorRef): number[] | undefined {
    return this.model ? smallTensorValues(this.model, t) : undefined;
  }
  note(message: LayerNote): void {
    this.notes.push(message);
  }
  producerTraits(i: number): OpTraits | null {
    const name = i >= 0 ? this.node.inputs[i] : undefined;
    return name && this.producers ? this.producers(name) : null;
  }
}
