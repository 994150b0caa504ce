import Foundation

/// The normalizers of HF `tokenizers` that this module runs (others are refused when a tokenizer.json is read).
indirect enum TextNormalizer: Sendable, Equatable {
    case nfc, nfd, nfkc, nfkd
    /// Per-scalar lowercase mapping (Rust `char::to_lowercase`, no context).
    case lowercase
    /// Prepends `prefix` to non-empty text.
    case prepend(String)
    /// Replaces every occurrence of a literal string, left to right.
    case replace(pattern: String, content: String)
    /// Strips White_Space scalars from the left and/or right.
    case strip(left: Bool, right: Bool)
    case sequence([TextNormalizer])

    func apply(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc: return unicodeNormalize(bytes) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return unicodeNormalize(bytes) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return unicodeNormalize(bytes) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return unicodeNormalize(bytes) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            var out = String()
            out.reserveCapacity(bytes.count)
            for s in String(decoding: bytes, as: UTF8.self).unicodeScalars {
                out += s.properties.lowercaseMapping
            }
            return Array(out.utf8)
        case let .prepend(prefix):
            return bytes.isEmpty ? bytes : Array(prefix.utf8) + bytes
        case let .replace(pattern, content):
            return replaceAll(bytes, Array(pattern.utf8), Array(content.utf8))
        case let .strip(left, right):
            let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
            var lo = 0, hi = scalars.count
            if left { while lo < hi, scalars[lo].properties.isWhitespace { lo += 1 } }
            if right { while hi > lo, scalars[hi - 1].properties.isWhitespace { hi -= 1 } }
            var out = String.UnicodeScalarView()
            out.append(contentsOf: scalars[lo..<hi])
            return Array(String(out).utf8)
        case let .sequence(items):
            var b = bytes
            for n in items { b = n.apply(b) }
            return b
        }
    }
}

/// Replaces every non-overlapping occurrence of `pattern` (left to right) by `content`.
func replaceAll(_ bytes: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
    guard !pattern.isEmpty, bytes.count >= pattern.count else { return bytes }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    let first = pattern[0]
    let n = bytes.count, m = pattern.count
    while i < n {
        if bytes[i] == first, i + m <= n {
            var match = true
            for k in 1..<m where bytes[i + k] != pattern[k] { match = false; break }
            if match {
                out.append(contentsOf: content)
                i += m
                continue
            }
        }
        out.append(bytes[i])
        i += 1
    }
    return out
}

/// NFC/NFD/NFKC/NFKD as HF `tokenizers` computes them. Its normalization tables (crate
/// unicode-normalization-alignments) predate Unicode 10: a scalar assigned later has no decomposition and
/// blocks composition there ("㋿" U+32FF stays, where Foundation gives "令和"). So such scalars are kept as they
/// are and the text between them is normalized by Foundation.
func unicodeNormalize(_ bytes: [UInt8], _ form: (String) -> String) -> [UInt8] {
    if bytes.allSatisfy({ $0 < 0x80 }) { return bytes }
    let text = String(decoding: bytes, as: UTF8.self)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 8)
    var segment = String.UnicodeScalarView()
    func flush() {
        guard !segment.isEmpty else { return }
        out.append(contentsOf: form(String(segment)).utf8)
        segment.removeAll()
    }
    for s in text.unicodeScalars {
        if s.value >= 0x80, let age = s.properties.age, age.major > 9 || (age.major == 9 && age.minor > 0) {
            flush()
            appendUTF8(s.value, to: &out)
        } else {
            segment.append(s)
        }
    }
    flush()
    return out
}
