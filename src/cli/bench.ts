import { basename } from 'node:path';
import { checkFeedSize, loadOrt, measureModel, type InputSpec } from '../bench/run.js';
import { buildReport } from '../cost/analyze.js';
import { layerLinks } from '../latency/graph.js';
import { measuredLayers, type PerLayerResult } from '../latency/per-layer.js';
import { renderPerLayerTable } from '../report/latency-report.js';
import { inferModel } from '../shape/infer.js';
import { MbnError, quote } from '../errors.js';
import { readModel } from '../onnx/read.js';
import { type BenchRecord, renderBenchJson, renderBenchTable } from '../report/bench-report.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';
import { progressReporter } from './progress.js';

export interface BenchCliOptions {
  input?: Map<string, number[]>;
  batch?: number;
  inputValue?: Map<string, number>;
  warmup: number;
  runs: number;
  threads: number;
  format: 'table' | 'json';
  color?: boolean;
  /** Profile each model in ONNX Runtime and report every layer's time. */
  perLayer?: boolean;
}

/** Runs `mbn bench`: every model in ONNX Runtime, then one report with latency and MAC ratios to the first model. */
export async function runBench(paths: string[], opts: BenchCliOptions): Promise<void> {
  const ort = loadOrt();
  // Analyze every model first: a bad file fails before any timing starts.
  const planned = paths.map((path) => plan(path, opts));
  for (const [flag, given] of [['--input', opts.input], ['--input-value', opts.inputValue]] as const) {
    for (const name of given?.keys() ?? []) {
      if (!planned.some((p) => p.inputNames.includes(name))) {
        throw new MbnError('usage', `${flag} names ${quote(name)}, which is not an input of any model given`);
      }
    }
  }
  const records: BenchRecord[] = [];
  for (const p of planned) {
    const progress = opts.format === 'json' ? undefined : progressReporter(`bench ${basename(p.path)}`);
    const m = await measureModel(ort, p.path, p.inputs, { warmup: opts.warmup, runs: opts.runs, threads: opts.threads, onRun: progress, profile: opts.perLayer });
    progress?.done();
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
      latencyRatio: first ? m.latency.median / first.latencyMs.median : 1,
      macRatio: first ? (first.macs > 0 ? p.macs / first.macs : null) : p.macs > 0 ? 1 : null,
      ...(m.trace ? perLayerFields(measuredLayers(p.report, p.links, m.trace, opts.warmup)) : {}),
    });
  }
  const options = { warmup: opts.warmup, runs: opts.runs, threads: opts.threads };
  const runtime = { name: 'onnxruntime-node', version: ort.env?.versions?.node ?? ort.env?.versions?.common ?? null };
  if (opts.format === 'json') {
    write(1, renderBenchJson(records, runtime, options));
  } else {
    const style = makeStyle(process.stdout, opts.color);
    write(1, renderBenchTable(records, options, runtime.version, style));
    if (opts.perLayer) write(1, records.map((r) => renderPerLayerTable(r, style)).join(''));
  }
}

function plan(path: string, opts: BenchCliOptions) {
  const model = readModel(path);
  try {
    const names = model.graph.inputs.map((i) => i.name);
    // --input applies to the models that have that input.
    const inputShapes = opts.input ? new Map([...opts.input].filter(([name]) => names.includes(name))) : undefined;
    const inputValues = opts.inputValue ? new Map([...opts.inputValue].filter(([name]) => names.includes(name))) : undefined;
    const inferred = inferModel(model, { inputShapes, batch: opts.batch, inputValues });
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
