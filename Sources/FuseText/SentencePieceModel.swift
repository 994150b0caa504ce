import Foundation

/// The parts of a sentencepiece `ModelProto` (tokenizer.model) that encoding and decoding need, read straight
/// from the protobuf wire format.
struct SentencePieceModel: Sendable {
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece: Sendable {
        var piece: String
        var score: Float
        var type: PieceType
    }

    var pieces: [Piece] = []
    // trainer_spec
    var modelType = 1                 // 1 unigram, 2 bpe, 3 word, 4 char
    var byteFallback = false
    var treatWhitespaceAsSuffix = false
    var unkID = 0, bosID = 1, eosID = 2, padID = -1
    var unkSurface = " \u{2047} "
    // normalizer_spec
    var normalizerName = ""
    var precompiledCharsmap = Data()
    var addDummyPrefix = true
    var removeExtraWhitespaces = true
    var escapeWhitespaces = true
    var hasDenormalizer = false

    static func parse(_ data: Data, file: String) throws -> SentencePieceModel {
        var model = SentencePieceModel()
        try data.withUnsafeBytes { raw in
            var r = ProtoReader(bytes: raw.bindMemory(to: UInt8.self), file: file, path: "ModelProto")
            while let (field, wire) = try r.nextField() {
                switch (field, wire) {
                case (1, 2):
                    var sub = try r.message(path: "ModelProto.pieces[\(model.pieces.count)]")
                    var piece = Piece(piece: "", score: 0, type: .normal)
                    while let (f, w) = try sub.nextField() {
                        switch (f, w) {
                        case (1, 2): piece.piece = try sub.string()
                        case (2, 5): piece.score = try sub.float()
                        case (3, 0):
                            let v = try sub.varint()
                            guard let t = PieceType(rawValue: Int(v)) else {
                                throw TokenizerError(file: file, field: "\(sub.path).type",
                                                     message: "unknown piece type \(v)")
                            }
                            piece.type = t
                        default: try sub.skip(wire: w)
                        }
                    }
                    model.pieces.append(piece)
                case (2, 2):
                    var sub = try r.message(path: "ModelProto.trainer_spec")
                    while let (f, w) = try sub.nextField() {
                        switch (f, w) {
                        case (3, 0): model.modelType = Int(try sub.varint())
                        case (24, 0): model.treatWhitespaceAsSuffix = try sub.varint() != 0
                        case (35, 0): model.byteFallback = try sub.varint() != 0
                        case (40, 0): model.unkID = Int(Int32(truncatingIfNeeded: try sub.varint()))
                        case (41, 0): model.bosID = Int(Int32(truncatingIfNeeded: try sub.varint()))
                        case (42, 0): model.eosID = Int(Int32(truncatingIfNeeded: try sub.varint()))
                        case (43, 0): model.padID = Int(Int32(truncatingIfNeeded: try sub.varint()))
                        case (44, 2): model.unkSurface = try sub.string()
                        default: try sub.skip(wire: w)
                        }
                    }
                case (3, 2):
                    var sub = try r.message(path: "ModelProto.normalizer_spec")
                    while let (f, w) = try sub.nextField() {
                        switch (f, w) {
                        case (1, 2): model.normalizerName = try sub.string()
                        case (2, 2): model.precompiledCharsmap = Data(try sub.readBytes())
                        case (3, 0): model.addDummyPrefix = try sub.varint() != 0
                        case (4, 0): model.removeExtraWhitespaces = try sub.varint() != 0
                        case (5, 0): model.escapeWhitespaces = try sub.varint() != 0
                        default: try sub.skip(wire: w)
                        }
                    }
                case (5, 2):
                    var sub = try r.message(path: "ModelProto.denormalizer_spec")
                    while let (f, w) = try sub.nextField() {
                        if f == 2, w == 2, try !sub.readBytes().isEmpty { model.hasDenormalizer = true } else { try sub.skip(wire: w) }
                    }
                default:
                    try r.skip(wire: wire)
                }
            }
        }
        guard !model.pieces.isEmpty else {
            throw TokenizerError(file: file, field: "ModelProto.pieces", message: "no pieces (empty or not a sentencepiece model)")
        }
        return model
    }
}

/// Protocol-buffer wire-format reader over a byte range.
struct ProtoReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let file: String
    let path: String
    var pos: Int
    let end: Int

    init(bytes: UnsafeBufferPointer<UInt8>, file: String, path: String, start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.file = file
        self.path = path
        self.pos = start
        self.end = end ?? bytes.count
    }

    func fail(_ message: String) -> TokenizerError {
        TokenizerError(file: file, field: path, message: "\(message) at byte \(pos) (truncated or not a sentencepiece model)")
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw fail("varint runs past the end") }
            let b = bytes[pos]
            pos += 1
            guard shift < 64 else { throw fail("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func nextField() throws -> (Int, Int)? {
        guard pos < end else { return nil }
        let key = try varint()
        let field = Int(key >> 3), wire = Int(key & 7)
        guard field > 0 else { throw fail("invalid field number 0") }
        return (field, wire)
    }

    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw fail("length \(n) runs past the end") }
        let r = pos..<(pos + Int(n))
        pos += Int(n)
        return r
    }

    mutating func message(path: String) throws -> ProtoReader {
        let r = try lengthDelimited()
        return ProtoReader(bytes: bytes, file: file, path: path, start: r.lowerBound, end: r.upperBound)
    }

    mutating func readBytes() throws -> [UInt8] { Array(bytes[try lengthDelimited()]) }

    mutating func string() throws -> String {
        let r = try lengthDelimited()
        guard let s = validUTF8String(UnsafeBufferPointer(rebasing: bytes[r])) else {
            throw fail("string is not valid UTF-8")
        }
        return s
    }

    mutating func float() throws -> Float {
        guard end - pos >= 4 else { throw fail("float runs past the end") }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[pos + k]) << (8 * UInt32(k)) }
        pos += 4
        return Float(bitPattern: v)
    }

    mutating func skip(wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard end - pos >= 8 else { throw fail("fixed64 runs past the end") }; pos += 8
        case 2: _ = try lengthDelimited()
        case 5: guard end - pos >= 4 else { throw fail("fixed32 runs past the end") }; pos += 4
        default: throw fail("unsupported wire type \(wire)")
        }
    }
}

/// sentencepiece's normalizer (normalizer.cc `Normalize`): the precompiled character map (longest match in its
/// double-array trie, else one UTF-8 character; malformed bytes → U+FFFD), user-defined symbols copied as they
/// are, spaces removed at the ends and collapsed (`remove_extra_whitespaces`), a space prepended
/// (`add_dummy_prefix`), and spaces written as U+2581 (`escape_whitespaces`).
struct SentencePieceNormalizer: Sendable {
    let trie: [UInt32]
    let normalized: [UInt8]
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let userDefined: AddedTokenMatcher

    init(model: SentencePieceModel, userDefined: AddedTokenMatcher, file: String) throws {
        addDummyPrefix = model.addDummyPrefix
        removeExtraWhitespaces = model.removeExtraWhitespaces
        escapeWhitespaces = model.escapeWhitespaces
        self.userDefined = userDefined
        let blob = [UInt8](model.precompiledCharsmap)
        if blob.isEmpty {
            trie = []
            normalized = []
        } else {
            guard blob.count >= 4 else {
                throw TokenizerError(file: file, field: "ModelProto.normalizer_spec.precompiled_charsmap", message: "too short")
            }
            let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
            guard trieSize % 4 == 0, 4 + trieSize <= blob.count else {
                throw TokenizerError(file: file, field: "ModelProto.normalizer_spec.precompiled_charsmap",
                                     message: "trie size \(trieSize) does not fit in \(blob.count) bytes")
            }
            var units: [UInt32] = []
            units.reserveCapacity(trieSize / 4)
            for i in stride(from: 4, to: 4 + trieSize, by: 4) {
                units.append(UInt32(blob[i]) | UInt32(blob[i + 1]) << 8 | UInt32(blob[i + 2]) << 16 | UInt32(blob[i + 3]) << 24)
            }
            trie = units
            normalized = Array(blob[(4 + trieSize)...])
        }
    }

    /// Longest rule matching a prefix of `p[i...]`: (length, offset of its replacement in `normalized`).
    private func longestRule(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Int, Int)? {
        guard !trie.isEmpty else { return nil }
        // Darts-clone double array: offset/label/has_leaf/value packed in each unit.
        @inline(__always) func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        @inline(__always) func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
        @inline(__always) func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
        @inline(__always) func value(_ u: UInt32) -> Int { Int(u & ((1 << 31) - 1)) }
        var node = 0
        var unit = trie[node]
        node ^= offset(unit)
        var best: (Int, Int)?
        var k = i
        while k < p.count {
            let c = p[k]
            guard c != 0 else { break }
            node ^= Int(c)
            guard node >= 0, node < trie.count else { break }
            unit = trie[node]
            guard label(unit) == UInt32(c) else { break }
            node ^= offset(unit)
            guard node >= 0, node < trie.count else { break }
            if hasLeaf(unit) { best = (k - i + 1, value(trie[node])) }
            k += 1
        }
        return best
    }

    /// One normalization step at byte `i`: the replacement bytes and the number of input bytes consumed.
    private func normalizePrefix(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, into out: inout [UInt8]) -> Int {
        if let (len, off) = longestRule(p, i) {
            var j = off
            while j < normalized.count, normalized[j] != 0 { out.append(normalized[j]); j += 1 }
            return len
        }
        // Input comes from a Swift String, so it is valid UTF-8: copy one character.
        let len = min(utf8Length(p[i]), p.count - i)
        out.append(contentsOf: p[i..<(i + len)])
        return len
    }

    /// The normalized text, and the pieces of it that are user-defined symbols (token ids) or text to encode.
    func normalize(_ text: String) -> [UInt8] {
        let input = Array(text.utf8)
        if input.isEmpty { return [] }
        return input.withUnsafeBufferPointer { p -> [UInt8] in
            var pos = 0
            var scratch: [UInt8] = []
            // One step: user-defined symbol as it is, else the character map.
            func step(_ i: Int) -> ([UInt8], Int) {
                scratch.removeAll(keepingCapacity: true)
                if !userDefined.isEmpty, let (end, _) = userDefined.longestMatch(p, at: i) {
                    return (Array(p[i..<end]), end - i)
                }
                let n = normalizePrefix(p, i, into: &scratch)
                return (scratch, n)
            }
            if removeExtraWhitespaces {
                while pos < p.count {
                    let (s, n) = step(pos)
                    if s != [0x20] { break }
                    pos += n
                }
            }
            if pos >= p.count { return [] }
            var out: [UInt8] = []
            out.reserveCapacity(p.count * 3 / 2 + 4)
            let space: [UInt8] = escapeWhitespaces ? [0xE2, 0x96, 0x81] : [0x20]
            if addDummyPrefix { out += space }
            var isPrevSpace = removeExtraWhitespaces
            while pos < p.count {
                var (s, n) = step(pos)
                var start = 0
                while isPrevSpace, start < s.count, s[start] == 0x20 { start += 1 }
                if start < s.count {
                    if start > 0 { s = Array(s[start...]) }
                    for b in s {
                        if escapeWhitespaces && b == 0x20 { out += space } else { out.append(b) }
                    }
                    isPrevSpace = s.last == 0x20
                }
                pos += n
                if !removeExtraWhitespaces { isPrevSpace = false }
            }
            if removeExtraWhitespaces {
                while out.count >= space.count, Array(out[(out.count - space.count)...]) == space {
                    out.removeLast(space.count)
                }
            }
            return out
        }
    }
}
