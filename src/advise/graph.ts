import { convTraitsOf } from '../cost/separable.js';
import type { Graph, Model, Node } from '../ir/types.js';
import type { ConvTraits } from '../ops/define.js';
import { onnxOpType } from '../ops/index.js';
import type { InferResult, LayerRecord } from '../shape/infer.js';
import type { LayerReport, Report } from '../contract/analyze.js';
import type { StepName } from '../contract/messages.js';

/**
 * The main graph as the advice rules see it: who produces and who reads each tensor, which inputs are constants,
 * each node's inferred shapes and its line of the cost report, and the few walks the MobileNet patterns need
 * (through normalizations, activations and gates, the way torch and TF exporters spell them).
 */
export interface GraphLayer {
  node: Node;
  record: LayerRecord;
  report: LayerReport;
}

/** Pointwise non-linearities, as single ops. (Sigmoid is one too; as a gate it is told apart by its reader.) */
export const ACTIVATION_OPS = new Set([
  'Relu', 'Clip', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'HardSigmoid', 'HardSwish', 'Sigmoid',
  'Tanh', 'Softplus', 'Softsign', 'Gelu', 'Mish', 'Swish', 'SiLU', 'Silu', 'Relu6',
]);

/** Ops that carry a tensor through unchanged in structure: folded or not, these are not part of a pattern's shape. */
const PASS_OPS = new Set(['BatchNormalization', 'Identity', 'Dropout']);
const AFFINE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div']);

export type StepKind = 'norm' | 'affine' | 'activation' | 'gate';

/** One step along a main path: the nodes it covers (side branches included) and the tensor it ends at. */
export interface Step {
  kind: StepKind;
  /** What the step is: its op, or the pattern its ops make (a finding's words come from report/messages/advise.ts). */
  name: StepName;
  nodes: Node[];
  out: string;
}

export class AdviseGraph {
  readonly layers: GraphLayer[] = [];
  readonly byNode = new Map<Node, GraphLayer>();
  private readonly producers = new Map<string, Node>();
  /** Every conv layer's traits, subgraphs included. */
  private readonly convs = new Map<LayerReport, ConvTraits>();
  private readonly readers = new Map<string, Node[]>();
  private readonly constants = new Set<string>();
  private readonly graphOutputs: Set<string>;
  /** Layers whose shapes, and so MACs and FLOPs, may come from an input dim that nothing fixed (assumed 1). */
  private readonly assumedShapes = new Set<LayerReport>();
  /** The report's totals include no such layer. */
  readonly totalsKnown: boolean;

  constructor(
    readonly model: Model,
    private readonly inferred: InferResult,
    report: Report,
  ) {
    inferred.layers.forEach((record, i) => {
      const conv = convTraitsOf(record.traits);
      if (conv) this.convs.set(report.layers[i], conv);
      if (record.scope !== '') return;
      const layer = { node: record.node, record, report: report.layers[i] };
      this.layers.push(layer);
      this.byNode.set(record.node, layer);
    });
    for (const t of model.graph.initializers) this.constants.add(t.name);
    for (const n of model.graph.nodes) {
      for (const o of n.outputs) if (o) this.producers.set(o, n);
      for (const i of n.inputs) {
        if (!i) continue;
        const list = this.readers.get(i);
        if (list) list.push(n);
        else this.readers.set(i, [n]);
      }
      if (n.opType === 'Constant' && n.domain === '') for (const o of n.outputs) this.constants.add(o);
    }
    this.graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
    // A shape is worked out from its node's inputs and constants alone: a tensor computed from no input whose dim
    // was assumed (at any distance, through Shape too) has the same shape whatever that dim is. The batch dim set
    // to 1 is the per-sample convention, not an assumption (see Gap).
    const assumed = new Set(inferred.assumed.filter((a) => !a.batch).map((a) => a.input));
    this.totalsKnown = assumed.size === 0;
    if (assumed.size > 0) {
      const tainted = new Set(assumed);
      inferred.layers.forEach((record, i) => {
        // Subgraph layers: shapes that may come from their parent's reads as well; not told apart.
        const reads = record.scope === '' ? [...record.node.inputs, ...outerReads(record.node)] : null;
        if (reads === null || reads.some((name) => tainted.has(name))) {
          this.assumedShapes.add(report.layers[i]);
          if (reads !== null) for (const o of record.node.outputs) if (o) tainted.add(o);
        }
      });
    }
  }

  /** Whether a layer's MACs and FLOPs were counted on shapes that no assumed input dim decided. */
  figuresKnown(layer: LayerReport): boolean {
    return !this.assumedShapes.has(layer);
  }

  /** figuresKnown for a main-graph node (true for a node without a layer: it counts nothing). */
  nodeKnown(node: Node): boolean {
    const layer = this.byNode.get(node);
    return !layer || this.figuresKnown(layer.report);
  }

  producer(name: string): Node | undefined {
    return this.producers.get(name);
  }

  consumers(name: string): Node[] {
    return this.readers.get(name) ?? [];
  }

  isGraphOutput(name: string): boolean {
    return this.graphOutputs.has(name);
  }

  /** A tensor known before run time: an initializer, a Constant, or anything folded from them. */
  isConstant(name: string): boolean {
    return this.constants.has(name) || this.inferred.values.get(name)?.value !== undefined;
  }

  shape(name: string): number[] | null {
    return this.inferred.values.get(name)?.shape ?? null;
  }

  /** The inputs of a node that are computed at run time. */
  dynamicInputs(node: Node): string[] {
    return node.inputs.filter((i) => i !== '' && !this.isConstant(i));
  }

  layerName(node: Node): string {
    return this.byNode.get(node)?.report.name ?? node.name;
  }

  macs(node: Node): number {
    return this.byNode.get(node)?.report.macs ?? 0;
  }

  /** The MACs of these nodes, or null when one of them was counted on an assumed input dim. */
  knownMacs(nodes: readonly Node[]): number | null {
    return nodes.every((n) => this.nodeKnown(n)) ? nodes.reduce((s, n) => s + this.macs(n), 0) : null;
  }

  /**
   * The traits of a conv (any form, not transposed) whose output shape is known: the patterns and figures of the
   * rules are about forward convs, and quote the output's size.
   */
  conv(node: Node): ConvTraits | null {
    const t = convTraitsOf(this.byNode.get(node)?.record.traits);
    return t && !t.transposed && t.outSpatial !== null ? t : null;
  }

  /** The traits of a report layer that is a conv (any graph, any form), or null. */
  convOf(layer: LayerReport): ConvTraits | null {
    return this.convs.get(layer) ?? null;
  }

  /** A 1×1 conv with group 1: an expansion or a projection. */
  isPointwise(node: Node): boolean {
    const c = this.conv(node);
    return c !== null && c.geometry.pointwise && c.geometry.group === 1;
  }

  /** One filter group per input channel (depth multiplier allowed). */
  isDepthwise(node: Node): boolean {
    return this.conv(node)?.geometry.depthwise ?? false;
  }

  /** A conv's largest stride (1 for anything else). */
  stride(node: Node): number {
    const c = this.conv(node);
    return c ? Math.max(1, ...c.geometry.strides) : 1;
  }

  /**
   * The nodes between `from` (a tensor) and `to` (a tensor computed from it), walking back from `to` over
   * run-time inputs, at most `depth` nodes deep; null when `to` does not depend on `from` that closely.
   */
  between(from: string, to: string, depth = 12): Node[] | null {
    const found = new Set<Node>();
    // Memoized by name: a tensor seen with at least as many steps left has its answer already (diamonds such as
    // DenseNet's concatenations would otherwise be walked once per path).
    const seen = new Map<string, { left: number; hit: boolean }>();
    const visit = (name: string, left: number): boolean => {
      if (name === from) return true;
      const memo = seen.get(name);
      if (memo && memo.left >= left) return memo.hit;
      const p = this.producers.get(name);
      let hit = false;
      if (p && left > 0) {
        for (const i of this.dynamicInputs(p)) if (visit(i, left - 1)) hit = true;
        if (hit) found.add(p);
      }
      seen.set(name, { left, hit });
      return hit;
    };
    return visit(to, depth) ? [...found] : null;
  }

  /**
   * The step that follows tensor `t` on its main path, or null when the path ends (a conv, a join of two
   * independent tensors such as a residual Add, several readers that do not join again, a graph output).
   */
  next(t: string): Step | null {
    if (this.isGraphOutput(t)) return null;
    const readers = this.consumers(t);
    if (readers.length === 1) {
      const n = readers[0];
      const dynamic = this.dynamicInputs(n);
      if (dynamic.length !== 1 || dynamic[0] !== t || !n.outputs[0]) return null;
      const out = n.outputs[0];
      const op = opOf(n);
      if (PASS_OPS.has(op)) return { kind: 'norm', name: { op }, nodes: [n], out };
      if (ACTIVATION_OPS.has(op)) return { kind: 'activation', name: { op }, nodes: [n], out };
      if (AFFINE_OPS.has(op)) return { kind: 'affine', name: { op }, nodes: [n], out };
      return null;
    }
    // Several readers: x·f(x) (swish, hard-swish written out, squeeze-and-excite): a Mul of t and something
    // computed from t, with every other reader of t inside that computation.
    for (const j of readers) {
      const step = this.joinStep(t, j);
      if (step) return step;
    }
    return null;
  }

  private joinStep(t: string, j: Node): Step | null {
    if (opOf(j) !== 'Mul' || !j.outputs[0]) return null;
    const dynamic = this.dynamicInputs(j);
    if (dynamic.length !== 2 || !dynamic.includes(t)) return null;
    const other = dynamic[0] === t ? dynamic[1] : dynamic[0];
    if (other === t) return null;
    const side = this.between(t, other);
    if (!side) return null;
    const covered = new Set([...side, j]);
    if (!this.consumers(t).every((r) => covered.has(r))) return null;
    const nodes = [...side, j];
    const ts = this.shape(t);
    const gs = this.shape(other);
    const elementwise = ts !== null && gs !== null && ts.length === gs.length && ts.every((d, i) => d === gs[i]);
    if (!elementwise) return { kind: 'gate', name: { pattern: 'gate' }, nodes, out: j.outputs[0] };
    const ops = side.map(opOf);
    const name: StepName = ops.length === 1 && ops[0] === 'Sigmoid'
      ? { pattern: 'swish' }
      : ops.includes('HardSigmoid') || ops.includes('Clip') || ops.includes('Relu6')
        ? { pattern: 'hard-swish' }
        : { pattern: 'x-f-x', ops };
    return { kind: 'activation', name, nodes, out: j.outputs[0] };
  }

  /**
   * The step that produced tensor `t`, walking backwards, with the tensor it started from; null at a conv, a graph
   * input or any other op.
   */
  previous(t: string): { step: Step; from: string } | null {
    const p = this.producers.get(t);
    if (!p) return null;
    for (const x of this.dynamicInputs(p)) {
      const step = this.next(x);
      if (step && step.out === t) return { step, from: x };
    }
    return null;
  }
}

/** The ONNX op a node is (a TFLite LOGISTIC is a Sigmoid), else its own op type (custom domains, as they stand). */
export function opOf(node: Node): string {
  return onnxOpType(node) ?? node.opType;
}

/** Names that a node's If/Loop/Scan bodies read (from this graph or their own: a superset of what they take from outside). */
function outerReads(node: Node): string[] {
  const names: string[] = [];
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      for (const i of n.inputs) if (i) names.push(i);
      for (const a of n.attributes) {
        if (a.data.type === 'graph') visit(a.data.value);
        else if (a.data.type === 'graphs') a.data.value.forEach(visit);
      }
    }
  };
  for (const a of node.attributes) {
    if (a.data.type === 'graph') visit(a.data.value);
    else if (a.data.type === 'graphs') a.data.value.forEach(visit);
  }
  return names;
}
