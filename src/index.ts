/**
 * mbn as a library: each command as a function that takes a typed options object and returns exactly the document
 * the command's `--format json` prints (same fields, `schema` included). Nothing here prints, exits or sets
 * process.exitCode; a bad input throws MbnError, whose `code` says what kind of problem it is. `init`, whose command
 * has no JSON output, returns what it wrote (InitResult). The CLI (src/cli/) is a thin layer over these functions.
 * See the README, "API".
 */
export { analyze, type AnalyzeOptions } from './api/analyze.js';
export { separate, type SeparateOptions } from './api/separate.js';
export { quantize, type QuantizeOptions } from './api/quantize.js';
export { check, type CheckOptions } from './api/check.js';
export { diff, type DiffOptions } from './api/diff.js';
export { bench, type BenchOptions } from './api/bench.js';
export { advise, type AdviseOptions } from './api/advise.js';
export { calibrate, calibrateEnergy, type CalibrateOptions, type EnergyCalibrateOptions, type EnergyCalibration } from './api/calibrate.js';
export { rewrite, type RewriteOptions } from './api/rewrite.js';
export { init, type InitOptions, type InitResult } from './api/init.js';
export type { Progress, ProgressHook, ShapeOptions, ValueOptions } from './api/options.js';
export type { InitEntry } from './budget/init.js';
export { MbnError, type ErrorCode } from './errors.js';

// The JSON contracts (src/contract/), one type per schema id, and the types they are made of.
export type { AnalyzeJson, GapJson as Gap, LayerJson, ModuleCost, OpBreakdown, Precision, PrecisionBreakdown, Totals } from './contract/analyze.js';
export type { SeparatedLayerRow, SeparateJson } from './contract/separate.js';
export type { TorchPlanConv, TorchPlanJson } from './contract/torch-plan.js';
export type { Deviation, OutputDeviation } from './contract/output-check.js';
export type { QuantizeJson } from './contract/quantize.js';
export type { CheckedModelJson as CheckedModel, CheckJson, CheckKind, CheckRecordJson as CheckRecord } from './contract/check.js';
export type { Delta, DiffJson, LayerDiff, LayerStatus } from './contract/diff.js';
export type { BenchJson, BenchRecord } from './contract/bench.js';
export type { AdviseJson, FindingJson as Finding, Severity } from './contract/advise.js';
export type { DeviceProfile, Int8Class, Int8Rates, OpClass } from './contract/device.js';
export type { HardSwishChange, RewriteFigures, RewriteJson } from './contract/rewrite.js';
// Messages as data: the codes beside every English message of the documents above (README, "Message codes").
export type {
  CheckMessage, EnergyBasis, EnergyMeasurement, FindingMessage, FixMessage, GapMessage, InitWarning, LayerNote, LayerReason, Message, ModelNote, Note, StepName, TraceNote,
} from './contract/messages.js';
