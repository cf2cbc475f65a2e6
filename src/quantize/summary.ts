import type { BytesBeforeAfter, MaxErrorResult, QuantizeCalibration, QuantizeLatency, QuantizeMeasured, QuantizeNote, QuantizeSettings } from '../contract/quantize.js';
import type { QuantizationPlan } from './plan.js';
import type { OutputCheck } from '../contract/output-check.js';

/** What `mbn quantize` did, as data: the API builds it, the report renders it (and its JSON, mbn.quantize/1). */
export interface QuantizeSummary {
  input: string;
  output: string;
  plan: QuantizationPlan;
  raise: { from: number; to: number; changed: number } | null;
  settings: QuantizeSettings;
  /** The convs that took the BatchNormalization after them (fold-bn.ts), by name. */
  batchNormFolded: string[];
  calibration: QuantizeCalibration;
  /** Per graph output, the written model against the input on the held-back batches (null: not run). */
  outputs: OutputCheck[] | null;
  maxError: MaxErrorResult | null;
  /** Stored bytes of the constants (initializers and Constant nodes) before and after. */
  weightBytes: BytesBeforeAfter;
  fileBytes: BytesBeforeAfter;
  /** `--device`: the latency model's figures before and after, and its choice (null: no --device). */
  latency: QuantizeLatency | null;
  /** Median latency in ONNX Runtime of the input and the written model, ms (null: not timed). */
  measured: QuantizeMeasured | null;
  notes: QuantizeNote[];
}
