import Foundation

/// A parsed JSON value. Objects keep their keys in file order (tokenizer.json vocabularies are large objects;
/// `fields` is iterated, `[key]` looks up linearly and is meant for the small ones).
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double, isInteger: Bool)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    subscript(key: String) -> JSONValue? {
        guard case let .object(fields) = self else { return nil }
        for (k, v) in fields where k == key { return v }
        return nil
    }

    var isNull: Bool { if case .null = self { return true } else { return false } }
    var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
    var objectValue: [(String, JSONValue)]? { if case let .object(o) = self { return o } else { return nil } }
    var intValue: Int? {
        guard case let .number(d, isInteger) = self, isInteger, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }
    var doubleValue: Double? { if case let .number(d, _) = self { return d } else { return nil } }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Parses JSON text (RFC 8259) from UTF-8 bytes. Errors give the byte offset.
struct JSONParser {
    struct Failure: Error { let offset: Int; let message: String }

    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw -> JSONValue in
            var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            p.skipSpace()
            let value = try p.parseValue(depth: 0)
            p.skipSpace()
            guard p.pos == p.bytes.count else { throw Failure(offset: p.pos, message: "unexpected text after the value") }
            return value
        }
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func skipSpace() {
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw Failure(offset: pos, message: "nesting too deep") }
        guard pos < bytes.count else { throw Failure(offset: pos, message: "unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var fields: [(String, JSONValue)] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(fields) }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                    throw Failure(offset: pos, message: "expected a string key")
                }
                let key = try parseString()
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                    throw Failure(offset: pos, message: "expected ':'")
                }
                pos += 1
                skipSpace()
                fields.append((key, try parseValue(depth: depth + 1)))
                skipSpace()
                guard pos < bytes.count else { throw Failure(offset: pos, message: "unexpected end of input in an object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(fields) }
                throw Failure(offset: pos, message: "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard pos < bytes.count else { throw Failure(offset: pos, message: "unexpected end of input in an array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw Failure(offset: pos, message: "expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw Failure(offset: pos, message: "unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw Failure(offset: pos, message: "unexpected end of input") }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] {
            throw Failure(offset: pos, message: "invalid literal")
        }
        pos += n
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        var digits = 0
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1; digits += 1 }
        guard digits > 0 else { throw Failure(offset: start, message: "invalid number") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            var frac = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1; frac += 1 }
            guard frac > 0 else { throw Failure(offset: start, message: "invalid number") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            var exp = 0
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1; exp += 1 }
            guard exp > 0 else { throw Failure(offset: start, message: "invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInteger, let i = Int(text) { return .number(Double(i), isInteger: true) }
        guard let d = Double(text) else { throw Failure(offset: start, message: "invalid number") }
        return .number(d, isInteger: false)
    }

    mutating func parseString() throws -> String {
        let start = pos
        pos += 1  // opening quote
        // Fast path: no escapes.
        var scan = pos
        while scan < bytes.count {
            let c = bytes[scan]
            if c == UInt8(ascii: "\"") {
                let s = UnsafeBufferPointer(rebasing: bytes[pos..<scan])
                guard let str = validUTF8String(s) else {
                    throw Failure(offset: start, message: "string is not valid UTF-8")
                }
                pos = scan + 1
                return str
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw Failure(offset: scan, message: "control character in a string") }
            scan += 1
        }
        var out: [UInt8] = []
        out.reserveCapacity(scan - pos + 16)
        while true {
            guard pos < bytes.count else { throw Failure(offset: start, message: "unterminated string") }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 { throw Failure(offset: pos, message: "control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { throw Failure(offset: start, message: "unterminated string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800, code < 0xDC00 {
                    // A surrogate pair; a lone one becomes U+FFFD (as serde_json's lossy mode would not accept it either).
                    if pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        let low = try hex4()
                        if low >= 0xDC00, low < 0xE000 {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            throw Failure(offset: pos, message: "invalid surrogate pair")
                        }
                    } else {
                        throw Failure(offset: pos, message: "lone surrogate in a string")
                    }
                } else if code >= 0xDC00, code < 0xE000 {
                    throw Failure(offset: pos, message: "lone surrogate in a string")
                }
                appendUTF8(UInt32(code), to: &out)
            default:
                throw Failure(offset: pos - 1, message: "invalid escape")
            }
        }
        guard let str = out.withUnsafeBufferPointer({ validUTF8String($0) }) else {
            throw Failure(offset: start, message: "string is not valid UTF-8")
        }
        return str
    }

    mutating func hex4() throws -> Int {
        guard pos + 4 <= bytes.count else { throw Failure(offset: pos, message: "invalid \\u escape") }
        var v = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: Int
            switch c {
            case 0x30...0x39: d = Int(c) - 0x30
            case 0x41...0x46: d = Int(c) - 0x41 + 10
            case 0x61...0x66: d = Int(c) - 0x61 + 10
            default: throw Failure(offset: pos, message: "invalid \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }
}

/// The string of `bytes` when they are valid UTF-8, else nil.
func validUTF8String(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b = bytes[i]
        if b < 0x80 { i += 1; continue }
        let len: Int
        let min: UInt32
        var cp: UInt32
        if b & 0xE0 == 0xC0 { len = 2; min = 0x80; cp = UInt32(b & 0x1F) }
        else if b & 0xF0 == 0xE0 { len = 3; min = 0x800; cp = UInt32(b & 0x0F) }
        else if b & 0xF8 == 0xF0 { len = 4; min = 0x10000; cp = UInt32(b & 0x07) }
        else { return nil }
        guard i + len <= n else { return nil }
        for k in 1..<len {
            let c = bytes[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            cp = (cp << 6) | UInt32(c & 0x3F)
        }
        guard cp >= min, cp <= 0x10FFFF, !(0xD800...0xDFFF).contains(cp) else { return nil }
        i += len
    }
    return String(decoding: bytes, as: UTF8.self)
}

@inline(__always)
func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    if scalar < 0x80 {
        out.append(UInt8(scalar))
    } else if scalar < 0x800 {
        out.append(UInt8(0xC0 | (scalar >> 6)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    } else if scalar < 0x10000 {
        out.append(UInt8(0xE0 | (scalar >> 12)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (scalar >> 18)))
        out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}

/// Writes JSON text: compact, keys in the order given, non-ASCII left as UTF-8 (as `tokenizers` writes it).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) {
        bytes.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 15)])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case let .bool(b): raw(b ? "true" : "false")
        case let .number(d, isInteger):
            if isInteger, abs(d) < 9.0e15 { raw(String(Int(d))) } else { raw(jsonDouble(d)) }
        case let .string(s): string(s)
        case let .array(items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                value(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case let .object(fields):
            bytes.append(UInt8(ascii: "{"))
            for (i, (k, item)) in fields.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                string(k)
                bytes.append(UInt8(ascii: ":"))
                value(item)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}

func jsonDouble(_ d: Double) -> String {
    guard d.isFinite else { return "null" }
    if d == d.rounded(), abs(d) < 1e15 { return String(format: "%.1f", d) }
    return "\(d)"
}
