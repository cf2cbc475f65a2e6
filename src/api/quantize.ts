import { basename, dirname, extname, join } from 'node:path';
import type { InputSpec } from '../contract/bench.js';
import { type Ort, loadOrt, measureModel } from '../bench/run.js';
import { matchName } from '../budget/glob.js';
import { verifyOutputs } from '../calibrate/collect.js';
import { graphInputs, loadCalibration } from '../calibrate/inputs.js';
import { splitBatches } from '../calibrate/run.js';
import { MbnError, quote } from '../errors.js';
import type { Model } from '../ir/types.js';
import { bytesFor } from '../onnx/dtype.js';
import { readModel } from '../onnx/read.js';
import { elementCount } from '../onnx/tensor-data.js';
import { type WriteTarget, checkTarget, writeModelWithData } from '../onnx/write-file.js';
import { emitQuantization } from '../quantize/emit.js';
import { equalize } from '../quantize/equalize.js';
import { type FoldedModel, foldBatchNorms } from '../quantize/fold-bn.js';
import { type OpsetRaise, raiseOpset } from '../quantize/opset.js';
import { chooseByDevice } from '../quantize/latency.js';
import { loadProfile } from '../latency/load-profile.js';
import { checkQuantizable, planQuantization } from '../quantize/plan.js';
import type { QuantizeSummary } from '../quantize/summary.js';
import { calibrateRanges, checkInputRuns, keepSensitiveFloat, measureSensitivity } from '../quantize/run.js';
import { quantizeJson } from '../report/quantize-report.js';
import { inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ProgressHook, type ShapeOptions, type ValueOptions } from './options.js';
import type { FloatReason, QuantizeJson, QuantizeNote, RangeMethod } from '../contract/quantize.js';

export type { QuantizeSummary };

export interface QuantizeOptions extends ShapeOptions, ValueOptions {
  /** Output model (default: `<model>.int8.onnx` beside the input). */
  output?: string;
  /** Overwrite an existing output file. */
  force?: boolean;
  /** Calibration data: a folder of .npy batches, or `random:N` (default random:8, with a note). */
  calibrate?: string;
  /** Seed for `random:N` (default 0). */
  seed?: number;
  /** Activation range method (default `minmax`: measured best on PP-OCRv4 rec and det, see README). */
  method?: RangeMethod;
  /** For `method: 'percentile'`: the percentile kept (default 99.99). */
  percentile?: number;
  /** Fold each Conv → BatchNormalization pair into one Conv before quantizing (default true). */
  foldBatchNorm?: boolean;
  /** Cross-layer equalization (default true). */
  equalize?: boolean;
  /** Empirical bias correction (default true). */
  biasCorrection?: boolean;
  /** Keep the most sensitive layers float until the worst output's relative error is within this. */
  maxError?: number;
  /** Only layers whose node name matches one of these globs (`*` matches any text); others stay float. */
  include?: string[];
  exclude?: string[];
  /**
   * Device profile (a file from `mbn calibrate`, or a built-in name): predict the latency before and after, and keep
   * float the layers whose int8 form the latency model predicts slower there.
   */
  device?: string;
  /** With `device`: quantize, by predicted time saved, only until the predicted latency fits (ms). */
  targetLatency?: number;
  /**
   * Time the input and the written model in ONNX Runtime (`mbn bench`'s method: median of ≥ 20 runs and ≥ 0.5 s after
   * ≥ 0.1 s of warm-up, one thread). Default: with `device`.
   */
  measure?: boolean;
}

export function defaultQuantizedOutput(input: string): string {
  const ext = extname(input);
  return join(dirname(input), `${basename(input, ext || undefined)}.int8${ext || '.onnx'}`);
}

const METHODS: RangeMethod[] = ['minmax', 'percentile', 'mse'];

/** Calibrates, quantizes, checks in ONNX Runtime and writes: what the CLI renders and `quantize` returns. */
export async function quantizeFile(path: string, opts: QuantizeOptions, progress: ProgressHook = () => undefined): Promise<QuantizeSummary> {
  const method = opts.method ?? 'minmax';
  if (!METHODS.includes(method)) throw new MbnError('usage', `method ${quote(String(method))} is not one of ${METHODS.join(', ')}`);
  const percentile = opts.percentile ?? 99.99;
  if (!(percentile > 50 && percentile <= 100)) throw new MbnError('usage', `percentile ${quote(String(percentile))} is out of range: above 50 and at most 100`);
  if (opts.maxError !== undefined && !(opts.maxError >= 0 && Number.isFinite(opts.maxError))) throw new MbnError('usage', `maxError ${quote(String(opts.maxError))} must be a non-negative number`);
  if (opts.targetLatency !== undefined && !opts.device) throw new MbnError('usage', '--target-latency needs --device (a profile file from mbn calibrate, or a built-in profile name)');
  if (opts.targetLatency !== undefined && !(opts.targetLatency > 0 && Number.isFinite(opts.targetLatency))) throw new MbnError('usage', `targetLatency ${quote(String(opts.targetLatency))} must be a positive number of milliseconds`);
  const profile = opts.device !== undefined ? loadProfile(opts.device) : null;
  // Without integer-kernel rates the latency model times int8 layers at the float rates: no basis for the choice.
  if (profile && !profile.int8) throw new MbnError('usage', `device profile ${profile.name} has no integer-kernel figures (its "int8" block; the built-in profiles have none): mbn quantize --device needs a profile from mbn calibrate`);
  const infer = checkShapeOptions(opts);
  const output = opts.output ?? defaultQuantizedOutput(path);
  const input = readModel(path);
  let folded: FoldedModel | null = null;
  try {
    const inputShapes = inferModel(input, infer);
    checkQuantizable(input, inputShapes);
    // Quantized from here on: the model with its BatchNormalizations folded into the convs before them (fold-bn.ts).
    folded = opts.foldBatchNorm === false ? null : foldBatchNorms(input, inputShapes);
    const model = folded?.model ?? input;
    let shapes = inferModel(model, infer);
    const target: WriteTarget = { path: output, force: opts.force ?? false, protect: [path] };
    checkTarget(target);
    let ort: Ort;
    try {
      ort = loadOrt('mbn quantize');
    } catch (error) {
      throw error instanceof MbnError ? error : new MbnError('unsupported', 'mbn quantize needs onnxruntime-node: npm install onnxruntime-node');
    }
    const include = opts.include ?? [];
    const exclude = opts.exclude ?? [];
    const select = (name: string): FloatReason | null => {
      if (include.length && !include.some((p) => matchName(p, name))) return { code: 'not-included' };
      if (exclude.some((p) => matchName(p, name))) return { code: 'excluded' };
      return null;
    };
    const planned = planQuantization(model, shapes, select);
    const notes: QuantizeNote[] = [];
    const spec = opts.calibrate ?? 'random:8';
    if (opts.calibrate === undefined) notes.push({ code: 'default-random-data' });
    else if (spec.startsWith('random')) notes.push({ code: 'random-data' });
    const resolved = new Map(shapes.inputs.map((i) => [i.name, i.shape]));
    const calibration = loadCalibration(spec, graphInputs(model, resolved, infer.inputShapes), opts.seed ?? 0);
    // The shapes the data has (the first batch's), for what the opset change must know (the rank of a Softmax input).
    if (!infer.inputShapes) shapes = inferModel(model, { ...infer, inputShapes: new Map(Object.entries(calibration.batches[0]).map(([k, t]) => [k, t.dims])) });
    const rankOf = (name: string) => shapes.values.get(name)?.shape?.length ?? null;
    const taken = new Set<string>();
    const raised: OpsetRaise | null = raiseOpset(model, rankOf, (base) => {
      let name = `${base}_mbn`;
      for (let i = 1; taken.has(name); i++) name = `${base}_mbn_${i}`;
      taken.add(name);
      return name;
    });
    const settings: QuantizeSummary['settings'] = {
      method,
      percentile: method === 'percentile' ? percentile : null,
      foldBatchNorm: opts.foldBatchNorm ?? true,
      equalize: opts.equalize ?? true,
      biasCorrection: opts.biasCorrection ?? true,
      activations: 'uint8',
      weights: 'int8 per channel',
    };
    const { fit, verify, held } = splitBatches(calibration.batches);
    if (!held) notes.push({ code: 'check-on-range-batches' });
    await checkInputRuns(ort, path, calibration.batches[0]);
    // Each step returns a new plan (quantize/plan.ts `withLayers`).
    const equalized = settings.equalize ? equalize(planned) : planned;
    const calibrating = progress('calibrating activation ranges');
    const ranged = await calibrateRanges(ort, equalized, raised, fit, { method, percentile, biasCorrection: settings.biasCorrection });
    calibrating?.done();
    const measuring = progress('measuring each layer\'s error');
    let plan = await measureSensitivity(ort, ranged, raised, verify);
    measuring?.done();
    let maxError: QuantizeSummary['maxError'] = null;
    if (opts.maxError !== undefined) {
      const searching = progress('keeping sensitive layers float');
      const found = await keepSensitiveFloat(ort, path, plan, raised, verify, opts.maxError);
      searching?.done();
      plan = found.plan;
      maxError = { limit: opts.maxError, met: found.met, probes: found.probes };
      if (!found.met) notes.push({ code: 'max-error-unmet', maxError: opts.maxError });
    }
    const dataShapes = { ...infer, inputShapes: new Map(Object.entries(calibration.batches[0]).map(([k, t]) => [k, t.dims])) };
    let latency: QuantizeSummary['latency'] = null;
    if (profile) {
      const predicting = progress(`predicting latency on ${profile.name}`);
      const chosen = chooseByDevice(input, plan, raised, profile, dataShapes, opts.targetLatency ?? null);
      predicting?.done();
      plan = chosen.plan;
      latency = chosen.latency;
      if (chosen.note) notes.push(chosen.note);
    }
    if (!plan.layers.some((l) => l.precision === 'int8')) {
      // --target-latency met by the float model: no layer was needed (taking any would be a quantized copy for nothing).
      if (latency?.target?.met) throw new MbnError('unsupported', `nothing was quantized: on ${latency.device} the float model is predicted at ${Number(latency.predicted.int8Ms.toPrecision(3))} ms, within --target-latency ${latency.target.ms} ms already`);
      if (latency?.keptFloat) throw new MbnError('unsupported', `nothing was quantized: on ${latency.device} the latency model predicts no layer faster in int8 (predicted ${Number(latency.predictedAllInt8Ms.toPrecision(3))} ms all int8, ${Number(latency.predicted.floatMs.toPrecision(3))} ms float); quantize without --device to write int8 anyway`);
      throw new MbnError('unsupported', 'nothing was quantized: every layer stayed float (see --include/--exclude/--max-error)');
    }
    const built = emitQuantization(plan, raised, { mode: 'qdq' });
    const summary: QuantizeSummary = {
      input: path,
      output,
      plan,
      raise: raised ? { from: raised.from, to: raised.to, changed: raised.changes.length } : null,
      settings,
      calibration: { source: calibration.source, kind: calibration.kind, batches: calibration.batches.length, fitBatches: fit.length, verifyBatches: verify.length, heldBack: held > 0 },
      outputs: null,
      maxError,
      batchNormFolded: folded?.convs ?? [],
      weightBytes: { before: constantBytes(input), after: null },
      fileBytes: { before: input.size, after: null },
      latency,
      measured: null,
      notes,
    };
    const measure = opts.measure ?? profile !== null;
    const specs: InputSpec[] = Object.entries(calibration.batches[0]).map(([name, t]) => ({ name, type: t.type, dims: t.dims }));
    const writing = progress(`writing ${basename(output)}`);
    // The written model is run in ONNX Runtime on the held-back batches while staged: one that fails is never kept.
    const check = async (staged: string): Promise<void> => {
      writing?.done();
      const written = readModel(staged);
      try {
        summary.weightBytes.after = constantBytes(written);
        summary.fileBytes.after = written.size;
      } finally {
        written.source.close();
      }
      summary.outputs = await verifyOutputs(ort, path, staged, verify);
      if (measure) {
        const timing = progress('timing the float and int8 models in ONNX Runtime');
        summary.measured = { floatMs: await medianMs(ort, path, specs), int8Ms: await medianMs(ort, staged, specs) };
        timing?.done();
      }
    };
    try {
      await writeModelWithData(path, { target, pieces: built.pieces, source: model.source, progress: writing }, null, check);
    } finally {
      writing?.done();
    }
    return summary;
  } finally {
    folded?.model.source.close();
    input.source.close();
  }
}

/** `mbn bench`'s figure for one model: the median of the timed runs, one thread, default run counts. */
async function medianMs(ort: Ort, path: string, inputs: InputSpec[]): Promise<number> {
  const m = await measureModel(ort, path, inputs, { warmup: 3, runs: 20, threads: 1, minTimeMs: { warmup: 100, timed: 500 } });
  return m.latency.median;
}

/** Stored bytes of the main graph's constants: initializers and Constant nodes' values. */
export function constantBytes(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers) n += bytesFor(t.dtype, elementCount(t));
  for (const node of model.graph.nodes) {
    if (node.opType !== 'Constant') continue;
    for (const a of node.attributes) if (a.data.type === 'tensor') n += bytesFor(a.data.value.dtype, elementCount(a.data.value));
  }
  return n;
}

/**
 * `mbn quantize MODEL --format json` as a function: static int8 quantization to QDQ (int8 weights per output channel,
 * uint8 activations per tensor), checked in ONNX Runtime, written to `output`; returns the `mbn.quantize/1` document.
 */
export async function quantize(path: string, options: QuantizeOptions = {}): Promise<QuantizeJson> {
  return quantizeJson(await quantizeFile(path, options));
}
