import type { Graph, Model, Node } from '../ir/types.js';
import { hasExternalData } from '../ir/walk.js';
import { type NewAttribute, encodeNodeField } from '../onnx/encode.js';
import type { DataPart } from '../onnx/external.js';
import { type MessageEdit, type Piece, emptyEdit, spliceMessage } from '../onnx/splice.js';
import { findSigmoidPatterns } from '../advise/swish.js';
import { DataType } from '../onnx/dtype.js';
import { inferModel } from '../shape/infer.js';
import { relocateExternalTensors } from './relocate.js';
import type { HardSwishChange, RewriteNote } from '../contract/rewrite.js';

/**
 * `mbn rewrite --hard-swish / --hard-sigmoid`: MobileNetV3's §5.2 as byte edits of the original file (the splice
 * writer `separate` uses, so everything else is copied as it was). Swish x·σ(x), exported as Mul(x, Sigmoid(x)),
 * becomes HardSwish(x) = x·ReLU6(x+3)/6 (opset ≥ 14); below opset 14 the Sigmoid becomes HardSigmoid with
 * alpha 1/6 and beta 1/2, so the pair computes x·ReLU6(x+3)/6 all the same without touching the model's opset,
 * because raising the opset would change the meaning of other ops. Sigmoid gates become that same HardSigmoid,
 * torch's `hardsigmoid` and the gate of MobileNetV3's squeeze-and-excite. No weights change; the function
 * changes a little, which is why the CLI measures how far the outputs move.
 */
export interface HardSwishOptions {
  swish: boolean;
  gates: boolean;
  /**
   * The name of the output's own data file (beside it), used when the model keeps weights outside: its external
   * tensors are copied there so that the output never refers to the input's files (see relocate.ts).
   */
  externalData?: string;
}

export interface HardSwishPlan {
  changes: HardSwishChange[];
  /** The default-domain opset: HardSwish needs 14. */
  opset: number;
  notes: RewriteNote[];
  pieces: Piece[];
  /** The output's own data file, when the model keeps weights outside and options.externalData names it. */
  externalData: { location: string; parts: DataPart[] } | null;
}

/** torch.nn.Hardsigmoid: ReLU6(x + 3)/6 = max(0, min(1, x/6 + 1/2)). */
const HARD_SIGMOID_ALPHA = 1 / 6;
const HARD_SIGMOID_BETA = 0.5;

export function planHardSwish(model: Model, options: HardSwishOptions): HardSwishPlan {
  const graph = model.graph;
  const opset = model.opsetImports.get('') ?? model.opsetImports.get('ai.onnx') ?? 1;
  const hardSwishOp = opset >= 14;
  const found = findSigmoidPatterns(graph);
  const notes: RewriteNote[] = [];
  // ONNX Runtime's CPU provider has HardSigmoid and HardSwish kernels for float32 only: a pattern on float64 or
  // float16 rewritten would not run, so it is left as it is (a rewrite is correct only if ORT runs it).
  const values = inferModel(model).values;
  const float32 = (tensor: string) => values.get(tensor)?.dtype === DataType.FLOAT;
  const patterns = { ...found, swish: found.swish.filter((m) => float32(m.x)), gates: found.gates.filter((g) => float32(g.sigmoid.inputs[0])) };
  const leftOut = (options.swish ? found.swish.length - patterns.swish.length : 0) + (options.gates ? found.gates.length - patterns.gates.length : 0);
  if (leftOut > 0) {
    notes.push({ code: 'non-float32-left', patterns: leftOut });
  }
  const taken = new Set<string>(graph.nodes.map((n) => n.name).filter(Boolean));
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const edit = emptyEdit();
  const changes: HardSwishChange[] = [];
  const label = (n: Node) => n.name || `${n.opType}(${n.outputs[0]})`;
  const hardSigmoid = (from: Node): { name: string; field: Uint8Array } => {
    const name = unique(`${from.name || from.outputs[0]}_hardsigmoid`);
    const attributes: NewAttribute[] = [
      { name: 'alpha', type: 'float', value: HARD_SIGMOID_ALPHA },
      { name: 'beta', type: 'float', value: HARD_SIGMOID_BETA },
    ];
    const field = encodeNodeField({ name, opType: 'HardSigmoid', domain: '', inputs: [from.inputs[0]], outputs: [from.outputs[0]], attributes, docString: `was ${label(from)} (mbn rewrite)` });
    return { name, field };
  };

  if (options.swish) {
    for (const m of patterns.swish) {
      if (hardSwishOp) {
        // Each Mul becomes HardSwish(x) under the Mul's output name; the Sigmoid has no other reader and goes.
        const names: string[] = [];
        for (const mul of m.muls) {
          const name = unique(`${mul.name || mul.outputs[0]}_hardswish`);
          names.push(name);
          edit.fields.set(mul.span.tagStart, {
            kind: 'replace',
            fields: [encodeNodeField({ name, opType: 'HardSwish', domain: '', inputs: [m.x], outputs: [mul.outputs[0]], attributes: [], docString: `was ${label(m.sigmoid)} · ${label(mul)} (mbn rewrite)` })],
          });
        }
        edit.fields.set(m.sigmoid.span.tagStart, { kind: 'replace', fields: [] });
        removeValueInfo(graph, m.sigmoid.outputs[0], edit);
        changes.push({ kind: 'swish', replaced: [label(m.sigmoid), ...m.muls.map(label)], node: names.join(', '), op: 'HardSwish' });
      } else {
        const h = hardSigmoid(m.sigmoid);
        edit.fields.set(m.sigmoid.span.tagStart, { kind: 'replace', fields: [h.field] });
        changes.push({ kind: 'swish', replaced: [label(m.sigmoid)], node: h.name, op: 'HardSigmoid' });
      }
    }
    if (!hardSwishOp && patterns.swish.length > 0) {
      notes.push({ code: 'hard-sigmoid-form', opset });
    }
    if (patterns.swishOps.length > 0) {
      notes.push({ code: 'swish-ops-left', ops: patterns.swishOps.length, names: patterns.swishOps.map(label).slice(0, 3) });
    }
  }
  if (options.gates) {
    for (const g of patterns.gates) {
      const h = hardSigmoid(g.sigmoid);
      edit.fields.set(g.sigmoid.span.tagStart, { kind: 'replace', fields: [h.field] });
      changes.push({ kind: 'gate', replaced: [label(g.sigmoid)], node: h.name, op: 'HardSigmoid' });
    }
  }
  if (hasSubgraphs(graph)) notes.push({ code: 'subgraphs-left' });
  const modelEdit = emptyEdit();
  if (edit.fields.size > 0) modelEdit.fields.set(graph.span.tagStart, { kind: 'nested', edit });
  const location = options.externalData;
  const externalData = location && hasExternalData(model) ? { location, parts: relocateExternalTensors(model, modelEdit, location, 0) } : null;
  return { changes, opset, notes, pieces: spliceMessage(model.source, 0, model.size, modelEdit), externalData };
}

function removeValueInfo(graph: Graph, name: string, edit: MessageEdit): void {
  for (const v of graph.valueInfo) if (v.name === name) edit.fields.set(v.span.tagStart, { kind: 'replace', fields: [] });
}

function hasSubgraphs(graph: Graph): boolean {
  return graph.nodes.some((n) => n.attributes.some((a) => a.data.type === 'graph' || a.data.type === 'graphs'));
}
