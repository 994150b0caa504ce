@testable import FuseTensor
import XCTest

/// The AVX-512 element-wise loops (CVectorMath) against the Swift loops they replace: every output bit-identical,
/// on lengths that exercise the sixteen-lane body, an odd eight-lane block and the scalar tail, and on values at
/// the edges of exp's range.
final class ElementwiseAVX512Tests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(VectorMath.hasAVX512, "this CPU has no AVX-512")
    }

    override func tearDown() { VectorMath.hasAVX512 = true }

    let lengths = [1, 7, 8, 15, 16, 24, 31, 40, 1000, 8195]

    func values(_ n: Int, seed: UInt64, std: Float = 4) -> [Float] {
        var rng = SeededRandom(seed: seed)
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: n, std: std) }
        // exp's edges: clamped, overflowing, denormal results, infinities and NaN.
        let edges: [Float] = [-87.33, -87.34, -100, 88.37, 88.38, 90, -.infinity, .infinity, .nan, 0, -0.0, 1e-30]
        for (i, e) in edges.enumerated() where 3 * i < n { out[3 * i] = e }
        return out
    }

    /// Runs `body` with the AVX-512 loops and with the Swift loops; the outputs must match bit for bit.
    func assertSameBits(_ label: String, _ body: () -> [Float]) {
        VectorMath.hasAVX512 = true
        let fast = body()
        VectorMath.hasAVX512 = false
        let portable = body()
        VectorMath.hasAVX512 = true
        XCTAssertEqual(fast.count, portable.count, label)
        for i in 0..<min(fast.count, portable.count) where fast[i].bitPattern != portable[i].bitPattern {
            XCTFail("\(label): index \(i) of \(fast.count): \(fast[i]) ≠ \(portable[i])")
            return
        }
    }

    func testExpShiftedAndMaxAreBitIdentical() {
        for n in lengths {
            let x = values(n, seed: UInt64(n))
            assertSameBits("max n=\(n)") { [x.withUnsafeBufferPointer { VectorMath.max($0.baseAddress!, n) }] }
            let finite = x.map { $0.isFinite ? $0 : 0 }
            for source in [x, finite] {
                assertSameBits("expShifted n=\(n)") {
                    var out = [Float](repeating: 0, count: n)
                    let sum = source.withUnsafeBufferPointer {
                        VectorMath.expShifted($0.baseAddress!, &out, n, shift: 1.5)
                    }
                    return out + [sum]
                }
            }
        }
    }

    func testSwiGLUIsBitIdentical() {
        for n in lengths {
            let g = values(n, seed: 1), u = values(n, seed: 2, std: 1), d = values(n, seed: 3, std: 1)
            assertSameBits("SwiGLU forward n=\(n)") {
                var out = [Float](repeating: 0, count: n)
                SwiGLU.forward(gate: g, up: u, out: &out, count: n)
                return out
            }
            assertSameBits("SwiGLU backward n=\(n)") {
                var dGate = [Float](repeating: 0, count: n), dUp = [Float](repeating: 0, count: n)
                SwiGLU.backward(dOut: d, gate: g, up: u, dGate: &dGate, dUp: &dUp, count: n)
                return dGate + dUp
            }
        }
    }

    func testAdamWIsBitIdentical() {
        let c = AdamWKernel.Constants(decay: 1 - 3e-4 * 0.1, oneMinusBeta1: 0.1, beta2: 0.95, oneMinusBeta2: 0.05,
                                      negStepSize: -3e-4 / 0.1, bias2Sqrt: Float(0.05).squareRoot(), eps: 1e-8,
                                      gradientScale: 0.7)
        for n in lengths + [1 << 15 + 13] {
            let g = values(n, seed: 4, std: 1e-2).map { $0.isFinite ? $0 : 0 }
            let m0 = values(n, seed: 5, std: 1e-3).map { $0.isFinite ? $0 : 0 }
            let v0 = values(n, seed: 6, std: 1e-3).map { $0.isFinite ? abs($0) : 0 }
            let p0 = values(n, seed: 7, std: 0.02)
            assertSameBits("AdamW n=\(n)") {
                var p = p0, m = m0, v = v0
                AdamWKernel.update(parameters: &p, gradients: g, firstMoment: &m, secondMoment: &v, count: n, c)
                return p + m + v
            }
        }
    }
}
