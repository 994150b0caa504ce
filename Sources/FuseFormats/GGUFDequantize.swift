import FuseTensor

/// ggml's block formats decoded to Float32, following `dequantize_row_*` in ggml-quants.c operation
/// for operation (same products and sums in the same order, no fused multiply-add), so results are
/// bit-identical to ggml and to the Python `gguf` package's `quants.dequantize`.
///
/// Layouts (bytes, little-endian; "f16" a half-precision scale):
///   Q4_0  d:f16  qs[16]                      x = (nibble − 8)·d
///   Q4_1  d:f16  m:f16  qs[16]               x = nibble·d + m
///   Q5_0  d:f16  qh:u32  qs[16]              x = (nibble | high bit << 4 − 16)·d
///   Q5_1  d:f16  m:f16  qh:u32  qs[16]       x = (nibble | high bit << 4)·d + m
///   Q8_0  d:f16  qs:i8[32]                   x = q·d
///   Q2_K  scales[16]  qs[64]  d:f16  dmin:f16
///   Q3_K  hmask[32]  qs[64]  scales[12]  d:f16
///   Q4_K  d:f16  dmin:f16  scales[12]  qs[128]
///   Q5_K  d:f16  dmin:f16  scales[12]  qh[32]  qs[128]
///   Q6_K  ql[128]  qh[64]  scales:i8[16]  d:f16
/// In the 32-element formats the low nibbles of qs[0..<16] are elements 0..<16 and the high nibbles
/// elements 16..<32.
enum GGUFDequantize {
    /// Dequantizes `elementCount` elements (a whole number of blocks) from `source`, splitting blocks
    /// over `Parallel.threads`.
    static func run(_ type: GGMLType, _ source: UnsafeRawPointer, elementCount: Int,
                    into destination: UnsafeMutablePointer<Float>) {
        let blockSize = type.blockSize, typeSize = type.typeSize
        let blocks = elementCount / blockSize
        // About 64K elements per chunk before a second thread is worth its start-up.
        Parallel.chunks(blocks, minPerChunk: max(1, 65_536 / blockSize)) { _, range in
            let src = source + range.lowerBound * typeSize
            let dst = destination + range.lowerBound * blockSize
            let n = range.count
            switch type {
            case .F32: dst.withMemoryRebound(to: UInt8.self, capacity: 4 * n) { $0.update(from: src.assumingMemoryBound(to: UInt8.self), count: 4 * n) }
            case .F16: f16(src, n, dst)
            case .BF16: bf16(src, n, dst)
            case .Q4_0: q4_0(src, n, dst)
            case .Q4_1: q4_1(src, n, dst)
            case .Q5_0: q5_0(src, n, dst)
            case .Q5_1: q5_1(src, n, dst)
            case .Q8_0: q8_0(src, n, dst)
            case .Q2_K: q2_K(src, n, dst)
            case .Q3_K: q3_K(src, n, dst)
            case .Q4_K: q4_K(src, n, dst)
            case .Q5_K: q5_K(src, n, dst)
            case .Q6_K: q6_K(src, n, dst)
            default: preconditionFailure("GGUFDequantize.run called for \(type.name)")
            }
        }
    }

    @inline(__always) private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.f16ToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) private static func bytes(_ p: UnsafeRawPointer, _ offset: Int) -> UnsafePointer<UInt8> {
        (p + offset).assumingMemoryBound(to: UInt8.self)
    }

    private static func f16(_ src: UnsafeRawPointer, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<n { y[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    /// `HalfPrecision.f16ToFloat` without the library call Float16 → Float costs on x86 without F16C
    /// (twice as fast), identical for every bit pattern (checked over all 65,536 in the tests): the
    /// bits are moved into place, subnormals renormalised by one exact subtraction, NaNs left to
    /// `HalfPrecision` so their payloads match too.
    @inline(__always) static func halfToFloat(_ h: UInt16) -> Float {
        let shifted = UInt32(h & 0x7FFF) << 13          // exponent and mantissa, in float position
        let exponent = shifted & 0x0F80_0000
        let sign = UInt32(h & 0x8000) << 16
        if exponent == 0x0F80_0000 {                      // inf or NaN
            if h & 0x03FF != 0 { return HalfPrecision.f16ToFloat(h) }
            return Float(bitPattern: sign | 0x7F80_0000)
        }
        if exponent == 0 {                                // zero or subnormal: mantissa · 2^-24
            let magnitude = Float(bitPattern: shifted + (113 << 23)) - Float(bitPattern: 113 << 23)
            return Float(bitPattern: magnitude.bitPattern | sign)
        }
        return Float(bitPattern: (shifted + (112 << 23)) | sign)
    }

    private static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<n { y[i] = HalfPrecision.bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    private static func q4_0(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 18, y = out + b * 32
            let d = half(x, 0)
            let qs = bytes(x, 2)
            for j in 0..<16 {
                y[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
            }
        }
    }

    private static func q4_1(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 20, y = out + b * 32
            let d = half(x, 0), m = half(x, 2)
            let qs = bytes(x, 4)
            for j in 0..<16 {
                y[j] = Float(qs[j] & 0x0F) * d + m
                y[j + 16] = Float(qs[j] >> 4) * d + m
            }
        }
    }

    private static func q5_0(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 22, y = out + b * 32
            let d = half(x, 0)
            let qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let qs = bytes(x, 6)
            for j in 0..<16 {
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float(Int32(UInt32(qs[j] & 0x0F) | h0) - 16) * d
                y[j + 16] = Float(Int32(UInt32(qs[j] >> 4) | h1) - 16) * d
            }
        }
    }

    private static func q5_1(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 24, y = out + b * 32
            let d = half(x, 0), m = half(x, 2)
            let qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let qs = bytes(x, 8)
            for j in 0..<16 {
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float(UInt32(qs[j] & 0x0F) | h0) * d + m
                y[j + 16] = Float(UInt32(qs[j] >> 4) | h1) * d + m
            }
        }
    }

    private static func q8_0(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 34, y = out + b * 32
            let d = half(x, 0)
            let qs = bytes(x, 2)
            for j in 0..<32 { y[j] = Float(Int8(bitPattern: qs[j])) * d }
        }
    }

    private static func q2_K(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 84
            var y = out + b * 256
            let scales = bytes(x, 0)
            var q = bytes(x, 16)
            let d = half(x, 80), dmin = half(x, 82)
            var s = 0
            for _ in 0..<2 {              // two halves of 128 elements, 32 bytes of qs each
                for shift in stride(from: UInt8(0), to: 8, by: 2) {
                    for half in 0..<2 {       // 16 elements from q[0..<16], then from q[16..<32]
                        let sc = scales[s]; s += 1
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        let qq = q + 16 * half
                        for l in 0..<16 { y[l] = dl * Float((qq[l] >> shift) & 3) - ml }
                        y += 16
                    }
                }
                q += 32
            }
        }
    }

    private static func q3_K(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 110
            var y = out + b * 256
            let hm = bytes(x, 0)
            var q = bytes(x, 32)
            let sb = bytes(x, 96)
            let dAll = half(x, 108)
            var s = 0
            var m: UInt8 = 1
            for _ in 0..<2 {
                for shift in stride(from: UInt8(0), to: 8, by: 2) {
                    for half in 0..<2 {
                        let dl = dAll * Float(q3Scale(s, sb)); s += 1
                        let qq = q + 16 * half, hh = hm + 16 * half
                        for l in 0..<16 {
                            let v = Int32((qq[l] >> shift) & 3) - ((hh[l] & m) != 0 ? 0 : 4)
                            y[l] = dl * Float(v)
                        }
                        y += 16
                    }
                    m <<= 1
                }
                q += 32
            }
        }
    }

    /// The j-th of Q3_K's 16 six-bit scales, minus 32: low 4 bits from bytes 0..<8 (low nibbles for
    /// j < 8, high nibbles after), high 2 bits from bytes 8..<12.
    @inline(__always) private static func q3Scale(_ j: Int, _ sb: UnsafePointer<UInt8>) -> Int32 {
        let low = j < 8 ? sb[j] & 0x0F : sb[j - 8] >> 4
        let high = (sb[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
        return Int32(low | (high << 4)) - 32
    }

    /// ggml's `get_scale_min_k4`: the j-th 6-bit scale and min of a Q4_K/Q5_K block.
    @inline(__always) private static func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 {
            return (Float(q[j] & 63), Float(q[j + 4] & 63))
        }
        return (Float((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)), Float((q[j + 4] >> 4) | ((q[j] >> 6) << 4)))
    }

    private static func q4_K(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 144
            var y = out + b * 256
            let d = half(x, 0), dmin = half(x, 2)
            let scales = bytes(x, 4)
            var q = bytes(x, 16)
            for j in stride(from: 0, to: 8, by: 2) {
                let (sc1, m1) = scaleMin(j, scales), (sc2, m2) = scaleMin(j + 1, scales)
                let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
                for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - mm1 }
                for l in 0..<32 { y[l + 32] = d2 * Float(q[l] >> 4) - mm2 }
                y += 64
                q += 32
            }
        }
    }

    private static func q5_K(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 176
            var y = out + b * 256
            let d = half(x, 0), dmin = half(x, 2)
            let scales = bytes(x, 4)
            let qh = bytes(x, 16)
            var ql = bytes(x, 48)
            var u1: UInt8 = 1, u2: UInt8 = 2
            for j in stride(from: 0, to: 8, by: 2) {
                let (sc1, m1) = scaleMin(j, scales), (sc2, m2) = scaleMin(j + 1, scales)
                let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
                for l in 0..<32 { y[l] = d1 * Float((ql[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - mm1 }
                for l in 0..<32 { y[l + 32] = d2 * Float((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - mm2 }
                y += 64
                ql += 32
                u1 <<= 2
                u2 <<= 2
            }
        }
    }

    private static func q6_K(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let x = src + b * 210
            var y = out + b * 256
            var ql = bytes(x, 0)
            var qh = bytes(x, 128)
            var sc = (x + 192).assumingMemoryBound(to: Int8.self)
            let d = half(x, 208)
            for _ in 0..<2 {
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int32((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    y[l] = d * Float(sc[s]) * Float(q1)
                    y[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    y[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    y[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
                y += 128
                ql += 64
                qh += 32
                sc += 8
            }
        }
    }
}
