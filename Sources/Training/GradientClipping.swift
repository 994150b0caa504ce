import FuseTensor

public enum GradientClipping {
    /// Scales gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
    /// coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
    @discardableResult
    public static func clip(_ gradients: FloatBuffer, maxNorm: Double) -> Double {
        let n = gradients.count, g = gradients.pointer
        var partial = [Double](repeating: 0, count: Parallel.chunkCount(n, minPerChunk: 1 << 16))
        partial.withUnsafeMutableBufferPointer { sums in
            Parallel.chunks(n, minPerChunk: 1 << 16) { c, range in
                sums[c] = Reduce.sumOfSquares(g + range.lowerBound, range.count)
            }
        }
        let norm = partial.reduce(0, +).squareRoot()
        let coefficient = maxNorm / (norm + 1e-6)
        if maxNorm > 0, coefficient < 1 {
            let s = Float(coefficient)
            Parallel.chunks(n, minPerChunk: 1 << 16) { _, range in
                for i in range { g[i] *= s }
            }
        }
        return norm
    }
}
