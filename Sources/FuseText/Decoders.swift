/// The decoders of HF `tokenizers` that this module runs. Each maps a list of token strings to another
/// (`decode_chain`); the result is joined.
indirect enum TokenDecoder: Sendable, Equatable {
    /// Tokens spelled in the byte alphabet → their bytes (a token with any other character: its UTF-8), all
    /// joined, invalid UTF-8 replaced by U+FFFD per maximal ill-formed subsequence.
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    /// Each `replacement` becomes a space, except in the first token when a prefix was prepended (dropped).
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// Runs of `<0xNN>` tokens → their bytes as UTF-8, or one U+FFFD per byte when not valid UTF-8.
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: String, content: String)
    case sequence([TokenDecoder])

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                if let raw = ByteLevelAlphabet.unspell(t) { bytes += raw } else { bytes += Array(t.utf8) }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .metaspace(replacement, scheme, _):
            return tokens.enumerated().map { i, t in
                var out = String.UnicodeScalarView()
                for s in t.unicodeScalars {
                    if s == replacement {
                        if i == 0 && scheme != .never { continue }
                        out.append(" ")
                    } else {
                        out.append(s)
                    }
                }
                return String(out)
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = pending.withUnsafeBufferPointer({ validUTF8String($0) }) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = parseByteToken(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                let scalars = Array(t.unicodeScalars)
                var startCut = 0
                for i in 0..<min(start, scalars.count) {
                    if scalars[i] == content { startCut = i + 1 } else { break }
                }
                var stopCut = scalars.count
                if stop > 0 {
                    for i in 0..<min(stop, scalars.count) {
                        let index = scalars.count - i - 1
                        if scalars[index] == content { stopCut = index } else { break }
                    }
                }
                guard startCut < stopCut else { return "" }
                var out = String.UnicodeScalarView()
                out.append(contentsOf: scalars[startCut..<stopCut])
                return String(out)
            }
        case let .replace(pattern, content):
            let p = Array(pattern.utf8), c = Array(content.utf8)
            return tokens.map { String(decoding: replaceAll(Array($0.utf8), p, c), as: UTF8.self) }
        case let .sequence(items):
            var t = tokens
            for d in items { t = d.decodeChain(t) }
            return t
        }
    }
}

/// The byte of a `<0xNN>` token (HF ByteFallback accepts either case of hex digits).
func parseByteToken(_ t: String) -> UInt8? {
    let u = Array(t.utf8)
    guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
    guard let hi = hex(u[3]), let lo = hex(u[4]) else { return nil }
    return hi << 4 | lo
}
