import FuseTensor

public enum GradientClipping {
    /// Global L2 norm of the gradients, accumulated in Double. It is finite exactly when every gradient is
    /// (a float squared cannot overflow a double), so it doubles as the NaN/inf check of a step.
    public static func norm(_ gradients: FloatBuffer) -> Double {
        let n = gradients.count, g = gradients.pointer
        var partial = [Double](repeating: 0, count: Parallel.chunkCount(n, minPerChunk: 1 << 16))
        partial.withUnsafeMutableBufferPointer { sums in
            Parallel.chunks(n, minPerChunk: 1 << 16) { c, range in
                sums[c] = Reduce.sumOfSquares(g + range.lowerBound, range.count)
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// torch.nn.utils.clip_grad_norm_'s coefficient: maxNorm / (norm + 1e-6) when that is below 1, else 1.
    public static func scale(norm: Double, maxNorm: Double) -> Float {
        let coefficient = maxNorm / (norm + 1e-6)
        return maxNorm > 0 && coefficient < 1 ? Float(coefficient) : 1
    }

    /// Scales gradients in place so their global L2 norm is at most `maxNorm`. Returns the norm before clipping.
    /// (The trainer folds the scale into AdamW instead; this is the standalone form.)
    @discardableResult
    public static func clip(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
        let norm = norm(gradients)
        let s = scale(norm: norm, maxNorm: maxNorm)
        if s != 1 {
            let g = gradients.pointer
            Parallel.chunks(gradients.count, minPerChunk: 1 << 16) { _, range in
                VectorMath.scale(g + range.lowerBound, range.count, by: s)
            }
        }
        return norm
    }
}
