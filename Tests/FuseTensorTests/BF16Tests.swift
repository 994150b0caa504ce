import FuseTensor
import XCTest

/// The bf16 products against a Float64 product of the same bf16-rounded operands: the only differences left are
/// Float32 accumulation, bounded by k · 2⁻²³ · Σ|a·b| per entry.
final class BF16Tests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isAvailable || name.contains("Without"), "this CPU has no AVX512-BF16")
    }

    /// A CPU without AVX512-BF16 refuses bf16 with one line naming the requirement and the way out; fp32 always runs.
    func testBF16WithoutAVX512BF16IsRefused() throws {
        XCTAssertThrowsError(try Precision.bf16.checkSupported(hasAVX512BF16: false)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("AVX512-BF16") && message.contains("--precision fp32"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        XCTAssertNoThrow(try Precision.fp32.checkSupported(hasAVX512BF16: false))
        XCTAssertNoThrow(try Precision.bf16.checkSupported(hasAVX512BF16: true))
    }

    func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: n, std: 1) }
        return out
    }

    /// Round to nearest even, written out on the value (not the bits) so it checks the kernel's bit trick.
    func roundedToBF16(_ x: Float) -> Float {
        if x.isNaN || x.isInfinite || x == 0 { return x }
        let ulp = Float(sign: .plus, exponent: x.exponent - 7, significand: 1)
        return (x / ulp).rounded(.toNearestOrEven) * ulp
    }

    func testPackingRoundsToNearestEven() {
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 0x1p-7 + 0x1p-8, 1 + 3 * 0x1p-9, -3.14159, 65504, 1e-30, 0x1.fffffep127, .nan]
        let panels = BF16GEMM.panelsForB(columns: 1, depth: values.count)
        values.withUnsafeBufferPointer { panels.pack(from: $0.baseAddress!, rowStride: values.count, depthStride: 1) }
        let expected: [Float] = [1, 1, 1 + 0x1p-6, 1 + 0x1p-7, roundedToBF16(-3.14159), 65536, roundedToBF16(1e-30), .infinity, .nan]
        for (j, want) in expected.enumerated() {
            let got = panels.value(row: 0, depth: j)
            if want.isNaN { XCTAssertTrue(got.isNaN) } else { XCTAssertEqual(got, want, "value \(values[j])") }
        }
    }

    /// Every transpose, odd sizes that leave partial panels, alpha and beta, and a column tile of a packed B.
    func testProductsMatchFloat64OfRoundedOperands() {
        for (m, n, k) in [(1, 1, 1), (13, 33, 7), (37, 70, 45), (100, 97, 800)] {
            let a = random(m * k, seed: 1), b = random(k * n, seed: 2), c0 = random(m * n, seed: 3)
            var at = [Float](repeating: 0, count: m * k), bt = [Float](repeating: 0, count: k * n)
            for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
            for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (alpha, beta): (Float, Float) = ta ? (0.5, 1) : (1, 0)
                var c = c0
                BF16GEMM.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ta ? at : a, lda: ta ? m : k,
                              b: tb ? bt : b, ldb: tb ? k : n, beta: beta, c: &c, ldc: n)
                assertClose(c, a: a, b: b, c0: c0, m: m, n: n, k: k, alpha: alpha, beta: beta, "\(m)×\(n)×\(k) \(ta) \(tb)")
            }
        }
    }

    func testColumnTileOfPackedWeights() {
        let (m, out, k) = (5, 100, 19)
        let x = random(m * k, seed: 4), w = random(out * k, seed: 5)
        let products = MatrixProducts(precision: .bf16)
        var full = [Float](repeating: 0, count: m * out), tile = [Float](repeating: 0, count: m * 36)
        products.linear(x: x, w: w, y: &full, rows: m, inFeatures: k, outFeatures: out)
        products.linearTile(x: x, w: w, y: &tile, rows: m, inFeatures: k, outFeatures: out, first: 64, count: 36)
        for r in 0..<m { for j in 0..<36 { XCTAssertEqual(tile[r * 36 + j], full[r * out + 64 + j]) } }
    }

    /// Packs are remade after parametersChanged(), and only then.
    func testPacksFollowParameterChanges() {
        let (m, out, k) = (3, 40, 8)
        let x = random(m * k, seed: 6)
        var w = random(out * k, seed: 7)
        let products = MatrixProducts(precision: .bf16)
        var before = [Float](repeating: 0, count: m * out), after = before
        products.linear(x: x, w: w, y: &before, rows: m, inFeatures: k, outFeatures: out)
        w.withUnsafeMutableBufferPointer { w in
            for i in 0..<w.count { w[i] *= 2 }
            var stale = [Float](repeating: 0, count: m * out)
            products.linear(x: x, w: w.baseAddress!, y: &stale, rows: m, inFeatures: k, outFeatures: out)
            XCTAssertEqual(stale, before)
            products.parametersChanged()
            products.linear(x: x, w: w.baseAddress!, y: &after, rows: m, inFeatures: k, outFeatures: out)
        }
        for i in 0..<(m * out) { XCTAssertEqual(after[i], 2 * before[i]) }
    }

    func assertClose(_ c: [Float], a: [Float], b: [Float], c0: [Float], m: Int, n: Int, k: Int, alpha: Float, beta: Float,
                     _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let product = Double(roundedToBF16(a[i * k + p])) * Double(roundedToBF16(b[p * n + j]))
                    exact += product
                    magnitude += abs(product)
                }
                let want = Double(alpha) * exact + Double(beta) * Double(c0[i * n + j])
                let bound = Double(k + 2) * 0x1p-23 * (magnitude + abs(Double(c0[i * n + j]))) + 1e-30
                worst = max(worst, abs(Double(c[i * n + j]) - want) / bound)
            }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(label): error exceeds the Float32 accumulation bound", file: file, line: line)
    }
}
