import Foundation

/// RMSNorm as in HF Llama: y = w ⊙ x / sqrt(mean(x²) + eps), computed in Float32.
public enum RMSNorm {
    /// Writes y and the per-row inverse RMS `rstd` (kept for the backward pass).
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               rows: Int, dim: Int, eps: Float) {
        Parallel.chunks(rows, minPerChunk: 16) { _, range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                var ss: Float = 0
                for j in 0..<dim { ss += xr[j] * xr[j] }
                let inv = 1 / (ss / Float(dim) + eps).squareRoot()
                rstd[r] = inv
                for j in 0..<dim { yr[j] = weight[j] * (xr[j] * inv) }
            }
        }
    }

    /// dx += ∂L/∂x and dweight += ∂L/∂w, given dy. `scratch` needs `Parallel.threads * dim` floats
    /// for per-chunk weight gradients, summed in chunk order so the result is reproducible.
    public static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                dweight: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                rows: Int, dim: Int) {
        let chunkCount = Parallel.chunkCount(rows, minPerChunk: 16)
        scratch.update(repeating: 0, count: chunkCount * dim)
        Parallel.chunks(rows, minPerChunk: 16) { c, range in
            let dw = scratch + c * dim
            for r in range {
                let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
                let inv = rstd[r]
                var dot: Float = 0
                for j in 0..<dim { dot += weight[j] * dyr[j] * xr[j] }
                let k = dot * inv * inv * inv / Float(dim)
                for j in 0..<dim {
                    dxr[j] += inv * weight[j] * dyr[j] - k * xr[j]
                    dw[j] += dyr[j] * xr[j] * inv
                }
            }
        }
        for c in 0..<chunkCount {
            let dw = scratch + c * dim
            for j in 0..<dim { dweight[j] += dw[j] }
        }
    }
}
