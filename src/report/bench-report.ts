import type { ChalkInstance } from 'chalk';
import type { Measurement, InputSpec } from '../bench/run.js';
import type { MeasuredLayer, PerLayerResult } from '../latency/per-layer.js';
import { PATH_WIDTH, terminalCell } from './safe-text.js';
import { boxTable } from './table.js';
import { dimsText, human } from './units.js';

/** `mbn bench` output: the JSON contract (schema mbn.bench/1) and the table. */
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
  /** Every timed run, milliseconds (as many as `options` asked for, or more to fill its minimum time). */
  timesMs: number[];
  /** Untimed runs before them. */
  warmupRuns: number;
  /** This model's median latency over the first model's. */
  latencyRatio: number;
  /** This model's MACs over the first model's (null when the first has none). */
  macRatio: number | null;
  /** `--per-layer`: ONNX Runtime's profiled time of each layer (see src/latency/per-layer.ts). */
  layers?: MeasuredLayer[];
  /** `--per-layer`: the trace's totals and the nodes ONNX Runtime added itself. */
  trace?: Omit<PerLayerResult, 'layers'>;
  /** `--energy` where RAPL is readable: measured package energy around the timed runs (see src/bench/rapl.ts). */
  energy?: MeasuredEnergy;
}

export interface MeasuredEnergy {
  /** Package joules per run, less the idle power over the same time: what `--energy-samples` fits. */
  joulesPerRun: number;
  /** Package joules per run as read (idle included). */
  packageJoulesPerRun: number;
  /** Package power with no run, measured just before, watts. */
  idleWatts: number;
  zones: string[];
}

export interface BenchOptions {
  /** The fewest warm-up and timed runs per model. */
  warmup: number;
  runs: number;
  threads: number;
  /** Past those counts, runs continue until this much time has passed (0: the count is exact). */
  minTimeMs: { warmup: number; timed: number };
}

/** The `mbn.bench/1` document (`mbn bench --format json`, and what the library's `bench` returns). */
export interface BenchJson {
  schema: typeof BENCH_SCHEMA;
  runtime: { name: 'onnxruntime-node'; version: string | null };
  options: BenchOptions;
  models: BenchRecord[];
  /** `--energy`: whether RAPL was read, and if not, why (one line). */
  energy?: { measured: boolean; note: string };
}

export function benchJson(records: BenchRecord[], runtime: BenchJson['runtime'], options: BenchOptions, energy?: BenchJson['energy']): BenchJson {
  return { schema: BENCH_SCHEMA, runtime, options, models: records, ...(energy ? { energy } : {}) };
}

export function renderBenchJson(bench: BenchJson): string {
  return JSON.stringify(bench, null, 2) + '\n';
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value >= 100 ? `${value.toFixed(0)} ms` : value >= 1 ? `${value.toPrecision(3)} ms` : `${(value * 1000).toPrecision(3)} µs`;
}

function ratio(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(3)}×`;
}

export function renderBenchTable(records: BenchRecord[], options: BenchOptions, version: string | null, c: ChalkInstance): string {
  const head = ['model', 'input', 'MACs', 'median', 'p10', 'p90', 'latency ratio', 'MAC ratio'];
  const rows = records.map((r) => [
      terminalCell(r.path, PATH_WIDTH),
      terminalCell(r.inputs.map((i) => dimsText(i.dims)).join(', ')),
      human(r.macs),
      ms(r.latencyMs.median),
      ms(r.latencyMs.p10),
      ms(r.latencyMs.p90),
      ratio(r.latencyRatio),
      ratio(r.macRatio),
  ]);
  const table = boxTable({ head: head.map((h) => c.bold(h)), rows, compact: true });
  const threads = `${options.threads} intra-op thread${options.threads === 1 ? '' : 's'}`;
  const runsText = (r: BenchRecord) => `${r.warmupRuns} + ${r.timesMs.length}`;
  const counts = new Set(records.map(runsText));
  const stretched = options.minTimeMs.warmup > 0 || options.minTimeMs.timed > 0 ? `; at least ${options.warmup} + ${options.runs}, more for fast models` : '';
  const perModel = `warm-up + timed runs ${counts.size === 1 ? `per model: ${[...counts][0]}` : `per model, in order: ${records.map(runsText).join(', ')}`}${stretched}`;
  const note = c.dim(`onnxruntime-node ${version ?? '?'}, ${threads}, ${perModel}; ratios are to the first model`);
  return `${table}\n${note}\n`;
}

/** `mbn bench --energy` where RAPL was read: each model's measured joules per run, under the table. */
export function renderMeasuredEnergy(bench: BenchJson): string {
  if (!bench.energy?.measured) return '';
  const lines = bench.models.map((m) =>
    m.energy
      ? `${terminalCell(m.path)}: ${(m.energy.joulesPerRun * 1e3).toPrecision(3)} mJ per run above idle (package ${(m.energy.packageJoulesPerRun * 1e3).toPrecision(3)} mJ, idle ${m.energy.idleWatts.toFixed(2)} W)`
      : `${terminalCell(m.path)}: no energy reading`,
  );
  return `Measured energy (${bench.energy.note}):\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
