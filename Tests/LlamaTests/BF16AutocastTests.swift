import FuseFormats
import FuseTensor
import Llama
import XCTest
import TestSupport

/// `--precision bf16` against PyTorch's bf16 autocast (scripts/make-bf16-fixtures.py) and the fp32 reference.
/// Both round every matmul operand to bf16 (relative error 2⁻⁹ per operand); autocast also rounds every matmul's
/// output, which fusellm keeps in Float32. So fusellm's bf16 should sit no farther from fp32 than autocast does —
/// the bound asserted here, with a quarter of headroom for the different summation orders — and measurably away
/// from fp32 (the bf16 path really ran).
final class BF16AutocastTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isAvailable, "this CPU has no AVX512-BF16")
    }

    func testGQAUntiedTracksAutocast() throws { try check("gqa_untied") }
    func testTiedTracksAutocast() throws { try check("tied") }

    func check(_ name: String) throws {
        let dir = Fixtures.llama(name)
        let model = try LlamaModel.load(directory: dir)
        model.precision = .bf16
        let fp32 = try SafetensorsFile(url: dir.appendingPathComponent("reference.safetensors"))
        let autocast = try SafetensorsFile(url: dir.appendingPathComponent("autocast-bf16.safetensors"))
        let shape = try fp32.info("input_ids").shape
        let (B, T) = (shape[0], shape[1])
        let ids = try fp32.integers("input_ids").map { Int32($0) }

        let logits = model.forward(ids: ids, batch: B, seqLen: T)
        let exact = try fp32.floats("logits"), mixed = try autocast.floats("logits")
        let ours = Array(UnsafeBufferPointer(start: logits, count: exact.count))
        let oursToExact = maxDifference(ours, exact), autocastToExact = maxDifference(mixed, exact)
        XCTAssertLessThanOrEqual(oursToExact, 1.25 * autocastToExact, "\(name): logits")
        XCTAssertGreaterThan(oursToExact, 1e-4, "\(name): bf16 logits equal fp32's (did bf16 run?)")

        var targets = ids
        for b in 0..<B { for t in 0..<T { targets[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : CrossEntropy.ignore } }
        model.zeroGradients()
        let loss = Float(model.forwardBackward(ids: ids, targets: targets, batch: B, seqLen: T).mean)
        let exactLoss = try fp32.floats("loss")[0], mixedLoss = try autocast.floats("loss")[0]
        // Loss deviations can cancel to almost nothing for either; 2⁻⁹ of the loss is one bf16 rounding of it.
        XCTAssertLessThanOrEqual(abs(loss - exactLoss), max(1.25 * abs(mixedLoss - exactLoss), exactLoss * 0x1p-9), "\(name): loss")

        var worst: (ours: Float, autocast: Float, name: String) = (0, 0, "")
        for e in model.layout.entries {
            let g = Array(UnsafeBufferPointer(start: model.gradients!.pointer + e.offset, count: e.count))
            let gExact = try fp32.floats("grad." + e.name), gMixed = try autocast.floats("grad." + e.name)
            let o = relativeNorm(g, gExact), a = relativeNorm(gMixed, gExact)
            XCTAssertLessThanOrEqual(o, 1.25 * a, "\(name): gradient of \(e.name)")
            if o / a > worst.ours / max(worst.autocast, 1e-30) { worst = (o, a, e.name) }
        }
        print(String(format: "%@: max |logits − fp32| fusellm bf16 %.4g, autocast %.4g; loss %.6f / autocast %.6f / fp32 %.6f; "
                     + "worst gradient (%@) relative error %.3g vs autocast's %.3g", name, oursToExact, autocastToExact,
                     loss, mixedLoss, exactLoss, worst.name, worst.ours, worst.autocast))
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// ‖a − b‖ / ‖b‖.
    func relativeNorm(_ a: [Float], _ b: [Float]) -> Float {
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            diff += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return Float((diff / max(norm, 1e-30)).squareRoot())
    }
}
