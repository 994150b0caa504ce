import FuseFormats
import Foundation
import Llama
import Models
import TestSupport
import XCTest

/// Every family against transformers: a tiny randomly initialised model of the family with its quirks switched on
/// (scripts/make-family-fixtures.py), loaded from its safetensors checkpoint, must give transformers' logits to
/// 1e-4 of max |logit|.
final class FamilyExactnessTests: XCTestCase {
    static let families = ["llama3", "llama-linear", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3",
                           "gpt_neox", "gpt_neox-sequential", "gpt2", "mixtral"]

    struct Reference {
        let ids: [[Int32]]
        let logits: [Float]
    }

    static func reference(_ name: String) throws -> Reference {
        let dir = Fixtures.family(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Any]
        let ids = (json["ids"] as! [[Int]]).map { $0.map(Int32.init) }
        let logits = try SafetensorsFile(url: dir.appendingPathComponent("reference.safetensors")).floats("logits")
        return Reference(ids: ids, logits: logits)
    }

    func checkFamily(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try TransformerModel.load(directory: Fixtures.family(name))
        let ref = try Self.reference(name)
        let batch = ref.ids.count, seqLen = ref.ids[0].count
        let logits = model.forward(ids: ref.ids.flatMap { $0 }, batch: batch, seqLen: seqLen)
        let error = relativeError(logits, ref.logits)
        XCTAssertLessThan(error, 1e-4, "\(name): logits differ from transformers' by \(error) of max |logit|", file: file, line: line)
        // One sequence at a time gives the same rows (nothing leaks across the batch).
        let single = model.forward(ids: ref.ids[1], batch: 1, seqLen: seqLen)
        let secondRows = Array(ref.logits[(seqLen * model.vocabSize)...])
        XCTAssertLessThan(relativeError(single, secondRows), 1e-4, "\(name): batch of one", file: file, line: line)
    }

    func testLlama3RopeScaling() throws { try checkFamily("llama3") }
    func testLlamaLinearRopeScalingTied() throws { try checkFamily("llama-linear") }
    func testMistralSlidingWindow() throws { try checkFamily("mistral") }
    func testQwen2Biases() throws { try checkFamily("qwen2") }
    func testQwen3QKNorm() throws { try checkFamily("qwen3") }
    func testGemma2SoftCapping() throws { try checkFamily("gemma2") }
    func testGemma3LocalGlobal() throws { try checkFamily("gemma3") }
    func testPhi3FusedPartialRotary() throws { try checkFamily("phi3") }
    func testGPTNeoXParallel() throws { try checkFamily("gpt_neox") }
    func testGPTNeoXSequential() throws { try checkFamily("gpt_neox-sequential") }
    func testGPT2() throws { try checkFamily("gpt2") }
    func testMixtral() throws { try checkFamily("mixtral") }

    func testFixtureListCoversEveryFamily() throws {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("families").path)
        XCTAssertEqual(Set(dirs), Set(Self.families))
        let types = Set(try Self.families.map { name -> String in
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.family(name).appendingPathComponent("config.json"))) as! [String: Any]
            return json["model_type"] as! String
        })
        for family in ModelFamilies.all {
            XCTAssertFalse(types.isDisjoint(with: family.modelTypes), "\(family.modelTypes) has no exactness fixture")
        }
    }

    /// The generic forward pass on a Llama checkpoint equals the trainable LlamaModel's.
    func testGenericLlamaMatchesTrainableModel() throws {
        let dir = Fixtures.llama("gqa_untied")
        guard FileManager.default.fileExists(atPath: dir.path) else { throw XCTSkip("no tiny-llama fixture") }
        let generic = try TransformerModel.load(directory: dir)
        let llama = try LlamaModel.load(directory: dir)
        let ids: [Int32] = (0..<24).map { Int32(($0 * 7 + 3) % llama.config.vocabSize) }
        let a = Array(UnsafeBufferPointer(start: llama.forward(ids: ids, batch: 1, seqLen: ids.count), count: ids.count * llama.config.vocabSize))
        let b = generic.forward(ids: ids, batch: 1, seqLen: ids.count)
        XCTAssertLessThan(relativeError(b, a), 1e-6)
    }
}
