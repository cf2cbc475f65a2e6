import type { EnergyMeasurement, TraceNote } from './messages.js';
/**
 * The `mbn.bench/1` contract (`mbn bench --format json`, and what the library's `bench` returns; report/bench-report.ts
 * builds the document): measured latency in ONNX Runtime, and with `--per-layer` each layer's profiled time.
 */

export const BENCH_SCHEMA = 'mbn.bench/1';

export interface InputSpec {
  name: string;
  /** onnxruntime type name: float32, float16, float64, int64, int32, int8, uint8, bool, … */
  type: string;
  dims: number[];
  /** --input-value: every element holds this value (else seeded random data). */
  value?: number;
}

export interface Latency {
  /** Milliseconds per run. */
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
}

/** `mbn bench --per-layer`: one entry per mbn layer with its measured time and roofline figures. */
export interface MeasuredLayer {
  name: string;
  op: string;
  macs: number;
  flops: number;
  /** Inputs (activations and weights) read once plus outputs written once; null when a shape is unknown. */
  bytesMoved: number | null;
  /** FLOPs per byte moved; null when bytes are unknown or zero. */
  intensity: number | null;
  /** Median time per run, ms; null when the layer ran inside another's node (fusedInto) or not at all. */
  measuredMs: number | null;
  /** measuredMs over the sum of all node times of a run. */
  share: number | null;
  /** Achieved 10⁹ MACs per second. */
  gmacPerSecond: number | null;
  /** ONNX Runtime node the time comes from. */
  ortNode: string | null;
  fusedInto: string | null;
  /** Why there is no time, or what else its node computed, as a code (the document has it in English too). */
  note: TraceNote | null;
}

export interface PerLayerResult {
  runs: number;
  /** Median `model_run` duration in the trace, ms. */
  traceRunMs: number;
  /** Sum of every node's kernel time per run, ms; the layers' times plus ORT's own nodes. */
  nodeMs: number;
  layers: MeasuredLayer[];
  /** Nodes ONNX Runtime inserted itself (layout reorders, copies) that match no layer. */
  runtimeNodes: { name: string; op: string; ms: number }[];
  /**
   * Median over the timed runs of the call from Node less ORT's own `model_run`: the binding passing inputs in and
   * outputs out, outside every node. Null when the call times and the trace's runs do not pair up.
   */
  outsideMs: number | null;
}

export interface BenchRecord {
  path: string;
  inputs: InputSpec[];
  /** From `mbn analyze` at the same input shapes. */
  macs: number;
  flops: number;
  params: number;
  /** Session creation, milliseconds. */
  loadMs: number;
  latencyMs: Latency;
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
  models: BenchRecordJson[];
  /** `--energy`: whether RAPL was read, and if not, why (one line, and as a code: `noteCode`). */
  energy?: { measured: boolean; note: string; noteCode: EnergyMeasurement };
}

/** A layer of `--per-layer` in `mbn.bench/1`: `note` in English, `noteCode` the same as a code (README, "Message codes"). */
export type MeasuredLayerJson = Omit<MeasuredLayer, 'note'> & { note: string | null; noteCode: TraceNote | null };

/** A model in `mbn.bench/1`: its `--per-layer` layers with their notes in English and as codes. */
export type BenchRecordJson = Omit<BenchRecord, 'layers'> & { layers?: MeasuredLayerJson[] };
