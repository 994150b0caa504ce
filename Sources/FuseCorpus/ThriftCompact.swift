/// Why Thrift data could not be read: it ends early (`truncated`, so a caller holding only part
/// of a structure may fetch more bytes and retry) or it is malformed.
enum ThriftError: Error, Equatable {
    case truncated
    case invalid(String)
}

/// Compact-protocol type ids.
enum ThriftType: UInt8 {
    case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
    case list = 9, set = 10, map = 11, structure = 12
}

/// A reader of the Thrift compact protocol over a bounded buffer (parquet's footer and page
/// headers). Every read checks the remaining length; skipping unknown fields follows their
/// declared type, with nesting limited so crafted input cannot exhaust the stack.
struct ThriftReader {
    static let maxDepth = 64
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw ThriftError.truncated }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw ThriftError.invalid("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ThriftError.invalid("varint longer than 10 bytes") }
        }
    }

    mutating func zigzag() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw ThriftError.invalid("i32 value \(v) out of range") }
        return r
    }

    mutating func i64() throws -> Int64 { try zigzag() }

    /// Length-prefixed bytes (also used for strings); the slice is valid as long as `bytes`.
    mutating func binary() throws -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(remaining) else { throw ThriftError.truncated }
        let start = position
        position += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<position])
    }

    mutating func string() throws -> String {
        let raw = try binary()
        guard let s = UTF8Text.string(raw) else { throw ThriftError.invalid("string is not valid UTF-8") }
        return s
    }

    /// Next field of the current struct: (id, type), or nil at its end. `lastId` carries the
    /// previous field id (compact protocol encodes ids as deltas).
    mutating func fieldHeader(_ lastId: inout Int16) throws -> (id: Int16, type: ThriftType)? {
        let b = try byte()
        if b == 0 { return nil }
        guard let type = ThriftType(rawValue: b & 0x0F) else {
            throw ThriftError.invalid("unknown field type \(b & 0x0F)")
        }
        let delta = b >> 4
        if delta == 0 {
            let id = try zigzag()
            guard let id16 = Int16(exactly: id) else { throw ThriftError.invalid("field id \(id) out of range") }
            lastId = id16
        } else {
            let (sum, overflow) = lastId.addingReportingOverflow(Int16(delta))
            if overflow { throw ThriftError.invalid("field id overflows") }
            lastId = sum
        }
        return (lastId, type)
    }

    /// Header of a list or set: element count and type.
    mutating func listHeader() throws -> (count: Int, type: ThriftType) {
        let b = try byte()
        var count = UInt64(b >> 4)
        if count == 15 { count = try varint() }
        guard let type = ThriftType(rawValue: b & 0x0F) else {
            throw ThriftError.invalid("unknown list element type \(b & 0x0F)")
        }
        // Every element takes at least one byte, so a count past the remaining bytes is truncated data.
        guard count <= UInt64(remaining) else { throw ThriftError.truncated }
        return (Int(count), type)
    }

    /// A boolean field's value is in its type id; a boolean list element is one byte.
    static func boolValue(_ type: ThriftType) -> Bool { type == .boolTrue }

    /// Reads `body` as a nested struct (depth-limited): `body` is called once per field and must
    /// consume it (calling `skip` for fields it does not know).
    mutating func readStruct(_ body: (inout ThriftReader, Int16, ThriftType) throws -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw ThriftError.invalid("structures nested deeper than \(Self.maxDepth)") }
        var last: Int16 = 0
        while let (id, type) = try fieldHeader(&last) {
            try body(&self, id, type)
        }
    }

    /// Reads a list of elements of `expected` type with `element`; a list of another type is skipped.
    mutating func readList<T>(of expected: ThriftType, _ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (count, type) = try listHeader()
        guard type == expected || (expected == .boolTrue && type == .boolFalse) else {
            throw ThriftError.invalid("list of type \(type) where \(expected) was expected")
        }
        var out = [T]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try element(&self)) }
        return out
    }

    /// Skips one value of `type` (a field's value whose id the caller does not know).
    mutating func skip(_ type: ThriftType) throws {
        switch type {
        case .boolTrue, .boolFalse: return  // value is in the field header
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double:
            guard remaining >= 8 else { throw ThriftError.truncated }
            position += 8
        case .binary: _ = try binary()
        case .list, .set:
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw ThriftError.invalid("structures nested deeper than \(Self.maxDepth)") }
            let (count, elementType) = try listHeader()
            for _ in 0..<count {
                if elementType == .boolTrue || elementType == .boolFalse { _ = try byte() } else { try skip(elementType) }
            }
        case .map:
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw ThriftError.invalid("structures nested deeper than \(Self.maxDepth)") }
            let count = try varint()
            if count == 0 { return }
            guard count <= UInt64(remaining) else { throw ThriftError.truncated }
            let kv = try byte()
            guard let keyType = ThriftType(rawValue: kv >> 4), let valueType = ThriftType(rawValue: kv & 0x0F) else {
                throw ThriftError.invalid("unknown map element type")
            }
            for _ in 0..<count {
                for t in [keyType, valueType] {
                    if t == .boolTrue || t == .boolFalse { _ = try byte() } else { try skip(t) }
                }
            }
        case .structure:
            try readStruct { r, _, t in try r.skip(t) }
        }
    }
}
