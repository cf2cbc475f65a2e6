import { basename } from 'node:path';
import { checkFeedSize, loadOrt, measureModel } from '../bench/run.js';
import { buildReport } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { layerLinks } from '../latency/graph.js';
import { measuredLayers } from '../latency/per-layer.js';
import { readModel } from '../onnx/read.js';
import { openRapl, type RaplCounters } from '../bench/rapl.js';
import { benchJson } from '../report/bench-report.js';
import { inferModel, type InferOptions } from '../shape/infer.js';
import { checkShapeOptions, type ProgressHook, type ShapeOptions, type ValueOptions } from './options.js';
import type { BenchJson, BenchRecord, InputSpec, MeasuredEnergy, PerLayerResult } from '../contract/bench.js';
import type { EnergyMeasurement } from '../contract/messages.js';

export interface BenchOptions extends ShapeOptions, ValueOptions {
  /** Untimed runs before timing (default 3, and more until 0.1 s has passed). */
  warmup?: number;
  /** Timed runs per model (default 20, and more until the timed runs add up to 0.5 s, at most 10,000). */
  runs?: number;
  /** ONNX Runtime intra-op threads (default 1). */
  threads?: number;
  /** Profile in ONNX Runtime and report each layer's time (`layers`, `trace`). */
  perLayer?: boolean;
  /** Read RAPL energy counters around each model's timed runs (`energy`); where absent, the document says why. */
  energy?: boolean;
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new MbnError('usage', `${name} ${quote(String(value))} is not an integer of at least ${min}`);
  return value;
}

/**
 * `mbn bench MODEL… --format json` as a function: each model's latency in ONNX Runtime on random inputs, next to
 * its MAC ratio to the first. Needs the optional peer dependency onnxruntime-node.
 */
export async function bench(paths: string[], options: BenchOptions = {}, progress: ProgressHook = () => undefined): Promise<BenchJson> {
  const warmup = count('warmup', options.warmup, 3, 0);
  const runs = count('runs', options.runs, 20, 1);
  // A count the caller gives is exact; the defaults stretch for fast models. A profiled run keeps to the count
  // (its trace grows with every run).
  const minTimeMs = { warmup: options.warmup === undefined ? 100 : 0, timed: options.runs === undefined && !options.perLayer ? 500 : 0 };
  const threads = count('threads', options.threads, 1, 1);
  if (paths.length === 0) throw new MbnError('usage', 'bench needs at least one model');
  const infer = checkShapeOptions(options);
  const ort = loadOrt();
  // Analyze every model first: a bad file fails before any timing starts.
  const planned = paths.map((path) => plan(path, infer));
  for (const [flag, given] of [['--input', infer.inputShapes], ['--input-value', infer.inputValues]] as const) {
    for (const name of given?.keys() ?? []) {
      if (!planned.some((p) => p.inputNames.includes(name))) {
        throw new MbnError('usage', `${flag} names ${quote(name)}, which is not an input of any model given`);
      }
    }
  }
  const records: BenchRecord[] = [];
  const rapl = options.energy ? openRapl() : null;
  const counters = rapl && 'read' in rapl ? rapl : null;
  for (const p of planned) {
    const reporter = progress(`bench ${basename(p.path)}`);
    const idleWatts = counters ? await idlePower(counters) : 0;
    const window = { before: [] as number[], after: [] as number[], t0: 0n, t1: 0n };
    const onTimed = counters
      ? {
          start: () => {
            window.t0 = process.hrtime.bigint();
            window.before = counters.read();
          },
          end: () => {
            window.after = counters.read();
            window.t1 = process.hrtime.bigint();
          },
        }
      : undefined;
    const m = await measureModel(ort, p.path, p.inputs, { warmup, runs, threads, onRun: reporter, profile: options.perLayer, minTimeMs, onTimed });
    reporter?.done();
    const energy = counters ? measuredEnergy(counters, window, idleWatts, m.times.length) : undefined;
    const first = records[0];
    records.push({
      path: p.path,
      inputs: p.inputs,
      macs: p.macs,
      flops: p.flops,
      params: p.params,
      loadMs: m.loadMs,
      latencyMs: m.latency,
      timesMs: m.times,
      warmupRuns: m.warmupRuns,
      latencyRatio: first ? m.latency.median / first.latencyMs.median : 1,
      macRatio: first ? (first.macs > 0 ? p.macs / first.macs : null) : p.macs > 0 ? 1 : null,
      ...(m.trace ? perLayerFields(measuredLayers(p.report, p.links, m.trace, m.warmupRuns, m.times)) : {}),
      ...(energy ? { energy } : {}),
    });
  }
  const runtime = { name: 'onnxruntime-node' as const, version: ort.env?.versions?.node ?? ort.env?.versions?.common ?? null };
  const energyNote: EnergyMeasurement | undefined = rapl === null ? undefined : counters ? { code: 'rapl-measured', zones: counters.zones } : (rapl as { absent: EnergyMeasurement }).absent;
  return benchJson(records, runtime, { warmup, runs, threads, minTimeMs }, energyNote);
}

/** Package power with nothing of ours running, watts: the counters over a quiet half second. */
async function idlePower(counters: RaplCounters): Promise<number> {
  const before = counters.read();
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const joules = counters.joulesBetween(before, counters.read());
  return joules / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function measuredEnergy(counters: RaplCounters, w: { before: number[]; after: number[]; t0: bigint; t1: bigint }, idleWatts: number, runs: number): MeasuredEnergy | undefined {
  if (w.before.length === 0 || w.after.length === 0 || runs === 0) return undefined;
  const joules = counters.joulesBetween(w.before, w.after);
  const seconds = Number(w.t1 - w.t0) / 1e9;
  return { joulesPerRun: Math.max(0, joules - idleWatts * seconds) / runs, packageJoulesPerRun: joules / runs, idleWatts, zones: counters.zones };
}

function plan(path: string, infer: InferOptions) {
  const model = readModel(path);
  try {
    const names = model.graph.inputs.map((i) => i.name);
    // --input applies to the models that have that input.
    const inputShapes = infer.inputShapes ? new Map([...infer.inputShapes].filter(([name]) => names.includes(name))) : undefined;
    const inputValues = infer.inputValues ? new Map([...infer.inputValues].filter(([name]) => names.includes(name))) : undefined;
    const inferred = inferModel(model, { inputShapes, batch: infer.batch, inputValues });
    const report = buildReport(model, inferred);
    const inputs: InputSpec[] = report.model.inputs.map((i) => {
      if (!i.shape) throw new MbnError('usage', `${path}: input ${quote(i.name)} has no declared shape; give it with --input ${i.name}:1x3x224x224`);
      const value = inputValues?.get(i.name);
      const spec: InputSpec = value === undefined ? { name: i.name, type: i.dtype, dims: i.shape } : { name: i.name, type: i.dtype, dims: i.shape, value };
      checkFeedSize(spec, path);
      return spec;
    });
    const links = layerLinks(inferred);
    return { path, inputNames: names, inputs, macs: report.totals.macs, flops: report.totals.flops, params: report.totals.params, report, links };
  } finally {
    model.source.close();
  }
}

function perLayerFields(result: PerLayerResult): Pick<BenchRecord, 'layers' | 'trace'> {
  const { layers, ...trace } = result;
  return { layers, trace };
}
