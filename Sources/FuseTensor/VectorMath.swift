import CVectorMath
import Foundation

/// Vectorised exp and the row reductions built on it. libm's expf is a scalar call per element;
/// these process 8 lanes at a time with a Cephes-style polynomial (≈1 ulp on the float range),
/// which matters because softmax, cross-entropy and SiLU evaluate tens of millions of exps a step.
public enum VectorMath {
    public typealias V = SIMD8<Float>

    /// Whether the AVX-512 versions of the element-wise loops (CVectorMath: softmax's exp and max, SwiGLU, AdamW)
    /// run here: sixteen lanes with the same operations in the same order, so the results are bit-identical either
    /// way. Tests switch it off to compare.
    nonisolated(unsafe) static var hasAVX512 = fuse_avx512_available() != 0

    @inline(__always)
    public static func exp(_ v: V) -> V {
        // Generic SIMD helpers (clamped, pointwiseMax, rounded, Int conversion) are not inlined; these forms are.
        var x = v
        x.replace(with: -87.33, where: x .< -87.33)
        x.replace(with: 88.37, where: x .> 88.37)
        // Adding 1.5·2²³ rounds to the nearest integer (ties to even) and leaves it in the low mantissa bits.
        let shifted = x * 1.442_695_04 + 12_582_912
        let fx = shifted - 12_582_912
        x = x - fx * 0.693_359_375 + fx * 2.121_944_4e-4
        let z = x * x
        var y = V(repeating: 1.987_569_15e-4)
        y = y * x + 1.398_199_95e-3
        y = y * x + 8.333_451_9e-3
        y = y * x + 4.166_579_59e-2
        y = y * x + 1.666_666_55e-1
        y = y * x + 5.000_000_12e-1
        y = y * z + x + 1
        // 2ⁿ built from the exponent bits: (n + 127) << 23, with n = bits(shifted) − bits(1.5·2²³).
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127
        return y * unsafeBitCast(bits &<< 23, to: V.self)
    }

    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    public static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        if hasAVX512 && n >= 16 {
            i = n / 16 * 16
            var r = fuse_max_blocks(p, n / 16)
            while i < n { r = Swift.max(r, p[i]); i += 1 }
            return r
        }
        var m = V(repeating: -.infinity)
        while i + 8 <= n {
            let x = load(p + i)
            m.replace(with: x, where: x .> m)
            i += 8
        }
        var r = m.max()
        while i < n { r = Swift.max(r, p[i]); i += 1 }
        return r
    }

    /// dst[i] = exp(src[i] − shift); returns Σ dst. dst may equal src.
    public static func expShifted(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V(repeating: 0)
        let s = V(repeating: shift)
        if hasAVX512 {
            withUnsafeMutableBytes(of: &acc) {
                fuse_exp_shifted(src, dst, n, shift, $0.baseAddress!.assumingMemoryBound(to: Float.self))
            }
            var sum = acc.sum()
            for j in n / 8 * 8 ..< n { sum += dst[j] }
            return sum
        }
        while i + 8 <= n {
            let e = exp(load(src + i) - s)
            store(e, dst + i)
            acc += e
            i += 8
        }
        var sum = acc.sum()
        if i < n {
            var tail = V(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = src[i + j] - shift }
            let e = exp(tail)
            for j in 0..<(n - i) { dst[i + j] = e[j]; sum += e[j] }
        }
        return sum
    }

    /// Σ exp(src[i] − shift) without storing.
    public static func sumExpShifted(_ src: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var i = 0
        var acc = V(repeating: 0)
        let s = V(repeating: shift)
        while i + 8 <= n { acc += exp(load(src + i) - s); i += 8 }
        var sum = acc.sum()
        while i < n { sum += exp(src[i] - shift); i += 1 }
        return sum
    }

    /// p[i] *= factor.
    public static func scale(_ p: UnsafeMutablePointer<Float>, _ n: Int, by factor: Float) {
        var i = 0
        let f = V(repeating: factor)
        while i + 8 <= n { store(load(p + i) * f, p + i); i += 8 }
        while i < n { p[i] *= factor; i += 1 }
    }

    /// y[i] += x[i] (accumulating micro-batch gradients).
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n { store(load(y + i) + load(x + i), y + i); i += 8 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// 1 / (1 + exp(−x)), lane-wise.
    @inline(__always)
    public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }
}
