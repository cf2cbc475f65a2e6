import type { FloatReason, QuantizeLatency, QuantizeNote } from '../contract/quantize.js';
import { buildReport } from '../cost/analyze.js';
import type { Model } from '../ir/types.js';
import { layerLinks } from '../latency/graph.js';
import { predictLatency } from '../latency/model.js';
import type { DeviceProfile } from '../contract/device.js';
import { readModelFrom } from '../onnx/read.js';
import { PieceSource } from '../onnx/splice.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { emitQuantization } from './emit.js';
import type { OpsetRaise } from './opset.js';
import { type FloatTensor, type Int8Weight, type QuantLayer, type QuantizationPlan, withPrecisions } from './plan.js';

/**
 * `mbn quantize --device P [--target-latency MS]`: the latency model (src/latency: ONNX Runtime 1.30's QDQ fusion
 * rules and the profile's integer-kernel rates) predicts the model as each plan would write it, so a layer's int8
 * form is judged with what it costs around it: the QuantizeLinear/DequantizeLinear conversions of a group ORT does
 * not fuse, and those a float neighbour adds. Each prediction is of the whole written model (emitted in memory, read
 * back, analysed), never of a layer alone.
 */

/** The predicted latency (ms) of the model `plan` writes now (its layers' precision as they stand). */
export function predictPlan(plan: QuantizationPlan, raise: OpsetRaise | null, profile: DeviceProfile, infer: InferOptions, weightCache?: Map<FloatTensor, Int8Weight>): number {
  const built = emitQuantization(plan, raise, { mode: 'qdq', weightCache });
  // Read through the pieces (as a dry run is analysed), not copied into one buffer: only the ranges the reader asks for.
  const model = readModelFrom(new PieceSource(built.pieces, plan.model.source), 'the planned model');
  try {
    return predictModel(model, profile, infer);
  } finally {
    model.source.close();
  }
}

function predictModel(model: Model, profile: DeviceProfile, infer: InferOptions): number {
  const inferred = inferModel(model, infer);
  return predictLatency(buildReport(model, inferred), layerLinks(inferred), profile).totals.latencyMs;
}

/**
 * Keeps float the int8 layers whose int8 form the latency model predicts slower on `profile`, and with `targetMs`
 * quantizes only until the predicted latency fits, as `separate --target-latency` separates: layers ranked by the
 * time their int8 form is predicted to save (with every other candidate int8, so a chain's shared conversions count
 * once), taken in that order until the prediction is within the target. Each step's figure is a prediction of the
 * whole model. Layers already float (excluded, --max-error) are left alone. Returns the plan chosen (the one given is
 * not changed), the figures, and the target's note.
 */
export function chooseByDevice(input: Model, plan: QuantizationPlan, raise: OpsetRaise | null, profile: DeviceProfile, infer: InferOptions, targetMs: number | null): { plan: QuantizationPlan; latency: QuantizeLatency; note: QuantizeNote | null } {
  const candidates = plan.layers.filter((l) => l.precision === 'int8');
  const ids = new Set(candidates.map((l) => l.index));
  /** The plan with these candidates float (by node index, with why), the others int8. */
  const planWith = (float: ReadonlyMap<number, FloatReason>) => withPrecisions(plan, ids, float);
  // Only precisions change from here on: each weight is quantized once, not once per prediction.
  const weightCache = new Map<FloatTensor, Int8Weight>();
  const predict = (float: ReadonlyMap<number, FloatReason>) => predictPlan(planWith(float), raise, profile, infer, weightCache);
  /** The reason a layer is float in a probe (a prediction's reason is never kept). */
  const probe: FloatReason = { code: 'int8-no-saving-on-device', device: profile.name };
  // The input as given (before BatchNormalization folding, the opset raise and equalization, which can change what
  // ORT fuses), and the model written with every layer float, where a --target-latency search starts.
  const inputMs = predictModel(input, profile, infer);
  const floatMs = predict(new Map(candidates.map((l) => [l.index, probe])));
  const allInt8Ms = predict(new Map());
  /** The layers kept float so far, with why. */
  let kept = new Map<number, FloatReason>();
  /** Each int8 layer's time saved in context: the whole model with it float, against as it stands. */
  const savings = (now: number) => {
    const saved = new Map<QuantLayer, { saved: number; floatMs: number }>();
    for (const l of candidates.filter((x) => !kept.has(x.index))) {
      const ms = predict(new Map([...kept, [l.index, probe]]));
      saved.set(l, { saved: ms - now, floatMs: ms });
    }
    return saved;
  };
  // Keep float what is predicted slower (or no faster) in int8, pass after pass: a conv ORT fuses only with a
  // QuantizeLinear after it can lose that when its reader goes float, and then be slower itself.
  const producer = new Map(plan.model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  /** Whether a layer's input comes from the other's output, directly or through a few one-input ops. */
  const feeds = (from: QuantLayer, to: QuantLayer) => {
    let x: string | undefined = to.input;
    for (let depth = 0; depth < 4 && x; depth++) {
      const n = producer.get(x);
      if (!n) return false;
      if (n === from.node) return true;
      x = n.inputs.filter((i) => i && producer.has(i)).length === 1 ? n.inputs.find((i) => i && producer.has(i)) : undefined;
    }
    return false;
  };
  const adjacent = (a: QuantLayer, b: QuantLayer) => feeds(a, b) || feeds(b, a);
  let int8Ms = allInt8Ms;
  const firstSavings = savings(allInt8Ms);
  let current = firstSavings;
  for (let pass = 0; pass < candidates.length; pass++) {
    // Worst first; a layer next to one kept float in this pass waits for the next one (its figure took the
    // neighbour as int8: a slow int8 neighbour makes every reader of it look slower too).
    const slower: [QuantLayer, { saved: number; floatMs: number }][] = [];
    for (const entry of [...current].filter(([, v]) => v.saved <= 0).sort((a, b) => a[1].saved - b[1].saved)) {
      if (!slower.some(([l]) => adjacent(l, entry[0]))) slower.push(entry);
    }
    if (slower.length === 0) break;
    const trial = new Map(kept);
    for (const [l, v] of slower) trial.set(l.index, { code: 'int8-slower-on-device', device: profile.name, int8Ms, floatMs: v.floatMs });
    const next = trial.size < candidates.length ? predict(trial) : floatMs;
    // Keeping several float at once can interact; a pass that makes the prediction worse is not taken, and the search ends.
    if (next > int8Ms) break;
    kept = trial;
    int8Ms = next;
    if (kept.size === candidates.length) break;
    current = savings(int8Ms);
  }
  let note: QuantizeNote | null = null;
  if (targetMs !== null) {
    // From the float model, the layers predicted to pay (in the all-int8 context) in order of time saved, each
    // step's figure a prediction of the whole model, until it fits.
    const ranked = candidates.filter((l) => firstSavings.get(l)!.saved > 0).sort((a, b) => firstSavings.get(b)!.saved - firstSavings.get(a)!.saved);
    const unranked = new Map(candidates.filter((l) => !ranked.includes(l)).map((l) => [l.index, kept.get(l.index) ?? probe]));
    const notNeeded: FloatReason = { code: 'not-needed-for-target-latency' };
    /** Float: the unranked layers, and the ranked ones not taken. */
    const without = (taken: number) => new Map([...unranked, ...ranked.slice(taken).map((l) => [l.index, notNeeded] as const)]);
    int8Ms = floatMs;
    let taken = 0;
    while (taken < ranked.length && int8Ms > targetMs) int8Ms = predict(without(++taken));
    kept = without(taken);
    note =
      int8Ms <= targetMs
        ? { code: 'target-latency-met', device: profile.name, beforeMs: inputMs, afterMs: int8Ms, int8Layers: taken }
        : { code: 'target-latency-unmet', device: profile.name, bestMs: int8Ms };
  }
  return {
    plan: planWith(kept),
    latency: {
      device: profile.name,
      calibrated: profile.calibrated,
      predicted: { floatMs: inputMs, int8Ms },
      predictedAllInt8Ms: allInt8Ms,
      target: targetMs === null ? null : { ms: targetMs, met: int8Ms <= targetMs },
      keptFloat: kept.size,
    },
    note,
  };
}
