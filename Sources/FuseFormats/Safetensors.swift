import Foundation

/// Where one tensor lives inside a safetensors file.
public struct TensorInfo: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file (https://github.com/huggingface/safetensors format:
/// u64 little-endian header length, JSON header, then raw little-endian tensor bytes).
/// Every offset in the header is checked against the file before anything is read.
public final class SafetensorsFile {
    public let url: URL
    public let tensors: [String: TensorInfo]
    /// Tensor names in header order.
    public let names: [String]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public init(url: URL) throws {
        self.url = url
        let mapped: Data
        do {
            mapped = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FormatError(url: url, "cannot read safetensors file (\(FormatError.reason(error)))")
        }
        data = mapped
        guard mapped.count >= 8 else {
            throw FormatError(url: url, "truncated: \(mapped.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = mapped.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(mapped.count - 8), headerLength <= 100_000_000 else {
            throw FormatError(url: url, "header length \(headerLength) runs past the end of the file (\(mapped.count) bytes): truncated or not a safetensors file")
        }
        dataStart = 8 + Int(headerLength)
        let dataSize = mapped.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: mapped.subdata(in: 8..<dataStart))
        } catch {
            throw FormatError(url: url, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw FormatError(url: url, "header is not a JSON object")
        }
        var tensors: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { meta[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            tensors[name] = try Self.parseEntry(name: name, value: value, dataSize: dataSize, url: url)
        }
        self.tensors = tensors
        self.metadata = meta
        names = tensors.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name)
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, url: URL) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw FormatError(url: url, item: "tensor \(name)", "header entry is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw FormatError(url: url, item: "tensor \(name)", "missing dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw FormatError(url: url, item: "tensor \(name)", "unsupported dtype \(dtypeName)")
        }
        guard let shapeValues = entry["shape"] as? [Any],
              let shape = Optional(shapeValues.compactMap { ($0 as? NSNumber)?.intValue }),
              shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw FormatError(url: url, item: "tensor \(name)", "shape is not a list of non-negative integers")
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = (offsets[0] as? NSNumber)?.intValue, let end = (offsets[1] as? NSNumber)?.intValue,
              begin >= 0, begin <= end else {
            throw FormatError(url: url, item: "tensor \(name)", "data_offsets is not [begin, end] with begin <= end")
        }
        guard end <= dataSize else {
            throw FormatError(url: url, item: "tensor \(name)", "data_offsets [\(begin), \(end)] run past the end of the data (\(dataSize) bytes): file truncated or header wrong")
        }
        var elements = 1
        for d in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw FormatError(url: url, item: "tensor \(name)", "shape \(shape) overflows") }
            elements = product
        }
        guard elements * dtype.byteSize == end - begin else {
            throw FormatError(url: url, item: "tensor \(name)", "shape \(shape) of \(dtype) needs \(elements * dtype.byteSize) bytes but data_offsets give \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    public func info(_ name: String) throws -> TensorInfo {
        guard let info = tensors[name] else { throw FormatError(url: url, item: "tensor \(name)", "missing") }
        return info
    }

    /// Calls `body` with the raw bytes of a tensor.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(name)
        return try data.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(dataStart + info.byteRange.lowerBound)..<(dataStart + info.byteRange.upperBound)]))
        }
    }

    /// Converts a floating-point tensor to Float32 into `destination` (exactly `count` elements).
    public func copyFloats(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        let info = try info(name)
        guard info.elementCount == count else {
            throw FormatError(url: url, item: "tensor \(name)", "has \(info.elementCount) elements, expected \(count)")
        }
        let ok = try withRawBytes(name) { raw in
            count == 0 || HalfPrecision.convertToFloat(raw.baseAddress!, dtype: info.dtype, count: count, into: destination)
        }
        guard ok else {
            throw FormatError(url: url, item: "tensor \(name)", "dtype \(info.dtype) is not a floating-point type")
        }
    }

    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        var out = [Float](repeating: 0, count: info.elementCount)
        try out.withUnsafeMutableBufferPointer { try copyFloats(name, into: $0.baseAddress!, count: info.elementCount) }
        return out
    }

    /// Reads an integer tensor (I64, I32, I16, I8, U8) as Int.
    public func integers(_ name: String) throws -> [Int] {
        let info = try info(name)
        return try withRawBytes(name) { raw -> [Int] in
            let n = info.elementCount
            switch info.dtype {
            case .I64: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            case .I32: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            case .I16: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
            case .I8: return (0..<n).map { Int(raw.load(fromByteOffset: $0, as: Int8.self)) }
            case .U8: return (0..<n).map { Int(raw[$0]) }
            default: throw FormatError(url: url, item: "tensor \(name)", "dtype \(info.dtype) is not an integer type")
            }
        }
    }
}
