import CVectorMath

/// The elementwise AdamW update over raw buffers, eight lanes at a time. The scalar loop was bound by its two
/// divisions and square root per element (15% of a SmolLM2-sized training step); lane-wise IEEE operations
/// round exactly as the scalar ones, so the result does not depend on the lane width.
public enum AdamWKernel {
    /// Per-tensor constants, already rounded to Float the way torch rounds Python floats.
    public struct Constants: Sendable {
        public var decay: Float          // 1 − lr·weight_decay (1 for tensors without decay)
        public var oneMinusBeta1: Float  // lerp weight of the first moment
        public var beta2: Float
        public var oneMinusBeta2: Float
        public var negStepSize: Float    // −lr / (1 − β1ᵗ)
        public var bias2Sqrt: Float      // √(1 − β2ᵗ)
        public var eps: Float
        /// Gradient clipping's coefficient (1 when the norm is within bounds), applied here instead of in a pass
        /// of its own: g·scale rounds exactly as clip_grad_norm_'s in-place multiplication does.
        public var gradientScale: Float

        public init(decay: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float,
                    negStepSize: Float, bias2Sqrt: Float, eps: Float, gradientScale: Float = 1) {
            self.decay = decay
            self.oneMinusBeta1 = oneMinusBeta1
            self.beta2 = beta2
            self.oneMinusBeta2 = oneMinusBeta2
            self.negStepSize = negStepSize
            self.bias2Sqrt = bias2Sqrt
            self.eps = eps
            self.gradientScale = gradientScale
        }
    }

    /// g ← g·scale; p ← p·decay; m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g·g; p ← p + (−step·m) / (√v / √(1−β2ᵗ) + eps),
    /// in torch's order of operations (mul_, lerp_, mul_/addcmul_, sqrt/div/add, addcdiv_).
    public static func update(parameters P: UnsafeMutablePointer<Float>, gradients G: UnsafePointer<Float>,
                              firstMoment M: UnsafeMutablePointer<Float>, secondMoment V: UnsafeMutablePointer<Float>,
                              count: Int, _ c: Constants) {
        typealias V8 = SIMD8<Float>
        var constants = fuse_adamw_constants(decay: c.decay, oneMinusBeta1: c.oneMinusBeta1, beta2: c.beta2,
                                             oneMinusBeta2: c.oneMinusBeta2, negStepSize: c.negStepSize,
                                             bias2Sqrt: c.bias2Sqrt, eps: c.eps, gradientScale: c.gradientScale)
        Parallel.chunks(count, minPerChunk: 1 << 14) { _, range in
            var i = range.lowerBound
            if VectorMath.hasAVX512 {
                let blocks = range.count / 8
                fuse_adamw_blocks(P + i, G + i, M + i, V + i, blocks, &constants)
                i += 8 * blocks
            }
            while i + 8 <= range.upperBound {
                let (m, v, p) = step(g: VectorMath.load(G + i), m: VectorMath.load(M + i), v: VectorMath.load(V + i),
                                     p: VectorMath.load(P + i), c)
                VectorMath.store(m, M + i)
                VectorMath.store(v, V + i)
                VectorMath.store(p, P + i)
                i += 8
            }
            // The last few values go through the same lanes, zero-padded (zeros stay finite: the denominator is eps).
            let tail = range.upperBound - i
            guard tail > 0 else { return }
            var g = V8(), m0 = V8(), v0 = V8(), p0 = V8()
            for j in 0..<tail { (g[j], m0[j], v0[j], p0[j]) = (G[i + j], M[i + j], V[i + j], P[i + j]) }
            let (m, v, p) = step(g: g, m: m0, v: v0, p: p0, c)
            for j in 0..<tail { (M[i + j], V[i + j], P[i + j]) = (m[j], v[j], p[j]) }
        }
    }

    /// One update of eight values.
    @inline(__always)
    static func step(g raw: SIMD8<Float>, m m0: SIMD8<Float>, v v0: SIMD8<Float>, p p0: SIMD8<Float>,
                     _ c: Constants) -> (m: SIMD8<Float>, v: SIMD8<Float>, p: SIMD8<Float>) {
        let g = raw * c.gradientScale
        let m = m0 + c.oneMinusBeta1 * (g - m0)
        let v = v0 * c.beta2 + c.oneMinusBeta2 * g * g
        let denom = fuse_sqrt8(v) / c.bias2Sqrt + c.eps
        return (m, v, p0 * c.decay + c.negStepSize * m / denom)
    }
}
