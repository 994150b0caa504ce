import Foundation

/// A BPE tokenizer read from an HF tokenizer.json, a sentencepiece tokenizer.model (BPE), or GGUF metadata, that
/// encodes exactly as the Python libraries do (fixtures in Tests/Fixtures/tokenizers check every document):
///
/// - tokenizer.json: as HF `tokenizers` `encode(text, add_special_tokens=False)`: added tokens split off
///   (leftmost-longest; `single_word`, `lstrip`, `rstrip`; `normalized` ones matched in normalized text), the
///   normalizer, the pre-tokenizer, then BPE per word. `decode` is `decode(ids, skip_special_tokens=False)`.
/// - tokenizer.model: as the `sentencepiece` library's `encode(text)` / `decode(ids)` (its normalizer,
///   merges by piece score, byte fallback, user-defined symbols; control symbols are not matched in text).
/// - GGUF metadata (`fromGGUF`): as transformers 5 builds the tokenizer from a GGUF file.
///
/// `encode` never adds BOS/EOS (a post-processor in tokenizer.json is kept for writing back, not run). Truncation
/// and padding settings are ignored. Thread-safe: the word cache is shared behind a lock.
public final class BPETokenizer: TextTokenizer, @unchecked Sendable {
    enum Pipeline: Sendable {
        case huggingFace(HFPipeline)
        case sentencePiece(SPPipeline)
    }

    struct HFPipeline: Sendable {
        var normalizer: TextNormalizer?
        var preTokenizer: [PreTokenizerStep]?
        var decoder: TokenDecoder?
        var postProcessor: JSONValue
        var addedTokens: [AddedToken]           // by id
        var rawMatcher: AddedTokenMatcher       // normalized == false
        var normalizedMatcher: AddedTokenMatcher
        var addedByID: [Int32: AddedToken]
        var decodeForm: [Int32: String]         // string an added token decodes from
        var pipeline: PreTokenizerPipeline { PreTokenizerPipeline(steps: preTokenizer ?? []) }
    }

    struct SPPipeline: Sendable {
        var proto: SentencePieceModel
        var normalizer: SentencePieceNormalizer
        var userDefined: AddedTokenMatcher
    }

    let model: BPEModel
    let pipeline: Pipeline
    private let preTokenizerPipeline: PreTokenizerPipeline

    public let vocabSize: Int
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    /// FNV-1a 64 (16 hex digits) of a canonical serialization of everything that affects `encode`: the kind of
    /// pipeline, normalizer, pre-tokenizer, BPE settings, vocabulary in id order, merges in rank order, added
    /// tokens with their flags (sentencepiece: its normalizer settings and every piece's text, score and type).
    /// Decoder and post-processor are not included.
    public let fingerprint: String
    /// Where the tokenizer came from (file path or "GGUF metadata").
    public let source: String

    // MARK: Construction

    init(model: BPEModel, pipeline: Pipeline, bos: Int32?, eos: Int32?, source: String) {
        self.model = model
        self.pipeline = pipeline
        self.source = source
        var maxID = model.maxID
        var decodeFallbackPipeline = PreTokenizerPipeline(steps: [])
        switch pipeline {
        case let .huggingFace(hf):
            for t in hf.addedTokens { maxID = max(maxID, t.id) }
            decodeFallbackPipeline = hf.pipeline
        case .sentencePiece:
            break
        }
        preTokenizerPipeline = decodeFallbackPipeline
        vocabSize = Int(maxID) + 1
        bosTokenID = bos
        eosTokenID = eos
        fingerprint = fnv1a64Hex(BPETokenizer.canonical(model: model, pipeline: pipeline))
    }

    /// Reads an HF tokenizer.json. BOS/EOS come from tokenizer_config.json beside it when there is one
    /// (`bos_token` / `eos_token`), else from well-known special tokens (`<s>`, `<|begin_of_text|>`, … /
    /// `</s>`, `<|endoftext|>`, `<|end_of_text|>`, `<eos>`).
    public static func load(tokenizerJSON url: URL) throws -> BPETokenizer {
        let name = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError(file: url.path, field: "", message: "cannot read (\((error as NSError).localizedDescription))")
        }
        let config = try TokenizerJSONReader(file: name).read(data)
        var bosName: String?, eosName: String?
        let configURL = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        if let cdata = try? Data(contentsOf: configURL), let c = try? JSONParser.parse(cdata) {
            func tokenName(_ v: JSONValue?) -> String? { v?.stringValue ?? v?["content"]?.stringValue }
            bosName = tokenName(c["bos_token"])
            eosName = tokenName(c["eos_token"])
        }
        return try fromConfig(config, file: name, source: url.path, bosName: bosName, eosName: eosName)
    }

    /// Parses tokenizer.json text (`file` names it in errors).
    static func parse(tokenizerJSON data: Data, file: String = "tokenizer.json") throws -> BPETokenizer {
        try fromConfig(TokenizerJSONReader(file: file).read(data), file: file, source: file, bosName: nil, eosName: nil)
    }

    static func fromConfig(_ c: HFTokenizerConfig, file: String, source: String, bosName: String?,
                           eosName: String?) throws -> BPETokenizer {
        let steps = c.preTokenizer
        let spelling = PreTokenizerPipeline(steps: steps ?? []).spelling
        let model: BPEModel
        do {
            model = try BPEModel(vocab: c.vocab, merges: c.merges, unkToken: c.unkToken, fuseUnk: c.fuseUnk,
                                 byteFallback: c.byteFallback, ignoreMerges: c.ignoreMerges, spelling: spelling)
        } catch let e as BPEModel.Invalid {
            let field = e.message.hasPrefix("merge") ? "model.merges" : (e.message.hasPrefix("the unknown") ? "model.unk_token" : "model.vocab")
            throw TokenizerError(file: file, field: field, message: e.message)
        }
        let hf = makeHFPipeline(normalizer: c.normalizer, preTokenizer: steps, decoder: c.decoder,
                                postProcessor: c.postProcessor, addedTokens: c.addedTokens)
        func find(_ name: String?) -> Int32? {
            guard let name else { return nil }
            return hf.addedTokens.first(where: { sameBytes($0.content, name) })?.id ?? c.vocab[name]
        }
        func wellKnown(_ names: [String]) -> Int32? {
            for n in names {
                if let t = hf.addedTokens.first(where: { sameBytes($0.content, n) && $0.special }) { return t.id }
            }
            return nil
        }
        let bos = bosName != nil ? find(bosName) : wellKnown(["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"])
        let eos = eosName != nil ? find(eosName) : wellKnown(["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"])
        return BPETokenizer(model: model, pipeline: .huggingFace(hf), bos: bos, eos: eos, source: source)
    }

    static func makeHFPipeline(normalizer: TextNormalizer?, preTokenizer: [PreTokenizerStep]?, decoder: TokenDecoder?,
                               postProcessor: JSONValue, addedTokens: [AddedToken]) -> HFPipeline {
        let sorted = addedTokens.sorted { $0.id < $1.id }
        var raw: [AddedToken] = [], rawPatterns: [String] = []
        var norm: [AddedToken] = [], normPatterns: [String] = []
        var decodeForm: [Int32: String] = [:]
        var byID: [Int32: AddedToken] = [:]
        for t in sorted {
            byID[t.id] = t
            if t.normalized {
                var pattern = t.content
                if let normalizer {
                    pattern = String(decoding: normalizer.apply(Array(t.content.utf8)), as: UTF8.self)
                    if pattern != t.content { decodeForm[t.id] = pattern }
                }
                norm.append(t)
                normPatterns.append(pattern)
            } else {
                raw.append(t)
                rawPatterns.append(t.content)
            }
        }
        return HFPipeline(normalizer: normalizer, preTokenizer: preTokenizer, decoder: decoder,
                          postProcessor: postProcessor, addedTokens: sorted,
                          rawMatcher: AddedTokenMatcher(tokens: raw, patterns: rawPatterns),
                          normalizedMatcher: AddedTokenMatcher(tokens: norm, patterns: normPatterns),
                          addedByID: byID, decodeForm: decodeForm)
    }

    /// Reads a sentencepiece tokenizer.model of BPE type; encodes and decodes like the `sentencepiece` library.
    public static func load(sentencePieceModel url: URL) throws -> BPETokenizer {
        let name = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError(file: url.path, field: "", message: "cannot read (\((error as NSError).localizedDescription))")
        }
        return try fromSentencePiece(data, file: name, source: url.path)
    }

    static func fromSentencePiece(_ data: Data, file: String, source: String) throws -> BPETokenizer {
        let proto = try SentencePieceModel.parse(data, file: file)
        guard proto.modelType == 2 else {
            let names = [1: "unigram", 2: "bpe", 3: "word", 4: "char"]
            throw TokenizerError(file: file, field: "ModelProto.trainer_spec.model_type",
                                 message: "\(names[proto.modelType] ?? String(proto.modelType)) is not supported (only bpe)")
        }
        guard !proto.treatWhitespaceAsSuffix else {
            throw TokenizerError(file: file, field: "ModelProto.trainer_spec.treat_whitespace_as_suffix", message: "not supported")
        }
        guard !proto.hasDenormalizer else {
            throw TokenizerError(file: file, field: "ModelProto.denormalizer_spec", message: "a denormalizer is not supported")
        }
        var vocab: [TokenKey: Int32] = [:]
        var unk: Int32?
        var unused: Set<Int32> = []
        var userDefined: [AddedToken] = []
        var byteFound = [Bool](repeating: false, count: 256)
        for (i, p) in proto.pieces.enumerated() {
            let field = "ModelProto.pieces[\(i)]"
            guard !p.piece.isEmpty else { throw TokenizerError(file: file, field: field, message: "empty piece") }
            guard vocab[p.piece] == nil else {
                throw TokenizerError(file: file, field: field, message: "\(debugQuote(p.piece)) is already defined")
            }
            vocab[p.piece] = Int32(i)
            switch p.type {
            case .unknown:
                guard unk == nil else { throw TokenizerError(file: file, field: field, message: "a second unknown piece") }
                unk = Int32(i)
            case .unused: unused.insert(Int32(i))
            case .userDefined: userDefined.append(AddedToken(id: Int32(i), content: p.piece, special: false))
            case .byte:
                guard proto.byteFallback, let b = parseByteToken(p.piece) else {
                    throw TokenizerError(file: file, field: field, message: "byte piece \(debugQuote(p.piece)) without byte_fallback or not <0xNN>")
                }
                byteFound[Int(b)] = true
            default: break
            }
        }
        guard let unkID = unk else {
            throw TokenizerError(file: file, field: "ModelProto.pieces", message: "no piece of type UNKNOWN")
        }
        if proto.byteFallback, byteFound.contains(false) {
            throw TokenizerError(file: file, field: "ModelProto.pieces", message: "byte_fallback without all 256 <0xNN> pieces")
        }
        // Merges: every piece that BPE may form (NORMAL, USER_DEFINED, UNUSED), ranked by score (equal scores
        // share a rank, so the leftmost pair goes first, as in sentencepiece's agenda).
        let tokens = proto.pieces.map(\.piece)
        let generated = generateMerges(tokens: tokens, scores: proto.pieces.map(\.score), include: { id in
            let t = proto.pieces[id].type
            return t == .normal || t == .userDefined || t == .unused
        })
        var ranks: [Int32] = []
        ranks.reserveCapacity(generated.count)
        var rank: Int32 = -1
        var last: Float?
        for g in generated {
            if last == nil || g.score != last! { rank += 1; last = g.score }
            ranks.append(rank)
        }
        let model: BPEModel
        do {
            model = try BPEModel(vocab: vocab, merges: generated.map { ($0.left, $0.right) }, ranks: ranks,
                                 unkToken: proto.pieces[Int(unkID)].piece, fuseUnk: true,
                                 byteFallback: proto.byteFallback, ignoreMerges: false, spelling: .characters,
                                 unusedIDs: unused)
        } catch let e as BPEModel.Invalid {
            throw TokenizerError(file: file, field: "ModelProto.pieces", message: e.message)
        }
        let matcher = AddedTokenMatcher(tokens: userDefined, patterns: userDefined.map(\.content))
        let normalizer = try SentencePieceNormalizer(model: proto, userDefined: matcher, file: file)
        let n = proto.pieces.count
        let bos = proto.bosID >= 0 && proto.bosID < n ? Int32(proto.bosID) : nil
        let eos = proto.eosID >= 0 && proto.eosID < n ? Int32(proto.eosID) : nil
        return BPETokenizer(model: model, pipeline: .sentencePiece(SPPipeline(proto: proto, normalizer: normalizer,
                                                                              userDefined: matcher)),
                            bos: bos, eos: eos, source: source)
    }

    /// tokenizer.json when the directory has one, else tokenizer.model.
    public static func load(directory: URL) throws -> BPETokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) { return try load(tokenizerJSON: json) }
        let model = directory.appendingPathComponent("tokenizer.model")
        if FileManager.default.fileExists(atPath: model.path) { return try load(sentencePieceModel: model) }
        throw TokenizerError(file: directory.path, field: "", message: "no tokenizer.json or tokenizer.model in this directory")
    }

    // MARK: Encoding

    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var scratch = MergeScratch()
        var copy = text
        copy.withUTF8 { p in encodeBytes(p, into: &out, scratch: &scratch) }
        return out
    }

    func encodeBytes(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout MergeScratch) {
        switch pipeline {
        case let .huggingFace(hf):
            let pre = preTokenizerPipeline
            let hasPre = hf.preTokenizer != nil
            func encodeNormalized(_ np: UnsafeBufferPointer<UInt8>, atOrigin: Bool) {
                let parts: [(Range<Int>, Int32?)] = hf.normalizedMatcher.isEmpty ? (np.isEmpty ? [] : [(0..<np.count, nil)])
                    : hf.normalizedMatcher.split(np)
                for (r, id) in parts {
                    if let id { out.append(id); continue }
                    let sub = UnsafeBufferPointer(rebasing: np[r])
                    let origin = atOrigin && r.lowerBound == 0
                    if hasPre {
                        pre.run(sub, atOrigin: origin) { word in model.encodeWord(word, into: &out, scratch: &scratch) }
                    } else {
                        model.encodeWord(sub, into: &out, scratch: &scratch)
                    }
                }
            }
            let parts: [(Range<Int>, Int32?)] = hf.rawMatcher.isEmpty ? (p.isEmpty ? [] : [(0..<p.count, nil)])
                : hf.rawMatcher.split(p)
            for (r, id) in parts {
                if let id { out.append(id); continue }
                let piece = UnsafeBufferPointer(rebasing: p[r])
                if let normalizer = hf.normalizer {
                    let normalized = normalizer.apply(Array(piece))
                    normalized.withUnsafeBufferPointer { encodeNormalized($0, atOrigin: r.lowerBound == 0) }
                } else {
                    encodeNormalized(piece, atOrigin: r.lowerBound == 0)
                }
            }
        case let .sentencePiece(sp):
            let normalized = sp.normalizer.normalize(String(decoding: p, as: UTF8.self))
            normalized.withUnsafeBufferPointer { np in
                let parts: [(Range<Int>, Int32?)] = sp.userDefined.isEmpty ? (np.isEmpty ? [] : [(0..<np.count, nil)])
                    : sp.userDefined.split(np)
                for (r, id) in parts {
                    if let id { out.append(id); continue }
                    model.encodeWord(UnsafeBufferPointer(rebasing: np[r]), into: &out, scratch: &scratch)
                }
            }
        }
    }

    // MARK: Decoding

    public func decode(_ ids: [Int32]) -> String {
        switch pipeline {
        case let .huggingFace(hf):
            var tokens: [String] = []
            tokens.reserveCapacity(ids.count)
            for id in ids {
                if let t = hf.decodeForm[id] ?? hf.addedByID[id]?.content ?? model.token(id) { tokens.append(t) }
            }
            guard let decoder = hf.decoder else { return tokens.joined(separator: " ") }
            return decoder.decodeChain(tokens).joined()
        case let .sentencePiece(sp):
            return decodeSentencePiece(ids, sp.proto)
        }
    }

    /// sentencepiece_processor.cc `Decode`.
    private func decodeSentencePiece(_ ids: [Int32], _ proto: SentencePieceModel) -> String {
        var text: [UInt8] = []
        var pendingBytes: [UInt8] = []
        var isBosWs = true
        var bosWsSeen = false
        func flushBytes() {
            guard !pendingBytes.isEmpty else { return }
            text += sentencePieceDecodeBytes(pendingBytes)
            pendingBytes.removeAll()
        }
        let space: [UInt8] = [0xE2, 0x96, 0x81]
        for id in ids {
            guard id >= 0, Int(id) < proto.pieces.count else { continue }
            let piece = proto.pieces[Int(id)]
            if piece.type == .byte {
                if let b = parseByteToken(piece.piece) { pendingBytes.append(b) }
                continue
            }
            flushBytes()
            if bosWsSeen || !text.isEmpty { isBosWs = false }
            switch piece.type {
            case .control:
                bosWsSeen = false
            case .unknown:
                text += Array(proto.unkSurface.utf8)
                bosWsSeen = false
            default:
                var bytes = Array(piece.piece.utf8)
                var hasBosWs = false
                if isBosWs && (proto.addDummyPrefix || proto.removeExtraWhitespaces) {
                    if bytes.starts(with: space) {
                        bytes.removeFirst(3)
                        hasBosWs = true
                    }
                    if proto.removeExtraWhitespaces { hasBosWs = false }
                }
                text += replaceAll(bytes, space, [0x20])
                bosWsSeen = hasBosWs
            }
        }
        flushBytes()
        return String(decoding: text, as: UTF8.self)
    }

    public func tokenString(_ id: Int32) -> String? {
        switch pipeline {
        case let .huggingFace(hf): return hf.addedByID[id]?.content ?? model.token(id)
        case .sentencePiece: return model.token(id)
        }
    }

    /// The id of a token string (added tokens first, then the vocabulary).
    public func tokenID(_ token: String) -> Int32? {
        if case let .huggingFace(hf) = pipeline, let t = hf.addedTokens.first(where: { sameBytes($0.content, token) }) { return t.id }
        return model.vocab[token]
    }

    /// Added tokens (tokenizer.json / GGUF), or sentencepiece's control and user-defined pieces, by id.
    public var addedTokens: [AddedToken] {
        switch pipeline {
        case let .huggingFace(hf): return hf.addedTokens
        case let .sentencePiece(sp):
            return sp.proto.pieces.enumerated().compactMap { i, p in
                switch p.type {
                case .control, .unknown: return AddedToken(id: Int32(i), content: p.piece, special: true)
                case .userDefined: return AddedToken(id: Int32(i), content: p.piece, special: false)
                default: return nil
                }
            }
        }
    }
}

/// sentencepiece's byte-piece decoding: one character at a time, U+FFFD for each byte that does not start a
/// well-formed UTF-8 character.
func sentencePieceDecodeBytes(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        var len = 0
        if b < 0x80 { len = 1 } else if b & 0xE0 == 0xC0 { len = 2 } else if b & 0xF0 == 0xE0 { len = 3 } else if b & 0xF8 == 0xF0 { len = 4 }
        if len > 0, i + len <= bytes.count,
           bytes.withUnsafeBufferPointer({ validUTF8String(UnsafeBufferPointer(rebasing: $0[i..<(i + len)])) }) != nil {
            out.append(contentsOf: bytes[i..<(i + len)])
            i += len
        } else {
            out += [0xEF, 0xBF, 0xBD]
            i += 1
        }
    }
    return out
}

/// FNV-1a 64 of bytes, as 16 lowercase hex digits.
public func fnv1a64Hex(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01B3
    }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
