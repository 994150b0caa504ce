import FuseFormats
import FuseTensor
import Llama
import XCTest
import TestSupport

final class CheckpointIOTests: XCTestCase {
    func assertError(_ body: @autoclosure () throws -> Any, contains fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for f in fragments { XCTAssertTrue(text.contains(f), "error \"\(text)\" should mention \"\(f)\"", file: file, line: line) }
        }
    }

    /// Copies a fixture checkpoint to a scratch directory the test may damage.
    func scratchCopy(_ name: String) throws -> URL {
        let dir = temporaryDirectory(name)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.llama(name).appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    func testTransformersBF16ShardedCheckpointLoads() throws {
        let f32 = try LlamaModel.load(directory: Fixtures.llama("tied"))
        let bf16 = try LlamaModel.load(directory: Fixtures.llama("tied").appendingPathComponent("bf16-sharded"))
        XCTAssertEqual(bf16.config, f32.config)
        for i in 0..<f32.parameters.count {
            let rounded = HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(f32.parameters[i]))
            XCTAssertEqual(bf16.parameters[i], rounded, "element \(i)")
        }
    }

    func testSaveAndReloadIsExact() throws {
        let model = try LlamaModel.load(directory: Fixtures.llama("gqa_untied"))
        for shard in [nil, 40_000] as [Int?] {
            let dir = temporaryDirectory("save")
            try model.save(to: dir, maxShardBytes: shard)
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertEqual(names.contains("model.safetensors.index.json"), shard != nil)
            XCTAssertFalse(names.contains { $0.hasPrefix(".") }, "no temporary files left: \(names)")
            let back = try LlamaModel.load(directory: dir)
            XCTAssertEqual(back.config, model.config)
            XCTAssertEqual(back.parameters.array, model.parameters.array)
        }
    }

    func testSavedHalfPrecisionReloads() throws {
        let model = try LlamaModel.load(directory: Fixtures.llama("tied"))
        let dir = temporaryDirectory("f16")
        try model.save(to: dir, dtype: .F16)
        let back = try LlamaModel.load(directory: dir)
        XCTAssertEqual(try SafetensorsFile(url: dir.appendingPathComponent("model.safetensors")).tensors["model.norm.weight"]?.dtype, .F16)
        XCTAssertLessThan(Reduce.maxAbsDiff(back.parameters.pointer, model.parameters.pointer, model.parameters.count), 1e-3)
    }

    func testShapeThatDoesNotMatchConfig() throws {
        let dir = try scratchCopy("gqa_untied")
        let url = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        json["intermediate_size"] = 100
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        assertError(try LlamaModel.load(directory: dir),
                    contains: ["model.safetensors", "model.layers.0.mlp.gate_proj.weight", "does not match config.json"])
    }

    func testMissingTensor() throws {
        let dir = try scratchCopy("gqa_untied")
        let url = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        json["num_hidden_layers"] = 3
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        assertError(try LlamaModel.load(directory: dir), contains: ["model.layers.2.input_layernorm.weight", "missing"])
    }

    func testTruncatedWeights() throws {
        let dir = try scratchCopy("gqa_untied")
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 1000).write(to: url)
        assertError(try LlamaModel.load(directory: dir), contains: ["model.safetensors", "past the end"])
    }

    func testNaNInWeights() throws {
        let model = try LlamaModel.load(directory: Fixtures.llama("tied"))
        model.pointer("model.norm.weight")![3] = .nan
        let dir = temporaryDirectory("nan")
        try model.save(to: dir)
        assertError(try LlamaModel.load(directory: dir), contains: ["model.norm.weight", "NaN"])
    }

    func testConfigErrors() throws {
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.llama("tied").appendingPathComponent("config.json"))) as! [String: Any]
        func check(_ edit: (inout [String: Any]) -> Void, _ fragments: [String]) {
            var json = base
            edit(&json)
            assertError(try LlamaConfig(json: json, source: "x/config.json"), contains: ["x/config.json"] + fragments)
        }
        check({ $0["hidden_size"] = nil }, ["hidden_size", "missing"])
        check({ $0["num_key_value_heads"] = 2 }, ["num_key_value_heads", "does not divide"])
        check({ $0["rope_parameters"] = ["rope_type": "yarn", "factor": 4.0] }, ["rope_parameters", "yarn"])
        check({ $0["hidden_act"] = "gelu" }, ["hidden_act", "gelu"])
        check({ $0["model_type"] = "gpt2" }, ["model_type", "gpt2"])
        check({ $0["vocab_size"] = "many" }, ["vocab_size", "not an integer"])
        // Both config spellings of the rotary base are read.
        var old = base
        old["rope_parameters"] = nil
        old["rope_theta"] = 123.0
        XCTAssertEqual(try LlamaConfig(json: old, source: "old").ropeTheta, 123)
        XCTAssertEqual(try LlamaConfig(json: base, source: "new").ropeTheta, 500000)
    }
}
