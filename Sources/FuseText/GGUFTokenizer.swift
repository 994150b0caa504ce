extension BPETokenizer {
    /// Builds the tokenizer that GGUF metadata (`tokenizer.ggml.*`) describes, as transformers 5 does
    /// (integrations/gguf/gguf_tokenizer_mapping.py and the tokenizer classes it hands the data to):
    ///
    /// - `model` "gpt2": byte-level BPE (GPT2Tokenizer). Tokens with a character outside the byte alphabet are
    ///   respelled from their UTF-8; merges are the file's ("a b"), or derived from the scores when absent;
    ///   pre-tokenizer ByteLevel (no prefix space, GPT-2 regex), decoder ByteLevel.
    /// - `model` "llama": sentencepiece-style BPE (LlamaTokenizer): tokens as they are, merges from the file or
    ///   derived from the scores (`generate_merges`), byte fallback, unknown runs fused, no unknown token;
    ///   pre-tokenizer Metaspace (▁, prepend "first", no split); decoder Replace ▁→space, ByteFallback, Fuse,
    ///   Strip one leading space. `addSpacePrefix` does not change this (transformers ignores it too).
    /// - `model` "llama" in a Gemma file (`architecture` gemma, gemma2, gemma3): GemmaTokenizer, as transformers'
    ///   `gemma_tokenizer` builds it — tokens of two or more blanks respelled with ▁, merges derived with the file
    ///   order as the score (Gemma's scores do not follow its merge order), normalizer Replace " "→▁, pre-tokenizer
    ///   Split(" ", merged with previous), byte fallback, `<unk>` fused; decoder Replace ▁→space, ByteFallback, Fuse;
    ///   default special tokens `<pad>`, `<eos>`, `<bos>`, `<unk>`, `<mask>`.
    /// - `pre` naming a Llama-3 / Qwen2 family (`llama-bpe`, `qwen2`, …) replaces the pre-tokenizer by that
    ///   family's Split regex then ByteLevel without regex, as transformers' `set_split_regex` does.
    ///
    /// Added tokens, in transformers' order: the class's default special tokens (gpt2: `<|endoftext|>`; llama:
    /// `<s>`, `</s>`, `<unk>`) — new ids after the vocabulary when absent from it —, then tokens of type 3
    /// (control; for gpt2 only those spelled in the byte alphabet) as special, type 4 (user-defined) as plain
    /// added tokens, then the BOS / EOS / UNK / PAD tokens the ids name.
    public static func fromGGUF(model: String, pre: String?, tokens: [String], merges: [String]?, scores: [Float]?,
                                tokenTypes: [Int]?, bosID: Int?, eosID: Int?, unknownID: Int?,
                                addSpacePrefix: Bool?, paddingID: Int? = nil, architecture: String? = nil) throws -> BPETokenizer {
        let file = "GGUF metadata"
        func fail(_ field: String, _ message: String) -> TokenizerError {
            TokenizerError(file: file, field: "tokenizer.ggml.\(field)", message: message)
        }
        guard !tokens.isEmpty else { throw fail("tokens", "empty") }
        if let scores, scores.count != tokens.count {
            throw fail("scores", "\(scores.count) scores for \(tokens.count) tokens")
        }
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw fail("token_type", "\(tokenTypes.count) types for \(tokens.count) tokens")
        }
        for (name, id) in [("bos_token_id", bosID), ("eos_token_id", eosID), ("unknown_token_id", unknownID),
                           ("padding_token_id", paddingID)] {
            if let id, id < 0 || id >= tokens.count { throw fail(name, "\(id) is outside the \(tokens.count) tokens") }
        }

        let byteLevel: Bool
        switch model {
        case "gpt2": byteLevel = true
        case "llama": byteLevel = false
        default: throw fail("model", "\(model) is not supported (only gpt2 and llama)")
        }
        let gemma = !byteLevel && ["gemma", "gemma2", "gemma3"].contains(architecture ?? "")
        var tokens = tokens, scores = scores
        if gemma {
            tokens = tokens.map { t in
                t.contains(" ") && t.unicodeScalars.allSatisfy(\.properties.isWhitespace)
                    ? String(repeating: "\u{2581}", count: t.unicodeScalars.count) : t
            }
            scores = tokens.indices.map { -Float($0) }
        }

        // Vocabulary: {token: index}, the last index for a token listed twice.
        let spelled = byteLevel ? tokens.map { ByteLevelAlphabet.isSpelled($0) ? $0 : ByteLevelAlphabet.spell($0) } : tokens
        var vocab: [TokenKey: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in spelled.enumerated() { vocab[t] = Int32(i) }

        var pairs: [(String, String)] = []
        if let merges {
            pairs.reserveCapacity(merges.count)
            for (i, m) in merges.enumerated() {
                let parts = m.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("merges", "merge \(i) \(debugQuote(m)) is not two tokens separated by one space") }
                pairs.append((String(parts[0]), String(parts[1])))
            }
        } else {
            guard let scores else { throw fail("merges", "missing, and no scores to derive them from") }
            pairs = generateMerges(tokens: tokens, scores: scores).map { ($0.left, $0.right) }
        }

        var steps: [PreTokenizerStep]
        let decoder: TokenDecoder
        if gemma {
            steps = [.split(pattern: .string(" "), behavior: .mergedWithPrevious, invert: false)]
            decoder = .sequence([.replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse])
        } else if byteLevel {
            steps = [.byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: true)]
            decoder = .byteLevel(addPrefixSpace: true, trimOffsets: true, useRegex: true)
        } else {
            steps = [.metaspace(replacement: "\u{2581}", prependScheme: .first, split: false)]
            decoder = .sequence([.replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse,
                                 .strip(content: " ", start: 1, stop: 0)])
        }
        if let pre, let family = ggufSplitFamilies[pre] {
            guard let splitter = family else {
                throw fail("pre", "\(pre): its pre-tokenizer regex is not supported (supported: the Llama-3 and Qwen2 families)")
            }
            steps = [.split(pattern: .regex(splitter), behavior: .isolated, invert: false),
                     .byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: false)]
        }
        let spelling: WordSpelling = PreTokenizerPipeline(steps: steps).spelling
        let bpe: BPEModel
        do {
            bpe = try BPEModel(vocab: vocab, merges: pairs, unkToken: gemma ? "<unk>" : nil, fuseUnk: !byteLevel, byteFallback: !byteLevel,
                               ignoreMerges: false, spelling: spelling)
        } catch let e as BPEModel.Invalid {
            throw fail(e.message.hasPrefix("merge") ? "merges" : "tokens", e.message)
        }

        // Added tokens (AddedVocabulary::add_tokens semantics: an existing token keeps its id).
        var added: [AddedToken] = []
        var addedIndex: [TokenKey: Int] = [:]
        let modelSize = vocab.count
        func add(_ content: String, special: Bool) {
            guard !content.isEmpty else { return }
            let token = AddedToken(id: 0, content: content, special: special)
            if let i = addedIndex[content] {
                var same = added[i]
                same.special = special
                if same == added[i] { return }
                added[i] = same
                return
            }
            let id: Int32
            if let existing = vocab[content] {
                id = existing
            } else {
                let maxAdded = added.map(\.id).max()
                if let m = maxAdded {
                    id = (Int(m) >= modelSize || modelSize == 0) ? m + 1 : Int32(modelSize)
                } else {
                    id = Int32(modelSize)
                }
            }
            var t = token
            t.id = id
            addedIndex[content] = added.count
            added.append(t)
        }
        let defaults = byteLevel ? ["<|endoftext|>"] : gemma ? ["<bos>", "<eos>", "<unk>", "<pad>", "<mask>"] : ["<s>", "</s>", "<unk>"]
        for name in defaults { add(name, special: true) }
        if let types = tokenTypes {
            for (t, type) in zip(tokens, types) where type == 3 {
                if !byteLevel || ByteLevelAlphabet.isSpelled(t) { add(t, special: true) }
            }
            for (t, type) in zip(tokens, types) where type == 4 {
                if vocab[t] != nil || addedIndex[t] != nil { add(t, special: false) }
            }
        }
        for id in [bosID, eosID, unknownID, paddingID] {
            if let id, addedIndex[tokens[id]] == nil { add(tokens[id], special: true) }
        }

        let hf = makeHFPipeline(normalizer: gemma ? .replace(pattern: " ", content: "\u{2581}") : nil, preTokenizer: steps, decoder: decoder, postProcessor: .null,
                                addedTokens: added)
        func idOf(_ index: Int?) -> Int32? {
            guard let index else { return nil }
            let t = tokens[index]
            if let i = addedIndex[t] { return added[i].id }
            return vocab[t]
        }
        return BPETokenizer(model: bpe, pipeline: .huggingFace(hf), bos: idOf(bosID), eos: idOf(eosID),
                            source: file)
    }
}

/// transformers' GGUF_PRE_TOKENIZER_SPLITS: `tokenizer.ggml.pre` values that replace the pre-tokenizer by a Split
/// regex; nil marks a family whose regex this module does not run.
let ggufSplitFamilies: [String: RegexSplitter?] = {
    var m: [String: RegexSplitter?] = [:]
    for p in ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
              "dbrx", "smaug-bpe"] { m[p] = .some(.llama3) }
    for p in ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"] { m[p] = .some(.qwen2) }
    for p in ["tekken", "qwen35", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"] { m[p] = .some(nil) }
    return m
}()
