import FuseText
import Foundation

/// How a tokenizer spells its vocabulary: byte-level BPE (GPT-2's byte ↔ character map, "Ġ" = space) or
/// characters (SentencePiece / Metaspace, "▁" = space, `<0xNN>` byte-fallback pieces).
public enum TokenSpelling: String, Sendable {
    case byteLevel = "byte-level"
    case characters
}

/// What a vocabulary entry is, for exact-match priority and for the MinED candidates.
public enum TokenKind: UInt8, Sendable {
    case regular = 0
    /// A byte-fallback piece `<0xNN>`.
    case byte = 1
    /// A control / special added token (`<s>`, `<|endoftext|>`): no text of its own.
    case special = 2
    /// An id with no vocabulary entry.
    case unused = 3
}

/// Every id of a tokenizer as the text it stands for, in "units" that the exact match, MinED and DTW compare:
/// a Unicode scalar value, or 0x110000 + b for a byte b that is not part of a complete UTF-8 character (half of
/// a CJK character in a byte-level token or a `<0xE4>` piece), so the same bytes give the same units whichever
/// way a tokenizer spells them. The space markers '▁' and 'Ġ' become U+0020; special tokens keep their literal
/// content. See docs/alignment.md.
public struct NormalizedVocabulary: Sendable {
    public static let space: UInt32 = 0x20
    public static let rawByteBase: UInt32 = 0x110000

    public let spelling: TokenSpelling
    /// The tokenizer's fingerprint (keys the vocabulary-map cache).
    public let fingerprint: String
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    /// Units of every id, back to back; id i has units[offsets[i]..<offsets[i+1]].
    public let units: [UInt32]
    public let offsets: [Int32]
    public let kinds: [TokenKind]

    public var count: Int { kinds.count }

    public func units(of id: Int32) -> ArraySlice<UInt32> {
        units[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }

    public func kind(of id: Int32) -> TokenKind {
        id >= 0 && Int(id) < count ? kinds[Int(id)] : .unused
    }

    /// The normalised text of `id`, raw bytes shown as `<0xNN>` (for reports and errors).
    public func text(of id: Int32) -> String {
        var s = ""
        for u in units(of: id) {
            if u >= Self.rawByteBase {
                s += String(format: "<0x%02X>", Int(u - Self.rawByteBase))
            } else if let scalar = Unicode.Scalar(u) {
                s.unicodeScalars.append(scalar)
            }
        }
        return s
    }

    public init(_ tokenizer: BPETokenizer) {
        self.init(tokenizer, addedTokens: tokenizer.addedTokens, fingerprint: tokenizer.fingerprint)
    }

    /// Any tokenizer; `addedTokens` are matched literally (special ones only with special ones).
    public init(_ tokenizer: any TextTokenizer, addedTokens: [AddedToken], fingerprint: String) {
        let strings = (0..<tokenizer.vocabSize).map { tokenizer.tokenString(Int32($0)) }
        self.init(tokenStrings: strings, addedTokens: addedTokens, fingerprint: fingerprint,
                  bos: tokenizer.bosTokenID, eos: tokenizer.eosTokenID)
    }

    public init(tokenStrings: [String?], addedTokens: [AddedToken], fingerprint: String, bos: Int32?, eos: Int32?) {
        var added: [Int32: AddedToken] = [:]
        for t in addedTokens where Int(t.id) < tokenStrings.count && t.id >= 0 { added[t.id] = t }
        let spelling = Self.detectSpelling(tokenStrings, added: added)
        var units: [UInt32] = []
        var offsets: [Int32] = [0]
        var kinds: [TokenKind] = []
        units.reserveCapacity(tokenStrings.count * 6)
        offsets.reserveCapacity(tokenStrings.count + 1)
        kinds.reserveCapacity(tokenStrings.count)
        var scratch: [UInt8] = []
        for (i, token) in tokenStrings.enumerated() {
            var kind = TokenKind.regular
            if let a = added[Int32(i)] {
                // Added tokens are literal text, not spelled in the model's alphabet.
                kind = a.special ? .special : .regular
                for s in a.content.unicodeScalars { units.append(s.value) }
            } else if let token {
                switch spelling {
                case .byteLevel:
                    scratch.removeAll(keepingCapacity: true)
                    for s in token.unicodeScalars { scratch.append(ByteLevelMap.byte(of: s.value) ?? 0x3F) }
                    TokenUnits.appendUnits(ofBytes: scratch, to: &units)
                case .characters:
                    if let b = TokenUnits.byteFallbackValue(token) {
                        kind = .byte
                        units.append(b < 0x80 ? UInt32(b) : Self.rawByteBase + UInt32(b))
                    } else {
                        for s in token.unicodeScalars { units.append(s.value == 0x2581 ? Self.space : s.value) }
                    }
                }
            } else {
                kind = .unused
            }
            kinds.append(kind)
            offsets.append(Int32(units.count))
        }
        self.spelling = spelling
        self.fingerprint = fingerprint
        self.units = units
        self.offsets = offsets
        self.kinds = kinds
        bosTokenID = bos
        eosTokenID = eos
    }

    /// Byte-level when every entry that is not an added token is spelled in GPT-2's 256-character alphabet;
    /// SentencePiece vocabularies fail this at once ('▁' is outside it), byte-level ones always pass.
    static func detectSpelling(_ strings: [String?], added: [Int32: AddedToken]) -> TokenSpelling {
        var sawByteLevelOnly = false
        for (i, token) in strings.enumerated() where added[Int32(i)] == nil {
            guard let token else { continue }
            for s in token.unicodeScalars where ByteLevelMap.byte(of: s.value) == nil { return .characters }
            sawByteLevelOnly = true
        }
        return sawByteLevelOnly ? .byteLevel : .characters
    }
}

/// Unit conversion shared by the vocabulary and by tests.
enum TokenUnits {
    /// Appends the units of `bytes`: complete UTF-8 characters as scalars, any other byte as 0x110000 + byte.
    static func appendUnits(ofBytes bytes: [UInt8], to out: inout [UInt32]) {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            var length = 0, scalar: UInt32 = 0, minimum: UInt32 = 0
            if b0 < 0x80 { length = 1; scalar = UInt32(b0) }
            else if b0 & 0xE0 == 0xC0 { length = 2; scalar = UInt32(b0 & 0x1F); minimum = 0x80 }
            else if b0 & 0xF0 == 0xE0 { length = 3; scalar = UInt32(b0 & 0x0F); minimum = 0x800 }
            else if b0 & 0xF8 == 0xF0 { length = 4; scalar = UInt32(b0 & 0x07); minimum = 0x10000 }
            var valid = length > 0 && i + length <= n
            if valid && length > 1 {
                for j in 1..<length {
                    let b = bytes[i + j]
                    if b & 0xC0 != 0x80 { valid = false; break }
                    scalar = scalar << 6 | UInt32(b & 0x3F)
                }
                // Overlong forms, surrogates and values past U+10FFFF are not characters.
                if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { valid = false }
            }
            if valid {
                out.append(scalar)
                i += length
            } else {
                out.append(NormalizedVocabulary.rawByteBase + UInt32(b0))
                i += 1
            }
        }
    }

    /// The byte of a SentencePiece byte piece `<0xNN>` (two hex digits), else nil.
    static func byteFallbackValue(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E,
              let hi = hexDigit(u[3]), let lo = hexDigit(u[4]) else { return nil }
        return hi << 4 | lo
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

/// GPT-2's `bytes_to_unicode`, inverted: the byte a character of a byte-level vocabulary stands for.
enum ByteLevelMap {
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        var n = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Int16(b)
            } else {
                table[256 + n] = Int16(b)
                n += 1
            }
        }
        return table
    }()

    @inline(__always)
    static func byte(of scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let b = byteOfScalar[Int(scalar)]
        return b < 0 ? nil : UInt8(b)
    }
}
