import FuseFormats
import Foundation

/// How a dump stores top-k log-probabilities. Sizes are before zstd; errors are of the stored log-prob.
///
/// | encoding | bytes/value | max abs error of log p                        |
/// |----------|-------------|-----------------------------------------------|
/// | f32      | 4           | 0 (exact)                                     |
/// | f16      | 2           | half an f16 ulp: 2^-11·|log p| (≤ 0.016 at -64) |
/// | q16      | 2           | 2^-11 ≈ 0.00049 (fixed step 2^-10 on [-64, 0])   |
///
/// q16 is the default: uniform absolute error in log space means the same relative error on every
/// probability (≤ 0.05 %), which is what the fusion loss sees; log-probs below -64 (p < 1.6e-28) are clamped.
public enum ValueEncoding: String, Codable, Sendable, CaseIterable {
    case f32, f16, q16

    public var bytesPerValue: Int { self == .f32 ? 4 : 2 }
    static let q16Step: Float = 1.0 / 1024
    static let q16Floor: Float = -64

    func append(_ values: UnsafeBufferPointer<Float>, to out: inout Data) {
        switch self {
        case .f32:
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            for v in values { withUnsafeBytes(of: HalfPrecision.floatToF16(v).littleEndian) { out.append(contentsOf: $0) } }
        case .q16:
            for v in values {
                // Stored as the number of steps below zero: 0 = log p of 0, 65535 = the floor.
                let steps = (min(0, max(Self.q16Floor, v)) / -Self.q16Step).rounded()
                withUnsafeBytes(of: UInt16(min(65535, steps)).littleEndian) { out.append(contentsOf: $0) }
            }
        }
    }

    func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        (0..<count).map { i in
            switch self {
            case .f32: return Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .f16: return HalfPrecision.f16ToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            case .q16: return -Float(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) * Self.q16Step
            }
        }
    }
}
