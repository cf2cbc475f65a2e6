import { DataType } from '../onnx/dtype.js';

/**
 * What mbn reads of TFLite's schema (tensorflow/lite/schema/schema.fbs, file identifier `TFL3`): field indices of
 * the tables it reads, builtin operator names by code, tensor types, and the builtin options it turns into node
 * attributes. Field indices are the schema's declaration order (a union takes two: its type, then its value); they
 * were checked against TensorFlow 2.21's generated reader (tensorflow/lite/python/schema_py_generated.py).
 */

export const FILE_IDENTIFIER = 'TFL3';

/** Field indices of the tables read. */
export const F = {
  model: { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadata: 6, signatureDefs: 7 },
  subgraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 },
  tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, isVariable: 5, sparsity: 6, shapeSignature: 7 },
  operator: { opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4, customOptions: 5, builtinOptions2Type: 11 },
  operatorCode: { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 },
  buffer: { data: 0, offset: 1, size: 2 },
  quantization: { scale: 2, zeroPoint: 3, quantizedDimension: 6 },
  metadata: { name: 0, buffer: 1 },
  signatureDef: { inputs: 0, outputs: 1, key: 2, subgraphIndex: 4 },
} as const;

/** `deprecated_builtin_code` holds this when the real code (above 127) is in the int32 `builtin_code`. */
export const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;
export const CUSTOM = 32;

/** TFLite TensorType → ONNX DataType (0 where ONNX has no such type: resource, variant). */
export const TENSOR_TYPES: readonly number[] = [
  DataType.FLOAT, DataType.FLOAT16, DataType.INT32, DataType.UINT8, DataType.INT64, DataType.STRING, DataType.BOOL,
  DataType.INT16, DataType.COMPLEX64, DataType.INT8, DataType.DOUBLE, DataType.COMPLEX128, DataType.UINT64, 0, 0,
  DataType.UINT32, DataType.UINT16, DataType.INT4, DataType.BFLOAT16, DataType.INT2, DataType.UINT4,
];


type Kind = 'i8' | 'i32' | 'bool' | 'f32' | 'i32s';
/** One option field: attribute name, field index, kind, the schema's default. */
export type OptionField = readonly [name: string, index: number, kind: Kind, fallback: number];

const PADDED_WINDOW: readonly OptionField[] = [['padding', 0, 'i8', 0], ['stride_w', 1, 'i32', 0], ['stride_h', 2, 'i32', 0]];
const FUSED0: readonly OptionField[] = [['fused_activation_function', 0, 'i8', 0]];
const POOL: readonly OptionField[] = [...PADDED_WINDOW, ['filter_width', 3, 'i32', 0], ['filter_height', 4, 'i32', 0], ['fused_activation_function', 5, 'i8', 0]];
const REDUCER: readonly OptionField[] = [['keep_dims', 0, 'bool', 0]];

/** Builtin options read into attributes, by operator name. Options of other operators are not read. */
export const OPTIONS: Readonly<Record<string, readonly OptionField[]>> = {
  CONV_2D: [...PADDED_WINDOW, ['fused_activation_function', 3, 'i8', 0], ['dilation_w_factor', 4, 'i32', 1], ['dilation_h_factor', 5, 'i32', 1]],
  DEPTHWISE_CONV_2D: [
    ...PADDED_WINDOW, ['depth_multiplier', 3, 'i32', 0], ['fused_activation_function', 4, 'i8', 0],
    ['dilation_w_factor', 5, 'i32', 1], ['dilation_h_factor', 6, 'i32', 1],
  ],
  TRANSPOSE_CONV: [...PADDED_WINDOW, ['fused_activation_function', 3, 'i8', 0]],
  FULLY_CONNECTED: [['fused_activation_function', 0, 'i8', 0], ['weights_format', 1, 'i8', 0], ['keep_num_dims', 2, 'bool', 0]],
  AVERAGE_POOL_2D: POOL,
  MAX_POOL_2D: POOL,
  L2_POOL_2D: POOL,
  ADD: FUSED0,
  SUB: FUSED0,
  MUL: FUSED0,
  DIV: FUSED0,
  CONCATENATION: [['axis', 0, 'i32', 0], ['fused_activation_function', 1, 'i8', 0]],
  RESHAPE: [['new_shape', 0, 'i32s', 0]],
  SQUEEZE: [['squeeze_dims', 0, 'i32s', 0]],
  SOFTMAX: [['beta', 0, 'f32', 0]],
  RESIZE_BILINEAR: [['align_corners', 2, 'bool', 0], ['half_pixel_centers', 3, 'bool', 0]],
  RESIZE_NEAREST_NEIGHBOR: [['align_corners', 0, 'bool', 0], ['half_pixel_centers', 1, 'bool', 0]],
  MEAN: REDUCER,
  SUM: REDUCER,
  REDUCE_MAX: REDUCER,
  REDUCE_MIN: REDUCER,
  REDUCE_PROD: REDUCER,
  LEAKY_RELU: [['alpha', 0, 'f32', 0]],
  BATCH_MATMUL: [['adj_x', 0, 'bool', 0], ['adj_y', 1, 'bool', 0]],
  DEPTH_TO_SPACE: [['block_size', 0, 'i32', 0]],
  SPACE_TO_DEPTH: [['block_size', 0, 'i32', 0]],
  GATHER: [['axis', 0, 'i32', 0], ['batch_dims', 1, 'i32', 0]],
  SPLIT: [['num_splits', 0, 'i32', 0]],
  SPLIT_V: [['num_splits', 0, 'i32', 0]],
  PACK: [['values_count', 0, 'i32', 0], ['axis', 1, 'i32', 0]],
  UNPACK: [['num', 0, 'i32', 0], ['axis', 1, 'i32', 0]],
  STRIDED_SLICE: [
    ['begin_mask', 0, 'i32', 0], ['end_mask', 1, 'i32', 0], ['ellipsis_mask', 2, 'i32', 0], ['new_axis_mask', 3, 'i32', 0],
    ['shrink_axis_mask', 4, 'i32', 0], ['offset', 5, 'bool', 0],
  ],
  WHILE: [['cond_subgraph_index', 0, 'i32', 0], ['body_subgraph_index', 1, 'i32', 0]],
  IF: [['then_subgraph_index', 0, 'i32', 0], ['else_subgraph_index', 1, 'i32', 0]],
};

/** BuiltinOperator names by code (schema.fbs, TensorFlow 2.21). */
export const BUILTIN_NAMES: readonly string[] = [
  'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE',
  'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D',
  'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU', 'RELU_N1_TO_1',
  'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH', 'CONCAT_EMBEDDINGS',
  'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD', 'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER',
  'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', 'MEAN', 'SUB', 'DIV', 'SQUEEZE',
  'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP', 'TOPK_V2', 'SPLIT',
  'LOG_SOFTMAX', 'DELEGATE', 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM', 'ARG_MAX', 'MINIMUM', 'LESS',
  'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT', 'SLICE', 'SIN', 'TRANSPOSE_CONV',
  'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', 'NOT_EQUAL', 'LOG', 'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW',
  'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX', 'PACK', 'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND',
  'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV', 'REDUCE_ANY', 'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD',
  'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU', 'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE',
  'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS', 'WHERE', 'RANK', 'ELU', 'REVERSE_SEQUENCE', 'MATRIX_DIAG',
  'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF', 'WHILE', 'NON_MAX_SUPPRESSION_V4',
  'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2', 'DENSIFY', 'SEGMENT_SUM', 'BATCH_MATMUL',
  'PLACEHOLDER_FOR_GREATER_OP_CODES', 'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D', 'CONV_3D', 'IMAG', 'REAL',
  'COMPLEX_ABS', 'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE', 'REDUCE_ALL',
  'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE', 'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL',
  'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE', 'RELU_0_TO_1',
  'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2', 'UNSORTED_SEGMENT_MIN', 'SIGN',
  'BITCAST', 'BITWISE_XOR', 'RIGHT_SHIFT', 'STABLEHLO_LOGISTIC', 'STABLEHLO_ADD', 'STABLEHLO_DIVIDE',
  'STABLEHLO_MULTIPLY', 'STABLEHLO_MAXIMUM', 'STABLEHLO_RESHAPE', 'STABLEHLO_CLAMP', 'STABLEHLO_CONCATENATE',
  'STABLEHLO_BROADCAST_IN_DIM', 'STABLEHLO_CONVOLUTION', 'STABLEHLO_SLICE', 'STABLEHLO_CUSTOM_CALL',
  'STABLEHLO_REDUCE', 'STABLEHLO_ABS', 'STABLEHLO_AND', 'STABLEHLO_COSINE', 'STABLEHLO_EXPONENTIAL',
  'STABLEHLO_FLOOR', 'STABLEHLO_LOG', 'STABLEHLO_MINIMUM', 'STABLEHLO_NEGATE', 'STABLEHLO_OR', 'STABLEHLO_POWER',
  'STABLEHLO_REMAINDER', 'STABLEHLO_RSQRT', 'STABLEHLO_SELECT', 'STABLEHLO_SUBTRACT', 'STABLEHLO_TANH',
  'STABLEHLO_SCATTER', 'STABLEHLO_COMPARE', 'STABLEHLO_CONVERT', 'STABLEHLO_DYNAMIC_SLICE',
  'STABLEHLO_DYNAMIC_UPDATE_SLICE', 'STABLEHLO_PAD', 'STABLEHLO_IOTA', 'STABLEHLO_DOT_GENERAL',
  'STABLEHLO_REDUCE_WINDOW', 'STABLEHLO_SORT', 'STABLEHLO_WHILE', 'STABLEHLO_GATHER', 'STABLEHLO_TRANSPOSE',
  'DILATE', 'STABLEHLO_RNG_BIT_GENERATOR', 'REDUCE_WINDOW', 'STABLEHLO_COMPOSITE', 'STABLEHLO_SHIFT_LEFT',
  'STABLEHLO_CBRT', 'STABLEHLO_CASE',
];

