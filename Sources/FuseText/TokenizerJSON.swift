import Foundation

/// Everything of an HF tokenizer.json that encoding and decoding use.
struct HFTokenizerConfig: Sendable {
    var vocab: [TokenKey: Int32]
    var merges: [(String, String)]
    var unkToken: String?
    var fuseUnk = false
    var byteFallback = false
    var ignoreMerges = false
    var addedTokens: [AddedToken] = []
    var normalizer: TextNormalizer?
    /// nil: no pre-tokenizer (the whole piece is one word).
    var preTokenizer: [PreTokenizerStep]?
    var decoder: TokenDecoder?
    /// Kept as read, written back as it was (encode never adds the tokens it would add).
    var postProcessor: JSONValue = .null
}

/// Reads tokenizer.json (HF `tokenizers` serialization); `file` names it in errors.
struct TokenizerJSONReader {
    let file: String

    func fail(_ field: String, _ message: String) -> TokenizerError {
        TokenizerError(file: file, field: field, message: message)
    }

    func read(_ data: Data) throws -> HFTokenizerConfig {
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch let e as JSONParser.Failure {
            throw fail("", "not valid JSON: \(e.message) at byte \(e.offset)")
        }
        guard case .object = root else { throw fail("", "expected a JSON object at the top, found \(root.typeName)") }
        guard let model = root["model"], !model.isNull else { throw fail("model", "missing") }
        guard case .object = model else { throw fail("model", "expected an object, found \(model.typeName)") }
        if let type = model["type"] {
            guard let t = type.stringValue else { throw fail("model.type", "expected a string") }
            guard t == "BPE" else { throw fail("model.type", "\(t) is not supported (only BPE)") }
        } else if model["merges"] == nil {
            throw fail("model.type", "missing, and no merges: not a BPE model")
        }
        guard let vocabValue = model["vocab"], !vocabValue.isNull else { throw fail("model.vocab", "missing") }
        guard let vocabFields = vocabValue.objectValue else {
            throw fail("model.vocab", "expected an object of token → id, found \(vocabValue.typeName)")
        }
        guard !vocabFields.isEmpty else { throw fail("model.vocab", "empty") }
        var vocab: [TokenKey: Int32] = [:]
        vocab.reserveCapacity(vocabFields.count)
        for (token, idValue) in vocabFields {
            guard let id = idValue.intValue, id >= 0, id <= Int(Int32.max) else {
                throw fail("model.vocab[\(debugQuote(token))]", "expected a non-negative integer id, found \(idValue.typeName)")
            }
            vocab[token] = Int32(id)
        }
        guard let mergesValue = model["merges"], !mergesValue.isNull else { throw fail("model.merges", "missing") }
        guard let mergeItems = mergesValue.arrayValue else {
            throw fail("model.merges", "expected an array, found \(mergesValue.typeName)")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeItems.count)
        for (i, item) in mergeItems.enumerated() {
            switch item {
            case let .string(line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw fail("model.merges[\(i)]", "\(debugQuote(line)) is not two tokens separated by one space")
                }
                merges.append((String(parts[0]), String(parts[1])))
            case let .array(pair):
                guard pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw fail("model.merges[\(i)]", "expected a pair of strings")
                }
                merges.append((a, b))
            default:
                throw fail("model.merges[\(i)]", "expected a string \"a b\" or a pair [a, b], found \(item.typeName)")
            }
        }
        var config = HFTokenizerConfig(vocab: vocab, merges: merges)
        if let v = model["unk_token"], !v.isNull {
            guard let s = v.stringValue else { throw fail("model.unk_token", "expected a string or null") }
            config.unkToken = s
        }
        config.fuseUnk = try bool(model, "fuse_unk", path: "model.fuse_unk", default: false)
        config.byteFallback = try bool(model, "byte_fallback", path: "model.byte_fallback", default: false)
        config.ignoreMerges = try bool(model, "ignore_merges", path: "model.ignore_merges", default: false)
        if let d = model["dropout"], !d.isNull {
            guard let p = d.doubleValue else { throw fail("model.dropout", "expected a number or null") }
            guard p == 0 else { throw fail("model.dropout", "BPE dropout \(p) is not supported (encoding would be random)") }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !v.isNull {
                guard let s = v.stringValue else { throw fail("model.\(key)", "expected a string or null") }
                guard s.isEmpty else { throw fail("model.\(key)", "\(debugQuote(s)) is not supported") }
            }
        }

        if let n = root["normalizer"], !n.isNull { config.normalizer = try normalizer(n, path: "normalizer") }
        if let p = root["pre_tokenizer"], !p.isNull {
            let steps = try preTokenizer(p, path: "pre_tokenizer")
            for (i, s) in steps.enumerated() {
                if case .byteLevel = s, i != steps.count - 1 {
                    throw fail("pre_tokenizer", "ByteLevel must be the last pre-tokenizer (found at step \(i + 1) of \(steps.count))")
                }
            }
            config.preTokenizer = steps
        }
        if let d = root["decoder"], !d.isNull { config.decoder = try decoder(d, path: "decoder") }
        config.postProcessor = root["post_processor"] ?? .null

        if let added = root["added_tokens"], !added.isNull {
            guard let items = added.arrayValue else { throw fail("added_tokens", "expected an array") }
            for (i, item) in items.enumerated() {
                let path = "added_tokens[\(i)]"
                guard case .object = item else { throw fail(path, "expected an object") }
                guard let id = item["id"]?.intValue, id >= 0, id <= Int(Int32.max) else {
                    throw fail("\(path).id", "expected a non-negative integer")
                }
                guard let content = item["content"]?.stringValue else { throw fail("\(path).content", "expected a string") }
                let special = try bool(item, "special", path: "\(path).special", default: false)
                config.addedTokens.append(AddedToken(
                    id: Int32(id), content: content, special: special,
                    normalized: try bool(item, "normalized", path: "\(path).normalized", default: !special),
                    lstrip: try bool(item, "lstrip", path: "\(path).lstrip", default: false),
                    rstrip: try bool(item, "rstrip", path: "\(path).rstrip", default: false),
                    singleWord: try bool(item, "single_word", path: "\(path).single_word", default: false)))
            }
        }
        return config
    }

    private func bool(_ object: JSONValue, _ key: String, path: String, default value: Bool) throws -> Bool {
        guard let v = object[key], !v.isNull else { return value }
        guard let b = v.boolValue else { throw fail(path, "expected true or false, found \(v.typeName)") }
        return b
    }

    private func string(_ object: JSONValue, _ key: String, path: String) throws -> String {
        guard let v = object[key] else { throw fail(path, "missing") }
        guard let s = v.stringValue else { throw fail(path, "expected a string, found \(v.typeName)") }
        return s
    }

    private func int(_ object: JSONValue, _ key: String, path: String) throws -> Int {
        guard let v = object[key] else { throw fail(path, "missing") }
        guard let i = v.intValue, i >= 0 else { throw fail(path, "expected a non-negative integer") }
        return i
    }

    private func type(_ v: JSONValue, path: String) throws -> String {
        guard case .object = v else { throw fail(path, "expected an object or null, found \(v.typeName)") }
        return try string(v, "type", path: "\(path).type")
    }

    private func scalar(_ v: JSONValue, _ key: String, path: String) throws -> Unicode.Scalar {
        let s = try string(v, key, path: path)
        guard s.unicodeScalars.count == 1, let c = s.unicodeScalars.first else {
            throw fail(path, "expected one character, found \(debugQuote(s))")
        }
        return c
    }

    /// `{"String": s}` (or `{"Regex": r}` when `allowRegex`).
    private func pattern(_ v: JSONValue?, path: String) throws -> SplitPattern {
        guard let v, case .object = v else { throw fail(path, "expected {\"String\": …} or {\"Regex\": …}") }
        if let s = v["String"]?.stringValue { return .string(s) }
        if let r = v["Regex"]?.stringValue {
            guard let splitter = RegexSplitter(pattern: r) else {
                throw fail("\(path).Regex", "this regex is not supported (supported: the GPT-2, Llama-3 and Qwen2 pre-tokenizer regexes): \(r)")
            }
            return .regex(splitter)
        }
        throw fail(path, "expected {\"String\": …} or {\"Regex\": …}")
    }

    func normalizer(_ v: JSONValue, path: String) throws -> TextNormalizer {
        let t = try type(v, path: path)
        switch t {
        case "Sequence":
            guard let items = v["normalizers"]?.arrayValue else { throw fail("\(path).normalizers", "expected an array") }
            return .sequence(try items.enumerated().map { try normalizer($1, path: "\(path).normalizers[\($0)]") })
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Prepend": return .prepend(try string(v, "prepend", path: "\(path).prepend"))
        case "Replace":
            let p = try pattern(v["pattern"], path: "\(path).pattern")
            guard case let .string(s) = p else {
                throw fail("\(path).pattern", "a Replace normalizer with a regex is not supported")
            }
            return .replace(pattern: s, content: try string(v, "content", path: "\(path).content"))
        case "Strip":
            return .strip(left: try bool(v, "strip_left", path: "\(path).strip_left", default: true),
                          right: try bool(v, "strip_right", path: "\(path).strip_right", default: true))
        default:
            throw fail("\(path).type", "\(t) is not supported")
        }
    }

    func preTokenizer(_ v: JSONValue, path: String) throws -> [PreTokenizerStep] {
        let t = try type(v, path: path)
        switch t {
        case "Sequence":
            guard let items = v["pretokenizers"]?.arrayValue else { throw fail("\(path).pretokenizers", "expected an array") }
            return try items.enumerated().flatMap { try preTokenizer($1, path: "\(path).pretokenizers[\($0)]") }
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try bool(v, "add_prefix_space", path: "\(path).add_prefix_space", default: true),
                               trimOffsets: try bool(v, "trim_offsets", path: "\(path).trim_offsets", default: true),
                               useRegex: try bool(v, "use_regex", path: "\(path).use_regex", default: true))]
        case "Metaspace":
            let (rep, scheme, split) = try metaspace(v, path: path)
            return [.metaspace(replacement: rep, prependScheme: scheme, split: split)]
        case "Split":
            let p = try pattern(v["pattern"], path: "\(path).pattern")
            let b = try string(v, "behavior", path: "\(path).behavior")
            guard let behavior = SplitBehavior(rawValue: b) else { throw fail("\(path).behavior", "unknown behavior \(b)") }
            return [.split(pattern: p, behavior: behavior, invert: try bool(v, "invert", path: "\(path).invert", default: false))]
        case "Digits":
            return [.digits(individualDigits: try bool(v, "individual_digits", path: "\(path).individual_digits", default: false))]
        default:
            throw fail("\(path).type", "\(t) is not supported")
        }
    }

    private func metaspace(_ v: JSONValue, path: String) throws -> (Unicode.Scalar, PrependScheme, Bool) {
        let rep = try scalar(v, "replacement", path: "\(path).replacement")
        var scheme = PrependScheme.always
        if let s = v["prepend_scheme"], !s.isNull {
            guard let name = s.stringValue, let parsed = PrependScheme(rawValue: name) else {
                throw fail("\(path).prepend_scheme", "expected first, never or always")
            }
            scheme = parsed
        }
        if let a = v["add_prefix_space"]?.boolValue, a == false {
            scheme = .never
        }
        let split = try bool(v, "split", path: "\(path).split", default: true)
        return (rep, scheme, split)
    }

    func decoder(_ v: JSONValue, path: String) throws -> TokenDecoder {
        let t = try type(v, path: path)
        switch t {
        case "Sequence":
            guard let items = v["decoders"]?.arrayValue else { throw fail("\(path).decoders", "expected an array") }
            return .sequence(try items.enumerated().map { try decoder($1, path: "\(path).decoders[\($0)]") })
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try bool(v, "add_prefix_space", path: "\(path).add_prefix_space", default: true),
                              trimOffsets: try bool(v, "trim_offsets", path: "\(path).trim_offsets", default: true),
                              useRegex: try bool(v, "use_regex", path: "\(path).use_regex", default: true))
        case "Metaspace":
            let (rep, scheme, split) = try metaspace(v, path: path)
            return .metaspace(replacement: rep, prependScheme: scheme, split: split)
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(content: try scalar(v, "content", path: "\(path).content"),
                          start: try int(v, "start", path: "\(path).start"), stop: try int(v, "stop", path: "\(path).stop"))
        case "Replace":
            let p = try pattern(v["pattern"], path: "\(path).pattern")
            guard case let .string(s) = p else { throw fail("\(path).pattern", "a Replace decoder with a regex is not supported") }
            return .replace(pattern: s, content: try string(v, "content", path: "\(path).content"))
        default:
            throw fail("\(path).type", "\(t) is not supported")
        }
    }
}

// MARK: - Writing

extension TextNormalizer {
    var json: JSONValue {
        switch self {
        case .nfc: return .object([("type", .string("NFC"))])
        case .nfd: return .object([("type", .string("NFD"))])
        case .nfkc: return .object([("type", .string("NFKC"))])
        case .nfkd: return .object([("type", .string("NFKD"))])
        case .lowercase: return .object([("type", .string("Lowercase"))])
        case let .prepend(p): return .object([("type", .string("Prepend")), ("prepend", .string(p))])
        case let .replace(pattern, content):
            return .object([("type", .string("Replace")), ("pattern", .object([("String", .string(pattern))])),
                            ("content", .string(content))])
        case let .strip(l, r):
            return .object([("type", .string("Strip")), ("strip_left", .bool(l)), ("strip_right", .bool(r))])
        case let .sequence(items):
            return .object([("type", .string("Sequence")), ("normalizers", .array(items.map(\.json)))])
        }
    }
}

/// ByteLevel and Metaspace serialise the same way as pre-tokenizers and as decoders.
private func byteLevelJSON(addPrefixSpace a: Bool, trimOffsets t: Bool, useRegex r: Bool) -> JSONValue {
    .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(a)), ("trim_offsets", .bool(t)), ("use_regex", .bool(r))])
}

private func metaspaceJSON(replacement: Unicode.Scalar, scheme: PrependScheme, split: Bool) -> JSONValue {
    .object([("type", .string("Metaspace")), ("replacement", .string(String(Character(replacement)))),
             ("prepend_scheme", .string(scheme.rawValue)), ("split", .bool(split))])
}

extension PreTokenizerStep {
    var json: JSONValue {
        switch self {
        case let .byteLevel(a, t, r): return byteLevelJSON(addPrefixSpace: a, trimOffsets: t, useRegex: r)
        case let .metaspace(rep, scheme, split): return metaspaceJSON(replacement: rep, scheme: scheme, split: split)
        case let .split(pattern, behavior, invert):
            let p: JSONValue
            switch pattern {
            case let .regex(r): p = .object([("Regex", .string(r.pattern))])
            case let .string(s): p = .object([("String", .string(s))])
            }
            return .object([("type", .string("Split")), ("pattern", p), ("behavior", .string(behavior.rawValue)),
                            ("invert", .bool(invert))])
        case let .digits(individual):
            return .object([("type", .string("Digits")), ("individual_digits", .bool(individual))])
        }
    }
}

extension TokenDecoder {
    var json: JSONValue {
        switch self {
        case let .byteLevel(a, t, r): return byteLevelJSON(addPrefixSpace: a, trimOffsets: t, useRegex: r)
        case let .metaspace(rep, scheme, split): return metaspaceJSON(replacement: rep, scheme: scheme, split: split)
        case .byteFallback: return .object([("type", .string("ByteFallback"))])
        case .fuse: return .object([("type", .string("Fuse"))])
        case let .strip(content, start, stop):
            return .object([("type", .string("Strip")), ("content", .string(String(Character(content)))),
                            ("start", .number(Double(start), isInteger: true)), ("stop", .number(Double(stop), isInteger: true))])
        case let .replace(pattern, content):
            return .object([("type", .string("Replace")), ("pattern", .object([("String", .string(pattern))])),
                            ("content", .string(content))])
        case let .sequence(items):
            return .object([("type", .string("Sequence")), ("decoders", .array(items.map(\.json)))])
        }
    }
}

extension AddedToken {
    var json: JSONValue {
        .object([("id", .number(Double(id), isInteger: true)), ("content", .string(content)),
                 ("single_word", .bool(singleWord)), ("lstrip", .bool(lstrip)), ("rstrip", .bool(rstrip)),
                 ("normalized", .bool(normalized)), ("special", .bool(special))])
    }
}
