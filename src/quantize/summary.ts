import type { OutputCheck } from '../calibrate/collect.js';
import type { RangeMethod } from './histogram.js';
import type { QuantizeLatency } from './latency.js';
import type { QuantPlan } from './plan.js';

/** What `mbn quantize` did, as data: the API builds it, the report renders it (and its JSON, mbn.quantize/1). */
export interface QuantizeSummary {
  input: string;
  output: string;
  plan: QuantPlan;
  raise: { from: number; to: number; changed: number } | null;
  settings: { method: RangeMethod; percentile: number | null; equalize: boolean; biasCorrection: boolean; activations: 'uint8'; weights: 'int8 per channel' };
  calibration: { source: string; kind: 'folder' | 'random'; batches: number; fitBatches: number; verifyBatches: number; heldBack: boolean };
  /** Per graph output, the written model against the input on the held-back batches (null: not run). */
  outputs: OutputCheck[] | null;
  maxError: { limit: number; met: boolean; probes: number } | null;
  /** Stored bytes of the constants (initializers and Constant nodes) before and after. */
  weightBytes: { before: number; after: number | null };
  fileBytes: { before: number; after: number | null };
  /** `--device`: the latency model's figures before and after, and its choice (null: no --device). */
  latency: QuantizeLatency | null;
  /** Median latency in ONNX Runtime of the input and the written model, ms (null: not timed). */
  measured: { floatMs: number; int8Ms: number } | null;
  notes: string[];
}
