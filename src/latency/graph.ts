import { bytesFor, DataType } from '../onnx/dtype.js';
import { elements, type OpTraits, type TensorState } from '../ops/define.js';
import type { InferResult } from '../shape/infer.js';
import type { LayerRecord } from '../shape/types.js';

/**
 * What the latency code needs to know about each layer beyond the cost report: the tensor names it reads and
 * writes (to follow producers and consumers, and to match ONNX Runtime's renamed nodes) and the bytes it moves.
 * One entry per report layer, in the same order.
 */
export interface LayerLink {
  name: string;
  op: string;
  domain: string;
  scope: string;
  inputs: string[];
  outputs: string[];
  /** Bytes of every input read once (activations and weights); null when a shape is unknown. */
  inputBytes: number | null;
  /** Bytes of every output written once; null when a shape is unknown. */
  outputBytes: number | null;
  /** Input names that are weights (initializers or constants). */
  weightInputs: string[];
  /** What the layer is (a conv and its geometry, a matrix product…), from its op rule; null for other layers. */
  traits: OpTraits | null;
  /** Every output's value is known to mbn before run time (shape arithmetic on the shapes given, small constants). */
  folded: boolean;
  /**
   * ONNX Runtime computes the layer once, when it loads the model (its constant folding): it takes no time per
   * inference. A Constant node, a node whose inputs are all constants, and where the model declares every input
   * dim, what mbn folds too.
   */
  atLoad: boolean;
  /** Shape of each input (null when unknown or omitted). */
  inputShapes: (number[] | null)[];
  /** Shape of the first output (null when unknown). */
  outputShape: number[] | null;
  /** The first input is float32 (the only type ONNX Runtime's blocked-layout kernels take). */
  float32: boolean;
  /** ONNX data type of each input (0 when unknown or omitted): which 8-bit type a quantized weight is. */
  inputDtypes: number[];
  /** Integer and integer-list attributes (strides, pads, perm, axis, …), for the layout rules. */
  ints: Record<string, number[]>;
  /** String attributes (a Pad's mode, a conv's auto_pad), for the fusion rules. */
  strings: Record<string, string>;
  /** Each input's values where known before run time and small (a Pad's pads and constant value); else null. */
  inputValues: (number[] | null)[];
  /** An If: the values its counted branch takes from outside or holds as constants; null for other layers. */
  branchValues: number | null;
}

function stateBytes(states: (TensorState | null)[], names: string[]): number | null {
  let total = 0;
  for (let i = 0; i < names.length; i++) {
    if (!names[i]) continue;
    const s = states[i];
    if (!s?.shape || !s.dtype) return null;
    total += bytesFor(s.dtype, elements(s.shape));
  }
  return total;
}

/** Largest input whose values a link carries (a Pad's pads: 2 × rank). */
const SMALL_VALUE = 16;

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);
}

export function layerLinks(inferred: InferResult): LayerLink[] {
  // ORT optimizes the model as declared: where an input dim is symbolic, the shape arithmetic mbn folds (the
  // shapes fixed by --input) runs at every call, as Shape, Gather, Equal and If nodes; only constants fold.
  const symbolic = inferred.inputs.some((i) => i.declared?.some((d) => typeof d !== 'number'));
  return foldConstants(
    symbolic,
    inferred.layers.map((l) => {
    const weightNames = new Set(l.weights.map((w) => w.name));
    return {
      name: l.name,
      op: l.node.opType,
      domain: l.node.domain,
      scope: l.scope,
      inputs: l.node.inputs,
      outputs: l.node.outputs,
      inputBytes: stateBytes(l.inputs, l.node.inputs),
      outputBytes: stateBytes(l.outputs, l.node.outputs),
      weightInputs: l.node.inputs.filter((n) => weightNames.has(n)),
      traits: l.traits,
      folded: l.outputs.length > 0 && l.outputs.every((o) => o?.value !== undefined),
      atLoad: false,
      inputShapes: l.node.inputs.map((name, i) => (name ? (l.inputs[i]?.shape ?? null) : null)),
      outputShape: l.outputs[0]?.shape ?? null,
      float32: l.inputs[0]?.dtype === DataType.FLOAT,
      inputDtypes: l.node.inputs.map((name, i) => (name ? (l.inputs[i]?.dtype ?? 0) : 0)),
      ints: Object.fromEntries(
        l.node.attributes.flatMap((a) => (a.data.type === 'int' ? [[a.name, [a.data.value]]] : a.data.type === 'ints' ? [[a.name, a.data.value]] : [])),
      ),
      strings: Object.fromEntries(l.node.attributes.flatMap((a) => (a.data.type === 'string' ? [[a.name, textOf(a.data.value)]] : []))),
      inputValues: l.node.inputs.map((name, i) => (name && l.inputs[i]?.value && l.inputs[i]!.value!.length <= SMALL_VALUE ? l.inputs[i]!.value! : null)),
      branchValues: l.node.opType === 'If' && l.node.domain === '' ? countedBranchValues(l) : null,
    };
    }),
  );
}

/** Ops ORT's constant folding leaves in place: the quantize steps its QDQ fusions need, and random generators. */
const NOT_FOLDED = /^(QuantizeLinear|DequantizeLinear|Random.*|Multinomial|Bernoulli|If|Loop|Scan)$/;

/** A subgraph, as a node's graph attribute holds it. */
type Subgraph = Extract<LayerRecord['node']['attributes'][number]['data'], { type: 'graph' }>['value'];

/** An If's counted branch (its shape inference note says which), as branchFrameValues counts it; null without one. */
function countedBranchValues(l: LayerRecord): number | null {
  const note = l.notes.find((n) => n.code === 'if-constant-condition' || n.code === 'if-costlier-branch' || n.code === 'if-asked-branch');
  const branch = note && 'branch' in note ? l.node.attributes.find((a) => a.name === note.branch) : undefined;
  return branch?.data.type === 'graph' ? branchFrameValues(branch.data.value) : null;
}

/**
 * The values an If's branch has in the frame ONNX Runtime sets up for it on every run: those it takes from outside
 * (read anywhere in it, nested graphs included) and the constants it reads at run time (initializers, Constant
 * nodes and what ORT folds from them when it loads the model, as read by a node that is not folded). 50 Ifs whose
 * branches read 8 such values took 26 µs more than 50 reading one, whether the values came from outside or from
 * Constant nodes in the branch.
 */
export function branchFrameValues(g: Subgraph): number {
  const constant = new Set(g.initializers.map((t) => t.name));
  const read = new Set<string>();
  for (const n of g.nodes) {
    const given = n.inputs.filter((x) => x !== '');
    const folds = n.domain === '' && (n.opType === 'Constant' || (!NOT_FOLDED.test(n.opType) && given.length > 0 && given.every((x) => constant.has(x))));
    if (folds) {
      for (const o of n.outputs) constant.add(o);
      continue;
    }
    for (const x of given) if (constant.has(x)) read.add(x);
    for (const a of n.attributes) if (a.data.type === 'graph') for (const x of outerNames(a.data.value)) if (constant.has(x)) read.add(x);
  }
  return outerNames(g).size + read.size;
}

/** Names a graph reads that it neither takes as inputs nor makes (its nested graphs' included). */
function outerNames(g: Subgraph): Set<string> {
  const local = new Set([...g.inputs.map((i) => i.name), ...g.initializers.map((t) => t.name), ...g.nodes.flatMap((n) => n.outputs)]);
  const outer = new Set<string>();
  for (const n of g.nodes) {
    for (const x of n.inputs) if (x && !local.has(x)) outer.add(x);
    for (const a of n.attributes) if (a.data.type === 'graph') for (const x of outerNames(a.data.value)) if (!local.has(x)) outer.add(x);
  }
  return outer;
}

/**
 * ORT's constant folding, when it loads the model: a node whose inputs are all weights (initializers, Constants)
 * or outputs of folded nodes is computed once and becomes an initializer, however large (Silero VAD v6 slices and
 * concatenates its LSTM's 512 KB of weights that way on every call as exported, never when ORT runs it). With a
 * symbolic input dim (`symbolic`), that is all that folds: values mbn knows only from the shapes --input fixed are
 * computed at run time.
 */
function foldConstants(symbolic: boolean, links: LayerLink[]): LayerLink[] {
  const constant = new Set<string>();
  for (const l of links) {
    const given = l.inputs.filter((x) => x !== '');
    const computable = l.domain === '' && !NOT_FOLDED.test(l.op) && given.length > 0 && given.every((x) => l.weightInputs.includes(x) || constant.has(x));
    l.atLoad = (l.op === 'Constant' && l.domain === '') || computable || (!symbolic && l.folded);
    if (l.atLoad) for (const o of l.outputs) if (o) constant.add(o);
  }
  return links;
}
