import FuseText
import Foundation
import XCTest
import TestSupport

/// Unusable tokenizer files give one TokenizerError naming the file and the field, never a crash.
final class TokenizerBadInputTests: XCTestCase {
    private func jsonError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TokenizerError? {
        let dir = temporaryDirectory("tokenizer-json")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        try! Data(text.utf8).write(to: url)
        do {
            _ = try BPETokenizer.load(tokenizerJSON: url)
            XCTFail("loaded without error", file: file, line: line)
            return nil
        } catch let e as TokenizerError {
            XCTAssertEqual(e.file, "tokenizer.json", file: file, line: line)
            return e
        } catch {
            XCTFail("not a TokenizerError: \(error)", file: file, line: line)
            return nil
        }
    }

    private let bpeModel = #""model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}"#

    func testMalformedJSON() {
        let e = jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0,"#)
        XCTAssertEqual(e?.field, "")
        XCTAssertTrue(e?.message.contains("not valid JSON") ?? false, e?.description ?? "")
        XCTAssertEqual(jsonError("[1, 2]")?.message, "expected a JSON object at the top, found an array")
    }

    func testUnknownModelType() {
        let e = jsonError(#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 0}}"#)
        XCTAssertEqual(e?.description, "tokenizer.json: model.type: Unigram is not supported (only BPE)")
        XCTAssertEqual(jsonError(#"{"model": {"type": "WordPiece", "vocab": {"a": 0}}}"#)?.field, "model.type")
    }

    func testMissingVocabOrMerges() {
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "merges": []}}"#)?.description, "tokenizer.json: model.vocab: missing")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#)?.description, "tokenizer.json: model.merges: missing")
        XCTAssertEqual(jsonError(#"{"added_tokens": []}"#)?.description, "tokenizer.json: model: missing")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}}"#)?.field, "model.vocab[\"a\"]")
    }

    func testMergeWithUnknownToken() {
        let e = jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a c"]}}"#)
        XCTAssertEqual(e?.field, "model.merges")
        XCTAssertEqual(e?.message, "merge 1 (\"a\" \"c\"): \"c\" is not in the vocabulary")
        let e2 = jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}"#)
        XCTAssertEqual(e2?.message, "merge 0 (\"a\" \"b\"): the merged token \"ab\" is not in the vocabulary")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}}"#)?.field, "model.merges[0]")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}"#)?.field,
                       "model.unk_token")
    }

    func testUnsupportedComponents() {
        XCTAssertEqual(jsonError(#"{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "AA=="}, \#(bpeModel)}"#)?.description,
                       "tokenizer.json: normalizer.type: Precompiled is not supported")
        XCTAssertEqual(jsonError(#"{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}]}, \#(bpeModel)}"#)?.field,
                       "pre_tokenizer.pretokenizers[0].type")
        XCTAssertEqual(jsonError(#"{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated", "invert": false}, \#(bpeModel)}"#)?.field,
                       "pre_tokenizer.pattern.Regex")
        XCTAssertEqual(jsonError(#"{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false}, {"type": "Digits"}]}, \#(bpeModel)}"#)?.field,
                       "pre_tokenizer")
        XCTAssertEqual(jsonError(#"{"decoder": {"type": "WordPiece", "prefix": "@@"}, \#(bpeModel)}"#)?.description,
                       "tokenizer.json: decoder.type: WordPiece is not supported")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "continuing_subword_prefix": "@@"}}"#)?.field,
                       "model.continuing_subword_prefix")
        XCTAssertEqual(jsonError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}}"#)?.field, "model.dropout")
        XCTAssertEqual(jsonError(#"{"added_tokens": [{"id": -1, "content": "x"}], \#(bpeModel)}"#)?.field, "added_tokens[0].id")
    }

    func testTruncatedSentencePieceModel() throws {
        let data = try Data(contentsOf: Fixtures.tokenizers("spm/tokenizer.model"))
        let dir = temporaryDirectory("spm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.model")
        for cut in [data.count / 2, 7, data.count - 3] {
            try data.prefix(cut).write(to: url)
            XCTAssertThrowsError(try BPETokenizer.load(sentencePieceModel: url)) { error in
                guard let e = error as? TokenizerError else { return XCTFail("not a TokenizerError: \(error)") }
                XCTAssertEqual(e.file, "tokenizer.model")
                XCTAssertTrue(e.field.hasPrefix("ModelProto"), e.description)
                XCTAssertTrue(e.message.contains("truncated"), e.description)
            }
        }
        try Data().write(to: url)
        XCTAssertThrowsError(try BPETokenizer.load(sentencePieceModel: url)) { error in
            XCTAssertEqual((error as? TokenizerError)?.field, "ModelProto.pieces")
        }
    }

    func testUnigramSentencePieceModelIsRefused() throws {
        // pieces { piece: "<unk>" type: UNKNOWN } trainer_spec { model_type: UNIGRAM }
        let piece: [UInt8] = [0x0A, 5] + Array("<unk>".utf8) + [0x18, 2]
        let bytes: [UInt8] = [0x0A, UInt8(piece.count)] + piece + [0x12, 2, 0x18, 1]
        let dir = temporaryDirectory("spm-unigram")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.model")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try BPETokenizer.load(sentencePieceModel: url)) { error in
            XCTAssertEqual((error as? TokenizerError)?.description,
                           "tokenizer.model: ModelProto.trainer_spec.model_type: unigram is not supported (only bpe)")
        }
    }

    func testMissingFiles() {
        let dir = temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try BPETokenizer.load(directory: dir)) { error in
            XCTAssertTrue((error as? TokenizerError)?.message.contains("no tokenizer.json or tokenizer.model") ?? false)
        }
        XCTAssertThrowsError(try BPETokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))) { error in
            XCTAssertTrue((error as? TokenizerError)?.message.hasPrefix("cannot read") ?? false)
        }
    }

    func testBadGGUFMetadata() {
        func ggufError(_ build: () throws -> BPETokenizer) -> TokenizerError? {
            do { _ = try build(); XCTFail("built without error"); return nil } catch { return error as? TokenizerError }
        }
        let tokens = ["a", "b", "ab"]
        XCTAssertEqual(ggufError {
            try BPETokenizer.fromGGUF(model: "t5", pre: nil, tokens: tokens, merges: nil, scores: [0, 0, 0], tokenTypes: nil,
                                      bosID: nil, eosID: nil, unknownID: nil, addSpacePrefix: nil)
        }?.description, "GGUF metadata: tokenizer.ggml.model: t5 is not supported (only gpt2 and llama)")
        XCTAssertEqual(ggufError {
            try BPETokenizer.fromGGUF(model: "llama", pre: nil, tokens: tokens, merges: nil, scores: [0], tokenTypes: nil,
                                      bosID: nil, eosID: nil, unknownID: nil, addSpacePrefix: nil)
        }?.field, "tokenizer.ggml.scores")
        XCTAssertEqual(ggufError {
            try BPETokenizer.fromGGUF(model: "gpt2", pre: nil, tokens: tokens, merges: ["a c"], scores: nil, tokenTypes: nil,
                                      bosID: nil, eosID: nil, unknownID: nil, addSpacePrefix: nil)
        }?.field, "tokenizer.ggml.merges")
        XCTAssertEqual(ggufError {
            try BPETokenizer.fromGGUF(model: "gpt2", pre: nil, tokens: tokens, merges: ["a b"], scores: nil, tokenTypes: nil,
                                      bosID: 7, eosID: nil, unknownID: nil, addSpacePrefix: nil)
        }?.field, "tokenizer.ggml.bos_token_id")
        XCTAssertEqual(ggufError {
            try BPETokenizer.fromGGUF(model: "gpt2", pre: "tekken", tokens: tokens, merges: ["a b"], scores: nil, tokenTypes: nil,
                                      bosID: nil, eosID: nil, unknownID: nil, addSpacePrefix: nil)
        }?.field, "tokenizer.ggml.pre")
    }
}
