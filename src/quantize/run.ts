import type { Ort, OrtTensor } from '../bench/run.js';
import { floatValues } from '../bench/run.js';
import { openSide, runSide } from '../bench/compare.js';
import { feedsOf, verifyOutputs } from '../calibrate/collect.js';
import type { CalibrationBatch } from '../calibrate/inputs.js';
import { PieceSource, piecesLength } from '../onnx/splice.js';
import { emitQuantization } from './emit.js';
import { StreamingHistogram, chooseRange } from './histogram.js';
import type { OpsetRaise } from './opset.js';
import { type QuantLayer, type QuantizationPlan, biasCorrection, outputPoints, withLayers, withPrecisions } from './plan.js';
import type { OutputCheck } from '../contract/output-check.js';
import { MbnError } from '../errors.js';
import type { FloatReason, RangeMethod } from '../contract/quantize.js';

/**
 * The data-driven steps of `mbn quantize`, each an ONNX Runtime run over in-memory copies of the model (emit.ts):
 * activation statistics on the fitting batches, bias correction, each layer's own error (sensitivity) and the
 * --max-error search on the held-back batches.
 */

/** Calibration runs are throughput, not a latency measurement: ONNX Runtime may use every core (its default, 0). */
const ALL_CORES = { intraOpNumThreads: 0 };

export interface DataSettings {
  method: RangeMethod;
  percentile: number;
  biasCorrection: boolean;
}

function bytesOf(plan: QuantizationPlan, raise: OpsetRaise | null, mode: 'qdq' | 'float' | 'shadow', expose: string[] = []): { bytes: Uint8Array; shadows: ReturnType<typeof emitQuantization>['shadows'] } {
  const built = emitQuantization(plan, raise, { mode, expose });
  const source = new PieceSource(built.pieces, plan.model.source);
  return { bytes: source.view(0, piecesLength(built.pieces)).slice(), shadows: built.shadows };
}

/**
 * Streams the fitting batches through the float model (equalized weights) and folds every int8 layer's input and
 * every output point into a histogram, and each conv input's per-channel sums (for bias correction). Returns the plan
 * with each tensor's range and the corrected biases. A layer whose input never came out (a branch that did not run)
 * stays float.
 */
export async function calibrateRanges(ort: Ort, plan: QuantizationPlan, raise: OpsetRaise | null, batches: CalibrationBatch[], settings: DataSettings): Promise<QuantizationPlan> {
  const int8 = plan.layers.filter((l) => l.precision === 'int8');
  // Each int8 layer's input and the tensors quantized where produced (plan.ts `outputPoints`; a superset of the later ones).
  const points = [...outputPoints(plan).values()].map((p) => p.tensor);
  const tensors = [...new Set([...int8.map((l) => l.input), ...points])];
  const graphInputs = new Set(plan.model.graph.inputs.map((i) => i.name));
  const fetched = tensors.filter((t) => !graphInputs.has(t));
  const histograms = new Map(tensors.map((t) => [t, new StreamingHistogram()]));
  const convInputs = new Set(int8.filter((l) => l.kind === 'conv' && !l.transposed).map((l) => l.input));
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  const { bytes } = bytesOf(plan, raise, 'float', fetched);
  const session = await openSide(ort, bytes, 'the equalized model', ALL_CORES);
  try {
    for (const batch of batches) {
      const feeds = feedsOf(ort, batch, session.inputNames);
      const out = fetched.length ? await runSide(session, feeds, 'the equalized model', fetched) : {};
      for (const t of tensors) {
        const tensor: OrtTensor | undefined = graphInputs.has(t) ? feeds[t] : out[t];
        const values = tensor && valuesOf(tensor);
        if (!values?.length) continue;
        histograms.get(t)!.add(values);
        if (convInputs.has(t) && tensor.dims.length >= 2) addChannelSums(sums, t, values, tensor.dims);
      }
    }
  } finally {
    await session.release();
  }
  const ranges = new Map(plan.ranges);
  for (const [t, h] of histograms) if (h.count) ranges.set(t, chooseRange(h, settings.method, settings.percentile));
  return withLayers(
    plan,
    (l) => {
      if (l.precision !== 'int8') return null;
      if (!ranges.has(l.input)) return { precision: 'float32', why: { code: 'input-not-produced' } };
      const s = sums.get(l.input);
      if (!settings.biasCorrection || l.kind !== 'conv' || l.transposed || !s || !s.n) return null;
      const correction = biasCorrection(l, Float64Array.from(s.sum, (v) => v / s.n));
      let most = 0;
      for (const c of correction) most = Math.max(most, Math.abs(c));
      return { correction, biasCorrection: most };
    },
    { ranges },
  );
}

/**
 * Runs the input model on the first calibration batch before any step: data it cannot take (a symbolic dim taken as
 * 1, a wrong --input) is the user's matter, said in one line, not a failure of the models mbn builds from it.
 */
export async function checkInputRuns(ort: Ort, original: string, batch: CalibrationBatch): Promise<void> {
  const session = await openSide(ort, original, 'the input model', ALL_CORES);
  try {
    await runSide(session, feedsOf(ort, batch, session.inputNames), 'the input model');
  } catch (error) {
    const shapes = Object.entries(batch).map(([name, t]) => `${name}:${t.dims.join('x')}`).join(', ');
    throw new MbnError('unsupported', `${error instanceof Error ? error.message : String(error)} (calibration data ${shapes}: give the model's input shapes with --input NAME:DIMS, or a --calibrate folder of them)`);
  } finally {
    await session.release();
  }
}

/** A float output's values without a copy when they are float32 already. */
function valuesOf(t: OrtTensor): ArrayLike<number> | null {
  const data = (t as OrtTensor & { data?: unknown }).data;
  return data instanceof Float32Array ? data : floatValues(t);
}

/** Per-channel sums over batch and spatial positions (channel axis 1). */
function addChannelSums(sums: Map<string, { sum: Float64Array; n: number }>, name: string, values: ArrayLike<number>, dims: readonly number[]): void {
  const channels = dims[1];
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  const entry = sums.get(name) ?? { sum: new Float64Array(channels), n: 0 };
  if (entry.sum.length !== channels) return;
  for (let b = 0; b < dims[0]; b++) {
    for (let c = 0; c < channels; c++) {
      const base = (b * channels + c) * inner;
      let s = 0;
      for (let k = 0; k < inner; k++) s += values[base + k];
      entry.sum[c] += s;
    }
  }
  entry.n += dims[0] * inner;
  sums.set(name, entry);
}

/**
 * Sensitivity: each int8 layer's own error, ‖ŷ − y‖/‖y‖ of its output when it alone is quantized (its float input
 * through uint8 QDQ, its int8 weights and int32 bias) against its float output, over the held-back batches. One run
 * of a model holding every layer twice (emit.ts `shadow`). Returns the plan with each layer's `ownError`.
 */
export async function measureSensitivity(ort: Ort, plan: QuantizationPlan, raise: OpsetRaise | null, batches: CalibrationBatch[]): Promise<QuantizationPlan> {
  const { bytes, shadows } = bytesOf(plan, raise, 'shadow');
  if (!shadows.size) return plan;
  const session = await openSide(ort, bytes, 'the sensitivity model', ALL_CORES);
  const acc = new Map<QuantLayer, { dd: number; yy: number }>();
  const fetches = [...shadows.values()].flatMap((s) => [s.float, s.quantized]);
  try {
    for (const batch of batches) {
      const out = await runSide(session, feedsOf(ort, batch, session.inputNames), 'the sensitivity model', fetches);
      for (const [l, s] of shadows) {
        const y = out[s.float] && floatValues(out[s.float]);
        const q = out[s.quantized] && floatValues(out[s.quantized]);
        if (!y || !q || y.length !== q.length) continue;
        const e = acc.get(l) ?? { dd: 0, yy: 0 };
        for (let i = 0; i < y.length; i++) {
          e.dd += (q[i] - y[i]) ** 2;
          e.yy += y[i] ** 2;
        }
        acc.set(l, e);
      }
    }
  } finally {
    await session.release();
  }
  return withLayers(plan, (l) => {
    const e = acc.get(l);
    return e ? { ownError: e.yy > 0 ? Math.sqrt(e.dd / e.yy) : Math.sqrt(e.dd) } : null;
  });
}

/** The quantized model's bytes, as emitted now. */
export function quantizedBytes(plan: QuantizationPlan, raise: OpsetRaise | null): Uint8Array {
  return bytesOf(plan, raise, 'qdq').bytes;
}

export function worstError(outputs: OutputCheck[]): number {
  return outputs.reduce((m, o) => Math.max(m, o.relativeError), 0);
}

/**
 * --max-error E: keeps the layers with the largest own error in float, as few as give a whole-model output error ≤ E
 * on the held-back batches: k = 0, 1, 2, 4… until within E, then a binary search between the last two k (the error
 * is taken as falling with k; each probe is one quantized copy run on the batches). Returns the plan chosen, its
 * checks, and the number of probes.
 */
export async function keepSensitiveFloat(ort: Ort, original: string, plan: QuantizationPlan, raise: OpsetRaise | null, batches: CalibrationBatch[], maxError: number): Promise<{ plan: QuantizationPlan; outputs: OutputCheck[]; probes: number; met: boolean }> {
  const ranked = plan.layers.filter((l) => l.precision === 'int8').sort((a, b) => (b.ownError ?? 0) - (a.ownError ?? 0));
  const why: FloatReason = { code: 'kept-by-max-error', maxError };
  const candidates = new Set(ranked.map((l) => l.index));
  /** The plan with the k most sensitive layers float. */
  const withK = (k: number) => withPrecisions(plan, candidates, new Map(ranked.slice(0, k).map((l) => [l.index, why])));
  let probes = 0;
  const probe = async (k: number): Promise<OutputCheck[]> => {
    probes++;
    return verifyOutputs(ort, original, quantizedBytes(withK(k), raise), batches);
  };
  let lo = -1;
  let hi = 0;
  let best = await probe(0);
  let bestK = 0;
  while (worstError(best) > maxError && hi < ranked.length) {
    lo = hi;
    hi = Math.min(ranked.length, hi ? hi * 2 : 1);
    best = await probe(hi);
    bestK = hi;
  }
  const met = worstError(best) <= maxError;
  if (met) {
    // The smallest k within E between lo (over E) and hi (within).
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      const checks = await probe(mid);
      if (worstError(checks) <= maxError) (hi = mid), (best = checks), (bestK = mid);
      else lo = mid;
    }
  }
  return { plan: withK(bestK), outputs: best, probes, met };
}

