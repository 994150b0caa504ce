import Foundation

extension BPETokenizer {
    /// This tokenizer as an HF tokenizer.json (compact, UTF-8) that `tokenizers` / transformers load and that
    /// gives the same ids. A tokenizer read from tokenizer.json or GGUF is written as it is (post-processor as
    /// read; none for GGUF). A sentencepiece model is written as transformers' sentencepiece conversions are
    /// (BPE with its merges in score order, byte fallback, fused unknowns), with the normalizer
    /// Prepend("▁") + Replace(" ", "▁") standing for its dummy prefix, so ids match `sentencepiece` except where
    /// the text itself contains a control or user-defined piece (added tokens in tokenizer.json, matched there).
    /// Models whose normalizer has no tokenizer.json equivalent (a character map, `remove_extra_whitespaces`)
    /// are refused with a `TokenizerError`.
    public func tokenizerJSON() throws -> Data {
        let normalizer: TextNormalizer?
        let preTokenizer: [PreTokenizerStep]?
        let decoder: TokenDecoder?
        let postProcessor: JSONValue
        let added: [AddedToken]
        var unk = model.unkToken
        switch pipeline {
        case let .huggingFace(hf):
            normalizer = hf.normalizer
            preTokenizer = hf.preTokenizer
            decoder = hf.decoder
            postProcessor = hf.postProcessor
            added = hf.addedTokens
        case let .sentencePiece(sp):
            let p = sp.proto
            guard sp.normalizer.trie.isEmpty else {
                throw TokenizerError(file: source, field: "ModelProto.normalizer_spec.precompiled_charsmap",
                                     message: "a character map (\(p.normalizerName)) cannot be written as tokenizer.json exactly")
            }
            guard !p.removeExtraWhitespaces else {
                throw TokenizerError(file: source, field: "ModelProto.normalizer_spec.remove_extra_whitespaces",
                                     message: "cannot be written as tokenizer.json exactly")
            }
            var steps: [TextNormalizer] = []
            if p.addDummyPrefix { steps.append(.prepend("\u{2581}")) }
            if p.escapeWhitespaces { steps.append(.replace(pattern: " ", content: "\u{2581}")) }
            normalizer = steps.isEmpty ? nil : (steps.count == 1 ? steps[0] : .sequence(steps))
            preTokenizer = nil
            var dec: [TokenDecoder] = [.replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse]
            if p.addDummyPrefix { dec.append(.strip(content: " ", start: 1, stop: 0)) }
            decoder = .sequence(dec)
            postProcessor = .null
            added = addedTokens
            unk = p.pieces.first(where: { $0.type == .unknown })?.piece
        }
        var w = JSONWriter()
        w.raw("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":")
        w.value(.array(added.map(\.json)))
        w.raw(",\"normalizer\":")
        w.value(normalizer?.json ?? .null)
        w.raw(",\"pre_tokenizer\":")
        w.value(preTokenizerJSON(preTokenizer))
        w.raw(",\"post_processor\":")
        w.value(postProcessor)
        w.raw(",\"decoder\":")
        w.value(decoder?.json ?? .null)
        w.raw(",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":")
        if let unk { w.string(unk) } else { w.raw("null") }
        w.raw(",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":\(model.fuseUnk),")
        w.raw("\"byte_fallback\":\(model.byteFallback),\"ignore_merges\":\(model.ignoreMerges),\"vocab\":{")
        var first = true
        for (id, token) in model.tokens.enumerated() {
            guard let token else { continue }
            if !first { w.raw(",") }
            first = false
            w.string(token)
            w.raw(":\(id)")
        }
        w.raw("},\"merges\":[")
        for (i, (a, b)) in model.orderedMerges().enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("[")
            w.string(a)
            w.raw(",")
            w.string(b)
            w.raw("]")
        }
        w.raw("]}}")
        return Data(w.bytes)
    }

    static func canonical(model: BPEModel, pipeline: Pipeline) -> [UInt8] {
        var w = JSONWriter()
        switch pipeline {
        case let .huggingFace(hf):
            w.raw("hf\n")
            w.value(hf.normalizer?.json ?? .null)
            w.raw("\n")
            w.value(preTokenizerJSON(hf.preTokenizer))
            w.raw("\n")
            w.value(.array(hf.addedTokens.map(\.json)))
        case let .sentencePiece(sp):
            let p = sp.proto
            w.raw("spm\n\(p.addDummyPrefix) \(p.removeExtraWhitespaces) \(p.escapeWhitespaces) \(p.byteFallback)\n")
            w.raw(fnv1a64Hex([UInt8](p.precompiledCharsmap)))
            for piece in p.pieces {
                w.raw("\n\(piece.type.rawValue) \(piece.score.bitPattern) ")
                w.string(piece.piece)
            }
        }
        w.raw("\nmodel \(model.unkToken ?? "") \(model.fuseUnk) \(model.byteFallback) \(model.ignoreMerges)\n")
        for (id, token) in model.tokens.enumerated() {
            guard let token else { continue }
            w.raw("\(id) ")
            w.string(token)
            w.raw("\n")
        }
        for (i, (a, b)) in model.mergeList.enumerated() {
            w.raw("\(model.mergeRanks?[i] ?? Int32(i)) ")
            w.string(a)
            w.raw(" ")
            w.string(b)
            w.raw("\n")
        }
        return w.bytes
    }
}

func preTokenizerJSON(_ steps: [PreTokenizerStep]?) -> JSONValue {
    guard let steps else { return .null }
    if steps.count == 1 { return steps[0].json }
    return .object([("type", .string("Sequence")), ("pretokenizers", .array(steps.map(\.json)))])
}

/// Encoding speed in MB/s (10^6 bytes of UTF-8 per second) of `tokenizer` on `text`, on the calling thread:
/// one warm-up encode (fills the word cache, as a long run would), then `repeats` timed encodes of the whole text.
public func measureEncodeThroughput(tokenizer: some TextTokenizer, text: String, repeats: Int) -> Double {
    var sink = 0
    sink &+= tokenizer.encode(text).count
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<max(1, repeats) { sink &+= tokenizer.encode(text).count }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    if sink == -1 { print(sink) }
    return Double(text.utf8.count) * Double(max(1, repeats)) / 1e6 / max(seconds, 1e-9)
}
