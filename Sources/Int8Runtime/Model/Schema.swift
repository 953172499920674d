// The parts of TensorFlow Lite's schema (schema.fbs, version 3) that facecam reads.

/// Element type of a tensor (TFLite's TensorType).
public enum TensorType: UInt8, CustomStringConvertible, Sendable {
    case float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, string = 5, bool = 6
    case int16 = 7, complex64 = 8, int8 = 9, float64 = 10, complex128 = 11, uint64 = 12
    case resource = 13, variant = 14, uint32 = 15, uint16 = 16, int4 = 17

    /// Bytes per element, or nil for types without a fixed size.
    public var byteSize: Int? {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .int64, .float64, .complex64, .uint64: return 8
        case .complex128: return 16
        case .string, .resource, .variant, .int4: return nil
        }
    }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .int32: return "int32"
        case .uint8: return "uint8"
        case .int64: return "int64"
        case .string: return "string"
        case .bool: return "bool"
        case .int16: return "int16"
        case .complex64: return "complex64"
        case .int8: return "int8"
        case .float64: return "float64"
        case .complex128: return "complex128"
        case .uint64: return "uint64"
        case .resource: return "resource"
        case .variant: return "variant"
        case .uint32: return "uint32"
        case .uint16: return "uint16"
        case .int4: return "int4"
        }
    }
}

/// TFLite builtin operator codes that facecam knows by name; every other code is kept as a
/// number and reported as unsupported.
public struct BuiltinOperator: RawRepresentable, Hashable, CustomStringConvertible, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let add = Self(rawValue: 0)
    public static let averagePool2D = Self(rawValue: 1)
    public static let concatenation = Self(rawValue: 2)
    public static let conv2D = Self(rawValue: 3)
    public static let depthwiseConv2D = Self(rawValue: 4)
    public static let dequantize = Self(rawValue: 6)
    public static let fullyConnected = Self(rawValue: 9)
    public static let logistic = Self(rawValue: 14)
    public static let maxPool2D = Self(rawValue: 17)
    public static let mul = Self(rawValue: 18)
    public static let relu = Self(rawValue: 19)
    public static let reluN1To1 = Self(rawValue: 20)
    public static let relu6 = Self(rawValue: 21)
    public static let reshape = Self(rawValue: 22)
    public static let resizeBilinear = Self(rawValue: 23)
    public static let softmax = Self(rawValue: 25)
    public static let tanh = Self(rawValue: 28)
    public static let custom = Self(rawValue: 32)
    public static let pad = Self(rawValue: 34)
    public static let stridedSlice = Self(rawValue: 45)
    public static let mean = Self(rawValue: 40)
    public static let prelu = Self(rawValue: 54)
    public static let shape = Self(rawValue: 77)
    public static let pack = Self(rawValue: 83)
    public static let padV2 = Self(rawValue: 60)
    public static let resizeNearestNeighbor = Self(rawValue: 97)
    public static let leakyRelu = Self(rawValue: 98)
    public static let quantize = Self(rawValue: 114)
    public static let hardSwish = Self(rawValue: 117)

    /// TFLite's name for the op (e.g. "CONV_2D").
    public var name: String {
        rawValue >= 0 && Int(rawValue) < Self.builtinNames.count
            ? Self.builtinNames[Int(rawValue)] : "OP_\(rawValue)"
    }

    public var description: String { name }

    static let builtinNames: [String] = [
        "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
        "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
        "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
        "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
        "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
        "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
        "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
        "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
        "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM",
        "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
        "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
        "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD",
        "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK",
        "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
        "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
        "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK",
        "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
        "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
        "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
        "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
        "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
        "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE",
        "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
        "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
        "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
        "STABLEHLO_LOGISTIC", "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY",
        "STABLEHLO_MAXIMUM", "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE",
        "STABLEHLO_BROADCAST_IN_DIM", "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE",
        "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE", "STABLEHLO_ABS", "STABLEHLO_AND",
        "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL", "STABLEHLO_FLOOR", "STABLEHLO_LOG",
        "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR", "STABLEHLO_POWER",
        "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT", "STABLEHLO_SUBTRACT",
        "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE", "STABLEHLO_CONVERT",
        "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE", "STABLEHLO_PAD",
        "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW", "STABLEHLO_SORT",
        "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE",
        "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE",
        "STABLEHLO_SHIFT_LEFT", "STABLEHLO_CBRT",
    ]
}

/// Union type tags of Operator.builtin_options used by the supported ops.
enum BuiltinOptionsType: UInt8 {
    case none = 0
    case conv2D = 1
    case depthwiseConv2D = 2
    case pool2D = 5
    case fullyConnected = 8
    case softmax = 9
    case concatenation = 10
    case add = 11
    case resizeBilinear = 15
    case reshape = 17
    case mul = 21
    case pad = 22
    case reducer = 27
    case stridedSlice = 32
    case dequantize = 38
    case shape = 55
    case pack = 59
    case padV2 = 43
    case resizeNearestNeighbor = 74
    case leakyRelu = 75
    case quantize = 89
    case hardSwish = 91
}

/// Fused activation functions (ActivationFunctionType).
public enum FusedActivation: Int8, Sendable, CustomStringConvertible {
    case none = 0, relu = 1, reluN1To1 = 2, relu6 = 3, tanh = 4, signBit = 5

    public var description: String {
        switch self {
        case .none: return "NONE"
        case .relu: return "RELU"
        case .reluN1To1: return "RELU_N1_TO_1"
        case .relu6: return "RELU6"
        case .tanh: return "TANH"
        case .signBit: return "SIGN_BIT"
        }
    }
}

/// Padding scheme of convolutions and pools.
public enum Padding: Int8, Sendable {
    case same = 0, valid = 1
}
