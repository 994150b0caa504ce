import Foundation

/// Rotary position embedding in HF Llama's "rotate_half" layout: the pair for frequency i is
/// (x[i], x[i + headDim/2]). Angles are formed in Float32 the way transformers forms them, so
/// long positions round the same way.
public struct RoPE {
    public let headDim: Int
    public let maxPositions: Int
    /// cos and sin tables, [position][headDim/2].
    public let cosTable: [Float]
    public let sinTable: [Float]

    public init(headDim: Int, maxPositions: Int, theta: Double) {
        self.headDim = headDim
        self.maxPositions = maxPositions
        let half = headDim / 2
        var invFreq = [Float](repeating: 0, count: half)
        for i in 0..<half {
            let exponent = Float(2 * i) / Float(headDim)
            invFreq[i] = 1 / powf(Float(theta), exponent)
        }
        var c = [Float](repeating: 0, count: maxPositions * half)
        var s = [Float](repeating: 0, count: maxPositions * half)
        for p in 0..<maxPositions {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                c[p * half + i] = Float(cos(Double(angle)))
                s[p * half + i] = Float(sin(Double(angle)))
            }
        }
        cosTable = c
        sinTable = s
    }

    /// Rotates `heads` vectors of every row in place; row r sits at position r % seqLen.
    /// `inverse` applies the transposed rotation, which is the backward pass.
    public func apply(_ data: UnsafeMutablePointer<Float>, rows: Int, heads: Int, seqLen: Int, inverse: Bool = false) {
        precondition(seqLen <= maxPositions, "sequence longer than the RoPE table")
        let half = headDim / 2
        let sign: Float = inverse ? -1 : 1
        cosTable.withUnsafeBufferPointer { cosBuf in
            sinTable.withUnsafeBufferPointer { sinBuf in
                let cosP = cosBuf.baseAddress!, sinP = sinBuf.baseAddress!
                Parallel.chunks(rows, minPerChunk: 32) { _, range in
                    for r in range {
                        let pos = r % seqLen
                        let cr = cosP + pos * half, sr = sinP + pos * half
                        for h in 0..<heads {
                            let v = data + (r * heads + h) * headDim
                            for i in 0..<half {
                                let a = v[i], b = v[i + half]
                                let c = cr[i], s = sign * sr[i]
                                v[i] = a * c - b * s
                                v[i + half] = b * c + a * s
                            }
                        }
                    }
                }
            }
        }
    }
}
