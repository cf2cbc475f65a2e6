import { type Chunk, node, writeModel } from '../bench/models.js';
import { concatBytes, encodeNodeField, encodeTensorField, encodeValueInfoField, lengthField, varintField } from '../onnx/encode.js';
import { DataType } from '../onnx/dtype.js';

/**
 * `mbn calibrate`'s per-op-kind fixed costs (the profile's `overheadUsByOp`): for each op kind common in small models
 * whose fixed cost differs from a Relu's, a chain of OP_CHAIN nodes of that kind on tensors of a few elements, so
 * that the arithmetic is negligible and the chain's time less one call is OP_CHAIN times the op's fixed cost. Inside
 * Silero VAD legacy, ORT's profiler put a Concat at about 0.9 µs, a Slice at 0.3, a Pow at 0.4 and an If at about
 * 0.45 µs where a Relu took 0.17. (Not Transpose nor Cast: ORT's optimizer merges a chain of either away.)
 */
export const OP_CHAIN = 50;

const FLOAT = DataType.FLOAT;
const INT64 = DataType.INT64;
export const int64s = (name: string, values: number[], dims = [values.length]) =>
  encodeTensorField({ name, dtype: INT64, dims, raw: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) });
const floats = (name: string, values: number[], dims = [values.length]) => encodeTensorField({ name, dtype: FLOAT, dims, raw: new Uint8Array(new Float32Array(values).buffer) });

/** A calibrate micro-benchmark (measure.ts's MicroBenchmark, which measure.ts takes these as). */
interface ChainBenchmark {
  name: string;
  what: string;
  flops: number;
  bytes: number;
  input: number[];
  ops: number;
  write(path: string): void;
}

/** One op kind's chain: the keys its figure is stored under, and its nodes. */
interface OpChain {
  /** The op types the figure applies to (Squeeze and Unsqueeze alternate in one chain). */
  ops: string[];
  what: string;
  input: number[];
  output: number[];
  /** The chain's constants. */
  constants: Chunk[];
  /** Node i, reading x and writing y. */
  node(i: number, x: string, y: string): Chunk[];
  /** Ops in the chain beyond the OP_CHAIN measured ones, each at the elementwise overhead (the If's condition). */
  extra: number;
}

/**
 * An If whose branches each hold one op on the outer-scope tensor x (then: Neg, else: Relu); with `outer` names,
 * each branch instead adds them to x one by one, a chain of Adds that reads each from outside the branch.
 */
function ifNode(i: number, cond: string, x: string, y: string, outer: string[] = []): Uint8Array {
  const branch = (name: string, op: string) => {
    const out = `${name}${i}`;
    const nodes = outer.length === 0
      ? [encodeNodeField({ name: `${name}-op${i}`, opType: op, domain: '', inputs: [x], outputs: [out], attributes: [] })]
      : outer.map((w, j) => encodeNodeField({ name: `${name}-add${i}-${j}`, opType: 'Add', domain: '', inputs: [j === 0 ? x : `${name}${i}-${j - 1}`, w], outputs: [j === outer.length - 1 ? out : `${name}${i}-${j}`], attributes: [] }));
    const graph = concatBytes(...nodes, lengthField(2, `${name}${i}`), encodeValueInfoField(out, FLOAT, [1, 8], 12));
    return { name: `${name}_branch`, type: 'raw' as const, payload: concatBytes(lengthField(1, `${name}_branch`), lengthField(6, graph), varintField(20, 5)) };
  };
  return node('If', [cond], [y], `if${i}`, [branch('then', 'Neg'), branch('else', 'Relu')]);
}

/** Outer-scope tensors each branch of the if-values chain reads. */
export const IF_VALUES = 8;
const ifValueNames = Array.from({ length: IF_VALUES }, (_, j) => `w${j}`);

/**
 * The If chain again, each branch a chain of IF_VALUES Adds of a [1, 8] float tensor and an outer-scope constant
 * each (`if-values`), and the same Adds without the Ifs (`if-values-flat`): against the If chain, what each further
 * value a branch reads costs the If on every run (`ifValueUs`). ONNX Runtime sets up a frame for the branch on every
 * run, with each value it reads from outside and each constant it holds: 50 Ifs whose branches read 8 such values
 * took 26 µs more than 50 reading one (an inner Constant the same).
 */
export function ifValuesBenchmarks(): ChainBenchmark[] {
  const constants = () => [floats('floor', [-1e30], []), ...ifValueNames.map((w, j) => floats(w, Array(8).fill((j + 1) / 1000), [1, 8]))];
  const io = () => [encodeValueInfoField('x', FLOAT, [1, 8], 11), encodeValueInfoField('y', FLOAT, [1, 8], 12)];
  const adds = OP_CHAIN * IF_VALUES;
  return [
    {
      name: 'if-values',
      what: `a chain of ${OP_CHAIN} If on a condition computed at run time, each branch ${IF_VALUES} Adds of a [1, 8] float tensor and an outer-scope constant each (per value an If's branch reads from outside: ifValueUs)`,
      flops: 0,
      bytes: 0,
      input: [1, 8],
      ops: OP_CHAIN + 2 + adds,
      write: (path: string) => {
        const chunks: Chunk[] = [...constants(), node('ReduceMax', ['x'], ['peak'], 'peak', [{ name: 'keepdims', type: 'int', value: 0 }]), node('Greater', ['peak', 'floor'], ['cond'], 'cond')];
        for (let i = 0; i < OP_CHAIN; i++) chunks.push(ifNode(i, 'cond', i === 0 ? 'x' : `t${i - 1}`, i === OP_CHAIN - 1 ? 'y' : `t${i}`, ifValueNames));
        writeModel(path, 'if-values', [...chunks, ...io()], 13, 3);
      },
    },
    {
      name: 'if-values-flat',
      what: `the ${adds} Adds of the if-values chain without its Ifs`,
      flops: 0,
      bytes: 0,
      input: [1, 8],
      ops: adds,
      write: (path: string) => {
        const chunks: Chunk[] = constants().slice(1);
        for (let k = 0; k < adds; k++) chunks.push(node('Add', [k === 0 ? 'x' : `t${k - 1}`, ifValueNames[k % IF_VALUES]], [k === adds - 1 ? 'y' : `t${k}`], `add${k}`));
        writeModel(path, 'if-values-flat', [...chunks, ...io()], 13, 3);
      },
    },
  ];
}

/**
 * ifValueUs, µs (at least 0): an If of the if-values chain, (chain − its Adds without the Ifs − its two condition
 * ops) / OP_CHAIN, less the calibrated If (which reads one value), over the IF_VALUES − 1 further values.
 */
export function solveIfValue(msOf: (name: string) => number, ifUs: number, overheadMs: number): number {
  const perIfUs = ((msOf('if-values') - msOf('if-values-flat') - 2 * overheadMs) / OP_CHAIN) * 1000;
  return Math.round(Math.max(0, (perIfUs - ifUs) / (IF_VALUES - 1)) * 1000) / 1000;
}

const BINARY = ['Add', 'Sub', 'Mul', 'Div'];

const CHAINS: OpChain[] = [
  {
    ops: ['Concat'],
    what: `a chain of ${OP_CHAIN} Concat of a 1-D float tensor (1 to 50 elements) and a 1-element constant (per-Concat overhead)`,
    input: [1],
    output: [OP_CHAIN + 1],
    constants: [floats('one', [1])],
    node: (i, x, y) => [node('Concat', [x, 'one'], [y], `concat${i}`, [{ name: 'axis', type: 'int', value: 0 }])],
    extra: 0,
  },
  {
    ops: ['Slice'],
    what: `a chain of ${OP_CHAIN} Slice dropping the first element of a 1-D float tensor (64 to 15 elements; per-Slice overhead)`,
    input: [64],
    output: [64 - OP_CHAIN],
    constants: [int64s('starts', [1]), int64s('ends', [1 << 30]), int64s('axes', [0])],
    node: (i, x, y) => [node('Slice', [x, 'starts', 'ends', 'axes'], [y], `slice${i}`)],
    extra: 0,
  },
  {
    ops: ['Gather'],
    what: `a chain of ${OP_CHAIN} Gather of an [8] float tensor by 8 int64 indices (per-Gather overhead)`,
    input: [8],
    output: [8],
    constants: [int64s('order', [7, 6, 5, 4, 3, 2, 1, 0])],
    node: (i, x, y) => [node('Gather', [x, 'order'], [y], `gather${i}`, [{ name: 'axis', type: 'int', value: 0 }])],
    extra: 0,
  },
  {
    // ORT's binary elementwise kernels set up a broadcast each call: a chain of them ran 0.19–0.2 µs an op where a
    // Relu/Neg chain ran 0.155.
    ops: BINARY,
    what: `a chain of ${OP_CHAIN} Add, Sub, Mul and Div in turn of a [1, 8] float tensor and a [1, 8] constant (per-binary-op overhead)`,
    input: [1, 8],
    output: [1, 8],
    constants: [floats('half', Array(8).fill(0.5), [1, 8])],
    node: (i, x, y) => [node(BINARY[i % BINARY.length], [x, 'half'], [y], `binary${i}`)],
    extra: 0,
  },
  {
    ops: ['Pow'],
    what: `a chain of ${OP_CHAIN} Pow of a [1, 8] float tensor by the scalar 2 (per-Pow overhead)`,
    input: [1, 8],
    output: [1, 8],
    constants: [floats('two', [2], [])],
    node: (i, x, y) => [node('Pow', [x, 'two'], [y], `pow${i}`)],
    extra: 0,
  },
  {
    ops: ['Unsqueeze', 'Squeeze'],
    what: `a chain of ${OP_CHAIN} Unsqueeze and Squeeze (alternating) of axis 0 of a [1, 8] float tensor (per-Unsqueeze/Squeeze overhead)`,
    input: [1, 8],
    output: [1, 8],
    constants: [int64s('axis0', [0])],
    node: (i, x, y) => [node(i % 2 ? 'Squeeze' : 'Unsqueeze', [x, 'axis0'], [y], `squeeze${i}`)],
    extra: 0,
  },
  {
    // The kernel ORT's LayerNormFusion makes of a layer norm written out as nine ops (layer-norm.ts): inside the
    // wake-word MLPs ORT's profiler put it at 0.4–0.7 µs, where the elementwise overhead charged 0.19.
    ops: ['LayerNormalization'],
    what: `a chain of ${OP_CHAIN} LayerNormalization over the last axis of a [1, 8] float tensor (per-LayerNormalization overhead: the kernel a fused nine-op layer norm runs as)`,
    input: [1, 8],
    output: [1, 8],
    constants: [floats('gamma', [1, 1, 1, 1, 1, 1, 1, 1]), floats('beta', [0, 0, 0, 0, 0, 0, 0, 0])],
    node: (i, x, y) => [node('LayerNormalization', [x, 'gamma', 'beta'], [y], `layernorm${i}`, [{ name: 'axis', type: 'int', value: -1 }])],
    extra: 0,
  },
  {
    // ORT's LSTM kernel sets up its scratch buffers on every call: a 1-step LSTM of 32 units ran 8.4 µs where its
    // GEMMs and the call account for 6.1. Each LSTM's output [1, 1, 1, 8] is squeezed back to [1, 1, 8] for the next.
    ops: ['LSTM'],
    what: `a chain of ${OP_CHAIN} LSTM of 8 units over 1 step of a [1, 1, 8] float tensor, each followed by a Squeeze (per-LSTM fixed cost, beyond one step's GEMM)`,
    input: [1, 1, 8],
    output: [1, 1, 8],
    constants: [floats('lstm_w', Array(4 * 8 * 8).fill(0.05), [1, 32, 8]), floats('lstm_r', Array(4 * 8 * 8).fill(0.05), [1, 32, 8]), int64s('lstm_axis', [1])],
    node: (i, x, y) => [
      node('LSTM', [x, 'lstm_w', 'lstm_r'], [`lstm${i}`], `lstm${i}`, [{ name: 'hidden_size', type: 'int', value: 8 }]),
      node('Squeeze', [`lstm${i}`, 'lstm_axis'], [y], `lstm_squeeze${i}`),
    ],
    extra: OP_CHAIN,
  },
  {
    ops: ['If'],
    what: `a chain of ${OP_CHAIN} If on a condition computed at run time (ReduceMax, Greater), each branch one Neg or Relu of a [1, 8] float tensor (per-If overhead, beyond its branch's op)`,
    input: [1, 8],
    output: [1, 8],
    constants: [floats('floor', [-1e30], [])],
    node: (i, x, y) => [
      ...(i === 0 ? [node('ReduceMax', ['x'], ['peak'], 'peak', [{ name: 'keepdims', type: 'int', value: 0 }]), node('Greater', ['peak', 'floor'], ['cond'], 'cond')] : []),
      ifNode(i, 'cond', x, y),
    ],
    extra: 2,
  },
];

/** The op-kind chains as calibrate's micro-benchmarks (named `op-overhead-<kind>`). */
export function opOverheadBenchmarks(): ChainBenchmark[] {
  return CHAINS.map((c) => {
    const name = `op-overhead-${c.ops[0].toLowerCase()}`;
    return {
      name,
      what: c.what,
      flops: 0,
      bytes: 0,
      input: c.input,
      ops: OP_CHAIN + c.extra,
      write: (path: string) => {
        const chunks: Chunk[] = [...c.constants];
        for (let i = 0; i < OP_CHAIN; i++) chunks.push(...c.node(i, i === 0 ? 'x' : `t${i - 1}`, i === OP_CHAIN - 1 ? 'y' : `t${i}`));
        chunks.push(encodeValueInfoField('x', FLOAT, c.input, 11), encodeValueInfoField('y', FLOAT, c.output, 12));
        writeModel(path, name, chunks, 13, 3);
      },
    };
  });
}

/**
 * Each op kind's fixed cost, µs: its chain's time less one call and its extra ops at the elementwise overhead, per
 * op; an If's also less its branch's one op (the latency model times the branch's nodes as layers of their own), an
 * LSTM's less its step's GEMM overhead (recurrentTime charges that per step).
 */
export function solveOpOverheads(msOf: (name: string) => number, callMs: number, overheadMs: number, gemmOverheadMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of CHAINS) {
    const ms = msOf(`op-overhead-${c.ops[0].toLowerCase()}`);
    // An If's branch op, and an LSTM's step GEMM, are timed apart (as layers; as recurrentTime's step).
    const inner = c.ops[0] === 'If' ? overheadMs : c.ops[0] === 'LSTM' ? gemmOverheadMs : 0;
    const us = Math.max(0, ((ms - callMs - c.extra * overheadMs) / OP_CHAIN - inner) * 1000);
    for (const op of c.ops) out[op] = Math.round(us * 1000) / 1000;
  }
  return out;
}
