import Foundation

/// LayerNorm as PyTorch's nn.LayerNorm (GPT-2, GPT-NeoX): y = (x − mean) / sqrt(var + eps) ⊙ w + b, the biased
/// variance, in Float32. Forward only (sources).
public enum LayerNorm {
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float) {
        Parallel.chunks(rows, minPerChunk: 16) { _, range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                var sum: Float = 0
                for j in 0..<dim { sum += xr[j] }
                let mean = sum / Float(dim)
                var ss: Float = 0
                for j in 0..<dim { let c = xr[j] - mean; ss += c * c }
                let inv = 1 / (ss / Float(dim) + eps).squareRoot()
                if let bias {
                    for j in 0..<dim { yr[j] = (xr[j] - mean) * inv * weight[j] + bias[j] }
                } else {
                    for j in 0..<dim { yr[j] = (xr[j] - mean) * inv * weight[j] }
                }
            }
        }
    }
}
