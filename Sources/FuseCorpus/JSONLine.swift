#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The value a JSON line holds under the requested key.
enum JSONFieldValue: Equatable {
    case string(String)
    case null
    case missing
    /// Present but neither a string nor null: the JSON type's name.
    case other(String)
}

/// Why a line is not valid JSON: byte offset (0-based) within the line and what was expected.
struct JSONSyntaxError: Error, Equatable {
    let offset: Int
    let message: String
}

/// A small validating JSON parser for one line holding one object: it checks the whole line
/// (RFC 8259 grammar, strict UTF-8, no raw control characters in strings, nesting up to
/// `maxDepth`) and decodes only the top-level value of the requested key (the last one if the
/// key repeats, as Python's `json` does). Everything else is skipped without building values.
struct JSONLineParser {
    static let maxDepth = 256

    private let p: UnsafePointer<UInt8>
    private let n: Int
    private var i = 0

    private init(_ line: UnsafeRawBufferPointer) {
        // An empty buffer may have no base address: point at a static byte instead.
        p = line.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? JSONLineParser.emptyByte
        n = line.count
    }

    private static let emptyByte: UnsafePointer<UInt8> = {
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        b.initialize(to: 0)
        return UnsafePointer(b)
    }()

    /// True when the line holds only JSON whitespace (such lines are not documents).
    static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }

    static func field(_ key: [UInt8], in line: UnsafeRawBufferPointer) throws -> JSONFieldValue {
        var parser = JSONLineParser(line)
        var unused: String?
        return try parser.parseLine(key: key, domainPath: [], domain: &unused)
    }

    /// The text field and, in the same pass, the string at `domainPath` (keys descending into nested
    /// objects, e.g. ["meta", "pile_set_name"]); the domain is nil when the path is absent or not a string.
    static func fields(_ key: [UInt8], domainPath: [[UInt8]], in line: UnsafeRawBufferPointer) throws -> (JSONFieldValue, domain: String?) {
        var parser = JSONLineParser(line)
        var domain: String?
        let text = try parser.parseLine(key: key, domainPath: domainPath, domain: &domain)
        return (text, domain)
    }

    private func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? i, message: message)
    }

    private mutating func skipWhitespace() {
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } else { break }
        }
    }

    private mutating func parseLine(key: [UInt8], domainPath: [[UInt8]], domain: inout String?) throws -> JSONFieldValue {
        skipWhitespace()
        guard i < n, p[i] == UInt8(ascii: "{") else {
            throw fail(i < n ? "expected a JSON object ('{')" : "empty line")
        }
        i += 1
        var result = JSONFieldValue.missing
        skipWhitespace()
        if i < n && p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                guard i < n, p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let isKey: Bool, isDomain: Bool
                if domainPath.isEmpty {
                    isKey = try parseString(decode: false, compareTo: key)
                    isDomain = false
                } else {
                    let keyRange = try parseKeyRange()
                    isKey = keyEquals(keyRange, key)
                    isDomain = !isKey && keyEquals(keyRange, domainPath[0])
                }
                skipWhitespace()
                guard i < n, p[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                i += 1
                skipWhitespace()
                if isKey {
                    result = try parseFieldValue()
                } else if isDomain {
                    domain = try parseDomain(domainPath.dropFirst(), depth: 1)
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                guard i < n else { throw fail("unterminated object (expected ',' or '}')") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipWhitespace()
        if i != n { throw fail("unexpected data after the JSON object") }
        return result
    }

    private mutating func parseFieldValue() throws -> JSONFieldValue {
        guard i < n else { throw fail("expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""):
            var text = ""
            _ = try parseString(decode: true, compareTo: nil, into: &text)
            return .string(text)
        case UInt8(ascii: "n"):
            try skipValue(depth: 1)
            return .null
        case UInt8(ascii: "{"): try skipValue(depth: 1); return .other("object")
        case UInt8(ascii: "["): try skipValue(depth: 1); return .other("array")
        case UInt8(ascii: "t"), UInt8(ascii: "f"): try skipValue(depth: 1); return .other("boolean")
        default: try skipValue(depth: 1); return .other("number")
        }
    }

    /// The value at the rest of a domain path: a string at its end, else nil (the value is skipped).
    private mutating func parseDomain(_ rest: ArraySlice<[UInt8]>, depth: Int) throws -> String? {
        guard depth <= JSONLineParser.maxDepth else { throw fail("nesting deeper than \(JSONLineParser.maxDepth)") }
        guard i < n else { throw fail("expected a value") }
        if rest.isEmpty, p[i] == UInt8(ascii: "\"") {
            var text = ""
            _ = try parseString(decode: true, compareTo: nil, into: &text)
            return text
        }
        guard let next = rest.first, p[i] == UInt8(ascii: "{") else {
            try skipValue(depth: depth)
            return nil
        }
        var found: String?
        i += 1
        skipWhitespace()
        if i < n && p[i] == UInt8(ascii: "}") { i += 1; return nil }
        while true {
            skipWhitespace()
            guard i < n, p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let matches = keyEquals(try parseKeyRange(), next)
            skipWhitespace()
            guard i < n, p[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            i += 1
            skipWhitespace()
            if matches {
                found = try parseDomain(rest.dropFirst(), depth: depth + 1)  // the last repeat wins, as in Python
            } else {
                try skipValue(depth: depth + 1)
            }
            skipWhitespace()
            guard i < n else { throw fail("unterminated object (expected ',' or '}')") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "}") { i += 1; return found }
            throw fail("expected ',' or '}'")
        }
    }

    /// Parses (and checks) the key string at `i`; returns its raw content's byte range.
    private mutating func parseKeyRange() throws -> Range<Int> {
        let open = i
        _ = try parseString(decode: false, compareTo: nil)
        return (open + 1)..<(i - 1)
    }

    /// Whether a key's decoded bytes equal `key` (escaped keys, rare, are decoded first).
    private func keyEquals(_ range: Range<Int>, _ key: [UInt8]) -> Bool {
        let raw = UnsafeRawBufferPointer(start: p + range.lowerBound, count: range.count)
        if !raw.contains(UInt8(ascii: "\\")) { return raw.elementsEqual(key) }
        return (try? unescape(raw, base: range.lowerBound)) == key
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth <= JSONLineParser.maxDepth else { throw fail("nesting deeper than \(JSONLineParser.maxDepth)") }
        guard i < n else { throw fail("expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""):
            _ = try parseString(decode: false, compareTo: nil)
        case UInt8(ascii: "{"):
            i += 1
            skipWhitespace()
            if i < n && p[i] == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipWhitespace()
                guard i < n, p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                _ = try parseString(decode: false, compareTo: nil)
                skipWhitespace()
                guard i < n, p[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                i += 1
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard i < n else { throw fail("unterminated object (expected ',' or '}')") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; return }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            skipWhitespace()
            if i < n && p[i] == UInt8(ascii: "]") { i += 1; return }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard i < n else { throw fail("unterminated array (expected ',' or ']')") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "]") { i += 1; return }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw fail("unexpected character where a value should start")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard n - i >= count else { throw fail("invalid literal") }
        let w = word.utf8Start
        for k in 0..<count where p[i + k] != w[k] { throw fail("invalid literal") }
        i += count
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private mutating func number() throws {
        let start = i
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, Self.isDigit(p[i]) else { throw fail("invalid number", at: start) }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < n && Self.isDigit(p[i]) { i += 1 }
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, Self.isDigit(p[i]) else { throw fail("invalid number", at: start) }
            while i < n && Self.isDigit(p[i]) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < n, Self.isDigit(p[i]) else { throw fail("invalid number", at: start) }
            while i < n && Self.isDigit(p[i]) { i += 1 }
        }
    }

    private mutating func parseString(decode: Bool, compareTo key: [UInt8]?) throws -> Bool {
        var unused = ""
        return try parseString(decode: decode, compareTo: key, into: &unused)
    }

    /// Parses the string starting at the '"' at `i`. With `decode`, puts its value in `out`;
    /// with `compareTo`, returns whether its decoded bytes equal `key`.
    private mutating func parseString(decode: Bool, compareTo key: [UInt8]?, into out: inout String) throws -> Bool {
        let open = i
        i += 1
        let contentStart = i
        var hasEscape = false
        var hasHighBytes = false
        // First pass: find the closing quote, check escapes and control characters.
        while true {
            // Skip 8 plain bytes at a time: none a quote, a backslash or a control character.
            while n - i >= 8 {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if Self.hasSpecialByte(w) { break }
                if w & 0x8080_8080_8080_8080 != 0 { hasHighBytes = true }
                i += 8
            }
            guard i < n else { throw fail("unterminated string", at: open) }
            let c = p[i]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                hasEscape = true
                i += 1
                guard i < n else { throw fail("unterminated string", at: open) }
                switch p[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard n - i >= 5, Self.hex4(p + i + 1) != nil else { throw fail("invalid \\u escape") }
                    i += 5
                default:
                    throw fail("invalid escape '\\\(Character(Unicode.Scalar(p[i])))'")
                }
                continue
            }
            if c < 0x20 { throw fail("control character (0x\(String(c, radix: 16))) inside a string") }
            if c >= 0x80 { hasHighBytes = true }
            i += 1
        }
        let contentEnd = i
        i += 1
        let raw = UnsafeRawBufferPointer(start: p + contentStart, count: contentEnd - contentStart)
        if !hasEscape && decode {
            // Validate and copy in one pass.
            guard let s = hasHighBytes ? UTF8Text.string(raw) : String(decoding: raw, as: UTF8.self) else {
                throw fail("invalid UTF-8", at: contentStart + (UTF8Text.firstInvalidOffset(raw) ?? 0))
            }
            out = s
            if let key { return raw.elementsEqual(key) }
            return false
        }
        if hasHighBytes, let bad = UTF8Text.firstInvalidOffset(raw) {
            throw fail("invalid UTF-8", at: contentStart + bad)
        }
        if !hasEscape {
            if let key { return raw.elementsEqual(key) }
            return false
        }
        guard decode || key != nil else { return false }
        let bytes = try unescape(raw, base: contentStart)
        if decode { out = String(decoding: bytes, as: UTF8.self) }
        if let key { return bytes == key }
        return false
    }

    /// Whether any byte of `w` is '"', '\\' or below 0x20 (SWAR: a zero byte test per class).
    @inline(__always)
    private static func hasSpecialByte(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote & highs
        let zeroBackslash = (backslash &- ones) & ~backslash & highs
        let control = (w &- ones &* 0x20) & ~w & highs  // bytes < 0x20
        return (zeroQuote | zeroBackslash | control) != 0
    }

    private static func hex4(_ q: UnsafePointer<UInt8>) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = q[k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    /// Decodes escapes (already checked for form) into a String; lone surrogates are refused.
    /// Escapes never lengthen the text, so the output fits in the input's size; the runs
    /// between backslashes are copied whole.
    private func unescape(_ raw: UnsafeRawBufferPointer, base: Int) throws -> [UInt8] {
        let q = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let m = raw.count
        var failure: JSONSyntaxError?
        let out = [UInt8](unsafeUninitializedCapacity: m) { buffer, count in
            let o = buffer.baseAddress!
            var k = 0, w = 0
            while k < m {
                // Copy up to the next backslash.
                let rest = m - k
                let next = memchr(q + k, 0x5C, rest).map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) - q } ?? m
                if next > k {
                    (o + w).update(from: q + k, count: next - k)
                    w += next - k
                    k = next
                }
                guard k < m else { break }
                let e = q[k + 1]
                k += 2
                switch e {
                case UInt8(ascii: "b"): o[w] = 0x08; w += 1
                case UInt8(ascii: "f"): o[w] = 0x0C; w += 1
                case UInt8(ascii: "n"): o[w] = 0x0A; w += 1
                case UInt8(ascii: "r"): o[w] = 0x0D; w += 1
                case UInt8(ascii: "t"): o[w] = 0x09; w += 1
                case UInt8(ascii: "u"):
                    var scalar = Self.hex4(q + k)!
                    k += 4
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard k + 6 <= m, q[k] == UInt8(ascii: "\\"), q[k + 1] == UInt8(ascii: "u"),
                              let low = Self.hex4(q + k + 2), low >= 0xDC00 && low <= 0xDFFF else {
                            failure = JSONSyntaxError(offset: base + k - 6, message: "unpaired surrogate in \\u escape")
                            count = w
                            return
                        }
                        k += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        failure = JSONSyntaxError(offset: base + k - 6, message: "unpaired surrogate in \\u escape")
                        count = w
                        return
                    }
                    // UTF-8 encoding of the scalar (at most 4 bytes for the 6 or 12 read).
                    if scalar < 0x80 {
                        o[w] = UInt8(scalar); w += 1
                    } else if scalar < 0x800 {
                        o[w] = UInt8(0xC0 | scalar >> 6); o[w + 1] = UInt8(0x80 | scalar & 0x3F); w += 2
                    } else if scalar < 0x10000 {
                        o[w] = UInt8(0xE0 | scalar >> 12); o[w + 1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
                        o[w + 2] = UInt8(0x80 | scalar & 0x3F); w += 3
                    } else {
                        o[w] = UInt8(0xF0 | scalar >> 18); o[w + 1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
                        o[w + 2] = UInt8(0x80 | (scalar >> 6) & 0x3F); o[w + 3] = UInt8(0x80 | scalar & 0x3F); w += 4
                    }
                default: o[w] = e; w += 1  // '"', '\\', '/'
                }
            }
            count = w
        }
        if let failure { throw failure }
        return out
    }
}
