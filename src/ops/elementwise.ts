import { DataType, isInteger } from '../onnx/dtype.js';
import { FOLD_LIMIT, fitValue } from './values.js';
import { type RuleContext, type TensorState, ShapeError, UnknownShape, broadcast, defineOps, elements } from './define.js';

/**
 * Elementwise arithmetic, comparison, logic and selection with numpy-style multidirectional broadcasting.
 * Counting convention: 1 FLOP per output element (Add, Sub, Mul, Div, Pow, Mod, BitShift, bitwise and logical ops,
 * comparisons, Where); the variadic Max/Min/Sum/Mean count (inputs − 1) per output element (Mean's final scaling is
 * not counted separately). No MACs.
 *
 * Values fold when every input's values are known and the output is small (≤ FOLD_LIMIT elements): this is what
 * carries shape arithmetic such as Shape → Gather → Mul → Concat → Reshape. Integer results follow ONNX integer
 * semantics: Div truncates toward zero, Mod with fmod = 0 takes the divisor's sign, fixed-width types wrap.
 */

/**
 * Evaluates f over the broadcast of the given inputs, or returns undefined when any value is unknown, the output
 * is too large to fold, or f signals an undefined result (integer division by zero) by returning undefined.
 */
export function foldBroadcast(
  inputs: readonly (TensorState | null)[],
  out: readonly number[],
  dtype: number,
  f: (args: number[]) => number | undefined,
): number[] | undefined {
  const n = elements(out);
  if (n > FOLD_LIMIT) return undefined;
  const rank = out.length;
  const strides: number[][] = [];
  const vals: number[][] = [];
  for (const s of inputs) {
    if (!s || !s.shape || !s.value || s.value.length !== elements(s.shape)) return undefined;
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = s.shape.length - 1; i >= 0; i--) {
      const j = rank - s.shape.length + i;
      st[j] = s.shape[i] === 1 ? 0 : acc;
      acc *= s.shape[i];
    }
    strides.push(st);
    vals.push(s.value);
  }
  const result = new Array<number>(n);
  const idx = new Array<number>(rank).fill(0);
  const args = new Array<number>(inputs.length);
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < vals.length; t++) {
      let off = 0;
      for (let j = 0; j < rank; j++) off += idx[j] * strides[t][j];
      args[t] = vals[t][off];
    }
    const v = f(args);
    if (v === undefined || (Number.isNaN(v) && isInteger(dtype))) return undefined;
    result[k] = fitValue(v, dtype);
    for (let j = rank - 1; j >= 0; j--) {
      if (++idx[j] < out[j]) break;
      idx[j] = 0;
    }
  }
  return result;
}

type Fn = (args: number[], dtype: number, ctx: RuleContext) => number | undefined;

const intDiv = (a: number, b: number): number | undefined => (b === 0 ? undefined : Math.trunc(a / b));

function big(v: number): bigint {
  return BigInt(Math.trunc(v));
}

const ARITHMETIC: Record<string, Fn> = {
  Add: ([a, b]) => a + b,
  Sub: ([a, b]) => a - b,
  Mul: ([a, b]) => a * b,
  Div: ([a, b], dtype) => (isInteger(dtype) ? intDiv(a, b) : a / b),
  Pow: ([a, b]) => a ** b,
  Mod: ([a, b], dtype, ctx) => {
    if (isInteger(dtype) && b === 0) return undefined;
    const r = a % b;
    if (ctx.int('fmod', 0) === 1) return r;
    return r !== 0 && r < 0 !== b < 0 ? r + b : r;
  },
  BitShift: ([a, b], _dtype, ctx) => (ctx.string('direction', 'LEFT') === 'RIGHT' ? Math.floor(a / 2 ** b) : a * 2 ** b),
  BitwiseAnd: ([a, b]) => Number(big(a) & big(b)),
  BitwiseOr: ([a, b]) => Number(big(a) | big(b)),
  BitwiseXor: ([a, b]) => Number(big(a) ^ big(b)),
};

const BOOLEAN: Record<string, Fn> = {
  Equal: ([a, b]) => +(a === b),
  Less: ([a, b]) => +(a < b),
  Greater: ([a, b]) => +(a > b),
  LessOrEqual: ([a, b]) => +(a <= b),
  GreaterOrEqual: ([a, b]) => +(a >= b),
  And: ([a, b]) => +(!!a && !!b),
  Or: ([a, b]) => +(!!a || !!b),
  Xor: ([a, b]) => +(!!a !== !!b),
};

const VARIADIC: Record<string, Fn> = {
  Max: (xs) => Math.max(...xs),
  Min: (xs) => Math.min(...xs),
  Sum: (xs) => xs.reduce((s, x) => s + x, 0),
  Mean: (xs, dtype) => {
    const s = xs.reduce((acc, x) => acc + x, 0);
    return isInteger(dtype) ? intDiv(s, xs.length) : s / xs.length;
  },
};

const WHERE: Fn = ([c, x, y]) => (c ? x : y);

function firstDtype(ctx: RuleContext, from = 0): number {
  for (let i = from; i < ctx.inputs.length; i++) {
    const d = ctx.inputs[i]?.dtype;
    if (d) return d;
  }
  return 0;
}

function inputsOf(ctx: RuleContext): number[] {
  const idx: number[] = [];
  for (let i = 0; i < ctx.node.inputs.length; i++) if (ctx.has(i)) idx.push(i);
  return idx;
}

export const elementwiseOps = defineOps({
  ops: [...Object.keys(ARITHMETIC), ...Object.keys(BOOLEAN), ...Object.keys(VARIADIC), 'Where'],
  infer(ctx) {
    const op = ctx.node.opType;
    let fn: Fn;
    let dtype: number;
    let used: number[];
    if (op in VARIADIC) {
      used = inputsOf(ctx);
      if (used.length === 0) throw new ShapeError(`${op} needs at least one input`);
      fn = VARIADIC[op];
      dtype = firstDtype(ctx);
    } else if (op === 'Where') {
      used = [0, 1, 2];
      fn = WHERE;
      dtype = ctx.inputs[1]?.dtype || ctx.inputs[2]?.dtype || 0;
    } else {
      used = [0, 1];
      fn = op in ARITHMETIC ? ARITHMETIC[op] : BOOLEAN[op];
      // Pow's output has the base's type (the exponent may differ from opset 12).
      dtype = op in BOOLEAN ? DataType.BOOL : op === 'Pow' ? ctx.input(0).dtype : firstDtype(ctx);
    }
    for (const i of used) if (!ctx.has(i)) throw new ShapeError(`${op} is missing input ${i}`);
    const states = used.map((i) => ctx.input(i));
    const { shape, numpy } = broadcastFor(ctx, used);
    const out: TensorState = { dtype, shape };
    const compute = op in BOOLEAN ? (ctx.inputs[0]?.dtype ?? 0) : dtype;
    const value = numpy ? foldBroadcast(states, shape, dtype, (args) => fn(args, compute, ctx)) : undefined;
    if (value) out.value = value;
    return [out];
  },
  cost(ctx, outputs) {
    const n = elements(outputs[0].shape!);
    const op = ctx.node.opType;
    const perElement = op in VARIADIC ? Math.max(0, inputsOf(ctx).length - 1) : 1;
    return { macs: 0, flops: n * perElement };
  },
});

/** Broadcast shape of the given inputs (legacy opset < 7 broadcast=1 with axis: B's dims align at axis). */
function broadcastFor(ctx: RuleContext, used: number[]): { shape: number[]; numpy: boolean } {
  const shapes = used.map((i) => ctx.shape(i));
  if (ctx.opset > 0 && ctx.opset < 7 && used.length === 2 && ctx.attribute('broadcast')) {
    const [a, b] = shapes;
    if (ctx.int('broadcast', 0) !== 1) {
      if (a.join(',') !== b.join(',')) throw new ShapeError(`${ctx.node.opType} shapes differ without broadcast=1`);
      return { shape: a.slice(), numpy: true };
    }
    const axis = ctx.attribute('axis') ? ctx.int('axis', 0) : a.length - b.length;
    const start = axis < 0 ? axis + a.length : axis;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== 1 && b[i] !== a[start + i]) throw new ShapeError(`${ctx.node.opType} cannot broadcast B at axis ${axis}`);
    }
    return { shape: a.slice(), numpy: start + b.length === a.length };
  }
  if (shapes.length === 0) throw new UnknownShape();
  const shape = broadcast(shapes, ctx.node);
  // Shapes are never modified once made: share an input's when it is the result (one array less per layer).
  const same = shapes.find((s) => s.length === shape.length && s.every((d, i) => d === shape[i]));
  return { shape: same ?? shape, numpy: true };
}
