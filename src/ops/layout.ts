import { DataType } from '../onnx/dtype.js';
import { FOLD_LIMIT, castValue } from './values.js';
import {
  type Cost,
  NO_COST,
  type RuleContext,
  ShapeError,
  type TensorState,
  UnknownShape,
  axisOf,
  broadcast,
  defineOps,
  elements,
} from './define.js';

/**
 * Operators that move, reshape, select or convert data: Cast/CastLike, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Gather, GatherElements, GatherND, Expand, Tile, Pad, DepthToSpace, SpaceToDepth,
 * ScatterND, ScatterElements, Scatter, OneHot, Trilu, ReverseSequence, Compress, NonZero, TopK, Unique, CumSum.
 * Shape rules follow onnx/defs/tensor/defs.cc per opset (ctx.opset): attributes that became inputs are read from
 * where the opset in force puts them.
 *
 * Value folding: when the input values an op needs are known (TensorState.value, row-major), the output's values are
 * computed too, so shape arithmetic such as Shape → Gather → Unsqueeze → Concat → Reshape folds to a concrete target.
 * Values are only carried for outputs of at most FOLD_LIMIT elements. Compress, NonZero and Unique have
 * data-dependent output shapes: they are inferred only when their values fold (else UnknownShape).
 *
 * Cost conventions (documented here once):
 * - Pure data movement, selection and conversion cost nothing: {macs: 0, flops: 0}. This covers every op here
 *   except the two below (Cast included: a conversion, not arithmetic; Unique too: its sort is comparisons).
 * - CumSum: 1 flop (one add) per output element.
 * - TopK: round(input elements · max(1, log2 k)) flops: a heap selection compares every element about log2 k
 *   times; k = 1 (an argmax) still compares every element once.
 */

// ------------------------------------------------------------------------------------------------ helpers ---

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A state with its values attached when they are given and small enough. */
export function state(dtype: number, shape: number[], value?: number[] | null): TensorState {
  const s: TensorState = { dtype, shape };
  if (value && value.length === elements(shape) && value.length <= FOLD_LIMIT) s.value = value;
  return s;
}

/** Input i's values when known (never throws). */
export function knownValues(ctx: RuleContext, i: number): number[] | undefined {
  return ctx.has(i) ? (ctx.inputs[i]?.value ?? undefined) : undefined;
}

/** Input i's values as integers; throws UnknownShape when not known. */
export function intValues(ctx: RuleContext, i: number): number[] {
  return ctx.values(i).map((v) => Math.trunc(v));
}

/** Whether folding an output of this many elements is worth doing. */
function foldable(shape: readonly number[]): boolean {
  return elements(shape) <= FOLD_LIMIT;
}

/** Calls f on every multi-index of a shape in row-major order (reusing one index array). */
export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = elements(shape);
  if (n === 0) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function transposeValues(values: readonly number[], shape: readonly number[], perm: readonly number[]): number[] {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const out = new Array<number>(values.length);
  forEachIndex(outShape, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d] * inStrides[perm[d]];
    out[flat] = values[src];
  });
  return out;
}

/** Values of a tensor of `shape` broadcast to `outShape` (numpy rules, already checked). */
export function broadcastValues(values: readonly number[], shape: readonly number[], outShape: readonly number[]): number[] {
  const offset = outShape.length - shape.length;
  const strides = stridesOf(shape);
  const out = new Array<number>(elements(outShape));
  forEachIndex(outShape, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) src += idx[d + offset] * strides[d];
    out[flat] = values[src];
  });
  return out;
}

function checkUnique(axes: number[], op: string): void {
  if (new Set(axes).size !== axes.length) throw new ShapeError(`${op} has repeated axes [${axes.join(',')}]`);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

// ------------------------------------------------------------------------------------------------- Cast ---

function castValues(values: number[] | undefined, to: number): number[] | undefined {
  if (!values) return undefined;
  const out: number[] = [];
  for (const v of values) {
    const c = castValue(v, to);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

export const castOps = defineOps({
  ops: ['Cast', 'CastLike'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    let to: number;
    if (ctx.node.opType === 'CastLike') to = ctx.input(1).dtype;
    else {
      const a = ctx.attribute('to');
      if (!a) throw new ShapeError('Cast has no to attribute');
      // Opset 1 gave `to` as a type name string.
      if (a.data.type === 'string') {
        const name = new TextDecoder().decode(a.data.value).toUpperCase();
        to = (DataType as Record<string, number>)[name] ?? 0;
      } else to = ctx.int('to', 0);
    }
    return [state(to, x.shape, castValues(x.value, to))];
  },
  cost: () => NO_COST,
});

// ---------------------------------------------------------------------------------- Reshape and friends ---

function reshapeTarget(ctx: RuleContext, input: number[], target: number[]): number[] {
  const allowZero = ctx.opset >= 14 && ctx.int('allowzero', 0) === 1;
  const out = target.slice();
  let inferAt = -1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === -1) {
      if (inferAt >= 0) throw new ShapeError(`Reshape target ${fmt(target)} has more than one -1`);
      inferAt = i;
    } else if (out[i] === 0 && !allowZero) {
      if (i >= input.length) throw new ShapeError(`Reshape target ${fmt(target)} copies dim ${i} (0) but the input ${fmt(input)} has rank ${input.length}`);
      out[i] = input[i];
    } else if (out[i] < 0) throw new ShapeError(`Reshape target ${fmt(target)} has an invalid dim ${out[i]}`);
  }
  if (allowZero && inferAt >= 0 && out.includes(0)) throw new ShapeError(`Reshape target ${fmt(target)} has both 0 (allowzero) and -1`);
  const total = elements(input);
  if (inferAt >= 0) {
    const rest = elements(out.filter((_, i) => i !== inferAt));
    if (rest === 0 || total % rest !== 0) throw new ShapeError(`Reshape cannot infer -1 in ${fmt(target)} for input ${fmt(input)}`);
    out[inferAt] = total / rest;
  }
  if (elements(out) !== total) throw new ShapeError(`Reshape of ${fmt(input)} (${total} elements) to ${fmt(out)} changes the element count`);
  return out;
}

export const reshapeOps = defineOps({
  ops: ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const shape = x.shape;
    const r = shape.length;
    const op = ctx.node.opType;
    let out: number[];
    if (op === 'Reshape') {
      const target = ctx.opset < 5 ? ctx.ints('shape', []) : intValues(ctx, 1);
      out = reshapeTarget(ctx, shape, target);
    } else if (op === 'Flatten') {
      let axis = ctx.int('axis', 1);
      if (axis < 0) axis += r;
      if (axis < 0 || axis > r) throw new ShapeError(`Flatten axis ${ctx.int('axis', 1)} is out of range for rank ${r}`);
      out = [elements(shape.slice(0, axis)), elements(shape.slice(axis))];
    } else if (op === 'Squeeze') {
      let axes: number[] | null;
      if (ctx.opset < 13) axes = ctx.intsOrNull('axes');
      else axes = ctx.has(1) ? intValues(ctx, 1) : null;
      // No axes (or an empty list, as ONNX Runtime reads it): drop every 1-dim.
      if (axes === null || axes.length === 0) out = shape.filter((d) => d !== 1);
      else {
        const norm = axes.map((a) => axisOf(a, r, ctx.node));
        checkUnique(norm, op);
        for (const a of norm) if (shape[a] !== 1) throw new ShapeError(`Squeeze axis ${a} of ${fmt(shape)} is not 1`);
        out = shape.filter((_, i) => !norm.includes(i));
      }
    } else {
      const axes = ctx.opset < 13 ? ctx.ints('axes', []) : intValues(ctx, 1);
      const outRank = r + axes.length;
      const norm = axes.map((a) => axisOf(a, outRank, ctx.node));
      checkUnique(norm, op);
      out = [];
      let j = 0;
      for (let i = 0; i < outRank; i++) out.push(norm.includes(i) ? 1 : shape[j++]);
    }
    // Same elements in the same row-major order: values pass through.
    return [state(x.dtype, out, x.value)];
  },
  cost: () => NO_COST,
});

// ------------------------------------------------------------------------------------------- Transpose ---

export const transposeOps = defineOps({
  ops: ['Transpose'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    const perm = ctx.ints('perm', Array.from({ length: r }, (_, i) => r - 1 - i));
    if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new ShapeError(`Transpose perm [${perm.join(',')}] is not a permutation of rank ${r}`);
    }
    const out = perm.map((p) => x.shape![p]);
    return [state(x.dtype, out, x.value && foldable(out) ? transposeValues(x.value, x.shape, perm) : undefined)];
  },
  cost: () => NO_COST,
});

// ----------------------------------------------------------------------------------------- Concat, Split ---

export const concatSplitOps = defineOps({
  ops: ['Concat', 'Split'],
  infer(ctx) {
    return ctx.node.opType === 'Concat' ? concat(ctx) : split(ctx);
  },
  cost: () => NO_COST,
});

function concat(ctx: RuleContext): TensorState[] {
  const parts: TensorState[] = [];
  for (let i = 0; i < ctx.node.inputs.length; i++) if (ctx.has(i)) parts.push(ctx.input(i));
  if (parts.length === 0) throw new ShapeError('Concat has no inputs');
  for (const p of parts) if (!p.shape) throw new UnknownShape();
  const first = parts[0].shape!;
  const r = first.length;
  if (ctx.opset >= 4 && !ctx.attribute('axis')) throw new ShapeError('Concat has no axis attribute');
  const axis = axisOf(ctx.int('axis', 1), r, ctx.node);
  const out = first.slice();
  out[axis] = 0;
  for (const p of parts) {
    const s = p.shape!;
    if (s.length !== r || s.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeError(`Concat on axis ${axis} cannot join ${parts.map((q) => fmt(q.shape!)).join(' and ')}`);
    }
    out[axis] += s[axis];
  }
  let value: number[] | undefined;
  if (parts.every((p) => p.value) && foldable(out)) {
    value = [];
    const outer = elements(first.slice(0, axis));
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const chunk = elements(p.shape!.slice(axis));
        for (let k = 0; k < chunk; k++) value.push(p.value![o * chunk + k]);
      }
    }
  }
  return [state(parts[0].dtype, out, value)];
}

function split(ctx: RuleContext): TensorState[] {
  const x = ctx.input(0);
  if (!x.shape) throw new UnknownShape();
  const r = x.shape.length;
  const axis = axisOf(ctx.int('axis', 0), r, ctx.node);
  const dim = x.shape[axis];
  const n = ctx.node.outputs.length;
  let sizes: number[] | null = null;
  if (ctx.opset >= 13) sizes = ctx.has(1) ? intValues(ctx, 1) : null;
  else if (ctx.opset >= 2) sizes = ctx.intsOrNull('split');
  else sizes = ctx.intsOrNull('split') ?? (ctx.has(1) ? intValues(ctx, 1) : null);
  if (sizes === null) {
    const numOutputs = ctx.opset >= 18 ? ctx.int('num_outputs', 0) : 0;
    if (numOutputs > 0) {
      if (numOutputs !== n) throw new ShapeError(`Split num_outputs ${numOutputs} does not match its ${n} outputs`);
      // Opset 18: chunks of ceil(dim / n); the last one is smaller when dim does not divide evenly.
      const chunk = Math.ceil(dim / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    } else {
      if (dim % n !== 0) throw new ShapeError(`Split cannot divide dim ${dim} into ${n} equal parts`);
      sizes = new Array(n).fill(dim / n);
    }
  }
  if (sizes.length !== n) throw new ShapeError(`Split has ${sizes.length} sizes for ${n} outputs`);
  if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    throw new ShapeError(`Split sizes [${sizes.join(',')}] do not add up to dim ${dim}`);
  }
  const outer = elements(x.shape.slice(0, axis));
  const inner = elements(x.shape.slice(axis + 1));
  let start = 0;
  return sizes.map((size) => {
    const shape = x.shape!.slice();
    shape[axis] = size;
    let value: number[] | undefined;
    if (x.value && foldable(shape)) {
      value = [];
      for (let o = 0; o < outer; o++) {
        const base = (o * dim + start) * inner;
        for (let k = 0; k < size * inner; k++) value.push(x.value[base + k]);
      }
    }
    start += size;
    return state(x.dtype, shape, value);
  });
}

// ------------------------------------------------------------------------------------------------ Slice ---

export const sliceOps = defineOps({
  ops: ['Slice'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    let starts: number[];
    let ends: number[];
    let axes: number[];
    let steps: number[];
    if (ctx.opset < 10) {
      starts = ctx.ints('starts', []);
      ends = ctx.ints('ends', []);
      axes = ctx.ints('axes', starts.map((_, i) => i));
      steps = starts.map(() => 1);
    } else {
      // Values are read as doubles: INT64_MAX / INT64_MIN ends arrive as ±9.22e18, which the clamps below handle.
      starts = intValues(ctx, 1);
      ends = intValues(ctx, 2);
      axes = ctx.has(3) ? intValues(ctx, 3) : starts.map((_, i) => i);
      steps = ctx.has(4) ? intValues(ctx, 4) : starts.map(() => 1);
    }
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
      throw new ShapeError(`Slice starts/ends/axes/steps have different lengths`);
    }
    const norm = axes.map((a) => axisOf(a, r, ctx.node));
    checkUnique(norm, 'Slice');
    const begin = new Array<number>(r).fill(0);
    const step = new Array<number>(r).fill(1);
    const out = x.shape.slice();
    norm.forEach((a, i) => {
      const d = x.shape![a];
      const s = steps[i];
      if (s === 0) throw new ShapeError('Slice step cannot be 0');
      let b = starts[i] < 0 ? starts[i] + d : starts[i];
      let e = ends[i] < 0 ? ends[i] + d : ends[i];
      if (s > 0) {
        b = Math.min(Math.max(b, 0), d);
        e = Math.min(Math.max(e, 0), d);
        out[a] = Math.max(0, Math.ceil((e - b) / s));
      } else {
        b = Math.min(Math.max(b, 0), d - 1);
        e = Math.min(Math.max(e, -1), d - 1);
        out[a] = Math.max(0, Math.ceil((b - e) / -s));
      }
      begin[a] = b;
      step[a] = s;
    });
    let value: number[] | undefined;
    if (x.value && foldable(out)) {
      const strides = stridesOf(x.shape);
      value = new Array(elements(out));
      forEachIndex(out, (idx, flat) => {
        let src = 0;
        for (let d = 0; d < r; d++) src += (begin[d] + idx[d] * step[d]) * strides[d];
        value![flat] = x.value![src];
      });
    }
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});

// ----------------------------------------------------------------------------------------------- Gather ---

export const gatherOps = defineOps({
  ops: ['Gather', 'GatherElements', 'GatherND'],
  infer(ctx) {
    const data = ctx.input(0);
    const ind = ctx.input(1);
    if (!data.shape || !ind.shape) throw new UnknownShape();
    const op = ctx.node.opType;
    if (op === 'Gather') return [gather(ctx, data, ind)];
    if (op === 'GatherElements') return [gatherElements(ctx, data, ind)];
    return [gatherND(ctx, data, ind)];
  },
  cost: () => NO_COST,
});

function checkIndex(i: number, dim: number, op: string): number {
  const j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) throw new ShapeError(`${op} index ${i} is out of range for a dim of ${dim}`);
  return j;
}

function gather(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
  const out = [...ds.slice(0, axis), ...ind.shape!, ...ds.slice(axis + 1)];
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(out)) {
    const n = ds[axis];
    const inner = elements(ds.slice(axis + 1));
    const outer = elements(ds.slice(0, axis));
    const idx = ind.value.map((i) => checkIndex(Math.trunc(i), n, 'Gather'));
    value = [];
    for (let o = 0; o < outer; o++) {
      for (const i of idx) for (let k = 0; k < inner; k++) value.push(data.value[(o * n + i) * inner + k]);
    }
  }
  return state(data.dtype, out, value);
}

function gatherElements(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const is = ind.shape!;
  if (is.length !== ds.length) throw new ShapeError(`GatherElements indices ${fmt(is)} and data ${fmt(ds)} differ in rank`);
  const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(is)) {
    const strides = stridesOf(ds);
    value = new Array(elements(is));
    forEachIndex(is, (idx, flat) => {
      let src = 0;
      for (let d = 0; d < ds.length; d++) {
        src += (d === axis ? checkIndex(Math.trunc(ind.value![flat]), ds[axis], 'GatherElements') : idx[d]) * strides[d];
      }
      value![flat] = data.value![src];
    });
  }
  return state(data.dtype, is.slice(), value);
}

/** Byte-free offset arithmetic shared by GatherND and ScatterND: the flat offset of an index tuple into dims. */
function tupleOffset(tuple: readonly number[], dims: readonly number[], strides: readonly number[], op: string): number {
  let off = 0;
  for (let j = 0; j < tuple.length; j++) off += checkIndex(Math.trunc(tuple[j]), dims[j], op) * strides[j];
  return off;
}

function gatherND(ctx: RuleContext, data: TensorState, ind: TensorState): TensorState {
  const ds = data.shape!;
  const is = ind.shape!;
  const b = ctx.opset >= 12 ? ctx.int('batch_dims', 0) : 0;
  if (is.length < 1) throw new ShapeError('GatherND indices must have rank ≥ 1');
  const k = is[is.length - 1];
  if (b + k > ds.length) throw new ShapeError(`GatherND index tuples of ${k} with batch_dims ${b} exceed data rank ${ds.length}`);
  for (let i = 0; i < b; i++) if (is[i] !== ds[i]) throw new ShapeError(`GatherND batch dims of ${fmt(is)} and ${fmt(ds)} differ`);
  const out = [...is.slice(0, -1), ...ds.slice(b + k)];
  let value: number[] | undefined;
  if (data.value && ind.value && foldable(out)) {
    const batches = elements(is.slice(0, b));
    const tuples = elements(is.slice(b, -1));
    const perBatch = elements(ds.slice(b));
    const slice = elements(ds.slice(b + k));
    const inner = ds.slice(b);
    const strides = stridesOf(inner);
    value = [];
    for (let bi = 0; bi < batches; bi++) {
      for (let t = 0; t < tuples; t++) {
        const at = (bi * tuples + t) * k;
        const off = tupleOffset(ind.value.slice(at, at + k), inner, strides, 'GatherND');
        for (let s = 0; s < slice; s++) value.push(data.value[bi * perBatch + off + s]);
      }
    }
  }
  return state(data.dtype, out, value);
}

// -------------------------------------------------------------------------------------------- Scatter* ---

type Reduce = (a: number, b: number) => number;

function reduction(ctx: RuleContext): Reduce {
  const r = ctx.string('reduction', 'none');
  switch (r) {
    case 'none': return (_a, b) => b;
    case 'add': return (a, b) => a + b;
    case 'mul': return (a, b) => a * b;
    case 'max': return (a, b) => Math.max(a, b);
    case 'min': return (a, b) => Math.min(a, b);
    default: throw new ShapeError(`${ctx.node.opType} has an unknown reduction '${r}'`);
  }
}

export const scatterOps = defineOps({
  ops: ['ScatterND', 'ScatterElements', 'Scatter'],
  infer(ctx) {
    const data = ctx.input(0);
    const ind = ctx.input(1);
    const upd = ctx.input(2);
    if (!data.shape) throw new UnknownShape();
    const ds = data.shape;
    const fold = !!(data.value && ind.value && upd.value && ind.shape && upd.shape);
    if (ctx.node.opType === 'ScatterND') {
      if (ind.shape && upd.shape) {
        const k = ind.shape[ind.shape.length - 1];
        const expected = [...ind.shape.slice(0, -1), ...ds.slice(k)];
        if (k > ds.length || fmt(expected) !== fmt(upd.shape)) {
          throw new ShapeError(`ScatterND updates ${fmt(upd.shape)} do not match indices ${fmt(ind.shape)} into data ${fmt(ds)}`);
        }
      }
      if (!fold) return [state(data.dtype, ds.slice())];
      const f = reduction(ctx);
      const is = ind.shape!;
      const k = is[is.length - 1];
      const tuples = elements(is.slice(0, -1));
      const slice = elements(ds.slice(k));
      const strides = stridesOf(ds);
      const out = data.value!.slice();
      for (let t = 0; t < tuples; t++) {
        const off = tupleOffset(ind.value!.slice(t * k, t * k + k), ds, strides, 'ScatterND');
        for (let s = 0; s < slice; s++) out[off + s] = f(out[off + s], upd.value![t * slice + s]);
      }
      return [state(data.dtype, ds.slice(), out)];
    }
    if (ind.shape && upd.shape && (ind.shape.length !== ds.length || fmt(ind.shape) !== fmt(upd.shape))) {
      throw new ShapeError(`${ctx.node.opType} indices ${fmt(ind.shape)} and updates ${fmt(upd.shape)} must match and have the data's rank ${ds.length}`);
    }
    if (!fold) return [state(data.dtype, ds.slice())];
    const axis = axisOf(ctx.int('axis', 0), ds.length, ctx.node);
    // Scatter (opsets 9–10) has no reduction attribute: it always replaces.
    const f: Reduce = ctx.node.opType === 'Scatter' ? (_a, b) => b : reduction(ctx);
    const strides = stridesOf(ds);
    const out = data.value!.slice();
    forEachIndex(ind.shape!, (idx, flat) => {
      let dst = 0;
      for (let d = 0; d < ds.length; d++) {
        dst += (d === axis ? checkIndex(Math.trunc(ind.value![flat]), ds[axis], ctx.node.opType) : idx[d]) * strides[d];
      }
      out[dst] = f(out[dst], upd.value![flat]);
    });
    return [state(data.dtype, ds.slice(), out)];
  },
  cost: () => NO_COST,
});

// ------------------------------------------------------------------------------------------ Expand, Tile ---

export const expandTileOps = defineOps({
  ops: ['Expand', 'Tile'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (ctx.node.opType === 'Expand') {
      const target = intValues(ctx, 1);
      const out = broadcast([x.shape, target], ctx.node);
      return [state(x.dtype, out, x.value && foldable(out) ? broadcastValues(x.value, x.shape, out) : undefined)];
    }
    if (ctx.opset < 6) {
      // Tile-1: inputs (input, tiles, axis): repeat `tiles` times along one axis.
      const tiles = intValues(ctx, 1)[0];
      const axis = axisOf(intValues(ctx, 2)[0], x.shape.length, ctx.node);
      const out = x.shape.slice();
      out[axis] *= tiles;
      return [state(x.dtype, out, x.value && foldable(out) ? tileValues(x.value, x.shape, out) : undefined)];
    }
    const repeats = intValues(ctx, 1);
    if (repeats.length !== x.shape.length) throw new ShapeError(`Tile repeats [${repeats.join(',')}] do not match rank ${x.shape.length}`);
    if (repeats.some((r) => r < 0)) throw new ShapeError(`Tile repeats [${repeats.join(',')}] must be non-negative`);
    const out = x.shape.map((d, i) => d * repeats[i]);
    return [state(x.dtype, out, x.value && foldable(out) ? tileValues(x.value, x.shape, out) : undefined)];
  },
  cost: () => NO_COST,
});

function tileValues(values: readonly number[], shape: readonly number[], out: readonly number[]): number[] {
  const strides = stridesOf(shape);
  const res = new Array<number>(elements(out));
  forEachIndex(out, (idx, flat) => {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += (idx[d] % shape[d]) * strides[d];
    res[flat] = values[src];
  });
  return res;
}

// -------------------------------------------------------------------------------------------------- Pad ---

export const padOps = defineOps({
  ops: ['Pad'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const r = x.shape.length;
    const mode = ctx.string('mode', 'constant');
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw new ShapeError(`Pad has an unknown mode '${mode}'`);
    let pads: number[];
    let constant = 0;
    let axes: number[] = Array.from({ length: r }, (_, i) => i);
    if (ctx.opset < 11) {
      pads = ctx.ints(ctx.opset < 2 ? 'paddings' : 'pads', []);
      constant = ctx.float('value', 0);
    } else {
      pads = intValues(ctx, 1);
      if (ctx.has(2)) {
        const c = knownValues(ctx, 2);
        if (mode === 'constant' && !c) constant = NaN; // unknown pad value: the shape still infers, values do not
        else if (c) constant = c[0] ?? 0;
      }
      if (ctx.opset >= 18 && ctx.has(3)) {
        axes = intValues(ctx, 3).map((a) => axisOf(a, r, ctx.node));
        checkUnique(axes, 'Pad');
      }
    }
    const n = axes.length;
    if (pads.length !== 2 * n) throw new ShapeError(`Pad has ${pads.length} pads for ${n} axes (needs ${2 * n})`);
    const begin = new Array<number>(r).fill(0);
    const out = x.shape.slice();
    axes.forEach((a, i) => {
      begin[a] = pads[i];
      out[a] = x.shape![a] + pads[i] + pads[i + n];
      if (out[a] < 0) throw new ShapeError(`Pad makes dim ${a} of ${fmt(x.shape!)} negative`);
    });
    let value: number[] | undefined;
    if (x.value && foldable(out) && !Number.isNaN(constant)) {
      const shape = x.shape;
      const strides = stridesOf(shape);
      value = new Array(elements(out));
      forEachIndex(out, (idx, flat) => {
        let src = 0;
        for (let d = 0; d < r; d++) {
          let i = idx[d] - begin[d];
          const dim = shape[d];
          if (i < 0 || i >= dim) {
            if (mode === 'constant' || dim === 0) {
              src = -1;
              break;
            }
            if (mode === 'edge') i = Math.min(Math.max(i, 0), dim - 1);
            else if (mode === 'wrap') i = ((i % dim) + dim) % dim;
            else {
              // reflect (mirror without repeating the edge)
              const period = 2 * (dim - 1);
              if (period === 0) i = 0;
              else {
                i = ((i % period) + period) % period;
                if (i >= dim) i = period - i;
              }
            }
          }
          src += i * strides[d];
        }
        value![flat] = src < 0 ? constant : x.value![src];
      });
    }
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});

// ----------------------------------------------------------------------------- DepthToSpace, SpaceToDepth ---

export const depthSpaceOps = defineOps({
  ops: ['DepthToSpace', 'SpaceToDepth'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (x.shape.length !== 4) throw new ShapeError(`${ctx.node.opType} needs a rank-4 input, got ${fmt(x.shape)}`);
    const b = ctx.int('blocksize', 0);
    if (b < 1) throw new ShapeError(`${ctx.node.opType} needs a positive blocksize`);
    const [n, c, h, w] = x.shape;
    if (ctx.node.opType === 'DepthToSpace') {
      if (c % (b * b) !== 0) throw new ShapeError(`DepthToSpace channels ${c} are not divisible by blocksize² ${b * b}`);
      const out = [n, c / (b * b), h * b, w * b];
      let value: number[] | undefined;
      if (x.value && foldable(out)) {
        // DCR: [N, b, b, C', H, W] → perm [0,3,4,1,5,2]; CRD (opset 11): [N, C', b, b, H, W] → perm [0,1,4,2,5,3].
        const crd = ctx.opset >= 11 && ctx.string('mode', 'DCR') === 'CRD';
        const tmp = crd ? [n, c / (b * b), b, b, h, w] : [n, b, b, c / (b * b), h, w];
        value = transposeValues(x.value, tmp, crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]);
      }
      return [state(x.dtype, out, value)];
    }
    if (h % b !== 0 || w % b !== 0) throw new ShapeError(`SpaceToDepth input ${fmt(x.shape)} is not divisible by blocksize ${b}`);
    const out = [n, c * b * b, h / b, w / b];
    const value = x.value && foldable(out) ? transposeValues(x.value, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4]) : undefined;
    return [state(x.dtype, out, value)];
  },
  cost: () => NO_COST,
});

// --------------------------------------------------------------------------- OneHot, Trilu, ReverseSequence ---

export const miscLayoutOps = defineOps({
  ops: ['OneHot', 'Trilu', 'ReverseSequence'],
  infer(ctx) {
    const op = ctx.node.opType;
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    if (op === 'OneHot') {
      const depth = Math.trunc(ctx.values(1)[0]);
      if (!(depth >= 1)) throw new ShapeError(`OneHot depth ${depth} must be positive`);
      const vals = ctx.input(2);
      const r = x.shape.length;
      const axis = axisOf(ctx.int('axis', -1), r + 1, ctx.node);
      const out = [...x.shape.slice(0, axis), depth, ...x.shape.slice(axis)];
      let value: number[] | undefined;
      if (x.value && vals.value && vals.value.length === 2 && foldable(out)) {
        const [off, on] = vals.value;
        const outer = elements(x.shape.slice(0, axis));
        const inner = elements(x.shape.slice(axis));
        value = new Array(elements(out)).fill(off);
        for (let o = 0; o < outer; o++) {
          for (let k = 0; k < inner; k++) {
            let i = Math.trunc(x.value[o * inner + k]);
            if (i < 0) i += depth;
            if (i >= 0 && i < depth) value[(o * depth + i) * inner + k] = on;
          }
        }
      }
      return [state(vals.dtype, out, value)];
    }
    if (op === 'Trilu') {
      const s = x.shape;
      if (s.length < 2) throw new ShapeError(`Trilu needs rank ≥ 2, got ${fmt(s)}`);
      let value: number[] | undefined;
      const k = ctx.has(1) ? knownValues(ctx, 1)?.[0] : 0;
      if (x.value && k !== undefined) {
        const upper = ctx.int('upper', 1) === 1;
        const rows = s[s.length - 2];
        const cols = s[s.length - 1];
        value = x.value.map((v, flat) => {
          const j = flat % cols;
          const i = Math.floor(flat / cols) % rows;
          const keep = upper ? j - i >= k : j - i <= k;
          return keep ? v : 0;
        });
      }
      return [state(x.dtype, s.slice(), value)];
    }
    // ReverseSequence (opset 10): reverse the first seq_lens[b] entries along time_axis for every batch b.
    const s = x.shape;
    if (s.length < 2) throw new ShapeError(`ReverseSequence needs rank ≥ 2, got ${fmt(s)}`);
    const batchAxis = ctx.int('batch_axis', 1);
    const timeAxis = ctx.int('time_axis', 0);
    let value: number[] | undefined;
    const lens = knownValues(ctx, 1);
    if (x.value && lens) {
      const strides = stridesOf(s);
      value = new Array(x.value.length);
      forEachIndex(s, (idx, flat) => {
        const len = Math.trunc(lens[idx[batchAxis]]);
        const t = idx[timeAxis];
        const src = t < len ? flat + (len - 1 - 2 * t) * strides[timeAxis] : flat;
        value![flat] = x.value![src];
      });
    }
    return [state(x.dtype, s.slice(), value)];
  },
  cost: () => NO_COST,
});

// ---------------------------------------------------------------------- Compress, NonZero, Unique (data-dependent) ---

export const dataDependentOps = defineOps({
  ops: ['Compress', 'NonZero', 'Unique'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const op = ctx.node.opType;
    if (op === 'Compress') {
      const cond = ctx.values(1);
      const axisAttr = ctx.attribute('axis');
      if (!axisAttr) {
        const n = elements(x.shape);
        const keep: number[] = [];
        for (let i = 0; i < Math.min(n, cond.length); i++) if (cond[i]) keep.push(i);
        return [state(x.dtype, [keep.length], x.value ? keep.map((i) => x.value![i]) : undefined)];
      }
      const axis = axisOf(ctx.int('axis', 0), x.shape.length, ctx.node);
      const dim = x.shape[axis];
      const keep: number[] = [];
      for (let i = 0; i < Math.min(dim, cond.length); i++) if (cond[i]) keep.push(i);
      const out = x.shape.slice();
      out[axis] = keep.length;
      let value: number[] | undefined;
      if (x.value && foldable(out)) {
        const outer = elements(x.shape.slice(0, axis));
        const inner = elements(x.shape.slice(axis + 1));
        value = [];
        for (let o = 0; o < outer; o++) for (const i of keep) for (let k = 0; k < inner; k++) value.push(x.value[(o * dim + i) * inner + k]);
      }
      return [state(x.dtype, out, value)];
    }
    const v = ctx.values(0);
    if (op === 'NonZero') {
      const coords: number[][] = x.shape.map(() => []);
      forEachIndex(x.shape, (idx, flat) => {
        if (v[flat] !== 0) idx.forEach((c, d) => coords[d].push(c));
      });
      const nnz = coords.length ? coords[0].length : v.filter((e) => e !== 0).length;
      // A scalar input gives shape [0, nnz] (rank 0 → zero coordinate rows).
      return [state(DataType.INT64, [x.shape.length, nnz], coords.flat())];
    }
    return unique(ctx, x, v);
  },
  cost: () => NO_COST,
});

function unique(ctx: RuleContext, x: TensorState, v: number[]): TensorState[] {
  const sorted = ctx.int('sorted', 1) === 1;
  const axisAttr = ctx.attribute('axis');
  const shape = x.shape!;
  // Rows: whole tensor flattened (no axis) or slices along the axis.
  let axis = -1;
  let rows: number[][];
  if (!axisAttr) rows = v.map((e) => [e]);
  else {
    axis = axisOf(ctx.int('axis', 0), shape.length, ctx.node);
    const perm = [axis, ...shape.map((_, i) => i).filter((i) => i !== axis)];
    const moved = transposeValues(v, shape, perm);
    const width = elements(shape) / shape[axis];
    rows = Array.from({ length: shape[axis] }, (_, i) => moved.slice(i * width, (i + 1) * width));
  }
  const key = (r: number[]) => r.join(',');
  const firstAt = new Map<string, number>();
  rows.forEach((r, i) => {
    if (!firstAt.has(key(r))) firstAt.set(key(r), i);
  });
  let order = [...firstAt.values()];
  if (sorted) {
    order = order.sort((a, b) => {
      for (let j = 0; j < rows[a].length; j++) if (rows[a][j] !== rows[b][j]) return rows[a][j] - rows[b][j];
      return 0;
    });
  }
  const pos = new Map(order.map((i, p) => [key(rows[i]), p]));
  const counts = order.map(() => 0);
  const inverse = rows.map((r) => {
    const p = pos.get(key(r))!;
    counts[p]++;
    return p;
  });
  const u = order.length;
  let yShape: number[];
  let yValue: number[];
  if (axis < 0) {
    yShape = [u];
    yValue = order.map((i) => rows[i][0]);
  } else {
    const movedShape = [u, ...shape.filter((_, i) => i !== axis)];
    const flatRows = order.flatMap((i) => rows[i]);
    const back = movedShape.map((_, i) => (i < axis ? i + 1 : i === axis ? 0 : i));
    yShape = back.map((p) => movedShape[p]);
    yValue = transposeValues(flatRows, movedShape, back);
  }
  return [
    state(x.dtype, yShape, yValue),
    state(DataType.INT64, [u], order),
    state(DataType.INT64, [rows.length], inverse),
    state(DataType.INT64, [u], counts),
  ];
}

// ------------------------------------------------------------------------------------------ TopK, CumSum ---

function topK(ctx: RuleContext): number {
  return ctx.opset < 10 ? ctx.int('k', 0) : Math.trunc(ctx.values(1)[0]);
}

export const topkCumsumOps = defineOps({
  ops: ['TopK', 'CumSum'],
  infer(ctx) {
    const x = ctx.input(0);
    if (!x.shape) throw new UnknownShape();
    const s = x.shape;
    if (ctx.node.opType === 'CumSum') {
      // The shape is the input's whatever the axis; the axis value matters only for folding.
      const axisValue = ctx.inputs[1]?.value;
      let value: number[] | undefined;
      if (x.value && axisValue) {
        const axis = axisOf(Math.trunc(axisValue[0]), s.length, ctx.node);
        const exclusive = ctx.int('exclusive', 0) === 1;
        const reverse = ctx.int('reverse', 0) === 1;
        const dim = s[axis];
        const inner = elements(s.slice(axis + 1));
        const outer = elements(s.slice(0, axis));
        value = new Array(x.value.length);
        for (let o = 0; o < outer; o++) {
          for (let k = 0; k < inner; k++) {
            let acc = 0;
            for (let t = 0; t < dim; t++) {
              const i = reverse ? dim - 1 - t : t;
              const at = (o * dim + i) * inner + k;
              if (exclusive) {
                value[at] = acc;
                acc += x.value[at];
              } else {
                acc += x.value[at];
                value[at] = acc;
              }
            }
          }
        }
      }
      return [state(x.dtype, s.slice(), value)];
    }
    const k = topK(ctx);
    const axis = axisOf(ctx.int('axis', -1), s.length, ctx.node);
    if (k < 0 || k > s[axis]) throw new ShapeError(`TopK k=${k} is out of range for dim ${s[axis]}`);
    const out = s.slice();
    out[axis] = k;
    let values: number[] | undefined;
    let indices: number[] | undefined;
    if (x.value && foldable(out)) {
      const largest = ctx.opset < 11 || ctx.int('largest', 1) === 1;
      const dim = s[axis];
      const inner = elements(s.slice(axis + 1));
      const outer = elements(s.slice(0, axis));
      values = new Array(elements(out));
      indices = new Array(elements(out));
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          const cand = Array.from({ length: dim }, (_, i) => i);
          const at = (i: number) => x.value![(o * dim + i) * inner + j];
          // Ties: the lower index first (the spec's rule for sorted output).
          cand.sort((a, b) => (largest ? at(b) - at(a) : at(a) - at(b)) || a - b);
          for (let t = 0; t < k; t++) {
            const dst = (o * k + t) * inner + j;
            values[dst] = at(cand[t]);
            indices[dst] = cand[t];
          }
        }
      }
    }
    return [state(x.dtype, out, values), state(DataType.INT64, out.slice(), indices)];
  },
  cost(ctx, outputs): Cost {
    if (ctx.node.opType === 'CumSum') return { macs: 0, flops: elements(outputs[0].shape!) };
    const n = elements(ctx.shape(0));
    const k = outputs[0].shape![axisOf(ctx.int('axis', -1), outputs[0].shape!.length, ctx.node)];
    return { macs: 0, flops: k === 0 ? 0 : Math.round(n * Math.max(1, Math.log2(k))) };
  },
});

export const layoutFamilies = [
  castOps,
  reshapeOps,
  transposeOps,
  concatSplitOps,
  sliceOps,
  gatherOps,
  scatterOps,
  expandTileOps,
  padOps,
  depthSpaceOps,
  miscLayoutOps,
  dataDependentOps,
  topkCumsumOps,
];
