import FuseFormats
import Foundation
import XCTest
import TestSupport

/// The real model file, when scripts/fetch-models.sh has fetched it; expected values in
/// Tests/Fixtures/gguf/smollm2-q4_1.json come from gguf.GGUFReader + gguf.quants.dequantize.
final class GGUFSmolLM2Tests: XCTestCase {
    static let model = Fixtures.smolLM2

    func openModel() throws -> GGUFFile {
        guard FileManager.default.fileExists(atPath: Self.model.path) else {
            throw XCTSkip("\(Self.model.path) is absent (bash scripts/fetch-models.sh fetches it): SmolLM2 GGUF checks skipped")
        }
        return try GGUFFile(url: Self.model)
    }

    func testSmolLM2FileMatchesTheReference() throws {
        let f = try openModel()
        let expected = try GGUFTestSupport.json("smollm2-q4_1.json")
        XCTAssertEqual(f.tensors.count, 272)
        XCTAssertEqual(f.tensors.count, expected["tensor_count"] as? Int)
        XCTAssertEqual(f.dataOffset, expected["data_offset"] as? Int)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(try f.int("llama.block_count"), 30)
        XCTAssertEqual(try f.string("general.architecture"), "llama")
        XCTAssertEqual(try f.int("llama.embedding_length"), 576)
        XCTAssertEqual(try f.int("llama.attention.head_count_kv"), 3)
        let eps = try XCTUnwrap(expected["rms_epsilon_bits"] as? String)
        XCTAssertEqual(String(format: "0x%08x", Float(try f.double("llama.attention.layer_norm_rms_epsilon")).bitPattern), eps)
        let tokens = try f.strings("tokenizer.ggml.tokens")
        XCTAssertEqual(tokens.count, 49152)
        XCTAssertEqual(tokens.count, expected["token_count"] as? Int)
        XCTAssertEqual(Array(tokens.prefix(20)).map { Array($0.utf8) }, (expected["first_tokens"] as? [String])?.map { Array($0.utf8) })
        XCTAssertEqual(tokens.last.map { Array($0.utf8) }, (expected["last_token"] as? String).map { Array($0.utf8) })
        let merges = try f.strings("tokenizer.ggml.merges")
        XCTAssertEqual(merges.count, 48900)
        XCTAssertEqual(Array(merges.prefix(10)), expected["first_merges"] as? [String])
        XCTAssertEqual(try f.ints("tokenizer.ggml.token_type").count, 49152)
        XCTAssertEqual(Dictionary(grouping: f.tensors, by: \.type).mapValues(\.count), [.Q4_1: 210, .F32: 61, .Q8_0: 1])

        let tensors = try XCTUnwrap(expected["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(tensors.count, 4)
        for (name, want) in tensors {
            let info = try f.tensor(name)
            XCTAssertEqual(info.type.name, want["type"] as? String, name)
            XCTAssertEqual(info.dimensions, want["dimensions"] as? [Int], name)
            XCTAssertEqual(info.offset, want["offset"] as? Int, name)
            let values = try f.dequantize(info)
            let indices = try XCTUnwrap(want["indices"] as? [Int])
            let bits = try XCTUnwrap(want["bits"] as? [Int])
            XCTAssertGreaterThan(indices.count, 200, name)
            var mismatches = 0
            for (i, b) in zip(indices, bits) where Int(values[i].bitPattern) != b {
                if mismatches < 5 { XCTFail("\(name)[\(i)]: \(values[i]) != \(Float(bitPattern: UInt32(b))) (gguf.quants)") }
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, name)
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let wantSum = try XCTUnwrap(want["sum"] as? Double)
            XCTAssertEqual(sum, wantSum, accuracy: 1e-9 * max(1, abs(wantSum)), name)
        }
    }

}
