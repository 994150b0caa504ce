import Foundation

/// Rotary position embedding in HF Llama's "rotate_half" layout: the pair for frequency i is
/// (x[i], x[i + rotaryDim/2]). Angles are formed in Float32 the way transformers forms them, so
/// long positions round the same way. Partial rotary (GPT-NeoX, Phi-3's `partial_rotary_factor`) rotates the
/// first `rotaryDim` dimensions of each head and leaves the rest; scaled variants come in as their inverse
/// frequencies (`RotaryFrequencies`).
public struct RoPE {
    public let headDim: Int
    /// Dimensions rotated at the start of each head (= headDim unless partial).
    public let rotaryDim: Int
    public let maxPositions: Int
    /// cos and sin tables, [position][rotaryDim/2].
    public let cosTable: [Float]
    public let sinTable: [Float]

    public init(headDim: Int, maxPositions: Int, theta: Double) {
        self.init(headDim: headDim, rotaryDim: headDim, maxPositions: maxPositions,
                  inverseFrequencies: RoPE.defaultInverseFrequencies(rotaryDim: headDim, theta: theta))
    }

    /// 1 / θ^(2i/d) in Float32, as transformers' default RoPE computes it.
    public static func defaultInverseFrequencies(rotaryDim: Int, theta: Double) -> [Float] {
        (0..<rotaryDim / 2).map { i in 1 / powf(Float(theta), Float(2 * i) / Float(rotaryDim)) }
    }

    public init(headDim: Int, rotaryDim: Int, maxPositions: Int, inverseFrequencies invFreq: [Float]) {
        precondition(rotaryDim % 2 == 0 && rotaryDim <= headDim && invFreq.count == rotaryDim / 2)
        self.headDim = headDim
        self.rotaryDim = rotaryDim
        self.maxPositions = maxPositions
        let half = rotaryDim / 2
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
        let half = rotaryDim / 2, headDim = self.headDim
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
