import { hostname } from 'node:os';
import { loadOrt } from '../bench/run.js';
import { MbnError, quote } from '../errors.js';
import { calibrate as measureDevice } from '../latency/measure.js';
import type { DeviceProfile } from '../latency/profile.js';

export interface CalibrateOptions {
  /** ONNX Runtime intra-op threads the profile is for (default 1). */
  threads?: number;
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
  const ort = loadOrt('mbn calibrate');
  return measureDevice(ort, { threads, runs, rounds: 3, warmup: 2, name: options.name ?? `${hostname()}-${threads}t`, onStep });
}
