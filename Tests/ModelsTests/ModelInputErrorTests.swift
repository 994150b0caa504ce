import FuseFormats
import Foundation
import Models
import TestSupport
import XCTest

/// Bad model input gets one error naming the file, the key or tensor, and what is supported — never a silently
/// different model.
final class ModelInputErrorTests: XCTestCase {
    /// A copy of a family fixture with its config.json edited.
    func checkpoint(_ family: String, edit: (inout [String: Any]) -> Void) throws -> URL {
        let dir = temporaryDirectory("model-input-\(family)")
        let src = Fixtures.family(family)
        try FileManager.default.copyItem(at: src.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    func assertError(_ dir: URL, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TransformerModel.load(directory: dir), file: file, line: line) { error in
            let text = "\(error)"
            for p in parts { XCTAssertTrue(text.contains(p), "\(text) should mention \(p)", file: file, line: line) }
        }
    }

    func testUnknownModelTypeListsTheFamilies() throws {
        let dir = try checkpoint("qwen2") { $0["model_type"] = "mamba" }
        assertError(dir, mentions: ["config.json", "model_type", "mamba", "gemma3", "gpt_neox"])
    }

    func testUnsupportedRopeTypeIsRefused() throws {
        let dir = try checkpoint("llama3") { json in
            json["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0]
            json["rope_scaling"] = nil
        }
        assertError(dir, mentions: ["config.json", "rope_parameters", "yarn", "llama3", "linear"])
    }

    func testUnsupportedActivationIsRefused() throws {
        assertError(try checkpoint("mistral") { $0["hidden_act"] = "relu2" }, mentions: ["hidden_act", "relu2", "silu"])
        assertError(try checkpoint("gpt2") { $0["activation_function"] = "quick_gelu" }, mentions: ["activation_function"])
    }

    func testUnsupportedFlagsAreRefused() throws {
        assertError(try checkpoint("gpt2") { $0["scale_attn_by_inverse_layer_idx"] = true }, mentions: ["scale_attn_by_inverse_layer_idx"])
        assertError(try checkpoint("qwen2") { $0["mlp_bias"] = true }, mentions: ["mlp_bias"])
        assertError(try checkpoint("gemma3") { $0["text_config"] = ["model_type": "gemma3_text"] }, mentions: ["text_config"])
        assertError(try checkpoint("gemma2") { $0["layer_types"] = ["sliding_attention", "chunked_attention", "full_attention", "full_attention"] },
                    mentions: ["layer_types"])
    }

    func testShapeThatDoesNotMatchTheConfigNamesTheTensor() throws {
        let dir = try checkpoint("phi3") { $0["intermediate_size"] = 40 }
        assertError(dir, mentions: ["model.safetensors", "mlp.gate_up_proj.weight", "config.json"])
    }

    func testMissingTensorIsNamed() throws {
        // Untied head expected, but the checkpoint (tied) has no lm_head.weight.
        let dir = try checkpoint("qwen2") { $0["tie_word_embeddings"] = false }
        assertError(dir, mentions: ["lm_head.weight", "missing"])
    }

    func testNaNWeightsAreRefused() throws {
        let dir = try checkpoint("gpt_neox") { _ in }
        let file = try SafetensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        let info = try file.info("gpt_neox.layers.1.mlp.dense_4h_to_h.bias")
        var bytes = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        let nan = Float.nan.bitPattern
        // byteRange counts from the data section, after the 8-byte length and the JSON header.
        let header = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let at = 8 + header + info.byteRange.lowerBound
        withUnsafeBytes(of: nan.littleEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
        try bytes.write(to: dir.appendingPathComponent("model.safetensors"))
        assertError(dir, mentions: ["gpt_neox.layers.1.mlp.dense_4h_to_h.bias", "NaN"])
    }

    func testPathThatIsNeitherDirectoryNorGGUF() throws {
        let dir = temporaryDirectory("model-input-path")
        let file = dir.appendingPathComponent("weights.bin")
        try Data([1, 2, 3]).write(to: file)
        XCTAssertThrowsError(try PretrainedModel.load(path: file.path)) { XCTAssertTrue("\($0)".contains("not a checkpoint directory or a .gguf file")) }
        XCTAssertThrowsError(try PretrainedModel.load(path: dir.appendingPathComponent("absent").path)) {
            XCTAssertTrue("\($0)".contains("no such file or directory"))
        }
    }
}
