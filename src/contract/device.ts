/**
 * The `mbn.device/1` contract: a device profile (`mbn calibrate`'s output, `--device FILE`'s input; built-in ones in
 * latency/builtin.ts, validated by latency/profile.ts). See README, "Device profiles".
 */

/** The op classes a profile rates (latency/profile.ts's OP_CLASSES lists them in order). */
export type OpClass = 'conv' | 'pointwise' | 'depthwise' | 'gemm' | 'elementwise';

/** The integer kernels' classes (latency/profile.ts's INT8_CLASSES lists them in order). */
export type Int8Class = 'conv' | 'pointwise' | 'depthwise' | 'gemm';

/**
 * A device profile (schema mbn.device/1): what the latency model needs to know about a machine. Rates are for
 * `threads` intra-op threads of ONNX Runtime (or, for the built-in estimates, one core). See README, "Device
 * profiles".
 */
export const PROFILE_SCHEMA = 'mbn.device/1';

/** The activations ORT fuses into a float conv or Gemm that MLAS applies in a pass after the kernel (not Relu). */
export const FUSED_ACTIVATIONS = ['LeakyRelu', 'Clip', 'HardSigmoid', 'Sigmoid', 'Tanh'] as const;
export type FusedActivation = (typeof FUSED_ACTIVATIONS)[number];

export interface DeviceProfile {
  schema: typeof PROFILE_SCHEMA;
  name: string;
  description: string;
  /** true when measured by `mbn calibrate`; false for an estimate from published figures. */
  calibrated: boolean;
  threads: number;
  /** Attainable FLOP rate of each op class, GFLOP/s (10⁹ FLOP per second). */
  gflops: Record<OpClass, number>;
  /** Attainable DRAM bandwidth, GB/s (10⁹ bytes per second), for layers whose bytes exceed `cacheBytes`. */
  memoryGBps: number;
  /** Attainable bandwidth of the last private cache, GB/s, for layers whose bytes fit in `cacheBytes`. */
  cacheGBps: number;
  /** Size of that cache, bytes (a layer moving no more than this is served from it). */
  cacheBytes: number;
  /** Fixed cost of running one op of each class (dispatch, kernel set-up, small-tensor inefficiency), µs. */
  overheadUs: Record<OpClass, number>;
  /**
   * Fixed cost of one op of a given ONNX op type (default domain), µs, where it differs from its class's
   * `overheadUs` (`mbn calibrate`'s op-overhead-* chains: Concat, Slice, Gather, Pow, Squeeze, Unsqueeze, If; an If's beyond its branch's ops). Absent (older profiles) or an op not listed: the class's overhead.
   */
  overheadUsByOp?: Record<string, number>;
  /**
   * Bandwidth at which a GEMM reads weights that stay in the core's cache between calls (a GEMV passes over them once
   * per call), GB/s: ORT's MatMul of [1, 256] × [256, 256], 256 KB of weights, about 110–125 GB/s here where the
   * Add chain of `cacheGBps` streams 150–160. Absent: `cacheGBps`, as before.
   */
  cacheWeightGBps?: number;
  /** Fixed cost of one inference call (feeding inputs, returning outputs), microseconds. */
  runOverheadUs: number;
  /**
   * What each graph input (`inputUs`) and output (`outputUs`) beyond the first costs a call, microseconds: the
   * runtime's binding turns every tensor passed in into one of its own and wraps every result in a new tensor
   * object (onnxruntime-node here: about 1.1 µs an input, 1.3 µs an output, where the whole call of one Relu takes
   * 5.8). Absent: none, as before (`runOverheadUs` is measured with one of each).
   */
  inputUs?: number;
  outputUs?: number;
  /**
   * What each byte of the graph's inputs (`inputNsPerByte`) and outputs (`outputNsPerByte`) costs a call,
   * nanoseconds: onnxruntime-node copies every result into a new buffer, at about 7 GB/s here (a 38 KB output:
   * +6 µs beside an 11 µs call); an input costs a tenth of that. Absent: none, as before (`runOverheadUs` is
   * measured with 32 bytes of each).
   */
  inputNsPerByte?: number;
  outputNsPerByte?: number;
  /**
   * What an If costs per value its run branch takes from outside (read anywhere in it, nested branches included)
   * or holds as a constant, beyond the one the calibrated If (`overheadUsByOp.If`) reads, microseconds: ONNX Runtime
   * sets up a frame for the branch on every run with each of them (about 0.2 µs each here). Absent: none, as before.
   */
  ifValueUs?: number;
  /**
   * Channels per block of ONNX Runtime's NCHWc layout on this CPU (16 with AVX-512, 8 with AVX2), detected by
   * `mbn calibrate`; absent or 1: no blocked layout is modelled (every conv at its class rate, no conversions).
   */
  nchwcBlock?: number;
  /** Bandwidth at which weights that do not stay cached are streamed from DRAM, GB/s (default `memoryGBps`). */
  weightGBps?: number;
  /**
   * Size of the last-level (shared) cache, bytes: a model whose weights fit in it reads them at `memoryGBps` on
   * each inference, not at `weightGBps` from DRAM. Absent: weights beyond `cacheBytes` come from DRAM.
   */
  lastLevelCacheBytes?: number;
  /**
   * Bandwidth of a layer whose activations miss the core's cache but fit in the last-level one, GB/s (absent:
   * `memoryGBps`, as before it was measured).
   */
  llcGBps?: number;
  /** Bandwidth at which a GEMM reads weights that stay in the last-level cache, GB/s (default `memoryGBps`). */
  llcWeightGBps?: number;
  /** Generic conv path (im2col then GEMM): bytes of the expanded input written and read per second, GB/s. */
  im2colGBps?: number;
  /**
   * Generic conv path: µs per channel group of a grouped conv (ORT expands and multiplies each group on its own, one
   * im2col and one GEMM call each; absent: no per-group cost, as before it was measured).
   */
  genericGroupUs?: number;
  /**
   * Generic conv path: a 2-D grouped conv as MLAS runs it, per group an im2col and a GEMM (src/latency/grouped-conv.ts),
   * fitted to ten float depthwise convs. Absent (older profiles): the expansion at `im2colGBps`, the GEMM rate and
   * `genericGroupUs`.
   */
  genericGroupedConv?: GroupedConvFloatRates;
  /** Blocked conv on a plain NCHW input with fewer channels than the block: extra ns per output element. */
  nchwInputNsPerOutput?: number;
  /** ConvTranspose: ns per element of the column buffer its col2im scatters into the output (absent: at the conv rate). */
  convTransposeNsPerColumn?: number;
  /** A float Div: ns per output element of its arithmetic (absent: the elementwise rate). */
  divNsPerElement?: number;
  /**
   * A float Max or Min: ns per output element (ORT runs them through its generic broadcast loop, not MLAS: 0.12 ns
   * against an Add's 0.065 here, in cache). Absent: the elementwise rate.
   */
  minMaxNsPerElement?: number;
  /** ONNX Runtime's plain-layout Resize kernels (src/latency/resize.ts), ns per output element (absent: as other elementwise ops). */
  resizeNsPerOutput?: ResizeRates;
  /**
   * An activation ORT fuses into a float conv or Gemm (FusedConv, FusedGemm) other than Relu: MLAS applies it in a
   * pass of its own over each block of output the kernel writes (Relu it applies in the kernel, for nothing), ns
   * per output element by op type. Absent, or an op not listed: a fused activation costs nothing, as before.
   */
  fusedActivationNsPerElement?: Partial<Record<FusedActivation, number>>;
  /**
   * A float MaxPool or AveragePool in plain NCHW layout: MLAS's 2-D vector pool kernel (src/latency/pool.ts), fitted
   * to ten pools. Absent (older profiles), or a pool MLAS runs with another kernel: the depthwise roofline.
   */
  plainPool?: PlainPoolRates;
  /** Where the figures come from: citations for an estimate, the benchmark description for a calibration. */
  sources: string[];
  // ---- Integer kernels (issue 20, int8 latency) ----
  /** ONNX Runtime's integer kernels on this machine (`mbn calibrate`); absent: int8 layers at the float rates, with a note. */
  int8?: Int8Rates;
  // ---- end of integer kernels ----
  /** `mbn calibrate` only: each micro-benchmark and its result. */
  measurements?: { name: string; what: string; flops: number; bytes: number; ms: number }[];
  /** `mbn calibrate` only: runtime, host, date. */
  measuredOn?: Record<string, string | number>;
  /**
   * `mbn calibrate --lut MODEL…`: ONNX Runtime's measured kernel time of each layer shape seen in those models
   * (NetAdapt's lookup table); `analyze --device` uses an entry where a layer's signature matches. Optional: a
   * profile without it predicts every layer from the model.
   */
  lut?: LutEntry[];

  // --- Energy (src/latency/energy.ts) ---
  /** Energy constants for `energyMj` (pJ per MAC by precision, pJ per byte by memory level); absent: energy unknown. */
  energy?: EnergyConstants;
}

/** One measured layer shape of a profile's lookup table. */
export interface LutEntry {
  /**
   * The layer's shape signature (latency/lut.ts): op, attributes, input and output shapes, element types, the ops
   * ORT runs inside its kernel and its conv path in ORT's blocked layout, as canonical JSON.
   */
  key: string;
  /** ORT's kernel time per execution, ms: the median over the profiled runs (the median of the layers seen with this signature). */
  ms: number;
  /** Layers measured with this signature (in all the models given). */
  samples: number;
  /** Where it was first seen: the model's file name and the layer's name. */
  model: string;
  layer: string;
}

/** ns per output element of each of ONNX Runtime's Resize kernels (src/latency/resize.ts). */
export interface ResizeRates {
  nearest2x: number;
  nearest: number;
  linear: number;
  nearest8bit: number;
}

/** Rates of the integer kernels; GOP/s counts 2 operations per multiply-accumulate, as GFLOP/s does. */
export interface Int8Rates {
  /** QLinearConv / QLinearMatMul with int8 weights and uint8 activations (U8S8): the kernel ORT fuses a QDQ group into. */
  gops: Record<Int8Class, number>;
  /**
   * A fused conv on fewer than THIN_CONV_CHANNELS input channels per group (a stem on an RGB image): ns per output
   * element beyond its arithmetic at the class rate (ORT's 8-bit kernels gather its few channels per output).
   */
  thinConvNsPerOutput: number;
  /**
   * The same conv as a cost per output position and per input tap of each position (its kernel elements × input
   * channels per group, the bytes ORT's 8-bit im2col gathers), beyond its arithmetic at the class rate: solved from
   * two stems, 3×3 on 224×224 (27 taps) and 5×5 on 128×128 (75 taps). Measured here (ORT 1.30) the 5×5 stems cost
   * about what their positions and taps say (BlazeFace's 3→24 on 128×128: 116 µs; on 256×256: 449), not what their
   * output elements do (66 and 266 at `thinConvNsPerOutput`). Absent (older profiles, or a solution not positive):
   * `thinConvNsPerOutput`.
   */
  thinConv?: { nsPerPosition: number; nsPerTap: number };
  /** The same conv with uint8 weights (U8U8, a QOperator model's usual form): its time over the int8-weight one. */
  uint8WeightsSlowdown: number;
  /** ConvInteger (quantize_dynamic's conv: im2col then an integer GEMM, int32 out), GOP/s. */
  convIntegerGops: number;
  /** A depthwise (or any grouped) ConvInteger: ORT expands and multiplies each group on its own, GOP/s. */
  convIntegerDepthwiseGops: number;
  /** MatMulInteger (int32 out), GOP/s. */
  matMulIntegerGops: number;
  /** A QuantizeLinear (float32 → 8 bits) and a DequantizeLinear (8 bits → float32) that stay in the graph: ns per element. */
  quantizeNsPerElement: number;
  dequantizeNsPerElement: number;
  /**
   * The same fused kernels where ORT cannot take its symmetric-weight conv kernels (MLAS ConvSym: a depthwise conv
   * whose channels are not a multiple of 16, a dense one whose input channels are not a multiple of 4 or whose
   * output channels are fewer than 16 or not a multiple of 4 with AVX-512, 8 with AVX2; src/latency/int8.ts), GOP/s:
   * its generic depthwise kernel and im2col + integer GEMM. Absent (older profiles): every QLinearConv at `gops`.
   */
  genericGops?: Record<'conv' | 'pointwise' | 'depthwise', number>;
  /**
   * The generic depthwise kernel of `genericGops.depthwise` as it runs (src/latency/qdw-conv.ts): per output pixel and
   * tap that reads the input, a fixed cost, one per vector of 16 or 8 channels and one per channel past the last
   * multiple of 8, ns. Absent (older profiles): `genericGops.depthwise` on channels rounded up to 8.
   */
  genericDepthwise?: GenericDepthwiseRates;
  /**
   * MLAS's symmetric conv kernel (a dense QLinearConv on int8 weights) as a cost per output pixel and kernel tap plus
   * its multiply-adds at `convGops` (1×1: `pointwiseGops`), GOP/s: a conv of few channels pays the first far more
   * than `gops` says (a 1×3 conv of 24 channels on 32×32 ran 9.8 µs where `gops.conv` said 4.8). Absent (older
   * profiles): `gops.conv` and `gops.pointwise` alone.
   */
  symmetricConv?: { nsPerPixelTap: number; convGops: number; pointwiseGops: number };
  /**
   * A 1×1 conv off the symmetric kernel (input channels not a multiple of 4, or output channels not a multiple of the
   * kernel's alignment) as MLAS's integer GEMM runs it: per output pixel, per output channel rounded up to its block
   * of 16 (`nsPerPaddedOutput`: the requantized output), and per such channel and input channel
   * (`nsPerPaddedMac`), ns. A 1×1 conv 36→42 on 56×56 took 46 µs where `genericGops.pointwise` said 26. Absent
   * (older profiles): `genericGops.pointwise`.
   */
  genericPointwise?: { nsPerPaddedOutput: number; nsPerPaddedMac: number };
  /**
   * A MaxPool on 8-bit tensors that ORT leaves in NCHW (outside every QLinearConv's NHWC region: its generic pool on
   * uint8, not MLAS's NhwcMaxPool), ns per input element its windows read. Absent (older profiles): timed as other
   * 8-bit ops.
   */
  nchwMaxPoolNsPerElement?: number;
  /**
   * A MaxPool on 8-bit tensors inside a QLinearConv's NHWC region (MLAS's NhwcMaxPool), ns per input element its
   * windows read: BlazeFace's first 2×2 pool ([1, 28, 64, 64]) took 13 µs, where the depthwise int8 rate on its
   * comparisons says 2. Absent (older profiles): timed as other 8-bit ops.
   */
  nhwcMaxPoolNsPerElement?: number;
  /**
   * ORT's QLinearMul (a QDQ Mul of two 8-bit activations), ns per output element: it took 1.9× a QLinearAdd per
   * element on this machine (0.181 against 0.096 ns on [1, 64, 80, 80]). Absent (older profiles): timed as the float
   * Mul, as other 8-bit elementwise ops.
   */
  qlinearMulNsPerElement?: number;
  /**
   * ORT's table-lookup 8-bit ops (QLinearLeakyRelu, QLinearSigmoid: a 256-entry table built at load, one lookup per
   * element), ns per element: a QDQ LeakyRelu on [1, 64, 56, 56]. OpenWakeWord's embedding model runs 19 of them.
   * Absent (older profiles): timed as the float op, as other 8-bit elementwise ops.
   */
  qlinearLookupNsPerElement?: number;
  /**
   * A grouped ConvInteger (quantize_dynamic's depthwise conv) as ORT runs it: per group an NCHW im2col, then an
   * integer GEMM (src/latency/conv-integer.ts). Absent (older profiles): `convIntegerDepthwiseGops` per MAC.
   */
  groupedConvInteger?: GroupedConvIntegerRates;
}

/**
 * The costs of one group of a grouped ConvInteger, ns (`mbn calibrate`: least squares over six depthwise shapes).
 * Measured here (ORT 1.30), a depthwise ConvInteger ran 0.97 ns per output element on 56×56 and 6.0 on 7×7: its
 * time follows these four counts, not its MACs (src/latency/grouped-conv.ts).
 */
export interface GroupedConvIntegerRates {
  /** Each group's GEMM call and im2col call. */
  nsPerGroup: number;
  /** Each im2col row that reads the input (a kernel tap × an output row; all-padding rows are one fill). */
  nsPerRow: number;
  /** Each element im2col gathers one by one (a column stride other than 1; stride 1 copies a row at once). */
  nsPerStridedElement: number;
  /** Each block of the integer GEMM: 32 output positions × a pair of kernel taps, per output channel of the group. */
  nsPerBlock: number;
}

/**
 * The costs of one group of a float grouped conv off the NCHWc path, ns (`mbn calibrate`: least squares over ten
 * float depthwise convs; src/latency/grouped-conv.ts). A group with more than one output channel adds its GEMM's
 * FLOPs at the GEMM rate.
 */
/** MLAS's generic 8-bit depthwise conv kernel, ns (src/latency/qdw-conv.ts). */
export interface GenericDepthwiseRates {
  /** Each output pixel × kernel tap that reads the input. */
  nsPerPixelTap: number;
  /** Each vector (16 or 8 channels) of such a pair. */
  nsPerVectorTap: number;
  /** Each channel past the last multiple of 8, of such a pair. */
  nsPerTailTap: number;
}

/** MLAS's NCHW pool kernel, ns (src/latency/pool.ts). */
export interface PlainPoolRates {
  /** Each channel plane (one kernel call, its reduction buffer's set-up). */
  nsPerChannel: number;
  /** Each output row. */
  nsPerRow: number;
  /** Each load of the height reduction (a vector of 4 input floats, or one of a row's tail). */
  nsPerHeightLoad: number;
  /** Each step of the width reduction (4 outputs at stride 1, 2 at stride 2: the window's loads and a store). */
  nsPerWidthStep: number;
}

export interface GroupedConvFloatRates {
  /** Each group's MlasConv set-up, im2col and GEMM calls. */
  nsPerGroup: number;
  /** Each im2col row that reads the input (a kernel tap × an output row). */
  nsPerRow: number;
  /** Each element a stride-1 row copies (four at a time). */
  nsPerCopiedElement: number;
  /** Each element gathered one by one (a column stride other than 1). */
  nsPerStridedElement: number;
  /** Each padded column of a row that reads the input (written on its own). */
  nsPerPaddedColumn: number;
  /** Each element of the im2col buffer (zero fills, and the GEMV that reads it: one multiply-add each). */
  nsPerElement: number;
  /**
   * A group with more than one output channel runs MLAS's SGEMM, not a GEMV: each multiply-add over the output
   * positions padded to the GEMM's strip (the NCHWc block's width), and each buffer element it packs. Fitted to four
   * grouped convs (RegNet's 8-channel groups among them); absent: the GEMM's FLOPs at the GEMM rate.
   */
  nsPerGemmMac?: number;
  nsPerPackedElement?: number;
}

/**
 * The energy block of a device profile and the energy fields of a report (the JSON contracts of
 * src/latency/energy.ts), with the block's validation: a file of its own so that the profile and the latency
 * report can name them without importing the energy model.
 */
export type Precision = 'fp32' | 'fp16' | 'int8';

/** The `energy` block of a device profile (mbn.device/1; optional, so profiles without it still load). */
export interface EnergyConstants {
  /** Picojoules per multiply-accumulate, by the precision the MAC runs at. */
  pjPerMac: Record<Precision, number>;
  /** Picojoules per byte read or written in DRAM. */
  pjPerByteDram: number;
  /** Picojoules per byte read or written in on-chip memory (caches, SRAM). */
  pjPerByteOnChip: number;
  /** Where the constants come from: citations, or the fit that produced them. */
  sources: string[];
  /** Set when the constants were fitted to measured energy (`mbn calibrate --energy-samples`, RAPL). */
  fit?: EnergyFitSummary;
}

export interface EnergyFitSummary {
  /** How many (model, joules) samples the fit used, and where they came from. */
  samples: number;
  from: string;
  /** Root-mean-square relative error of the fitted constants over the samples. */
  rmsRelativeError: number;
}
