/** The `mbn.torch-plan/1` contract: `separation.json` of `mbn separate --torch-plan DIR` (rewrite/torch-plan.ts writes it). */

export const TORCH_PLAN_SCHEMA = 'mbn.torch-plan/1';

export interface TorchPlanConv {
  /** The conv's node in the exported ONNX model. */
  onnxNode: string;
  /** The PyTorch module path (`layer1.0.conv1`), from the node name or the weight's name; null: neither says it. */
  module: string | null;
  rank: number;
  inChannels: number;
  outChannels: number;
  groups: number;
  kernel: number[];
  stride: number[];
  /** ONNX order: the begin pads of each spatial dim, then the end pads. */
  padding: number[];
  dilation: number[];
  autoPad: string;
  /** Whether the pointwise bias was fitted on calibration data (else the conv's own bias is kept). */
  biasFitted: boolean;
  /** Keys in weights.safetensors. */
  weights: {
    depthwise: string;
    pointwise: string;
    pointwiseBias: string | null;
    /** [N] int64: per output channel, the flat index (within the channel's weights) of the ONNX weight's largest entry. */
    referenceIndex: string;
    /** [N]: the ONNX weight's value there. */
    referenceValue: string;
    /** [N]: the ONNX conv's bias; null when it has none or it is not a constant. */
    referenceBias: string | null;
  };
}

export interface TorchPlanJson {
  schema: typeof TORCH_PLAN_SCHEMA;
  /** The ONNX model planned, and the separated model written (file names). */
  model: string;
  separated: string;
  weights: 'weights.safetensors';
  /** Whether --calibrate fitted the weights (false: SVD weights). */
  calibrated: boolean;
  convs: TorchPlanConv[];
}
