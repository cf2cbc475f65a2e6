import { basename } from 'node:path';
import { measureModel, type Ort, quantile } from '../bench/run.js';
import type { Report } from '../contract/analyze.js';
import type { InputSpec } from '../contract/bench.js';
import type { DeviceProfile, LutEntry } from '../contract/device.js';
import type { LayerLink } from './graph.js';
import { predictLatency } from './model.js';
import { mapTrace, type TraceEvent } from './profile-map.js';

/**
 * `mbn calibrate --lut MODEL…`: NetAdapt's lookup tables (Yang et al., ECCV 2018) on ONNX Runtime. Each model runs
 * with ORT's profiler on (as `mbn bench --per-layer` runs it); each layer that runs its own kernel, and whose ORT
 * node computes exactly the layers the latency model puts in that kernel, gives an entry: its shape signature
 * (signature.ts) and the node's median kernel time. Layers with the same signature, in one model or several, share
 * one entry: the median of their times.
 */
export interface LutModel {
  path: string;
  inputs: InputSpec[];
  report: Report;
  links: LayerLink[];
}

export interface LutOptions {
  threads: number;
  /** Profiled runs per model (their median kernel time per node is kept) and warm-up runs before them. */
  runs: number;
  warmup: number;
  onStep?: (step: string) => void;
}

/** The samples of one model: each matched layer's signature and kernel time, ms. */
export function lutSamples(model: LutModel, profile: DeviceProfile, trace: readonly unknown[], warmupRuns: number): { key: string; ms: number; layer: string }[] {
  const { layers, signatures } = predictLatency(model.report, model.links, { ...profile, lut: undefined });
  const mapping = mapTrace(trace as TraceEvent[], model.links, warmupRuns);
  const samples: { key: string; ms: number; layer: string }[] = [];
  for (const node of mapping.nodes) {
    const i = node.layers[0];
    const key = i === undefined ? null : signatures[i];
    if (i === undefined || key === null) continue;
    // The layers the latency model runs in this kernel (it, and those fused into it) must be the ones ORT's node
    // computes; else the time would be charged to a different set of layers than it was measured on.
    const planned = new Set([i, ...layers.flatMap((l, j) => (l.fusedInto === model.report.layers[i].name ? [j] : []))]);
    if (planned.size !== node.layers.length || !node.layers.every((j) => planned.has(j))) continue;
    samples.push({ key, ms: node.kernelMs / model.report.layers[i].executions, layer: model.report.layers[i].name });
  }
  return samples;
}

/** Entries from every model's samples: one per signature, the median of its times. */
export function lutEntries(samples: readonly { key: string; ms: number; layer: string; model: string }[]): LutEntry[] {
  const byKey = new Map<string, { times: number[]; model: string; layer: string }>();
  for (const s of samples) {
    const e = byKey.get(s.key) ?? { times: [], model: s.model, layer: s.layer };
    e.times.push(s.ms);
    byKey.set(s.key, e);
  }
  return [...byKey].map(([key, e]) => ({ key, ms: Math.round(quantile([...e.times].sort((a, b) => a - b), 0.5) * 1e6) / 1e6, samples: e.times.length, model: e.model, layer: e.layer }));
}

/** Profiles each model through ONNX Runtime and returns the lookup table of its layer shapes. */
export async function measureLut(ort: Ort, models: readonly LutModel[], profile: DeviceProfile, options: LutOptions): Promise<LutEntry[]> {
  const samples: { key: string; ms: number; layer: string; model: string }[] = [];
  for (const model of models) {
    options.onStep?.(`lookup table: ${basename(model.path)}`);
    const m = await measureModel(ort, model.path, model.inputs, { warmup: options.warmup, runs: options.runs, threads: options.threads, profile: true });
    for (const s of lutSamples(model, profile, m.trace ?? [], m.warmupRuns)) samples.push({ ...s, model: basename(model.path) });
  }
  return lutEntries(samples);
}
