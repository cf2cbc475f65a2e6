import { createRequire } from 'node:module';
import { float16ToNumber, numberToFloat16 } from '../../src/tensor/float.js';
import { mulberry32 } from '../../src/util/random.js';

/**
 * ONNX Runtime as the oracle for rewritten models: a real runtime, loaded only by the tests that run models.
 */
const require = createRequire(import.meta.url);
type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | null | undefined;

export function loadOrt(): Ort | null {
  if (ortModule === undefined) {
    try {
      ortModule = require('onnxruntime-node') as Ort;
    } catch {
      ortModule = null;
    }
  }
  return ortModule;
}

/** Deterministic inputs in [-1, 1) for every graph input, symbolic dims set to `dimValue`. */
export function makeInputs(
  metadata: readonly { name: string; type?: string; shape?: readonly (number | string)[] }[],
  seed = 1,
  dimValue = 1,
): Record<string, { type: string; dims: number[]; data: Float32Array | Float64Array | Uint8Array }> {
  const next = mulberry32(seed);
  const out: ReturnType<typeof makeInputs> = {};
  for (const m of metadata) {
    const dims = (m.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : dimValue));
    const n = dims.reduce((a, b) => a * b, 1);
    if (m.type === 'bool') out[m.name] = { type: 'bool', dims, data: Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0)) };
    else if (m.type === 'float16') out[m.name] = { type: 'float16', dims, data: Uint16Array.from({ length: n }, () => numberToFloat16(2 * next() - 1)) as never };
    else if (m.type === 'float64') out[m.name] = { type: 'float64', dims, data: Float64Array.from({ length: n }, () => 2 * next() - 1) };
    else out[m.name] = { type: 'float32', dims, data: Float32Array.from({ length: n }, () => 2 * next() - 1) };
  }
  return out;
}

export interface RunResult {
  outputs: Record<string, { dims: number[]; data: Float64Array }>;
}

export async function runModel(
  path: string,
  feeds?: ReturnType<typeof makeInputs>,
  options: { seed?: number; dimValue?: number } = {},
): Promise<RunResult & { feeds: ReturnType<typeof makeInputs> }> {
  const ort = loadOrt();
  if (!ort) throw new Error('onnxruntime-node is not installed');
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  const inputs = feeds ?? makeInputs(session.inputMetadata as never, options.seed ?? 1, options.dimValue ?? 1);
  const tensors: Record<string, InstanceType<Ort['Tensor']>> = {};
  for (const [name, v] of Object.entries(inputs)) tensors[name] = new ort.Tensor(v.type as never, v.data as never, v.dims);
  const result = await session.run(tensors);
  const outputs: RunResult['outputs'] = {};
  for (const [name, t] of Object.entries(result)) {
    const raw = t.data as ArrayLike<number>;
    const data = t.type === 'float16' ? Float64Array.from(raw, (bits) => float16ToNumber(bits)) : Float64Array.from(raw);
    outputs[name] = { dims: [...t.dims], data };
  }
  await session.release();
  return { outputs, feeds: inputs };
}

/** max |a − b| / max(|b|∞, tiny): one relative error for a whole tensor. */
export function relativeError(a: Float64Array, b: Float64Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
