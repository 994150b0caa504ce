import CVectorMath
import Foundation

/// The gated activation of Llama's MLP: a = silu(g) ⊙ u.
public enum SwiGLU {
    typealias V = VectorMath.V

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + VectorMath.exp(-x)) }

    public static func forward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                               out: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            var i = range.lowerBound
            if VectorMath.hasAVX512 {
                let blocks = range.count / 8
                fuse_swiglu_forward_blocks(gate + i, up + i, out + i, blocks)
                i += 8 * blocks
            }
            while i + 8 <= range.upperBound {
                let g = load(gate + i)
                store(g * VectorMath.sigmoid(g) * load(up + i), out + i)
                i += 8
            }
            while i < range.upperBound {
                let g = gate[i]
                out[i] = g * sigmoid(g) * up[i]
                i += 1
            }
        }
    }

    /// Given dOut, writes dGate and dUp (they may alias nothing else).
    public static func backward(dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minPerChunk: 4096) { _, range in
            var i = range.lowerBound
            if VectorMath.hasAVX512 {
                let blocks = range.count / 8
                fuse_swiglu_backward_blocks(dOut + i, gate + i, up + i, dGate + i, dUp + i, blocks)
                i += 8 * blocks
            }
            while i + 8 <= range.upperBound {
                let g = load(gate + i), s = VectorMath.sigmoid(g), d = load(dOut + i)
                store(d * g * s, dUp + i)
                store(d * load(up + i) * s * (1 + g * (1 - s)), dGate + i)
                i += 8
            }
            while i < range.upperBound {
                let g = gate[i], s = sigmoid(g), d = dOut[i]
                dUp[i] = d * g * s
                dGate[i] = d * up[i] * s * (1 + g * (1 - s))
                i += 1
            }
        }
    }
}
