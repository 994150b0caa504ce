import FuseFormats
import FuseTensor
import Foundation
import Llama
import Merging
import XCTest
import TestSupport

/// `fusellm merge` end to end on tiny random Llama checkpoints.
final class ModelMergerTests: XCTestCase {
    private let config = LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4,
                                     numKVHeads: 2, maxPositionEmbeddings: 64)
    private var root: URL!

    override func setUp() { root = temporaryDirectory("merge") }
    override func tearDown() { try? FileManager.default.removeItem(at: root) }

    /// A random model written as an HF checkpoint, with a stand-in tokenizer.json to see it copied.
    @discardableResult
    private func checkpoint(_ name: String, seed: UInt64, config: LlamaConfig? = nil, tokenizer: String? = nil) throws -> LlamaModel {
        let model = LlamaModel.randomlyInitialized(config: config ?? self.config, seed: seed)
        let dir = root.appendingPathComponent(name)
        try model.save(to: dir)
        if let tokenizer { try Data(tokenizer.utf8).write(to: dir.appendingPathComponent("tokenizer.json")) }
        return model
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    func testLinearMergeWritesACheckpointThatReloads() throws {
        let a = try checkpoint("a", seed: 1, tokenizer: "{\"tokenizer of\": \"a\"}")
        let b = try checkpoint("b", seed: 2, tokenizer: "{\"tokenizer of\": \"b\"}")
        let recipe = try MergeRecipe.parse(yaml: """
            merge_method: linear
            models:
              - {model: \(path("a")), parameters: {weight: 3}}
              - {model: \(path("b")), parameters: {weight: 1}}
            """, source: "soup.yaml")
        let out = root.appendingPathComponent("soup")
        let summary = try ModelMerger.run(recipe, output: out, recipeText: "merge_method: linear\n")
        XCTAssertEqual(summary.parameters, a.layout.totalCount)
        XCTAssertEqual(summary.tokenizerFiles, ["tokenizer.json"])
        XCTAssertTrue(summary.notes.contains { $0.contains("tokenizer.json differs") }, "\(summary.notes)")

        let merged = try LlamaModel.load(directory: out)
        XCTAssertEqual(merged.config, config)
        for i in 0..<a.layout.totalCount {
            XCTAssertEqual(merged.parameters[i], (3 * a.parameters[i] + b.parameters[i]) / 4, accuracy: 1e-7)
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("tokenizer.json")), Data("{\"tokenizer of\": \"a\"}".utf8))
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("merge-recipe.yaml"), encoding: .utf8), "merge_method: linear\n")
        // Nothing left behind but the output itself.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted(), ["a", "b", "soup"])

        XCTAssertThrowsError(try ModelMerger.run(recipe, output: out)) { XCTAssertTrue("\($0)".contains("already exists"), "\($0)") }
    }

    func testTiesMergeInBF16MatchesTheTensorMerger() throws {
        let base = try checkpoint("base", seed: 10)
        let a = try checkpoint("a", seed: 11), b = try checkpoint("b", seed: 12)
        var recipe = try MergeRecipe.parse(yaml: """
            merge_method: ties
            base_model: \(path("base"))
            models:
              - {model: \(path("a")), parameters: {weight: 0.7, density: 0.5}}
              - {model: \(path("b")), parameters: {weight: 0.3, density: 0.8}}
            """, source: "ties.yaml")
        recipe.dtype = .BF16
        let out = root.appendingPathComponent("ties")
        let summary = try ModelMerger.run(recipe, output: out)
        XCTAssertTrue(summary.notes.contains { $0.contains("no tokenizer files") }, "\(summary.notes)")
        let merged = try LlamaModel.load(directory: out)

        let merger = try recipe.tensorMerger()
        var expected = [Float](repeating: 0, count: base.layout.totalCount)
        for e in base.layout.entries {
            let inputs = [base, a, b].map { m -> UnsafePointer<Float> in UnsafePointer(m.parameters.pointer.advanced(by: e.offset)) }
            expected.withUnsafeMutableBufferPointer { merger.merge(tensor: e.name, shape: e.shape, inputs: inputs, count: e.count, into: $0.baseAddress! + e.offset) }
        }
        for i in expected.indices {
            let rounded = HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(expected[i]))
            XCTAssertEqual(merged.parameters[i], rounded, "parameter \(i)")
        }
    }

    func testMismatchedShapesAreRefusedNamingModelAndTensor() throws {
        try checkpoint("base", seed: 1)
        var wider = config
        wider.intermediateSize = 32
        try checkpoint("wide", seed: 2, config: wider)
        let recipe = try MergeRecipe.parse(yaml: """
            merge_method: task_arithmetic
            base_model: \(path("base"))
            models: [{model: \(path("wide")), parameters: {weight: 1}}]
            """, source: "bad.yaml")
        XCTAssertThrowsError(try ModelMerger.run(recipe, output: root.appendingPathComponent("out"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path("wide")), text)
            XCTAssertTrue(text.contains("model.layers.0.mlp.gate_proj.weight"), text)
            XCTAssertTrue(text.contains("[32, 16]") && text.contains("[24, 16]"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))

        var tied = config
        tied.tieWordEmbeddings = true
        try checkpoint("tied", seed: 3, config: tied)
        let slerp = try MergeRecipe.parse(yaml: "merge_method: slerp\nmodels: [\(path("base")), \(path("tied"))]\nparameters: {t: 0.5}",
                                          source: "slerp.yaml")
        XCTAssertThrowsError(try ModelMerger.run(slerp, output: root.appendingPathComponent("out"))) { error in
            XCTAssertTrue("\(error)".hasPrefix(path("tied")) && "\(error)".contains("lm_head.weight"), "\(error)")
        }
    }

    func testMissingModelIsNamed() throws {
        try checkpoint("a", seed: 1)
        let recipe = try MergeRecipe.parse(yaml: "merge_method: linear\nmodels: [{model: \(path("a")), parameters: {weight: 1}}, {model: \(path("nope")), parameters: {weight: 1}}]",
                                           source: "r.yaml")
        XCTAssertThrowsError(try ModelMerger.run(recipe, output: root.appendingPathComponent("out"))) { error in
            XCTAssertTrue("\(error)".contains(path("nope")), "\(error)")
        }
    }
}
