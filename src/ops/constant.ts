import { DataType } from '../onnx/dtype.js';
import { NO_COST, ShapeError, type TensorState, UnknownShape, defineOps, elements } from './define.js';
import { FOLD_LIMIT, intValues, state } from './values.js';

/**
 * Sources of constants and shape facts: Constant, ConstantOfShape, Range, Shape, Size, Identity, EyeLike.
 * Their outputs carry values (TensorState.value) whenever they are known and small (FOLD_LIMIT elements), which is
 * what lets Shape → Gather → Unsqueeze → Concat → Reshape chains fold. None of them computes anything: cost
 * {macs: 0, flops: 0} (Range's additions are index bookkeeping, not model arithmetic).
 */

const FLOAT = DataType.FLOAT;
const INT64 = DataType.INT64;

export const constantOps = defineOps({
  ops: ['Constant', 'ConstantOfShape', 'Range', 'Shape', 'Size', 'Identity', 'EyeLike'],
  infer(ctx) {
    switch (ctx.node.opType) {
      case 'Constant': {
        // Exactly one value attribute: value (1+), sparse_value (11), value_float(s)/value_int(s)/value_string(s) (12).
        const value = ctx.attribute('value');
        if (value) {
          if (value.data.type !== 'tensor') throw new ShapeError('Constant value attribute is not a tensor');
          const t = value.data.value;
          return [state(t.dtype, t.dims.slice(), ctx.tensorValues(t))];
        }
        for (const a of ctx.node.attributes) {
          const d = a.data;
          if (a.name === 'value_float' && d.type === 'float') return [state(FLOAT, [], [Math.fround(d.value)])];
          if (a.name === 'value_floats' && d.type === 'floats') return [state(FLOAT, [d.value.length], d.value.map(Math.fround))];
          if (a.name === 'value_int' && d.type === 'int') return [state(INT64, [], [d.value])];
          if (a.name === 'value_ints' && d.type === 'ints') return [state(INT64, [d.value.length], d.value.slice())];
          if (a.name === 'value_string' && d.type === 'string') return [state(DataType.STRING, [])];
          if (a.name === 'value_strings' && d.type === 'strings') return [state(DataType.STRING, [d.value.length])];
        }
        if (ctx.attribute('sparse_value')) throw new ShapeError('Constant with a sparse_value is not supported');
        throw new ShapeError('Constant has no value attribute');
      }
      case 'ConstantOfShape': {
        const shape = intValues(ctx, 0);
        if (shape.some((d) => d < 0)) throw new ShapeError(`ConstantOfShape shape [${shape.join(',')}] has a negative dim`);
        let dtype: number = FLOAT;
        let fill = 0;
        const a = ctx.attribute('value');
        if (a && a.data.type === 'tensor') {
          dtype = a.data.value.dtype;
          const v = ctx.tensorValues(a.data.value);
          if (!v || v.length !== 1) {
            return [state(dtype, shape)];
          }
          fill = v[0];
        }
        const n = elements(shape);
        return [state(dtype, shape, n <= FOLD_LIMIT ? new Array(n).fill(fill) : undefined)];
      }
      case 'Range': {
        const dtype = ctx.input(0).dtype;
        const [start] = ctx.values(0);
        const [limit] = ctx.values(1);
        const [delta] = ctx.values(2);
        if (delta === 0) throw new ShapeError('Range delta cannot be 0');
        const n = Math.max(Math.ceil((limit - start) / delta), 0);
        if (!Number.isSafeInteger(n)) throw new ShapeError(`Range from ${start} to ${limit} by ${delta} is too long`);
        const isFloat = dtype === FLOAT;
        const value = n <= FOLD_LIMIT ? Array.from({ length: n }, (_, i) => (isFloat ? Math.fround(start + i * delta) : start + i * delta)) : undefined;
        return [state(dtype, [n], value)];
      }
      case 'Shape': {
        const s = ctx.shape(0);
        const r = s.length;
        let start = 0;
        let end = r;
        if (ctx.opset >= 15) {
          // Opset 15: start/end select a slice of the shape; negatives count from the back, then both clamp to [0, r].
          start = ctx.int('start', 0);
          end = ctx.int('end', r);
          if (start < 0) start += r;
          if (end < 0) end += r;
          start = Math.min(Math.max(start, 0), r);
          end = Math.min(Math.max(end, 0), r);
        }
        const dims = s.slice(start, Math.max(start, end));
        return [state(INT64, [dims.length], dims)];
      }
      case 'Size': {
        const s = ctx.shape(0);
        return [state(INT64, [], [elements(s)])];
      }
      case 'Identity': {
        const x = ctx.input(0);
        if (!x.shape) throw new UnknownShape();
        const out: TensorState = { dtype: x.dtype, shape: x.shape.slice() };
        if (x.value) out.value = x.value;
        return [out];
      }
      default: {
        // EyeLike: a 2-D tensor of the input's shape with ones on diagonal k; dtype attribute or the input's.
        const x = ctx.input(0);
        if (!x.shape) throw new UnknownShape();
        if (x.shape.length !== 2) throw new ShapeError(`EyeLike needs a 2-D input, got [${x.shape.join(',')}]`);
        const dtype = ctx.int('dtype', x.dtype);
        const k = ctx.int('k', 0);
        const [rows, cols] = x.shape;
        const n = rows * cols;
        const value = n <= FOLD_LIMIT ? Array.from({ length: n }, (_, f) => (f % cols) - Math.floor(f / cols) === k ? 1 : 0) : undefined;
        return [state(dtype, [rows, cols], value)];
      }
    }
  },
  cost: () => NO_COST,
});
