import FuseFormats
import Foundation

/// How a dump stores top-k log-probabilities; it also names the text record's layout. Errors are of the stored
/// log-prob; bytes per kept entry (id and value, after zstd) on SmolLM2's dump of the sample at k = 10 / 128.
///
/// | encoding | record | max abs error of log p                          | bytes per entry |
/// |----------|--------|-------------------------------------------------|-----------------|
/// | qgap     | FTB2   | 2^-10 ≈ 0.00098 (step 2^-9, gaps between ranks) | 2.72 / 2.49     |
/// | q16      | FTB1   | 2^-11 ≈ 0.00049 (fixed step 2^-10 on [-64, 0])  | 3.18 / 2.86     |
/// | f16      | FTB1   | half an f16 ulp: 2^-11·|log p| (≤ 0.016 at -64)   |                 |
/// | f32      | FTB1   | 0 (exact)                                       |                 |
///
/// qgap is the default (`TeacherGapCodec`): entries in value order, so only the small gaps between consecutive
/// log-probs are stored. Uniform absolute error in log space means the same relative error on every probability
/// (≤ 0.1 %), which is what the fusion loss sees.
public enum ValueEncoding: String, Codable, Sendable, CaseIterable {
    case qgap, q16, f16, f32

    /// Bytes per value in an FTB1 record (qgap records code values as variable-length gaps).
    var bytesPerValue: Int { self == .f32 ? 4 : self == .qgap ? 0 : 2 }

    /// The largest difference between a log-probability and the one stored (f16's grows with |log p|: at −64).
    public var maxError: Float {
        switch self {
        case .qgap: return TeacherGapCodec.maxError
        case .q16: return Self.q16Step / 2
        case .f16: return 64.0 / 4096
        case .f32: return 0
        }
    }
    static let q16Step: Float = 1.0 / 1024
    static let q16Floor: Float = -64

    func append(_ values: UnsafeBufferPointer<Float>, to out: inout Data) {
        switch self {
        case .f32:
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            for v in values { withUnsafeBytes(of: HalfPrecision.floatToF16(v).littleEndian) { out.append(contentsOf: $0) } }
        case .qgap:
            preconditionFailure("qgap values are coded by TeacherGapCodec")
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
            case .qgap: preconditionFailure("qgap values are coded by TeacherGapCodec")
            }
        }
    }
}
