import { MbnError, quote } from '../errors.js';
import { type Attribute, type FunctionDef, type Graph, type Model, type Node, type TensorRef, attr } from '../ir/types.js';
import { dtypeName, isFloat } from '../onnx/dtype.js';
import { smallTensorValues, valueLimit } from '../onnx/tensor-data.js';
import { type OpRule, type OpTraits, ShapeError, type TensorState, UnknownShape, totalFlops } from '../ops/define.js';
import { ruleFor } from '../ops/index.js';
import { CountOverflow, checkCount, product } from '../util/count.js';
import { NodeContext } from './node-context.js';
import { sharedCost, sharedList, sharedState } from './share.js';
import { topologicalOrder } from './topological-order.js';
import { type SubgraphWalk, isControlFlow, walkControlFlow } from './control-flow.js';
import { Scope, UNKNOWN } from './scope.js';
import type { AssumedDim, IfBranch, InferOptions, InferResult, LayerRecord, WeightUse } from './types.js';
import type { LayerNote, ModelNote } from '../contract/messages.js';

export type { AssumedDim, InferOptions, InferResult, LayerRecord, ResolvedInput, WeightUse } from './types.js';

/**
 * Shape inference over the layer IR. Graph inputs get concrete dims first (from --input, --batch, or 1 with a note
 * for a symbolic dim nobody fixed); every node's rule then computes concrete output shapes, and small constant
 * tensors carry their values so that shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) folds.
 * Subgraphs (If/Loop/Scan: src/shape/control-flow.ts) and model-local functions are walked in place; their layers carry a path and a
 * multiplier (how many times they run per inference).
 */

/** Shared by the many layers that read no weights (never pushed to). */
const NO_WEIGHTS: WeightUse[] = [];
/** A record's outputs until its layer is done (frozen: never added to). */
const NO_STATES = Object.freeze([]) as unknown as (TensorState | null)[];
/** Shared by the many layers without notes (frozen: a note is never added to it). */
const NO_NOTES = Object.freeze([]) as unknown as LayerNote[];

export function inferModel(model: Model, options: InferOptions = {}): InferResult {
  return new Inference(model, options).run();
}

class Inference implements SubgraphWalk {
  readonly layers: LayerRecord[] = [];
  private readonly notes: ModelNote[] = [];
  private readonly assumed: AssumedDim[] = [];
  private readonly symbols = new Map<string, number>();
  /** Symbols set to 1 because nothing fixed them, and whether that was at a batch (first) dim. */
  private readonly assumedSymbols = new Map<string, boolean>();
  private readonly functions = new Map<string, FunctionDef>();
  private expansionDepth = 0;
  /** The Ifs --if-branch named that the walk met. */
  private readonly askedIfs = new Set<string>();
  /** Where a layer's input and output states are gathered before they become a list of its own or a shared one. */
  private readonly states: (TensorState | null)[] = [];

  constructor(
    private readonly model: Model,
    private readonly options: InferOptions,
  ) {
    for (const fn of model.functions) this.functions.set(`${fn.domain}::${fn.name}`, fn);
  }

  run(): InferResult {
    const graph = this.model.graph;
    const scope = new Scope(null);
    const initNames = new Set(graph.initializers.map((t) => t.name));
    for (const [flag, names] of [[this.options.inputOrigin ?? '--input', this.options.inputShapes?.keys()], ['--input-value', this.options.inputValues?.keys()]] as const) {
      for (const name of names ?? []) {
        if (!graph.inputs.some((i) => i.name === name)) {
          throw new MbnError('usage', `${flag} names ${quote(name)}, which is not a graph input (inputs: ${graph.inputs.filter((i) => !initNames.has(i.name)).map((i) => i.name).join(', ') || 'none'})`);
        }
      }
    }
    // --batch names the symbol of every input's first dim, whatever order the inputs come in.
    if (this.options.batch !== undefined) {
      for (const input of graph.inputs) {
        const first = input.type?.shape?.[0];
        if (typeof first === 'string' && !initNames.has(input.name)) this.symbols.set(first, this.options.batch);
      }
    }
    const inputs: InferResult['inputs'] = [];
    for (const input of graph.inputs) {
      if (initNames.has(input.name)) continue;
      const declared = input.type?.shape ?? null;
      const state = this.resolveInput(input.name, input.type?.elemType ?? 0, declared);
      this.knownValue(input.name, state);
      scope.values.set(input.name, state);
      inputs.push({ name: input.name, dtype: state.dtype, shape: state.shape, declared: declared ? declared.slice() : null });
    }
    this.addInitializers(graph, scope);
    this.walkGraph(graph, scope, '', 1, this.model.opsetImports, true);
    for (const name of this.options.ifBranches?.keys() ?? []) {
      if (this.askedIfs.has(name)) continue;
      const ifs = this.layers.filter((l) => isControlFlow(l.node) && /^(If|IF)$/.test(l.node.opType)).map((l) => l.name);
      const some = ifs.length === 0 ? 'it has none' : `it has ${ifs.length}: ${ifs.slice(0, 3).join(', ')}${ifs.length > 3 ? ', …' : ''}`;
      throw new MbnError('usage', `--if-branch names ${quote(name)}, which is not an If layer of this model (${some})`);
    }
    const outputs = graph.outputs.map((o) => ({ name: o.name, state: scope.get(o.name) ?? null }));
    return { layers: this.layers, values: scope.values, inputs, assumed: this.assumed, outputs, notes: this.notes };
  }

  /**
   * --input-value: the input becomes a known constant (every element the given value), so that shape arithmetic
   * and If conditions that read it fold. An input without a shape is a scalar.
   */
  private knownValue(name: string, state: TensorState): void {
    const value = this.options.inputValues?.get(name);
    if (value === undefined) return;
    const integer = !isFloat(state.dtype);
    if (integer && !Number.isInteger(value)) {
      throw new MbnError('usage', `--input-value ${name}=${value}: input ${quote(name)} is ${dtypeName(state.dtype)}, so the value must be an integer`);
    }
    if (!state.shape) state.shape = [];
    const count = state.shape.reduce((a, b) => a * b, 1);
    if (count > valueLimit(state.dtype)) {
      this.notes.push({ code: 'input-value-too-large', input: name, value, elements: count });
      return;
    }
    state.value = new Array<number>(count).fill(value);
  }

  /** "--input x:1x3x224x224" (or the config's "input"), short enough for one line whatever the rank. */
  private givenText(name: string, given: number[]): string {
    const dims = given.length > 16 ? `${given.slice(0, 16).join('x')}x…` : given.join('x');
    return `${this.options.inputOrigin ?? '--input'} ${quote(name).slice(1, -1)}:${dims}`;
  }

  private resolveInput(name: string, dtype: number, declared: (number | string | null)[] | null): TensorState {
    const given = this.options.inputShapes?.get(name);
    if (given) {
      if (declared && declared.length !== given.length) {
        throw new MbnError('usage', `${this.givenText(name, given)} has rank ${given.length}, but the model declares rank ${declared.length}`);
      }
      declared?.forEach((d, i) => {
        if (typeof d === 'number' && d !== given[i]) {
          throw new MbnError('usage', `${this.givenText(name, given)} sets dim ${i} to ${given[i]}, but the model fixes it at ${d}`);
        }
        if (typeof d === 'string') {
          this.symbols.set(d, given[i]);
          this.assumedSymbols.delete(d);
        }
      });
      return { dtype, shape: checkedShape(given, name) };
    }
    if (!declared) {
      this.notes.push({ code: 'input-shape-undeclared', input: name });
      return { dtype, shape: null };
    }
    const shape = declared.map((d, i) => {
      if (typeof d === 'number' && d >= 0) return d;
      if (typeof d === 'string' && this.symbols.has(d)) {
        // A symbol another input left unfixed is assumed here too (a batch symbol stays the batch convention).
        const batch = this.assumedSymbols.get(d);
        if (batch !== undefined) this.assumed.push({ input: name, dim: i, name: d, value: this.symbols.get(d)!, batch });
        return this.symbols.get(d)!;
      }
      if (i === 0 && this.options.batch !== undefined) {
        if (typeof d === 'string') this.symbols.set(d, this.options.batch);
        return this.options.batch;
      }
      this.notes.push({ code: 'input-dim-assumed', input: name, dim: i, name: typeof d === 'string' ? d : null, value: 1, example: inputExample(declared) });
      this.assumed.push({ input: name, dim: i, name: typeof d === 'string' ? d : null, value: 1, batch: i === 0 });
      if (typeof d === 'string') {
        this.symbols.set(d, 1);
        this.assumedSymbols.set(d, i === 0);
      }
      return 1;
    });
    return { dtype, shape: checkedShape(shape, name) };
  }

  private addInitializers(graph: Graph, scope: Scope): void {
    for (const t of graph.initializers) {
      if (scope.values.has(t.name) && !graph.inputs.some((i) => i.name === t.name)) {
        throw new MbnError('invalid-model', `initializer ${quote(t.name)} has the same name as a graph input`);
      }
      scope.values.set(t.name, this.tensorState(t));
      scope.weights.set(t.name, weightOf(t, t.name));
    }
    for (const name of graph.sparseInitializerNames) scope.values.set(name, UNKNOWN);
  }

  private tensorState(t: TensorRef): TensorState {
    const state: TensorState = { dtype: t.dtype, shape: t.dims.slice() };
    const value = smallTensorValues(this.model, t);
    if (value) state.value = value;
    return state;
  }

  /** Declared shapes of a graph's values, for values no rule can infer. */
  private declare(graph: Graph, scope: Scope): void {
    for (const v of [...graph.valueInfo, ...graph.outputs]) {
      if (v.type?.kind !== 'tensor') continue;
      scope.declared.set(v.name, v.type.shape);
      if (v.type.elemType) scope.declaredTypes.set(v.name, v.type.elemType);
    }
  }

  private declaredState(scope: Scope, name: string, dtype: number): TensorState | null {
    for (let s: Scope | null = scope; s; s = s.parent) {
      if (!s.declared.has(name)) continue;
      const shape = s.declared.get(name);
      const type = dtype || (s.declaredTypes.get(name) ?? 0);
      // A declared type without a usable shape still tells the element type.
      if (!shape) return type ? { dtype: type, shape: null } : null;
      const dims: number[] = [];
      for (const d of shape) {
        if (typeof d === 'number' && d >= 0) dims.push(d);
        else if (typeof d === 'string' && this.symbols.has(d)) dims.push(this.symbols.get(d)!);
        else return type ? { dtype: type, shape: null } : null;
      }
      return { dtype: type, shape: dims };
    }
    return null;
  }

  askedBranch(name: string): IfBranch | undefined {
    const asked = this.options.ifBranches?.get(name);
    if (asked) this.askedIfs.add(name);
    return asked;
  }

  walkSubgraph(graph: Graph, scope: Scope, prefix: string, multiplier: number, opsets: Map<string, number>): void {
    this.addInitializers(graph, scope);
    this.walkGraph(graph, scope, prefix, multiplier, opsets, false);
  }

  private walkGraph(graph: Graph, scope: Scope, prefix: string, multiplier: number, opsets: Map<string, number>, main: boolean): void {
    this.declare(graph, scope);
    // Exporters write nodes in topological order: walk them as they stand, and only when a node reads a value that
    // is not there yet undo the walk and sort (which also names a dangling input or a cycle precisely).
    const mark = this.layers.length;
    let inOrder = true;
    for (let index = 0; index < graph.nodes.length && inOrder; index++) {
      const node = graph.nodes[index];
      for (const input of node.inputs) {
        if (input && scope.get(input) === undefined) inOrder = false;
      }
      if (inOrder) this.visitNode(node, index, scope, prefix, multiplier, opsets);
    }
    if (inOrder) return;
    this.layers.length = mark;
    for (const node of graph.nodes) {
      for (const o of node.outputs) {
        scope.values.delete(o);
        scope.weights.delete(o);
      }
    }
    for (const index of topologicalOrder(graph.nodes, scope, main)) {
      this.visitNode(graph.nodes[index], index, scope, prefix, multiplier, opsets);
    }
  }

  private visitNode(node: Node, index: number, scope: Scope, prefix: string, multiplier: number, opsets: Map<string, number>): void {
    const name = `${prefix}${node.name || `${node.opType}_${index}`}`;
    const rule = ruleFor(node.domain, node.opType);
    const fn = this.functions.size > 0 ? this.functions.get(`${node.domain}::${node.opType}`) : undefined;
    if (fn && !rule) {
      this.expandFunction(node, fn, scope, name, multiplier);
      return;
    }
    const opset = opsets.get(node.domain) ?? (node.domain === '' ? opsets.get('ai.onnx') ?? 0 : 0);
    // A chain's layer reads what the layer before it made: one list for both (src/shape/share.ts).
    const previous = this.layers.length > 0 ? this.layers[this.layers.length - 1] : undefined;
    const states = this.states;
    states.length = 0;
    for (const n of node.inputs) states.push(n === '' ? null : (scope.get(n) ?? null));
    const inputs = sharedList(states, previous?.outputs);
    let weights = NO_WEIGHTS;
    let weightAt: (WeightUse | null)[] | undefined;
    node.inputs.forEach((n, i) => {
      const w = n ? scope.weight(n) : undefined;
      if (!w) return;
      (weightAt ??= new Array<WeightUse | null>(node.inputs.length).fill(null))[i] = w;
      if (weights.includes(w)) return;
      if (weights === NO_WEIGHTS) weights = [];
      weights.push(w);
    });
    // An Identity of a weight is no layer of its own: the weight goes to whoever reads the Identity's output.
    const passedOn = node.opType === 'Identity' && node.domain === '' && weights.length === 1 && node.outputs[0] ? weights[0] : null;
    if (passedOn) {
      weights = NO_WEIGHTS;
      weightAt = undefined;
    }
    // Lists made apart from the record: V8 allocates a literal's nested lists with it, in the old generation once
    // records are found to live long, and these are mostly replaced (by shared lists) as soon as the layer is done.
    const notes: LayerNote[] = [];
    const record: LayerRecord = {
      name,
      node,
      opset,
      inputs,
      outputs: NO_STATES,
      cost: null,
      reason: null,
      multiplier,
      notes,
      weights,
      weightAt,
      scope: prefix.endsWith('/') ? prefix.slice(0, -1) : prefix,
      traits: null,
    };
    this.layers.push(record);
    if (passedOn) scope.weights.set(node.outputs[0], { ...passedOn, name: node.outputs[0], viaIdentity: true });
    if (isControlFlow(node)) {
      walkControlFlow(this, record, scope, name, multiplier, opsets);
      this.store(record, scope);
      return;
    }
    const ctx = new NodeContext(this.model, node, opset, inputs, record.notes, (n) => scope.producerTraits(n));
    let outputs: (TensorState | null)[] = [];
    if (!rule) {
      record.reason = { code: 'no-rule', op: node.opType, domain: node.domain };
    } else {
      try {
        outputs = rule.infer(ctx);
        for (const o of outputs) if (o?.shape) product(o.shape, 'the element count of its output, shape');
      } catch (error) {
        if (error instanceof CountOverflow) throw error.at(layerLabel(record));
        if (error instanceof UnknownShape) record.reason = error.message ? { code: 'shape-unknown', detail: error.message } : { code: 'input-shape-unknown' };
        else if (error instanceof ShapeError) record.reason = { code: 'shape-invalid', detail: error.message };
        else if (error instanceof MbnError) throw error;
        else record.reason = { code: 'shape-rule-failed', detail: (error as Error).message };
        outputs = [];
      }
    }
    states.length = 0;
    for (let i = 0; i < node.outputs.length; i++) {
      const o = node.outputs[i];
      const inferred = outputs[i];
      const state = inferred && inferred.shape ? inferred : !o ? null : (this.declaredState(scope, o, inferred?.dtype ?? 0) ?? inferred ?? null);
      states.push(sharedState(state, inputs));
    }
    record.outputs = sharedList(states, inputs, previous?.outputs);
    if (rule && !record.reason) {
      const needed = record.outputs.slice(0, Math.max(1, outputs.length));
      if (needed.every((s) => s && s.shape)) {
        try {
          record.cost = rule.cost(ctx, record.outputs as TensorState[]);
        } catch (error) {
          if (error instanceof CountOverflow) throw error.at(layerLabel(record));
          if (error instanceof MbnError) throw error;
          record.reason = error instanceof UnknownShape ? { code: 'input-shape-unknown' } : { code: 'cost-rule-failed', detail: (error as Error).message };
        }
      } else {
        record.reason = { code: 'output-shape-unknown' };
      }
    }
    if (record.cost) {
      // Per inference, as reported: one execution's cost times the executions (loops multiply).
      checkCount(record.cost.macs * multiplier, `${layerLabel(record)}: its MAC count`);
      checkCount(totalFlops(record.cost.macs, record.cost.flops) * multiplier, `${layerLabel(record)}: its FLOP count (2·MACs + other)`);
    }
    if (record.cost && !Number.isFinite(record.cost.macs + record.cost.flops)) {
      record.cost = null;
      record.reason = { code: 'cost-overflows' };
    }
    if (rule?.traits) {
      record.traits = traitsOf(rule, ctx, record.outputs);
      if (record.traits) for (const o of node.outputs) if (o) scope.traits.set(o, record.traits);
    }
    if (record.notes.length === 0) record.notes = NO_NOTES;
    record.cost = sharedCost(record.cost, previous?.cost);
    if (node.opType === 'Constant' && node.domain === '') this.constantWeight(node, scope);
    this.store(record, scope);
  }

  private store(record: LayerRecord, scope: Scope): void {
    const outputs = record.node.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i];
      if (!o) continue;
      if (scope.values.has(o)) {
        throw new MbnError('invalid-model', `value ${quote(o)} is produced more than once (again by node ${quote(record.node.name || record.node.opType)})`);
      }
      scope.values.set(o, record.outputs[i] ?? UNKNOWN);
    }
  }

  /**
   * A Constant feeding a layer is a weight of its first consumer (weight bytes; parameters when floating point) —
   * unless it holds a single element: exporters emit those for op settings (Clip bounds, scale factors).
   */
  private constantWeight(node: Node, scope: Scope): void {
    const a = attr(node, 'value');
    if (!a || a.data.type !== 'tensor' || !node.outputs[0]) return;
    const weight = weightOf(a.data.value, node.outputs[0]);
    if (weight.elements > 1) scope.weights.set(node.outputs[0], weight);
  }

  private expandFunction(call: Node, fn: FunctionDef, scope: Scope, name: string, multiplier: number): void {
    if (this.expansionDepth > 32) throw new MbnError('unsupported', `function ${quote(fn.name)} expands recursively`);
    this.expansionDepth++;
    const sub = new Scope(null);
    // Functions see only their own inputs; bind them to the caller's states under the function's names.
    fn.inputs.forEach((input, i) => {
      const outer = call.inputs[i] ? scope.get(call.inputs[i]) : undefined;
      sub.values.set(input, outer ?? UNKNOWN);
      const w = call.inputs[i] ? scope.weight(call.inputs[i]) : undefined;
      if (w) sub.weights.set(input, w);
    });
    const attrs = new Map<string, Attribute>();
    for (const a of fn.attributeDefaults) attrs.set(a.name, a);
    for (const a of call.attributes) attrs.set(a.name, a);
    const nodes = fn.nodes.map((n) => ({
      ...n,
      attributes: n.attributes.flatMap((a) => {
        if (!a.refAttrName) return [a];
        const bound = attrs.get(a.refAttrName);
        return bound ? [{ ...bound, name: a.name, refAttrName: null }] : [];
      }),
    }));
    const body: Graph = {
      name: fn.name,
      nodes,
      initializers: [],
      sparseInitializerNames: [],
      inputs: [],
      outputs: [],
      valueInfo: [],
      span: fn.span,
    };
    const opsets = fn.opsetImports.size ? fn.opsetImports : this.model.opsetImports;
    this.walkGraph(body, sub, `${name}/`, multiplier, opsets, false);
    this.expansionDepth--;
    const record: LayerRecord = {
      name,
      node: call,
      opset: 0,
      inputs: call.inputs.map((n) => (n ? (scope.get(n) ?? null) : null)),
      outputs: fn.outputs.map((o) => sub.get(o) ?? null),
      cost: { macs: 0, flops: 0 },
      reason: null,
      multiplier,
      notes: [{ code: 'function-expanded', domain: fn.domain, function: fn.name }],
      weights: [],
      scope: '',
      traits: null,
    };
    this.layers.push(record);
    this.store(record, scope);
  }
}

/**
 * The dims a note suggests for --input, in the model's own order (an NHWC or RGBA input from TensorFlow stays
 * 1xHxWx4, not 1x3xHxW): fixed dims as they are, N for the batch, the others by their name or D<index>.
 */
function inputExample(declared: readonly (number | string | null)[]): (number | string)[] {
  return declared.map((d, i) => {
    if (typeof d === 'number' && d >= 0) return d;
    if (i === 0) return 'N';
    return typeof d === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,11}$/.test(d) ? d : `D${i}`;
  });
}

/** A rule's traits for a node: null when it has none, or when what they need (a weight's dims) is unknown or invalid. */
function traitsOf(rule: OpRule, ctx: NodeContext, outputs: readonly (TensorState | null)[]): OpTraits | null {
  try {
    return rule.traits?.(ctx, outputs) ?? null;
  } catch (error) {
    if (error instanceof ShapeError || error instanceof UnknownShape) return null;
    throw error;
  }
}

/**
 * The traits of a layer's node with some input states replaced: what `mbn separate` asks of a conv whose weight's
 * dims it read from the tensor itself. Null when the node has no rule or no traits.
 */
export function layerTraits(model: Model, layer: LayerRecord, inputs: (TensorState | null)[]): OpTraits | null {
  const rule = ruleFor(layer.node.domain, layer.node.opType);
  return rule ? traitsOf(rule, new NodeContext(model, layer.node, layer.opset, inputs, []), layer.outputs) : null;
}

function weightOf(t: TensorRef, name: string): WeightUse {
  return { key: t, name, dtype: t.dtype, elements: product(t.dims, `the element count of tensor ${quote(name)}, dims`) };
}

function layerLabel(record: LayerRecord): string {
  return `layer ${quote(record.name)} (${record.node.opType})`;
}

/** A graph input's resolved shape (declared, --input, --batch), refused when its element count passes 2^53. */
function checkedShape(shape: number[], input: string): number[] {
  product(shape, `the element count of input ${quote(input)}, shape`);
  return shape;
}
