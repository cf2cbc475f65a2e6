/**
 * Messages as data: what the core has to say (a note on a layer, why a layer is not counted, a gap in an analysis, a
 * check's outcome, an advice finding) is a `code` library callers can switch on and the arguments it needs, never a
 * sentence. The English for every code is in src/report/messages/ (one table per command), which is also the only
 * place that names CLI flags. Types only, like the rest of src/contract/: the core builds these, the reports word them. README, "Message codes", lists every code with its meaning and arguments.
 *
 * In a JSON document a message keeps its English field (`notes`, `reason`, `message`, `text`) for readers, and gains
 * a sibling holding the same message as data: `noteCodes` beside `notes` (same order), `reasonCode` beside `reason`,
 * `messageCode` beside `message`, `textCode` beside `text`.
 */

/** A quoted-later value from the model (a tensor, input or op name): the renderer quotes and escapes it. */
type Name = string;

// ---- Analysis: the notes of a layer or of the model, and why a layer is not counted -------------------------------

/** Notes on one layer (`layers[].noteCodes`). */
export type LayerNote =
  | { code: 'if-constant-condition'; branch: string }
  | { code: 'if-costlier-branch'; branch: string }
  | { code: 'if-asked-branch'; branch: string }
  | { code: 'loop-unbounded'; tripCount: number }
  | { code: 'loop-trip-unknown' }
  | { code: 'loop-trip-at-run-time' }
  | { code: 'body-runs'; times: number }
  | { code: 'scan-length-unknown' }
  | { code: 'function-expanded'; domain: string; function: Name }
  | { code: 'prelu-legacy-slope'; channels: number }
  | { code: 'sequence-lens-upper-bound'; steps: number }
  | { code: 'roi-align-adaptive-sampling' }
  | { code: 'depth-multiplier-mismatch'; declared: number; used: number };

/** Notes on the whole model (the report's `noteCodes`). */
export type ModelNote =
  | { code: 'input-value-too-large'; input: Name; value: number; elements: number }
  | { code: 'input-shape-undeclared'; input: Name }
  | { code: 'input-dim-assumed'; input: Name; dim: number; name: Name | null; value: number; example: (number | string)[] }
  | { code: 'layers-not-counted'; notCounted: number; layers: number }
  | { code: 'external-data-missing'; location: Name }
  | { code: 'tflite-subgraph-not-called'; subgraph: number; name: Name }
  | { code: 'tflite-signatures-elsewhere'; signatures: Name[] }
  | { code: 'tflite-tensor-sparse'; tensor: Name }
  | { code: 'latency-int8-at-float-rates'; device: Name; layers: number };

/** What the energy figures are (`totals.energyBasisCode` with `--device`): always an estimate, or unknown. */
export type EnergyBasis =
  /** From the profile's energy constants: fitted to `fittedSamples` measured samples, or published figures (null). */
  | { code: 'energy-estimate'; device: Name; fittedSamples: number | null }
  | { code: 'energy-unknown'; device: Name };

/** Why a layer is not counted (`layers[].reasonCode`, the `uncounted` gaps' `reasonCode`). */
export type LayerReason =
  | { code: 'no-rule'; op: Name; domain: Name }
  | { code: 'no-body'; op: Name }
  | { code: 'input-shape-unknown' }
  | { code: 'output-shape-unknown' }
  /** The op rule's own words about the model (an invalid shape or attribute), in `detail`. */
  | { code: 'shape-invalid'; detail: string }
  /** Shapes the rule cannot know before run time, in the rule's words (`detail`). */
  | { code: 'shape-unknown'; detail: string }
  | { code: 'shape-rule-failed'; detail: string }
  | { code: 'cost-rule-failed'; detail: string }
  | { code: 'cost-overflows' }
  | { code: 'not-counted' };

export type Note = LayerNote | ModelNote;

// ---- The completeness gate: one message per group of gaps ----------------------------------------------------------

/** One group of blocking gaps, as every gate reports it (`mbn check`'s `incomplete` records' `messageCode`). */
export type GapMessage =
  | {
      code: 'gap-assumed-dims';
      input: Name;
      /** The assumed dims: index, the model's name for it (null: unnamed), the value used. */
      dims: { dim: number; name: Name | null; value: number }[];
      /** A shape to give, the assumed dims by name (or D<index>). */
      example: (number | string)[];
    }
  | { code: 'gap-no-rule'; op: Name; domain: Name; layers: number }
  | {
      code: 'gap-shapes-unknown';
      layers: number;
      /** Layers per op, most first. */
      ops: { op: Name; layers: number }[];
      /** The first layer whose reason is its own (not just an unknown input or output shape). */
      first: { layer: Name; reason: LayerReason };
      /** What comes first to fix: the assumed dims, the ops without a rule, or neither. */
      after: 'assumed-dims' | 'no-rule' | null;
    };

// ---- mbn check: each record's outcome --------------------------------------------------------------------------

export type CheckMessage =
  | { code: 'model-missing'; pattern: Name; glob: boolean }
  /** The model could not be read or analyzed: `error` is the MbnError's code, `detail` its one-line message. */
  | { code: 'model-error'; error: string; detail: string }
  | { code: 'no-baseline'; baseline: Name }
  | { code: 'baseline-incomplete'; baseline: Name }
  | { code: 'advise-passed'; failOn: 'warning' | 'error'; incomplete: boolean }
  | { code: 'advise-failed'; failOn: 'warning' | 'error'; findings: number; rules: { rule: string; findings: number }[]; model: Name; incomplete: boolean }
  | { code: 'latency-budget' | 'energy-budget'; device: Name; value: number | null; limit: number; incomplete: boolean }
  | GapMessage;

// ---- mbn advise: each finding's evidence and fix ---------------------------------------------------------------

/** A step on an inverted residual block's path, as a finding names it: an op, a pattern of ops, a fused activation. */
export type StepName =
  | { op: Name }
  /** `swish`: x·Sigmoid(x); `hard-swish`: x·ReLU6(x+3)/6; `x-f-x`: x·f(x) with other ops (`ops`); `gate`: squeeze-and-excite. */
  | { pattern: 'swish' | 'hard-swish' | 'gate' }
  | { pattern: 'x-f-x'; ops: Name[] }
  /** A TFLite conv's own fused activation (RELU, RELU6…). */
  | { fused: Name };

/** A finding's evidence (`findings[].messageCode`), by rule. */
export type FindingMessage =
  | { code: 'separable-conv'; kernel: number[]; inChannels: number; outChannels: number; group: number; macs: number | null; share: number | null; reduction: number }
  | { code: 'channel-alignment'; channels: number; alignment: number }
  | { code: 'bottleneck-nonlinearity'; activations: StepName[]; width: number; output: number; residual: boolean }
  | { code: 'swish'; shape: number[] | null }
  | { code: 'swish-op'; op: Name; domain: Name }
  | { code: 'sigmoid-gate'; shape: number[] | null }
  /** `where`: 'x86' (every x86 CPU: ONNX Runtime's 8-channel blocks) or 'avx512' (only its 16-channel blocks). */
  | { code: 'runtime-conv-depthwise'; channels: number; where: 'x86' | 'avx512' }
  | { code: 'runtime-conv-grouped'; groups: number; inPerGroup: number; outPerGroup: number; where: 'x86' | 'avx512'; block: number }
  | { code: 'runtime-conv-channels'; channels: number; where: 'x86' | 'avx512' }
  /** `expansions`: each block's expansion ratio; `share`: the blocks' share of the model's MACs (null: unknown). */
  | { code: 'inverted-residual-summary'; blocks: number; expansions: number[]; residual: number; squeezeExcite: number; macs: number | null; share: number | null };

/** What to do about a finding (`findings[].fix.textCode`). */
export type FixMessage =
  /** `how`: rewrite it with mbn separate (`float`), in the float model before quantizing (`quantized`), in the model's source (`tflite`). */
  | { code: 'separate-conv'; how: 'float' | 'quantized' | 'tflite'; layer: Name; macsSaved: number | null; share: number | null; paramsSaved: number }
  | { code: 'align-channels'; up: number; down: number; macsAdded: number | null }
  | { code: 'linear-projection' }
  | { code: 'hard-swish'; format: 'onnx' | 'tflite'; flopsSaved: number | null }
  | { code: 'hard-swish-in-source' }
  | { code: 'hard-sigmoid' }
  | { code: 'keep-stem-dense'; channels: number; layer: Name }
  | { code: 'align-depthwise-channels'; channels: number }
  | { code: 'widen-groups' }
  | { code: 'align-producer-channels'; channels: number }
  | { code: 'none-needed' };

// ---- mbn bench: the per-layer trace and the energy counters -------------------------------------------------------

/** `mbn bench --per-layer`: why a layer has no time of its own, or what else its ONNX Runtime node computed. */
export type TraceNote =
  /** Not in the trace: folded into a constant or removed by ONNX Runtime's optimizer. */
  | { code: 'not-in-trace' }
  | { code: 'ort-node-also-computes'; layers: Name[] }
  | { code: 'fused-by-ort'; into: Name };

/** `mbn bench --energy`: whether the RAPL energy counters were read, and if not, why. */
export type EnergyMeasurement =
  | { code: 'rapl-measured'; zones: Name[] }
  /** `missing`: the powercap folder itself, or any intel-rapl:N zone in it. */
  | { code: 'rapl-absent'; root: string; missing: 'folder' | 'zone' }
  | { code: 'rapl-not-a-number'; root: string }
  /** `errno`: the read's error code (EACCES, EPERM: root only since Linux 5.10), null when it had none. */
  | { code: 'rapl-unreadable'; root: string; errno: string | null };

// ---- mbn init: what to check in the config it wrote ------------------------------------------------------------

export type InitWarning =
  | { code: 'init-uncounted'; model: Name; layers: number }
  /** `inputs`: the shapes analysed, by input (the assumed dims as 1), for the entry's "input"; null when none is known. */
  | { code: 'init-assumed-dims'; model: Name; inputs: Record<Name, number[]> | null };

export type Message = Note | LayerReason | EnergyBasis | TraceNote | EnergyMeasurement | CheckMessage | FindingMessage | FixMessage | InitWarning;

/** The codes of a message union. */
export type CodeOf<M extends { code: string }> = M['code'];
