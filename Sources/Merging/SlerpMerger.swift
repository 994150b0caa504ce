import Foundation

/// Spherical interpolation between inputs[0] (t = 0) and inputs[1] (t = 1), per tensor, on the flattened
/// tensors, as mergekit: the angle comes from normalized copies (a norm ≤ 1e-8 is left unnormalized), and
/// when |cos θ| > 0.9995 the vectors are treated as colinear and interpolated linearly. The coefficients
/// apply to the original (unnormalized) tensors. Reductions run in Double.
public struct SlerpMerger: TensorMerger {
    public let t: Double
    public static let dotThreshold = 0.9995
    public static let eps = 1e-8

    public init(t: Double) { self.t = t }

    /// The coefficients (c₀, c₁) of out = c₀·v₀ + c₁·v₁.
    public func coefficients(_ v0: UnsafePointer<Float>, _ v1: UnsafePointer<Float>, count: Int) -> (Double, Double) {
        var n0 = 0.0, n1 = 0.0, dot = 0.0
        for i in 0..<count {
            let a = Double(v0[i]), b = Double(v1[i])
            n0 += a * a
            n1 += b * b
            dot += a * b
        }
        n0 = n0.squareRoot()
        n1 = n1.squareRoot()
        let cosine = min(1, max(-1, dot / ((n0 > Self.eps ? n0 : 1) * (n1 > Self.eps ? n1 : 1))))
        if abs(cosine) > Self.dotThreshold { return (1 - t, t) }
        let theta = acos(cosine), s = sin(theta)
        return (sin((1 - t) * theta) / s, sin(t * theta) / s)
    }

    public func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        let v0 = inputs[0], v1 = inputs[1]
        let (c0, c1) = coefficients(v0, v1, count: count)
        for i in 0..<count { output[i] = Float(c0 * Double(v0[i]) + c1 * Double(v1[i])) }
    }
}
