import Foundation

/// The MLP activations the source families use, forward only, applied in place or gated.
/// GELU's two forms are PyTorch's: exact (`gelu`: x·Φ(x) with erf) and the tanh approximation
/// (`gelu_pytorch_tanh`, `gelu_new`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))).
public enum Activation: String, Sendable, CaseIterable {
    case silu
    case gelu
    case geluTanh

    /// The activation named by an HF config's `hidden_act` / `hidden_activation` / `activation_function`.
    public init?(hfName: String) {
        switch hfName {
        case "silu", "swish": self = .silu
        case "gelu": self = .gelu
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .geluTanh
        default: return nil
        }
    }

    public static let supportedHFNames = ["silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new"]

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .silu: return x / (1 + Foundation.exp(-x))
        case .gelu: return 0.5 * x * (1 + erff(x * Float(0.5.squareRoot())))
        case .geluTanh:
            let inner = Float((2 / Double.pi).squareRoot()) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        }
    }

    /// x ← act(x) over `count` floats.
    public func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let act = self
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            for i in range { x[i] = act.apply(x[i]) }
        }
    }

    /// out = act(gate) ⊙ up (SwiGLU for silu, GeGLU for the GELUs); silu goes through the vectorised SwiGLU kernel.
    public func gated(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
        if self == .silu { return SwiGLU.forward(gate: gate, up: up, out: out, count: count) }
        let act = self
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            for i in range { out[i] = act.apply(gate[i]) * up[i] }
        }
    }
}

/// Gemma's soft-capping: x ← cap · tanh(x / cap), which bounds logits to (−cap, cap).
public enum SoftCap {
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        Parallel.chunks(count, minPerChunk: 8192) { _, range in
            for i in range { x[i] = tanhf(x[i] / cap) * cap }
        }
    }
}

/// Adds a bias vector to every row: y[r, :] += b.
public enum Bias {
    public static func add(_ y: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, columns: Int) {
        Parallel.chunks(rows, minPerChunk: 16) { _, range in
            for r in range {
                let yr = y + r * columns
                for j in 0..<columns { yr[j] += b[j] }
            }
        }
    }
}
