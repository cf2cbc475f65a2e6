import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { checkFeedSize, loadOrt } from '../bench/run.js';
import { MbnError, quote } from '../errors.js';
import { calibrate as measureDevice } from '../latency/measure.js';
import { buildReport } from '../cost/analyze.js';
import { HOROWITZ_45NM_ENERGY } from '../latency/builtin.js';
import { predictEnergy } from '../latency/energy.js';
import { fitEnergyScales, parseEnergySamples, scaledConstants } from '../latency/energy-fit.js';
import { layerLinks } from '../latency/graph.js';
import { type LutModel, measureLut } from '../latency/lut.js';
import { loadProfile } from '../latency/load-profile.js';
import { readModel } from '../onnx/read.js';
import { type InferOptions, inferModel } from '../shape/infer.js';
import { fsErrorReason } from '../util/fs-error.js';
import { checkShapeOptions, type ShapeOptions } from './options.js';
import type { DeviceProfile } from '../contract/device.js';
import type { InputSpec } from '../contract/bench.js';

export interface CalibrateOptions extends ShapeOptions {
  /** ONNX Runtime intra-op threads the profile is for (default 1). */
  threads?: number;
  /**
   * `--lut MODEL…`: also profile these models through ONNX Runtime and store each layer shape's measured kernel
   * time in the profile's lookup table (`lut`), which `analyze --device` uses where a layer's signature matches.
   * `input`/`batch` fix their input shapes.
   */
  lut?: string[];
  /** Timed runs per micro-benchmark and round (default 20). */
  runs?: number;
  /** The profile's name (default `<hostname>-<threads>t`). */
  name?: string;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new MbnError('usage', `${name} ${quote(String(value))} is not a positive integer`);
  return value;
}

/**
 * `mbn calibrate` as a function: measures this machine through ONNX Runtime (its layout, compute rates, bandwidths and
 * overheads) and returns the device profile (schema mbn.device/1) that `analyze({ device })` and `check` read from a
 * file. Needs the optional peer dependency onnxruntime-node. `onStep` is told each micro-benchmark as it starts.
 */
export async function calibrate(options: CalibrateOptions = {}, onStep?: (step: string) => void): Promise<DeviceProfile> {
  const threads = positiveInteger('threads', options.threads, 1);
  const runs = positiveInteger('runs', options.runs, 20);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw new MbnError('usage', 'name must be a non-empty string');
  const infer = checkShapeOptions(options);
  // Every model is read and analysed first: a bad file fails before any timing starts.
  const lutModels = (options.lut ?? []).map((path) => lutModel(path, infer));
  const ort = loadOrt('mbn calibrate');
  const profile = await measureDevice(ort, { threads, runs, rounds: 3, warmup: 2, name: options.name ?? `${hostname()}-${threads}t`, onStep });
  if (lutModels.length === 0) return profile;
  const lut = await measureLut(ort, lutModels, profile, { threads, runs: Math.max(runs, 30), warmup: 5, onStep });
  return {
    ...profile,
    lut,
    sources: [...profile.sources, `lut: ONNX Runtime's median kernel time (profiler, ${Math.max(runs, 30)} runs) of each layer shape in ${lutModels.map((m) => basename(m.path)).join(', ')}; the prediction adds overheadUs.elementwise (dispatch) to it`],
  };
}

/** A model for the lookup table: its report, layer links and input feeds (the shapes `mbn bench` would feed). */
function lutModel(path: string, infer: InferOptions): LutModel {
  const model = readModel(path);
  try {
    const names = model.graph.inputs.map((i) => i.name);
    const inputShapes = infer.inputShapes ? new Map([...infer.inputShapes].filter(([name]) => names.includes(name))) : undefined;
    const inferred = inferModel(model, { inputShapes, batch: infer.batch });
    const report = buildReport(model, inferred);
    const inputs: InputSpec[] = report.model.inputs.map((i) => {
      if (!i.shape) throw new MbnError('usage', `${path}: input ${quote(i.name)} has no declared shape; give it with --input ${i.name}:1x3x224x224`);
      const spec: InputSpec = { name: i.name, type: i.dtype, dims: i.shape };
      checkFeedSize(spec, path);
      return spec;
    });
    return { path, inputs, report, links: layerLinks(inferred) };
  } finally {
    model.source.close();
  }
}

export interface EnergyCalibrateOptions extends ShapeOptions {
  /** The profile whose energy constants are fitted (a built-in name or a profile file): its caches decide levels. */
  device: string;
  /** The samples file (`MODEL,JOULES` lines, or `mbn bench --energy --format json` output). */
  samples: string;
}

/** What `calibrateEnergy` returns: the profile with fitted constants, and each sample beside its fitted joules. */
export interface EnergyCalibration {
  profile: DeviceProfile;
  samples: { model: string; measuredJ: number; fittedJ: number; computeJ: number; movementJ: number }[];
}

/**
 * `mbn calibrate --energy-samples FILE --device P` as a function: the profile `device` with its energy constants
 * fitted to measured joules per inference (src/latency/energy-fit.ts). A profile without an energy block takes
 * the built-in (Horowitz 45 nm) ratios as the base. Model paths in the file are relative to the file.
 */
export function calibrateEnergy(options: EnergyCalibrateOptions): EnergyCalibration {
  const loaded = loadProfile(options.device);
  const base = loaded.energy ?? HOROWITZ_45NM_ENERGY;
  const profile: DeviceProfile = { ...loaded, energy: base };
  let text: string;
  try {
    text = readFileSync(options.samples, 'utf8');
  } catch (error) {
    throw new MbnError('usage', `cannot read energy samples ${quote(options.samples)}: ${fsErrorReason(error, 'read')}`);
  }
  const samples = parseEnergySamples(text, options.samples);
  const dir = dirname(options.samples);
  const infer = checkShapeOptions(options);
  const features = samples.map((s) => {
    const model = readModel(isAbsolute(s.model) ? s.model : join(dir, s.model));
    try {
      const inferred = inferModel(model, infer);
      const report = buildReport(model, inferred);
      // As a budget: an estimate that leaves layers out would bias the fit.
      if (!report.totals.complete) throw new MbnError('usage', `energy sample ${quote(s.model)}: the analysis is incomplete (give its input shapes with --input), so its energy cannot be estimated`);
      const { totals } = predictEnergy(report, layerLinks(inferred), profile);
      if (totals.computeEnergyMj === null || totals.movementEnergyMj === null) throw new MbnError('usage', `energy sample ${quote(s.model)}: its energy cannot be estimated (a shape is unknown)`);
      return { compute: totals.computeEnergyMj / 1e3, movement: totals.movementEnergyMj / 1e3 };
    } finally {
      model.source.close();
    }
  });
  const fit = fitEnergyScales(features, samples.map((s) => s.joules));
  const energy = scaledConstants(base, fit, basename(options.samples), samples.length);
  return {
    profile: { ...loaded, energy },
    samples: samples.map((s, i) => ({ model: s.model, measuredJ: s.joules, fittedJ: fit.fitted[i], computeJ: features[i].compute, movementJ: features[i].movement })),
  };
}
