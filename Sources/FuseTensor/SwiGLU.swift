import Foundation

/// The gated activation of Llama's MLP: a = silu(g) ⊙ u.
public enum SwiGLU {
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    public static func forward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            for i in range {
                let g = gate[i]
                out[i] = g * sigmoid(g) * up[i]
            }
        }
    }

    /// Given dOut, writes dGate and dUp (they may alias nothing else).
    public static func backward(dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            for i in range {
                let g = gate[i], s = sigmoid(g), d = dOut[i]
                let silu = g * s
                dUp[i] = d * silu
                dGate[i] = d * up[i] * s * (1 + g * (1 - s))
            }
        }
    }
}
