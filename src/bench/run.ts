import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:buffer';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MbnError, quote } from '../errors.js';
import { float16ToNumber, numberToFloat16 } from '../tensor/float.js';
import { product } from '../util/count.js';
import { mulberry32 } from '../util/random.js';
import type { InputSpec, Latency } from '../contract/bench.js';

/**
 * Latency of models in ONNX Runtime (onnxruntime-node, an optional dependency loaded only here), on seeded random
 * inputs. Only the pieces of the onnxruntime API that mbn uses are typed, so that mbn builds without it.
 */
export interface OrtTensor {
  readonly dims: readonly number[];
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string; isTensor?: boolean; type?: string; shape?: readonly (number | string)[] }[];
  run(feeds: Record<string, OrtTensor>, options?: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
  endProfiling?(): unknown;
}
export interface Ort {
  InferenceSession: { create(path: string, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  env?: { versions?: { common?: string; node?: string }; logLevel?: string };
}

/**
 * ONNX Runtime's own log (severity 4: fatal only). Its error lines repeat, with timestamps and colour codes, what
 * mbn reports in its one `mbn:` line, so they never reach the terminal.
 */
const ORT_LOG_SEVERITY = 4;

/** The one line for a command that needs onnxruntime-node where it is not installed. */
export function ortMissing(command: string): string {
  return `${command} needs onnxruntime-node: npm install onnxruntime-node`;
}

/**
 * onnxruntime-node from mbn's own node_modules, else from the current project's; a usage error naming `command`
 * when neither has it.
 */
export function loadOrt(command = 'mbn bench'): Ort {
  const bases = [import.meta.url, join(process.cwd(), 'package.json')];
  for (const base of bases) {
    try {
      return createRequire(base)('onnxruntime-node') as Ort;
    } catch {
      // Not installed there (or its native binding failed to load): try the next place.
    }
  }
  throw new MbnError('usage', ortMissing(command));
}

const FEED_WIDTH: Record<string, number> = {
  float32: 4, float64: 8, float16: 2, bool: 1, int64: 8, uint64: 8, int32: 4, uint32: 4, int16: 2, uint16: 2, int8: 1, uint8: 1,
};

/** The largest input mbn bench allocates: one typed array, at most Node's buffer.constants.MAX_LENGTH bytes. */
export const MAX_FEED_BYTES = constants.MAX_LENGTH;

/** Refuses, before anything is allocated or timed, an input too large to allocate (a usage error: exit 2). */
export function checkFeedSize(spec: InputSpec, path: string): void {
  const n = product(spec.dims, `the element count of input ${quote(spec.name)} of ${path}, shape`);
  const bytes = n * (FEED_WIDTH[spec.type] ?? 1);
  if (bytes > MAX_FEED_BYTES) {
    throw new MbnError(
      'usage',
      `${path}: input ${quote(spec.name)} [${spec.dims.join(',')}] of ${spec.type} needs ${bytes.toLocaleString('en-US')} bytes; mbn bench allocates at most ${MAX_FEED_BYTES.toLocaleString('en-US')} bytes per input (give a smaller shape with --input ${spec.name}:…)`,
    );
  }
}

/**
 * Float inputs uniform in [-1, 1); integer inputs 0 (a safe index or length for any model); bools random. An input
 * with a `value` holds it in every element.
 */
export function makeFeedData(spec: InputSpec, next: () => number): unknown {
  const n = product(spec.dims);
  if (spec.value !== undefined) return constantFeed(spec, n, spec.value);
  switch (spec.type) {
    case 'float32':
      return Float32Array.from({ length: n }, () => 2 * next() - 1);
    case 'float64':
      return Float64Array.from({ length: n }, () => 2 * next() - 1);
    case 'float16':
      return Uint16Array.from({ length: n }, () => numberToFloat16(2 * next() - 1));
    case 'bool':
      return Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
    case 'int64':
      return new BigInt64Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
    default:
      throw new MbnError('unsupported', `input '${spec.name}' has type ${spec.type}, which mbn bench cannot feed`);
  }
}

function constantFeed(spec: InputSpec, n: number, value: number): unknown {
  switch (spec.type) {
    case 'float32':
      return new Float32Array(n).fill(value);
    case 'float64':
      return new Float64Array(n).fill(value);
    case 'float16':
      return new Uint16Array(n).fill(numberToFloat16(value));
    case 'bool':
      return new Uint8Array(n).fill(value ? 1 : 0);
    case 'int64':
      return new BigInt64Array(n).fill(BigInt(value));
    case 'uint64':
      return new BigUint64Array(n).fill(BigInt(value));
    case 'int32':
      return new Int32Array(n).fill(value);
    case 'uint32':
      return new Uint32Array(n).fill(value);
    case 'int16':
      return new Int16Array(n).fill(value);
    case 'uint16':
      return new Uint16Array(n).fill(value);
    case 'int8':
      return new Int8Array(n).fill(value);
    case 'uint8':
      return new Uint8Array(n).fill(value);
    default:
      throw new MbnError('unsupported', `input '${spec.name}' has type ${spec.type}, which mbn bench cannot feed`);
  }
}

/** Linearly interpolated quantile of sorted values (q in [0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function summarize(times: readonly number[]): Latency {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export interface MeasureOptions {
  warmup: number;
  runs: number;
  threads: number;
  seed?: number;
  /** Called after every run (warm-up runs included), for progress. */
  onRun?: (done: number, total: number) => void;
  /** Run with ONNX Runtime's profiler on and return its trace (`mbn bench --per-layer`). */
  profile?: boolean;
  /**
   * Keep warming up past `warmup` runs until this many ms have passed (and WARM_CALLS calls, where they are quick),
   * and keep timing past `runs` runs until the timed runs add up to `timedMs` (at most MAX_WARMUP and MAX_RUNS runs):
   * a model that takes 40 µs is still warming up after 3 runs, and 20 runs of it are a millisecond of noise.
   */
  minTimeMs?: { warmup: number; timed: number };
  /** Told just before the first timed run and just after the last (`mbn bench --energy` reads RAPL there). */
  onTimed?: { start(): void; end(): void };
}

export const MAX_WARMUP = 10_000;

/**
 * A default warm-up also makes at least this many calls where they fit in WARM_CALLS_MS: the first calls in a process
 * run slower whatever the model, while V8 optimizes onnxruntime-node's JavaScript around session.run (measured here,
 * medians of 500 calls in a fresh process: a 10 µs wake-word MLP 14–16 µs for its first 1,500 calls, then 11 µs; a
 * 73 µs Silero VAD 78–80 µs, then 72 µs). 0.1 s of warm-up alone stopped a 75 µs model before that.
 */
export const WARM_CALLS = 2000;
const WARM_CALLS_MS = 150;

/**
 * Whether a warm-up that has made `runs` runs in `ms` goes on: to the `count` asked for, then, with a time floor
 * (`floorMs` > 0: the defaults), until the floor has passed and WARM_CALLS calls are made where they take at most
 * WARM_CALLS_MS, never past MAX_WARMUP runs.
 */
export function keepWarming(runs: number, ms: number, count: number, floorMs: number): boolean {
  if (runs < count) return true;
  if (floorMs <= 0 || runs >= MAX_WARMUP) return false;
  return ms < floorMs || (runs < WARM_CALLS && ms < WARM_CALLS_MS);
}
export const MAX_RUNS = 10_000;

export interface Measurement {
  inputs: InputSpec[];
  /** Session creation (load and graph optimization), milliseconds. */
  loadMs: number;
  /** Milliseconds of each timed run, in order. */
  times: number[];
  /** Untimed runs done before them. */
  warmupRuns: number;
  latency: Latency;
  /** ONNX Runtime's profiling trace (Chrome trace events), when `profile` was asked for. */
  trace?: unknown[];
}

/**
 * Runs one model: `warmup` untimed runs, then `runs` timed ones, each a whole session.run() on the same feeds.
 * `inputs` gives every graph input's type and concrete dims (symbolic dims already resolved by the caller).
 */
export async function measureModel(ort: Ort, path: string, inputs: InputSpec[], options: MeasureOptions): Promise<Measurement> {
  const t0 = process.hrtime.bigint();
  let session: OrtSession;
  const profileDir = options.profile ? mkdtempSync(join(tmpdir(), 'mbn-profile-')) : null;
  try {
    session = await openSession(ort, path, {
      intraOpNumThreads: options.threads,
      executionMode: 'sequential',
      ...(profileDir ? { enableProfiling: true, profileFilePrefix: join(profileDir, 'ort') } : {}),
    });
  } catch (error) {
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    throw new MbnError('unsupported', `onnxruntime cannot load ${path}: ${firstLine(error)}`);
  }
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  try {
    const next = mulberry32(options.seed ?? 1);
    const feeds: Record<string, OrtTensor> = {};
    for (const spec of inputs) {
      if (!session.inputNames.includes(spec.name)) continue;
      feeds[spec.name] = new ort.Tensor(spec.type, makeFeedData(spec, next), spec.dims);
    }
    const floor = options.minTimeMs ?? { warmup: 0, timed: 0 };
    const times: number[] = [];
    let warmupRuns = 0;
    let warmupMs = 0;
    let timedMs = 0;
    const warming = () => keepWarming(warmupRuns, warmupMs, options.warmup, floor.warmup);
    const timing = () => times.length < options.runs || (timedMs < floor.timed && times.length < MAX_RUNS);
    let timedStarted = false;
    for (let done = 1; warming() || timing(); done++) {
      if (!timedStarted && !warming()) {
        timedStarted = true;
        options.onTimed?.start();
      }
      const start = process.hrtime.bigint();
      try {
        await session.run(feeds, { logSeverityLevel: ORT_LOG_SEVERITY });
      } catch (error) {
        throw new MbnError('unsupported', `onnxruntime cannot run ${path}: ${firstLine(error)}${zeroFedHint(inputs)}`);
      }
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (warming()) {
        warmupRuns++;
        warmupMs += ms;
      } else {
        times.push(ms);
        timedMs += ms;
      }
      // Progress against the counts asked for; a time floor only adds runs to a model that is fast anyway.
      options.onRun?.(Math.min(done, options.warmup + options.runs), options.warmup + options.runs);
    }
    if (timedStarted) options.onTimed?.end();
    const trace = profileDir ? readTrace(session, profileDir) : undefined;
    return { inputs, loadMs, times, warmupRuns, latency: summarize(times), ...(trace ? { trace } : {}) };
  } finally {
    await session.release();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  }
}

/** Ends ORT's profiler and reads the trace file it wrote into `dir`. */
function readTrace(session: OrtSession, dir: string): unknown[] {
  session.endProfiling?.();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  if (!file) throw new MbnError('unsupported', 'onnxruntime wrote no profiling trace');
  const events: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (!Array.isArray(events)) throw new MbnError('unsupported', 'onnxruntime wrote a profiling trace mbn cannot read');
  return events;
}

/** Integer inputs fed 0 may be a sample rate or a mode that picks a branch: say which, and how to set them. */
function zeroFedHint(inputs: InputSpec[]): string {
  const zero = inputs.filter((i) => i.value === undefined && /int/.test(i.type)).map((i) => i.name);
  if (zero.length === 0) return '';
  return ` (integer input${zero.length === 1 ? '' : 's'} ${zero.map((n) => `'${n}'`).join(', ')} ${zero.length === 1 ? 'was' : 'were'} fed 0: give ${zero.length === 1 ? 'its value' : 'their values'} with --input-value ${zero[0]}=VALUE)`;
}

/** The first non-empty line of an error from ONNX Runtime (its messages run to many lines). */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}

/**
 * An ONNX Runtime session on a model file or its bytes, one thread, with ORT's own logging off (its log lines never
 * reach the terminal: mbn says what went wrong in one line). Errors are ORT's, for the caller to word.
 */
export async function openSession(ort: Ort, source: string | Uint8Array, options: Record<string, unknown> = {}): Promise<OrtSession> {
  // The process-wide default logger, set before the first session (later sessions keep it).
  if (ort.env) ort.env.logLevel = 'fatal';
  const create = ort.InferenceSession.create as (s: string | Uint8Array, o: Record<string, unknown>) => Promise<OrtSession>;
  return create(source, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: ORT_LOG_SEVERITY, ...options });
}

/** A float output's values as float64 (null for other types). */
export function floatValues(t: OrtTensor): Float64Array | null {
  const tensor = t as OrtTensor & { type?: string; data?: ArrayLike<number> };
  if (!tensor.data || !['float32', 'float64', 'float16'].includes(tensor.type ?? '')) return null;
  return tensor.type === 'float16' ? Float64Array.from(tensor.data, (bits) => float16ToNumber(bits)) : Float64Array.from(tensor.data);
}
