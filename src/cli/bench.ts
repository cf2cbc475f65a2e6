import { basename } from 'node:path';
import Table from 'cli-table3';
import { type Measurement, loadOrt, measureModel, type InputSpec } from '../bench/run.js';
import { analyzeModel } from '../cost/analyze.js';
import { MbnError, quote } from '../errors.js';
import { readModel } from '../onnx/read.js';
import { human } from '../report/units.js';
import { makeStyle } from '../report/style.js';
import { write } from './output.js';
import { progressReporter } from './progress.js';

export interface BenchCliOptions {
  input?: Map<string, number[]>;
  batch?: number;
  warmup: number;
  runs: number;
  threads: number;
  format: 'table' | 'json';
  color?: boolean;
}

export const BENCH_SCHEMA = 'mbn.bench/1';

export interface BenchRecord {
  path: string;
  inputs: InputSpec[];
  /** From `mbn analyze` at the same input shapes. */
  macs: number;
  flops: number;
  params: number;
  /** Session creation, milliseconds. */
  loadMs: number;
  latencyMs: Measurement['latency'];
  /** Every timed run, milliseconds. */
  timesMs: number[];
  /** This model's median latency over the first model's. */
  latencyRatio: number;
  /** This model's MACs over the first model's (null when the first has none). */
  macRatio: number | null;
}

/** Runs `mbn bench`: every model in ONNX Runtime, then one report with latency and MAC ratios to the first model. */
export async function runBench(paths: string[], opts: BenchCliOptions): Promise<void> {
  const ort = loadOrt();
  // Analyze every model first: a bad file fails before any timing starts.
  const planned = paths.map((path) => plan(path, opts));
  const given = [...(opts.input?.keys() ?? [])];
  for (const name of given) {
    if (!planned.some((p) => p.inputNames.includes(name))) {
      throw new MbnError('usage', `--input names ${quote(name)}, which is not an input of any model given`);
    }
  }
  const records: BenchRecord[] = [];
  for (const p of planned) {
    const progress = opts.format === 'json' ? undefined : progressReporter(`bench ${basename(p.path)}`);
    const m = await measureModel(ort, p.path, p.inputs, { warmup: opts.warmup, runs: opts.runs, threads: opts.threads, onRun: progress });
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
    });
  }
  const options = { warmup: opts.warmup, runs: opts.runs, threads: opts.threads };
  const runtime = { name: 'onnxruntime-node', version: ort.env?.versions?.node ?? ort.env?.versions?.common ?? null };
  if (opts.format === 'json') {
    write(1, JSON.stringify({ schema: BENCH_SCHEMA, runtime, options, models: records }, null, 2) + '\n');
  } else {
    write(1, renderBenchTable(records, options, runtime.version, opts.color));
  }
}

function plan(path: string, opts: BenchCliOptions) {
  const model = readModel(path);
  try {
    const names = model.graph.inputs.map((i) => i.name);
    // --input applies to the models that have that input.
    const inputShapes = opts.input ? new Map([...opts.input].filter(([name]) => names.includes(name))) : undefined;
    const report = analyzeModel(model, { inputShapes, batch: opts.batch });
    const inputs: InputSpec[] = report.model.inputs.map((i) => {
      if (!i.shape) throw new MbnError('usage', `${path}: input ${quote(i.name)} has no declared shape; give it with --input ${i.name}:1x3x224x224`);
      return { name: i.name, type: i.dtype, dims: i.shape };
    });
    return { path, inputNames: names, inputs, macs: report.totals.macs, flops: report.totals.flops, params: report.totals.params };
  } finally {
    model.source.close();
  }
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toPrecision(3)} ms` : `${(value * 1000).toPrecision(3)} µs`;
}

function ratio(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(3)}×`;
}

export function renderBenchTable(records: BenchRecord[], options: { warmup: number; runs: number; threads: number }, version: string | null, color?: boolean): string {
  const c = makeStyle(process.stdout, color);
  const head = ['model', 'input', 'MACs', 'median', 'p10', 'p90', 'latency ratio', 'MAC ratio'];
  const table = new Table({ head: head.map((h) => c.bold(h)), style: { head: [], border: [] } });
  for (const r of records) {
    table.push([
      r.path,
      r.inputs.map((i) => i.dims.join('x')).join(', '),
      human(r.macs),
      ms(r.latencyMs.median),
      ms(r.latencyMs.p10),
      ms(r.latencyMs.p90),
      ratio(r.latencyRatio),
      ratio(r.macRatio),
    ]);
  }
  const threads = `${options.threads} intra-op thread${options.threads === 1 ? '' : 's'}`;
  const note = c.dim(`onnxruntime-node ${version ?? '?'}, ${threads}, ${options.warmup} warm-up + ${options.runs} timed runs per model; ratios are to the first model`);
  return `${table.toString()}\n${note}\n`;
}
