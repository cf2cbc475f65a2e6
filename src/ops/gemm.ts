import { DataType } from '../onnx/dtype.js';
import { type RuleContext, ShapeError, broadcast, defineOps, elements } from './define.js';

/**
 * Matrix products. Counting convention: MACs only, one per multiply-accumulate of a naive evaluation.
 * - Gemm: M·K·N. The bias add (C) and the alpha/beta scalings are not counted.
 * - MatMul, MatMulInteger, QLinearMatMul: numpy matmul semantics (a 1-D operand is promoted to a matrix and the
 *   promoted dim dropped from the output; batch dims broadcast): prod(broadcast batch)·M·K·N. Zero points, scales
 *   and requantization are not counted.
 * - Einsum: with ≥ 2 operands and at least one contracted (summed-away) index, MACs = the product of the sizes of
 *   all distinct indices (ellipsis dims included). With ≥ 2 operands and no contraction it is an elementwise
 *   product: (operands − 1) FLOPs per output element. With a single operand (transpose, diagonal, reduction):
 *   0 MACs and one FLOP per input element.
 */

function gemmDims(ctx: RuleContext): { m: number; k: number; n: number } {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  if (a.length !== 2 || b.length !== 2) throw new ShapeError(`Gemm needs 2-D inputs, got [${a.join(',')}] and [${b.join(',')}]`);
  const [m, k] = ctx.int('transA', 0) ? [a[1], a[0]] : a;
  const [k2, n] = ctx.int('transB', 0) ? [b[1], b[0]] : b;
  if (k !== k2) throw new ShapeError(`Gemm inner dims differ: A gives K=${k}, B gives K=${k2}`);
  return { m, k, n };
}

export interface MatMulDims {
  batch: number[];
  m: number;
  k: number;
  n: number;
  out: number[];
}

/** numpy.matmul shape rule. */
export function matmulDims(a: readonly number[], b: readonly number[], op: string): MatMulDims {
  if (a.length === 0 || b.length === 0) throw new ShapeError(`${op} operands must not be scalars`);
  const a2 = a.length === 1 ? [1, a[0]] : a.slice();
  const b2 = b.length === 1 ? [b[0], 1] : b.slice();
  const m = a2[a2.length - 2];
  const k = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  const n = b2[b2.length - 1];
  if (k !== k2) throw new ShapeError(`${op} inner dims differ: [${a.join(',')}] × [${b.join(',')}]`);
  const batch = broadcastBatch(a2.slice(0, -2), b2.slice(0, -2), op);
  const out = [...batch];
  if (a.length > 1) out.push(m);
  if (b.length > 1) out.push(n);
  return { batch, m, k, n, out };
}

function broadcastBatch(a: number[], b: number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError(`${op} batch dims [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Positions of the two matrix operands. */
function operands(ctx: RuleContext): [number, number] {
  return ctx.node.opType === 'QLinearMatMul' ? [0, 3] : [0, 1];
}

function outDtype(ctx: RuleContext): number {
  switch (ctx.node.opType) {
    case 'MatMulInteger':
      return DataType.INT32;
    case 'QLinearMatMul':
      return ctx.inputs[7]?.dtype || ctx.input(0).dtype;
    default:
      return ctx.input(0).dtype;
  }
}

// ---- Einsum ----

interface EinsumSpec {
  /** Per operand: labels, with '…' standing for the operand's ellipsis dims. */
  inputs: string[][];
  output: string[];
}

export function parseEinsum(equation: string, ranks: number[]): { spec: EinsumSpec; expanded: string[][]; outLabels: string[] } {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) throw new ShapeError(`Einsum equation '${equation}' has ${terms.length} operands, the node ${ranks.length}`);
  const tokenize = (term: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < term.length; ) {
      if (term.startsWith('...', i)) {
        out.push('…');
        i += 3;
      } else if (/[A-Za-z]/.test(term[i])) {
        out.push(term[i]);
        i += 1;
      } else throw new ShapeError(`Einsum equation '${equation}' has an invalid character '${term[i]}'`);
    }
    if (out.filter((t) => t === '…').length > 1) throw new ShapeError(`Einsum term '${term}' has more than one ellipsis`);
    return out;
  };
  const inputs = terms.map(tokenize);
  // Expand each ellipsis into numbered labels, right-aligned across operands (so they broadcast).
  let ellRank = 0;
  const expanded = inputs.map((labels, t) => {
    const letters = labels.filter((l) => l !== '…').length;
    if (!labels.includes('…')) {
      if (letters !== ranks[t]) throw new ShapeError(`Einsum term ${t} has ${letters} labels for a rank-${ranks[t]} operand`);
      return labels;
    }
    const e = ranks[t] - letters;
    if (e < 0) throw new ShapeError(`Einsum term ${t} has more labels than the operand's rank ${ranks[t]}`);
    ellRank = Math.max(ellRank, e);
    return labels.flatMap((l) => (l === '…' ? Array.from({ length: e }, (_, i) => `#${e - i}`) : [l]));
  });
  const ellLabels = Array.from({ length: ellRank }, (_, i) => `#${ellRank - i}`);
  let output: string[];
  let outLabels: string[];
  if (arrow >= 0) {
    output = tokenize(eq.slice(arrow + 2));
    outLabels = output.flatMap((l) => (l === '…' ? ellLabels : [l]));
    const seen = new Set<string>();
    for (const l of outLabels) {
      if (seen.has(l)) throw new ShapeError(`Einsum output repeats label '${l}'`);
      seen.add(l);
      if (!l.startsWith('#') && !inputs.some((t) => t.includes(l))) throw new ShapeError(`Einsum output label '${l}' is not in any input`);
    }
  } else {
    // Implicit mode: ellipsis dims, then the labels that appear exactly once, in alphabetical order.
    const count = new Map<string, number>();
    for (const t of inputs) for (const l of t) if (l !== '…') count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, c]) => c === 1).map(([l]) => l).sort();
    output = [...(ellRank ? ['…'] : []), ...once];
    outLabels = [...ellLabels, ...once];
  }
  return { spec: { inputs, output }, expanded, outLabels };
}

function einsum(ctx: RuleContext): { out: number[]; sizes: Map<string, number>; outLabels: string[]; expanded: string[][] } {
  const n = ctx.node.inputs.length;
  const shapes: number[][] = [];
  for (let i = 0; i < n; i++) shapes.push(ctx.shape(i));
  const equation = ctx.string('equation', '');
  if (!equation) throw new ShapeError('Einsum has no equation');
  const { expanded, outLabels } = parseEinsum(equation, shapes.map((s) => s.length));
  const sizes = new Map<string, number>();
  expanded.forEach((labels, t) => {
    labels.forEach((l, i) => {
      const d = shapes[t][i];
      const prev = sizes.get(l);
      if (prev === undefined || prev === d) sizes.set(l, d);
      // Ellipsis dims broadcast like numpy; lettered dims must agree.
      else if (l.startsWith('#') && (prev === 1 || d === 1)) sizes.set(l, Math.max(prev, d));
      else throw new ShapeError(`Einsum label '${l.startsWith('#') ? '...' : l}' has sizes ${prev} and ${d}`);
    });
  });
  const out = outLabels.map((l) => sizes.get(l) ?? 1);
  return { out, sizes, outLabels, expanded };
}

export const gemmOps = defineOps({
  ops: ['Gemm', 'MatMul', 'MatMulInteger', 'QLinearMatMul', 'Einsum'],
  infer(ctx) {
    const op = ctx.node.opType;
    if (op === 'Gemm') {
      const { m, n } = gemmDims(ctx);
      if (ctx.has(2)) {
        const c = ctx.inputs[2]?.shape;
        // C broadcasts unidirectionally to [M, N].
        if (c && broadcast([c, [m, n]], ctx.node).join(',') !== `${m},${n}`) {
          throw new ShapeError(`Gemm C [${c.join(',')}] does not broadcast to [${m},${n}]`);
        }
      }
      return [{ dtype: ctx.input(0).dtype, shape: [m, n] }];
    }
    if (op === 'Einsum') {
      if (ctx.node.inputs.length === 0) throw new ShapeError('Einsum has no inputs');
      return [{ dtype: ctx.input(0).dtype, shape: einsum(ctx).out }];
    }
    const [ia, ib] = operands(ctx);
    const d = matmulDims(ctx.shape(ia), ctx.shape(ib), op);
    return [{ dtype: outDtype(ctx), shape: d.out }];
  },
  cost(ctx, outputs) {
    const op = ctx.node.opType;
    if (op === 'Gemm') {
      const { m, k, n } = gemmDims(ctx);
      return { macs: m * k * n, flops: 0 };
    }
    if (op === 'Einsum') {
      const { sizes, outLabels, expanded } = einsum(ctx);
      if (expanded.length === 1) return { macs: 0, flops: elements(ctx.shape(0)) };
      const out = new Set(outLabels);
      const contracted = [...sizes.keys()].some((l) => !out.has(l));
      if (!contracted) return { macs: 0, flops: elements(outputs[0].shape!) * (expanded.length - 1) };
      let macs = 1;
      for (const s of sizes.values()) macs *= s;
      return { macs, flops: 0 };
    }
    const [ia, ib] = operands(ctx);
    const d = matmulDims(ctx.shape(ia), ctx.shape(ib), op);
    return { macs: elements(d.batch) * d.m * d.k * d.n, flops: 0 };
  },
  traits(ctx) {
    switch (ctx.node.opType) {
      case 'Gemm':
        return { kind: 'matmul', form: 'float', operands: [0, 1], bias: ctx.has(2) ? 2 : null, gemm: true, general: false };
      case 'Einsum': {
        // A product only when two or more operands contract an index; else a transpose or an elementwise product.
        const { sizes, outLabels, expanded } = einsum(ctx);
        const out = new Set(outLabels);
        if (expanded.length < 2 || ![...sizes.keys()].some((l) => !out.has(l))) return null;
        return { kind: 'matmul', form: 'float', operands: [0, 1], bias: null, gemm: false, general: true };
      }
      default:
        return { kind: 'matmul', form: ctx.node.opType === 'MatMulInteger' ? 'integer' : ctx.node.opType === 'QLinearMatMul' ? 'qlinear' : 'float', operands: operands(ctx), bias: null, gemm: false, general: false };
    }
  },
});
