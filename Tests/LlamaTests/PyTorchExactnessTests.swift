import FuseFormats
import FuseTensor
import Llama
import XCTest
import TestSupport

/// Replays the PyTorch reference: logits, loss and every parameter gradient of HF LlamaForCausalLM.
final class PyTorchExactnessTests: XCTestCase {
    func checkForwardBackward(_ name: String) throws {
        let dir = Fixtures.llama(name)
        let model = try LlamaModel.load(directory: dir)
        let ref = try SafetensorsFile(url: dir.appendingPathComponent("reference.safetensors"))
        let shape = try ref.info("input_ids").shape
        let (B, T) = (shape[0], shape[1])
        let ids = try ref.integers("input_ids").map { Int32($0) }

        let logits = model.forward(ids: ids, batch: B, seqLen: T)
        let refLogits = try ref.floats("logits")
        XCTAssertEqual(refLogits.count, B * T * model.config.vocabSize)
        let logitError = relativeError(logits, refLogits)
        XCTAssertLessThan(logitError, 1e-4, "\(name): logits")

        var targets = ids
        for b in 0..<B { for t in 0..<T { targets[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : CrossEntropy.ignore } }
        model.zeroGradients()
        let result = model.forwardBackward(ids: ids, targets: targets, batch: B, seqLen: T)
        let refLoss = try ref.floats("loss")[0]
        XCTAssertEqual(result.count, B * (T - 1))
        XCTAssertEqual(Float(result.mean), refLoss, accuracy: 1e-5, "\(name): loss")

        var checked = 0
        var worstGradient: Float = 0
        for e in model.layout.entries {
            let refGrad = try ref.floats("grad." + e.name)
            XCTAssertEqual(refGrad.count, e.count, e.name)
            let err = relativeError(model.gradients!.pointer + e.offset, refGrad)
            XCTAssertLessThan(err, 1e-4, "\(name): gradient of \(e.name)")
            worstGradient = max(worstGradient, err)
            checked += 1
        }
        print("\(name): logits rel err \(logitError), loss \(result.mean) vs \(refLoss), worst gradient rel err \(worstGradient)")
        XCTAssertEqual(checked, ref.names.filter { $0.hasPrefix("grad.") }.count, "every reference gradient is checked")
    }

    func testGQAUntiedMatchesPyTorch() throws { try checkForwardBackward("gqa_untied") }
    func testTiedMatchesPyTorch() throws { try checkForwardBackward("tied") }

    /// A forward pass alone (inference workspace) gives the same logits as the training path.
    func testInferenceAndTrainingForwardAgree() throws {
        let model = try LlamaModel.load(directory: Fixtures.llama("gqa_untied"))
        let ids: [Int32] = (0..<24).map { Int32(($0 * 37) % 128) }
        let inference = Array(UnsafeBufferPointer(start: model.forward(ids: ids, batch: 2, seqLen: 12), count: 24 * 128))
        model.zeroGradients()
        _ = model.forwardBackward(ids: ids, targets: ids, batch: 2, seqLen: 12)
        let again = model.forward(ids: ids, batch: 2, seqLen: 12)
        XCTAssertEqual(relativeError(again, inference), 0)
    }
}
