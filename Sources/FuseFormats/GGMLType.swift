/// The ggml tensor element types (ggml.h `enum ggml_type`), as stored in GGUF tensor infos.
///
/// Every type ggml has defined is listed so that a file can be opened and its tensors named even
/// when fusellm cannot dequantize them; `isDequantizable` says which ones `GGUFFile.dequantize` handles.
/// Types ggml removed (Q4_0_4_4 … IQ4_NL_8_8, repacked layouts never meant for files) keep their
/// names for error messages. Raw values ggml never defined (4 and 5 were Q4_2/Q4_3, gone before
/// GGUF existed) are not cases: `GGMLType(rawValue:)` returns nil for them.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3
    case Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9
    case Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15
    case IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23
    case I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30
    case Q4_0_4_4 = 31, Q4_0_4_8 = 32, Q4_0_8_8 = 33
    case TQ1_0 = 34, TQ2_0 = 35
    case IQ4_NL_4_4 = 36, IQ4_NL_4_8 = 37, IQ4_NL_8_8 = 38
    case MXFP4 = 39, NVFP4 = 40, Q1_0 = 41

    /// The name ggml and the Python `gguf` package use for the type, upper case ("Q4_K", "IQ2_XXS").
    public var name: String { String(describing: self) }

    /// Elements per block (1 for the plain element types).
    public var blockSize: Int {
        switch self {
        case .F32, .F16, .BF16, .F64, .I8, .I16, .I32, .I64: return 1
        case .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q8_1, .IQ4_NL, .MXFP4: return 32
        case .Q4_0_4_4, .Q4_0_4_8, .Q4_0_8_8, .IQ4_NL_4_4, .IQ4_NL_4_8, .IQ4_NL_8_8: return 32
        case .NVFP4: return 64
        case .Q1_0: return 128
        case .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K, .Q8_K, .IQ2_XXS, .IQ2_XS, .IQ3_XXS, .IQ1_S, .IQ3_S, .IQ2_S,
             .IQ4_XS, .IQ1_M, .TQ1_0, .TQ2_0:
            return GGMLType.superBlock
        }
    }

    /// Bytes per block (ggml's `type_size`, the Python package's `GGML_QUANT_SIZES`).
    public var typeSize: Int {
        let k = GGMLType.superBlock
        switch self {
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .F64, .I64: return 8
        case .I8: return 1
        case .Q4_0, .IQ4_NL, .Q4_0_4_4, .Q4_0_4_8, .Q4_0_8_8, .IQ4_NL_4_4, .IQ4_NL_4_8, .IQ4_NL_8_8: return 2 + 16
        case .Q4_1: return 2 + 2 + 16
        case .Q5_0: return 2 + 4 + 16
        case .Q5_1: return 2 + 2 + 4 + 16
        case .Q8_0: return 2 + 32
        case .Q8_1: return 4 + 4 + 32
        case .Q2_K: return 2 + 2 + k / 16 + k / 4
        case .Q3_K: return 2 + k / 4 + k / 8 + 12
        case .Q4_K: return 2 + 2 + k / 2 + 12
        case .Q5_K: return 2 + 2 + k / 2 + k / 8 + 12
        case .Q6_K: return 2 + k / 2 + k / 4 + k / 16
        case .Q8_K: return 4 + k + k / 8
        case .IQ2_XXS: return 2 + k / 4
        case .IQ2_XS: return 2 + k / 4 + k / 32
        case .IQ3_XXS: return 2 + k / 4 + k / 8
        case .IQ1_S: return 2 + k / 8 + k / 16
        case .IQ3_S: return 2 + k / 4 + k / 8 + k / 32 + 4
        case .IQ2_S: return 2 + k / 4 + k / 16
        case .IQ4_XS: return 2 + 2 + k / 2 + k / 64
        case .IQ1_M: return k / 8 + k / 16 + k / 32
        case .TQ1_0: return 2 + 4 * 13
        case .TQ2_0: return 2 + 64
        case .MXFP4: return 1 + 16
        case .NVFP4: return 4 + 32
        case .Q1_0: return 2 + 16
        }
    }

    /// Whether `GGUFFile.dequantize` converts this type to Float32.
    public var isDequantizable: Bool {
        switch self {
        case .F32, .F16, .BF16, .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K: return true
        default: return false
        }
    }

    /// Layouts ggml dropped (weights repacked at load time, never written to files by current tools).
    public var isRemovedFromGGML: Bool {
        switch self {
        case .Q4_0_4_4, .Q4_0_4_8, .Q4_0_8_8, .IQ4_NL_4_4, .IQ4_NL_4_8, .IQ4_NL_8_8: return true
        default: return false
        }
    }

    /// QK_K: elements per super-block of the K-quants and i-quants.
    static let superBlock = 256
}
