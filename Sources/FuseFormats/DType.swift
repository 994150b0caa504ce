import Foundation

/// Element types of safetensors (and, later, GGUF's unquantised tensors).
public enum DType: String, CaseIterable, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    public var byteSize: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }

    public var isFloatingPoint: Bool { self == .F64 || self == .F32 || self == .F16 || self == .BF16 }

    /// Parses the names users type on the command line (f32, float16, bf16, …).
    public init?(userName: String) {
        switch userName.lowercased() {
        case "f32", "float32", "fp32": self = .F32
        case "f16", "float16", "fp16", "half": self = .F16
        case "bf16", "bfloat16": self = .BF16
        default: return nil
        }
    }
}

/// Conversions between Float32 and the 16-bit float formats, bit-exact with PyTorch's.
public enum HalfPrecision {
    @inline(__always) public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Round-to-nearest-even, NaN kept quiet: what `tensor.to(torch.bfloat16)` does.
    @inline(__always) public static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    @inline(__always) public static func f16ToFloat(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always) public static func floatToF16(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Converts `count` elements of `dtype` at `source` to Float32 at `destination`.
    /// Returns false for element types that are not floating point.
    public static func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, count: Int,
                                      into destination: UnsafeMutablePointer<Float>) -> Bool {
        switch dtype {
        case .F32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .F16:
            for i in 0..<count { destination[i] = f16ToFloat(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .BF16:
            for i in 0..<count { destination[i] = bf16ToFloat(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .F64:
            for i in 0..<count { destination[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        default:
            return false
        }
        return true
    }

    /// Encodes Float32 values as `dtype` (F32, F16 or BF16) bytes, little-endian.
    public static func encode(_ source: UnsafePointer<Float>, count: Int, as dtype: DType) -> Data {
        switch dtype {
        case .F32:
            return Data(bytes: source, count: count * 4)
        case .F16, .BF16:
            var halves = [UInt16](repeating: 0, count: count)
            for i in 0..<count {
                halves[i] = dtype == .F16 ? floatToF16(source[i]) : floatToBF16(source[i])
            }
            return halves.withUnsafeBytes { Data($0) }
        default:
            preconditionFailure("encode supports F32, F16 and BF16, not \(dtype)")
        }
    }
}
