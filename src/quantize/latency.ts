import { buildReport } from '../cost/analyze.js';
import { layerLinks } from '../latency/graph.js';
import { predictLatency } from '../latency/model.js';
import type { DeviceProfile } from '../latency/profile.js';
import { readModelBytes } from '../onnx/read.js';
import { PieceSource, piecesLength } from '../onnx/splice.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { emitModel } from './emit.js';
import type { OpsetRaise } from './opset.js';
import type { QuantLayer, QuantPlan } from './plan.js';

/**
 * `mbn quantize --device P [--target-latency MS]`: the latency model (src/latency: ONNX Runtime 1.30's QDQ fusion
 * rules and the profile's integer-kernel rates) predicts the model as each plan would write it, so a layer's int8
 * form is judged with what it costs around it: the QuantizeLinear/DequantizeLinear conversions of a group ORT does
 * not fuse, and those a float neighbour adds. Each prediction is of the whole written model (emitted in memory, read
 * back, analysed), never of a layer alone.
 */

/** What `--device` did: predicted latency before and after, the choice, and (measured) ORT's own timing. */
export interface QuantizeLatency {
  device: string;
  calibrated: boolean;
  /** Predicted latency of the float model (the input, at the opset written) and of the written int8 model, ms. */
  predicted: { floatMs: number; int8Ms: number };
  /** Of all candidate layers int8 (before the device choice), ms. */
  predictedAllInt8Ms: number;
  /** `--target-latency`: the bound and whether the written model's prediction is within it. */
  target: { ms: number; met: boolean } | null;
  /** Layers kept float because the latency model predicts their int8 form slower (or not needed for the target). */
  keptFloat: number;
}

/** The predicted latency (ms) of the model `plan` writes now (its layers' precision as they stand). */
export function predictPlan(plan: QuantPlan, raise: OpsetRaise | null, profile: DeviceProfile, infer: InferOptions): number {
  const built = emitModel(plan, raise, { mode: 'qdq' });
  const bytes = new PieceSource(built.pieces, plan.model.source).view(0, piecesLength(built.pieces)).slice();
  const model = readModelBytes(bytes, 'the planned model');
  try {
    const inferred = inferModel(model, infer);
    return predictLatency(buildReport(model, inferred), layerLinks(inferred), profile).totals.latencyMs;
  } finally {
    model.source.close();
  }
}

const us = (ms: number) => `${Number((ms * 1e3).toPrecision(3))} µs`;
const msText = (ms: number) => `${Number(ms.toPrecision(3))} ms`;

/**
 * Keeps float the int8 layers whose int8 form the latency model predicts slower on `profile`, and with `targetMs`
 * quantizes only until the predicted latency fits, as `separate --target-latency` separates: layers ranked by the
 * time their int8 form is predicted to save (with every other candidate int8, so a chain's shared conversions count
 * once), taken in that order until the prediction is within the target. Each step's figure is a prediction of the
 * whole model. Layers already float (excluded, --max-error) are left alone.
 */
export function chooseByDevice(plan: QuantPlan, raise: OpsetRaise | null, profile: DeviceProfile, infer: InferOptions, targetMs: number | null, notes: string[]): QuantizeLatency {
  const predict = () => predictPlan(plan, raise, profile, infer);
  const candidates = plan.layers.filter((l) => l.precision === 'int8');
  const setFloat = (ls: readonly QuantLayer[], float: boolean) => {
    for (const l of ls) l.precision = float ? 'float32' : 'int8';
  };
  setFloat(candidates, true);
  const floatMs = predict();
  setFloat(candidates, false);
  const allInt8Ms = predict();
  // Each layer's saving in context: the whole model with it float, against all candidates int8.
  const saving = new Map<QuantLayer, { floatMs: number }>();
  for (const l of candidates) {
    setFloat([l], true);
    saving.set(l, { floatMs: predict() });
    setFloat([l], false);
  }
  const saved = (l: QuantLayer) => saving.get(l)!.floatMs - allInt8Ms;
  const ranked = [...candidates].sort((a, b) => saved(b) - saved(a));
  const slower = ranked.filter((l) => saved(l) <= 0);
  const faster = ranked.filter((l) => saved(l) > 0);
  for (const l of slower) {
    l.precision = 'float32';
    l.why = `int8 predicted no faster on ${profile.name}: the model ${us(allInt8Ms)} with it int8, ${us(saving.get(l)!.floatMs)} float`;
  }
  let int8Ms: number;
  if (targetMs === null) {
    int8Ms = slower.length ? predict() : allInt8Ms;
    // Keeping several float at once can interact (two neighbours sharing conversions): never worse than all int8.
    if (int8Ms > allInt8Ms) {
      setFloat(slower, false);
      for (const l of slower) l.why = null;
      int8Ms = allInt8Ms;
      notes.push(`--device ${profile.name}: layers predicted slower in int8 one at a time are not slower together; all kept int8`);
    }
  } else {
    setFloat(faster, true);
    int8Ms = floatMs;
    const taken: QuantLayer[] = [];
    for (const l of faster) {
      if (int8Ms <= targetMs) break;
      l.precision = 'int8';
      taken.push(l);
      int8Ms = predict();
    }
    for (const l of faster) if (!taken.includes(l)) l.why = 'not needed to meet --target-latency';
    notes.push(
      int8Ms <= targetMs
        ? `--target-latency: predicted latency on ${profile.name} ${msText(floatMs)} → ${msText(int8Ms)} (${taken.length} layer${taken.length === 1 ? '' : 's'} int8, by predicted time saved)`
        : `--target-latency cannot be met: quantizing every layer predicted to save time gives ${msText(int8Ms)} on ${profile.name}`,
    );
  }
  return {
    device: profile.name,
    calibrated: profile.calibrated,
    predicted: { floatMs, int8Ms },
    predictedAllInt8Ms: allInt8Ms,
    target: targetMs === null ? null : { ms: targetMs, met: int8Ms <= targetMs },
    keptFloat: candidates.filter((l) => l.precision === 'float32').length,
  };
}
