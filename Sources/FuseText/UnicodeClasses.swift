/// The character classes of the pre-tokenizer regexes, as Oniguruma (the regex engine of HF `tokenizers`) reads
/// them on UTF-8 text: `\p{L}` = general category L (Lu Ll Lt Lm Lo), `\p{N}` = N (Nd Nl No), `\s` = the
/// White_Space property (U+0009–000D, U+0020, U+0085, U+00A0, U+1680, U+2000–200A, U+2028–2029, U+202F, U+205F,
/// U+3000). A 64 K table covers the BMP; other scalars ask Swift's Unicode properties.
enum ScalarClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4
    /// Lu, Lt (for the case-aware classes of newer regexes).
    static let upperOrTitle: UInt8 = 8
    /// Ll
    static let lower: UInt8 = 16
    /// Lm, Lo
    static let modifierOrOther: UInt8 = 32
    /// M (Mn Mc Me)
    static let mark: UInt8 = 64

    static let bmp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            table[v] = compute(s)
        }
        return table
    }()

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        var flags: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: flags |= letter | upperOrTitle
        case .lowercaseLetter: flags |= letter | lower
        case .modifierLetter, .otherLetter: flags |= letter | modifierOrOther
        case .decimalNumber, .letterNumber, .otherNumber: flags |= number
        case .nonspacingMark, .spacingMark, .enclosingMark: flags |= mark
        default: break
        }
        if p.isWhitespace { flags |= space }
        return flags
    }

    @inline(__always)
    static func of(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return compute(s)
    }
}

/// Decodes the scalar at `i` of valid UTF-8, returning it and its length in bytes.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(p[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((UInt32(p[i + 1]) & 0x3F) << 6) | (UInt32(p[i + 2]) & 0x3F), 3)
    }
    return (((b0 & 0x07) << 18) | ((UInt32(p[i + 1]) & 0x3F) << 12) | ((UInt32(p[i + 2]) & 0x3F) << 6)
            | (UInt32(p[i + 3]) & 0x3F), 4)
}

/// Length in bytes of the UTF-8 sequence starting with `b0` (valid UTF-8 assumed).
@inline(__always)
func utf8Length(_ b0: UInt8) -> Int {
    if b0 < 0x80 { return 1 }
    if b0 < 0xE0 { return 2 }
    if b0 < 0xF0 { return 3 }
    return 4
}
