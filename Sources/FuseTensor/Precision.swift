/// The number format of the matrix products (`--precision`). Everything else — master weights, gradient
/// accumulation, AdamW, norms, softmax, losses — stays Float32 either way, as under PyTorch's bf16 autocast.
public enum Precision: String, CaseIterable, Sendable {
    /// Float32 products through OpenBLAS: exact against PyTorch fp32 (the default).
    case fp32
    /// Operands rounded to bf16, products accumulated in Float32 (AVX512-BF16): about twice the throughput.
    case bf16

    /// Throws unless this CPU can run `self`: bf16 needs AVX512-BF16 (no slower path is substituted silently).
    public func checkSupported() throws { try checkSupported(hasAVX512BF16: BF16GEMM.isAvailable) }

    /// The rule, for a CPU with or without AVX512-BF16.
    public func checkSupported(hasAVX512BF16: Bool) throws {
        if self == .bf16 && !hasAVX512BF16 {
            throw PrecisionError.unsupported
        }
    }
}

public enum PrecisionError: Error, CustomStringConvertible {
    case unsupported

    public var description: String {
        "--precision bf16 needs a CPU with AVX512-BF16 (Intel Cooper Lake / Sapphire Rapids or later, AMD Zen 4 or later); this one has none — use --precision fp32"
    }
}
