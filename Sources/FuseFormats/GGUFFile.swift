import Foundation

/// Where one tensor lives inside a GGUF file, and what it holds.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// GGUF order: `dimensions[0]` (ggml's ne0) varies fastest, so a 2-D weight stored as
    /// [in, out] is PyTorch's [out, in] row-major.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Byte offset relative to the start of the data section (`GGUFFile.dataOffset`).
    public let offset: Int

    /// Product of the dimensions (1 for a scalar).
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Bytes of data in the file.
    public var byteCount: Int { elementCount / type.blockSize * type.typeSize }
    /// PyTorch order: the dimensions reversed, slowest-varying first.
    public var shape: [Int] { dimensions.reversed() }
    /// Elements per row (`dimensions[0]`).
    public var rowLength: Int { dimensions.first ?? 1 }
}

/// A memory-mapped GGUF file (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), versions 2 and 3,
/// little-endian: header, metadata key/values, tensor infos, then the aligned data section.
///
/// Every length and count is checked against the bytes left before anything is allocated, and every
/// tensor's data range against the file, so a corrupt or truncated file gives one `FormatError` naming
/// the file and the field or tensor, never a crash. Dequantization to Float32 follows ggml's
/// `dequantize_row_*` bit for bit (see GGUFDequantize.swift).
public final class GGUFFile {
    public let url: URL
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, 32 when absent.
    public let alignment: Int
    /// Absolute byte offset of the data section in the file.
    public let dataOffset: Int

    private let data: Data
    private let tensorIndex: [String: Int]

    public static let magic: UInt32 = 0x4655_4747   // "GGUF" read little-endian
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// Deepest nesting of arrays inside arrays accepted in metadata.
    public static let maxArrayNesting = 16

    public init(url: URL) throws {
        self.url = url
        let mapped: Data
        do {
            mapped = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FormatError(url: url, "cannot read GGUF file (\(FormatError.reason(error)))")
        }
        data = mapped
        let parsed = try mapped.withUnsafeBytes { bytes -> Parsed in
            var reader = GGUFReader(bytes: bytes, url: url)
            return try reader.parse()
        }
        version = parsed.version
        metadata = parsed.metadata
        metadataKeys = parsed.metadataKeys
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        var index: [String: Int] = [:]
        index.reserveCapacity(parsed.tensors.count)
        for (i, t) in parsed.tensors.enumerated() { index[t.name] = i }
        tensorIndex = index
    }

    /// Bytes in the data section (from `dataOffset` to the end of the file).
    public var dataSize: Int { max(0, data.count - dataOffset) }

    // MARK: Tensors

    public func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let i = tensorIndex[name] else {
            throw FormatError(url: url, item: "tensor \(name)", "missing (the file has \(tensors.count) tensors)")
        }
        return tensors[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorIndex[name] != nil }

    /// Calls `body` with the raw bytes of a tensor as stored in the file.
    public func withRawBytes<R>(_ info: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try checkRange(info)
        if info.byteCount == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try data.withUnsafeBytes { all in
            let start = dataOffset + info.offset
            return try body(UnsafeRawBufferPointer(rebasing: all[start..<(start + info.byteCount)]))
        }
    }

    /// Writes the tensor's `elementCount` values as Float32 into `destination`, in file element order
    /// (row-major with `dimensions[0]` fastest). Work is split over `Parallel.threads`.
    public func dequantize(_ info: GGUFTensorInfo, into destination: UnsafeMutablePointer<Float>) throws {
        guard info.type.isDequantizable else {
            let removed = info.type.isRemovedFromGGML ? " (a repacked layout ggml no longer supports)" : ""
            throw FormatError(url: url, item: "tensor \(info.name)",
                              "has type \(info.type.name)\(removed), which fusellm cannot dequantize (it reads \(GGMLType.allCases.filter(\.isDequantizable).map(\.name).joined(separator: ", ")))")
        }
        try withRawBytes(info) { raw in
            guard info.elementCount > 0, let base = raw.baseAddress else { return }
            GGUFDequantize.run(info.type, base, elementCount: info.elementCount, into: destination)
        }
    }

    public func dequantize(_ name: String) throws -> [Float] {
        try dequantize(tensor(name))
    }

    public func dequantize(_ info: GGUFTensorInfo) throws -> [Float] {
        let count = info.elementCount
        guard count > 0 else {
            var unused: Float = 0
            try withUnsafeMutablePointer(to: &unused) { try dequantize(info, into: $0) }   // checks type and range
            return []
        }
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try dequantize(info, into: buffer.baseAddress!)
            initialized = count
        }
    }

    private func checkRange(_ info: GGUFTensorInfo) throws {
        let (end, overflow) = info.offset.addingReportingOverflow(info.byteCount)
        guard info.offset >= 0, !overflow, end <= dataSize else {
            throw FormatError(url: url, item: "tensor \(info.name)",
                              "data [\(info.offset), \(end)) runs past the end of the data section (\(dataSize) bytes)")
        }
    }

    // MARK: Metadata

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw FormatError(url: url, item: "metadata key \(key)", "missing") }
        return v
    }

    public func int(_ key: String) throws -> Int { try typed(key, "an integer", \.intValue) }
    public func double(_ key: String) throws -> Double { try typed(key, "a number", \.doubleValue) }
    public func string(_ key: String) throws -> String { try typed(key, "a string", \.stringValue) }
    public func bool(_ key: String) throws -> Bool { try typed(key, "a bool", \.boolValue) }

    private func typed<T>(_ key: String, _ expected: String, _ read: (GGUFValue) -> T?) throws -> T {
        let v = try value(key)
        guard let x = read(v) else { throw wrongType(key, v, expected: expected) }
        return x
    }

    public func array(_ key: String) throws -> [GGUFValue] {
        let v = try value(key)
        guard let a = v.arrayValue else { throw wrongType(key, v, expected: "an array") }
        return a
    }

    public func strings(_ key: String) throws -> [String] {
        try elements(key, expected: "a string", \.stringValue)
    }

    public func ints(_ key: String) throws -> [Int] {
        try elements(key, expected: "an integer", \.intValue)
    }

    public func doubles(_ key: String) throws -> [Double] {
        try elements(key, expected: "a number", \.doubleValue)
    }

    /// nil when the key is absent or holds another type.
    public func optionalInt(_ key: String) -> Int? { metadata[key]?.intValue }
    public func optionalDouble(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func optionalString(_ key: String) -> String? { metadata[key]?.stringValue }
    public func optionalBool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    private func elements<T>(_ key: String, expected: String, _ get: (GGUFValue) -> T?) throws -> [T] {
        let items = try array(key)
        var result: [T] = []
        result.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let x = get(item) else {
                throw FormatError(url: url, item: "metadata key \(key)",
                                  "item \(i) is \(item.typeName) \(item), expected \(expected)")
            }
            result.append(x)
        }
        return result
    }

    private func wrongType(_ key: String, _ v: GGUFValue, expected: String) -> FormatError {
        FormatError(url: url, item: "metadata key \(key)", "is \(v.typeName) \(v), expected \(expected)")
    }
}

// MARK: - Parsing

private struct Parsed {
    var version: UInt32 = 0
    var metadata: [String: GGUFValue] = [:]
    var metadataKeys: [String] = []
    var tensors: [GGUFTensorInfo] = []
    var alignment = GGUFFile.defaultAlignment
    var dataOffset = 0
}

/// Bounds-checked little-endian reads over the mapped file.
private struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    let url: URL
    var position = 0

    init(bytes: UnsafeRawBufferPointer, url: URL) {
        self.bytes = bytes
        self.url = url
    }

    var remaining: Int { bytes.count - position }

    func fail(_ item: String, _ problem: String) -> FormatError {
        FormatError(url: url, item: item, problem)
    }

    func truncated(_ item: String, _ what: String, needs: Int) -> FormatError {
        fail(item, "truncated: \(what) needs \(needs) bytes at offset \(position), the file has \(remaining) left")
    }

    mutating func scalar<T: FixedWidthInteger>(_: T.Type, _ item: @autoclosure () -> String, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(item(), what(), needs: size) }
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
        position += size
        return v
    }

    /// A u64 that must fit in Int (and so in the file).
    mutating func length(_ item: @autoclosure () -> String, _ what: @autoclosure () -> String) throws -> Int {
        let raw = try scalar(UInt64.self, item(), what())
        guard let n = Int(exactly: raw) else { throw fail(item(), "\(what()) \(raw) is too large") }
        return n
    }

    mutating func string(_ item: @autoclosure () -> String, _ what: @autoclosure () -> String) throws -> String {
        let n = try length(item(), "\(what()) length")
        guard n <= remaining else {
            throw fail(item(), "\(what()) length \(n) runs past the end of the file (\(remaining) bytes left at offset \(position)): truncated or corrupt")
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]), as: UTF8.self)
        position += n
        return s
    }

    mutating func parse() throws -> Parsed {
        var out = Parsed()
        guard bytes.count >= 4 else { throw truncated("header", "magic", needs: 4) }
        let magic = try scalar(UInt32.self, "header", "magic")
        guard magic == GGUFFile.magic else {
            let shown = (0..<4).map { String(format: "%02x", bytes[$0]) }.joined(separator: " ")
            throw fail("header", "bad magic \(shown), expected \"GGUF\" (47 47 55 46): not a GGUF file")
        }
        let version = try scalar(UInt32.self, "header", "version")
        if version & 0xFFFF == 0, version != 0 {
            throw fail("header", "version \(version.byteSwapped) is stored big-endian; fusellm reads little-endian GGUF only")
        }
        guard version == 2 || version == 3 else {
            let hint = version == 1 ? " (GGUF v1 is obsolete; re-convert the model)" : ""
            throw fail("header", "unsupported GGUF version \(version)\(hint); fusellm reads versions 2 and 3")
        }
        out.version = version
        let tensorCount = try length("header", "tensor count")
        let kvCount = try length("header", "metadata count")
        // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info
        // at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset): refuse counts the file cannot hold.
        guard kvCount <= remaining / 13 else {
            throw fail("header", "metadata count \(kvCount) cannot fit in the \(remaining) bytes left: truncated or corrupt")
        }
        guard tensorCount <= remaining / 24 else {
            throw fail("header", "tensor count \(tensorCount) cannot fit in the \(remaining) bytes left: truncated or corrupt")
        }

        out.metadataKeys.reserveCapacity(kvCount)
        out.metadata.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try string("metadata entry \(i) of \(kvCount)", "key")
            let item = "metadata key \(key)"
            if out.metadata[key] != nil { throw fail(item, "appears twice") }
            let code = try scalar(UInt32.self, item, "value type")
            let value = try readValue(code: code, item: item, depth: 0)
            out.metadata[key] = value
            out.metadataKeys.append(key)
        }

        if let a = out.metadata["general.alignment"] {
            guard let n = a.intValue, n > 0, n & (n - 1) == 0 else {
                throw fail("metadata key general.alignment", "is \(a.typeName) \(a), expected a power of two")
            }
            out.alignment = n
        }

        var seen = Set<String>()
        seen.reserveCapacity(tensorCount)
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try string("tensor info \(i) of \(tensorCount)", "name")
            let item = "tensor \(name)"
            guard seen.insert(name).inserted else { throw fail(item, "appears twice") }
            let nDims = try scalar(UInt32.self, item, "dimension count")
            guard nDims <= GGUFFile.maxDimensions else {
                throw fail(item, "has \(nDims) dimensions; ggml allows at most \(GGUFFile.maxDimensions)")
            }
            var dims: [Int] = []
            dims.reserveCapacity(Int(nDims))
            var elements = 1
            for d in 0..<Int(nDims) {
                let raw = try scalar(UInt64.self, item, "dimension \(d)")
                guard let n = Int(exactly: raw) else {
                    throw fail(item, "dimension \(d) is \(raw): dimensions overflow")
                }
                dims.append(n)
                let (product, overflow) = elements.multipliedReportingOverflow(by: n)
                guard !overflow else { throw fail(item, "dimensions \(dims)… overflow: more than \(Int.max) elements") }
                elements = product
            }
            let rawType = try scalar(UInt32.self, item, "type")
            guard let type = GGMLType(rawValue: rawType) else {
                throw fail(item, "has unknown ggml type \(rawType)")
            }
            let offset = try length(item, "data offset")
            let rowLength = dims.first ?? 1
            guard rowLength % type.blockSize == 0 else {
                throw fail(item, "row length \(rowLength) (dimensions \(dims)) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard !(elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize).overflow else { throw fail(item, "dimensions \(dims) overflow: \(type.name) data exceeds \(Int.max) bytes") }
            guard offset % out.alignment == 0 else {
                throw fail(item, "data offset \(offset) is not a multiple of the alignment \(out.alignment): misaligned or corrupt")
            }
            infos.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset))
        }

        // The data section starts at the next multiple of the alignment.
        let (padded, overflow) = position.addingReportingOverflow(out.alignment - 1)
        guard !overflow else { throw fail("header", "data section offset overflows") }
        out.dataOffset = padded / out.alignment * out.alignment
        let dataSize = max(0, bytes.count - out.dataOffset)
        for info in infos {
            let (end, overflow) = info.offset.addingReportingOverflow(info.byteCount)
            guard !overflow, end <= dataSize else {
                throw fail("tensor \(info.name)",
                           "data [\(info.offset), \(overflow ? "overflow" : String(end))) runs past the end of the file (data section holds \(dataSize) bytes from offset \(out.dataOffset)): truncated or corrupt")
            }
        }
        out.tensors = infos
        return out
    }

    mutating func readValue(code: UInt32, item: String, depth: Int) throws -> GGUFValue {
        guard let type = GGUFValue.TypeCode(rawValue: code) else {
            throw fail(item, "unknown metadata value type \(code) at offset \(position - 4)")
        }
        return try readValue(type, item: item, depth: depth)
    }

    mutating func readValue(_ type: GGUFValue.TypeCode, item: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try scalar(UInt8.self, item, "UINT8 value"))
        case .int8: return .int8(Int8(bitPattern: try scalar(UInt8.self, item, "INT8 value")))
        case .uint16: return .uint16(try scalar(UInt16.self, item, "UINT16 value"))
        case .int16: return .int16(try scalar(Int16.self, item, "INT16 value"))
        case .uint32: return .uint32(try scalar(UInt32.self, item, "UINT32 value"))
        case .int32: return .int32(try scalar(Int32.self, item, "INT32 value"))
        case .float32: return .float32(Float(bitPattern: try scalar(UInt32.self, item, "FLOAT32 value")))
        case .uint64: return .uint64(try scalar(UInt64.self, item, "UINT64 value"))
        case .int64: return .int64(try scalar(Int64.self, item, "INT64 value"))
        case .float64: return .float64(Double(bitPattern: try scalar(UInt64.self, item, "FLOAT64 value")))
        case .bool:
            return .bool(try scalar(UInt8.self, item, "BOOL value") != 0)
        case .string: return .string(try string(item, "string"))
        case .array:
            guard depth < GGUFFile.maxArrayNesting else {
                throw fail(item, "arrays nest deeper than \(GGUFFile.maxArrayNesting) levels: corrupt")
            }
            let code = try scalar(UInt32.self, item, "array element type")
            guard let elementType = GGUFValue.TypeCode(rawValue: code) else {
                throw fail(item, "unknown array element type \(code) at offset \(position - 4)")
            }
            let count = try length(item, "array count")
            guard count <= remaining / elementType.minimumSize else {
                throw fail(item, "array of \(count) \(elementType.name) values cannot fit in the \(remaining) bytes left at offset \(position): truncated or corrupt")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                items.append(try readValue(elementType, item: item, depth: depth + 1))
            }
            return .array(items)
        }
    }
}
