import FuseFormats

/// The values of one data page of a flat text column: `texts[k]` is row `firstRow + k` of the file (nil for a null).
struct ParquetPageValues {
    let firstRow: Int
    var texts: [String?]
}

/// Decoded values of a leaf column (FLOAT16 widened to Float).
enum ParquetLeafValues {
    case int32([Int32]), int64([Int64]), float([Float]), double([Double]), strings([String])

    var count: Int {
        switch self {
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .float(let v): return v.count
        case .double(let v): return v.count
        case .strings(let v): return v.count
        }
    }

    /// The entries at `indices` (a dictionary page's values looked up by a data page's indices).
    func gathered(_ indices: [UInt32]) -> ParquetLeafValues {
        switch self {
        case .int32(let v): return .int32(indices.map { v[Int($0)] })
        case .int64(let v): return .int64(indices.map { v[Int($0)] })
        case .float(let v): return .float(indices.map { v[Int($0)] })
        case .double(let v): return .double(indices.map { v[Int($0)] })
        case .strings(let v): return .strings(indices.map { v[Int($0)] })
        }
    }
}

/// One data page of a leaf column: per slot its repetition level (empty when the column repeats nothing) and
/// definition level (empty when nothing is optional or repeated), and the values of the slots that hold one.
struct ParquetLeafPage {
    /// The row the page's first slot belongs to (a row starts at each repetition level 0).
    let firstRow: Int
    let slots: Int
    var repetition: [UInt32]
    var definition: [UInt32]
    var values: ParquetLeafValues
}

/// Reads one leaf column of a parquet file page by page: row groups in order, in each the column chunk's
/// optional dictionary page and then its data pages (v1 and v2), decompressed (UNCOMPRESSED, SNAPPY, GZIP, ZSTD)
/// and decoded (PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY for INT32, INT64, FLOAT, DOUBLE, FLOAT16 and BYTE_ARRAY
/// text; repetition and definition levels with the RLE/bit-packed hybrid). It holds one page (and the chunk's
/// dictionary) at a time. Every size and offset is checked against the chunk and file.
final class ParquetColumnReader {
    let parquet: ParquetFile
    let column: ParquetLeafColumn
    private var path: String { parquet.path }

    private var rowGroupIndex = -1
    private var finished = false
    private var chunkPosition = 0
    private var chunkEnd = 0
    private var chunkValues = 0
    private var valuesRead = 0
    private var codec: Int32 = 0
    private var dictionary: ParquetLeafValues?
    private var sawDataPage = false
    private var rowsBefore = 0
    private var chunkFirstRow = 0
    private var chunkRows = 0
    private var rowsRead = 0
    private lazy var zstd: ZstdBufferDecoder? = try? ZstdBufferDecoder()
    private var repetitionLevels: [UInt32] = []
    private var levels: [UInt32] = []
    private var indices: [UInt32] = []

    /// Pages read so far by kind ("DATA_PAGE", "DATA_PAGE_V2", "DICTIONARY_PAGE", "INDEX_PAGE") and
    /// data pages by value encoding: what the tests check the fixtures exercise.
    private(set) var pagesByKind: [String: Int] = [:]
    private(set) var dataPagesByEncoding: [String: Int] = [:]

    /// Largest page buffer (compressed + uncompressed) held so far: the tests' memory bound.
    private(set) var peakPageBytes = 0

    init(file: ParquetFile, column: ParquetLeafColumn) {
        parquet = file
        self.column = column
    }

    private func error(_ item: String, _ problem: String) -> FormatError {
        FormatError(file: path, item: "row group \(rowGroupIndex), column '\(column.path.joined(separator: "."))', \(item)", problem)
    }

    /// Moves to the next row group's column chunk; false after the last.
    private func startNextChunk() throws -> Bool {
        rowsBefore = chunkFirstRow + chunkRows
        rowGroupIndex += 1
        let groups = parquet.metadata.rowGroups
        guard rowGroupIndex < groups.count else {
            if rowsBefore != parquet.rowCount {
                throw FormatError(file: path, item: "footer",
                                  "row groups hold \(rowsBefore) rows but the file says \(parquet.rowCount)")
            }
            return false
        }
        let group = groups[rowGroupIndex]
        guard column.leafIndex < group.columns.count else {
            throw error("column chunk", "row group has \(group.columns.count) column chunks; the schema needs \(column.leafIndex + 1)")
        }
        let chunk = group.columns[column.leafIndex]
        if let external = chunk.filePath {
            throw error("column chunk", "data lives in another file (\(external)); external column chunks are not supported")
        }
        guard let meta = chunk.metaData else { throw error("column chunk", "no column metadata") }
        guard meta.path == column.path else {
            throw error("column chunk", "chunk is for column '\(meta.path.joined(separator: "."))', not '\(column.path.joined(separator: "."))'")
        }
        guard meta.type == column.physicalType else {
            throw error("column chunk", "physical type \(ParquetEnum.typeName(meta.type)); expected \(ParquetEnum.typeName(column.physicalType))")
        }
        switch meta.codec {
        case 0, 1, 2, 6: break
        default:
            throw error("column chunk", "unsupported compression codec \(ParquetEnum.codecName(meta.codec)) (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD)")
        }
        guard meta.numValues >= 0, group.numRows >= 0,
              column.maxRepetition > 0 ? meta.numValues >= group.numRows : meta.numValues == group.numRows else {
            throw error("column chunk", "\(meta.numValues) values for \(group.numRows) rows (a flat column has one value per row)")
        }
        chunkFirstRow = rowsBefore
        chunkRows = Int(group.numRows)
        rowsRead = 0
        valuesRead = 0
        chunkValues = Int(meta.numValues)
        dictionary = nil
        sawDataPage = false
        codec = meta.codec
        if chunkValues == 0 {
            // An empty row group: nothing to read (writers may leave its offsets at 0).
            chunkPosition = 0
            chunkEnd = 0
            return true
        }
        var start = meta.dataPageOffset
        if let d = meta.dictionaryPageOffset, d > 0, d < start { start = d }
        let size = meta.totalCompressedSize
        guard start >= 4, size >= 0, start <= Int64(parquet.file.size), size <= Int64(parquet.file.size) - start else {
            throw error("column chunk", "byte range \(start)..<\(start &+ size) lies outside the file (\(parquet.file.size) bytes)")
        }
        chunkPosition = Int(start)
        chunkEnd = Int(start + size)
        return true
    }

    /// The next data page of a flat text column: one text (or nil for a null) per row.
    func nextPage() throws -> ParquetPageValues? {
        precondition(column.maxRepetition == 0 && column.physicalType == ParquetEnum.byteArray)
        guard let page = try nextLeafPage() else { return nil }
        guard case .strings(let values) = page.values else { return nil }
        guard column.optional else { return ParquetPageValues(firstRow: page.firstRow, texts: values) }
        var texts = [String?]()
        texts.reserveCapacity(page.slots)
        var next = 0
        for level in page.definition {
            if level == 1 { texts.append(values[next]); next += 1 } else { texts.append(nil) }
        }
        return ParquetPageValues(firstRow: page.firstRow, texts: texts)
    }

    /// The next data page's levels and values; nil after the last page of the last row group.
    func nextLeafPage() throws -> ParquetLeafPage? {
        if finished { return nil }
        if rowGroupIndex < 0 {
            chunkValues = 0
            guard try startNextChunk() else { finished = true; return nil }
        }
        while true {
            if valuesRead >= chunkValues {
                guard try startNextChunk() else { finished = true; return nil }
                continue
            }
            guard chunkPosition < chunkEnd else {
                throw error("pages", "column chunk ends after \(valuesRead) of its \(chunkValues) values")
            }
            if let page = try readPage() { return page }
        }
    }

    /// Reads the page at `chunkPosition`: returns its values for a data page, nil for a
    /// dictionary or index page.
    private func readPage() throws -> ParquetLeafPage? {
        let pageStart = chunkPosition
        let item = "page at byte \(pageStart)"
        var window = min(chunkEnd - pageStart, 64 << 10)
        var buffer: [UInt8]
        var header: ParquetPageHeader
        var headerLength = 0
        while true {
            buffer = try parquet.file.read(offset: pageStart, count: window, item: item)
            do {
                (header, headerLength) = try buffer.withUnsafeBytes { raw in
                    var r = ThriftReader(raw)
                    let h = try ParquetPageHeader(thrift: &r)
                    return (h, r.position)
                }
                break
            } catch ThriftError.truncated {
                let rest = chunkEnd - pageStart
                guard window < rest else { throw error(item, "page header runs past the end of the column chunk") }
                guard window < ParquetLimits.maxPageHeaderBytes else {
                    throw error(item, "page header larger than \(ParquetLimits.maxPageHeaderBytes) bytes")
                }
                window = min(rest, window * 4)
            } catch ThriftError.invalid(let why) {
                throw error(item, "invalid page header: \(why)")
            }
        }
        guard header.compressedSize >= 0, header.uncompressedSize >= 0 else {
            throw error(item, "negative page size in the page header")
        }
        let compressedSize = Int(header.compressedSize)
        let dataStart = pageStart + headerLength
        guard compressedSize <= chunkEnd - dataStart else {
            throw error(item, "page of \(compressedSize) bytes runs past the end of the column chunk")
        }
        chunkPosition = dataStart + compressedSize
        let data: [UInt8]
        if headerLength + compressedSize <= buffer.count {
            data = Array(buffer[headerLength..<(headerLength + compressedSize)])
        } else {
            data = try parquet.file.read(offset: dataStart, count: compressedSize, item: item)
        }
        buffer = []
        if let kind = ParquetPageHeader.Kind(rawValue: header.type) {
            pagesByKind[["DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE", "DATA_PAGE_V2"][Int(kind.rawValue)], default: 0] += 1
        }
        switch ParquetPageHeader.Kind(rawValue: header.type) {
        case .indexPage?:
            return nil
        case .dictionaryPage?:
            try readDictionary(header, data, item)
            return nil
        case .dataPage?:
            return try readDataPageV1(header, data, item)
        case .dataPageV2?:
            return try readDataPageV2(header, data, item)
        case nil:
            throw error(item, "unknown page type \(header.type)")
        }
    }

    private func decompress(_ data: UnsafeRawBufferPointer, uncompressedSize: Int, compressed: Bool,
                            _ item: String) throws -> [UInt8] {
        guard uncompressedSize <= ParquetLimits.maxPageBytes else {
            throw error(item, "page of \(uncompressedSize) bytes exceeds the \(ParquetLimits.maxPageBytes)-byte limit")
        }
        peakPageBytes = max(peakPageBytes, data.count + uncompressedSize)
        if !compressed || codec == 0 {
            guard data.count == uncompressedSize else {
                throw error(item, "uncompressed page holds \(data.count) bytes but its header says \(uncompressedSize)")
            }
            return Array(data)
        }
        if codec == 1 {
            guard let declared = Snappy.uncompressedLength(data), declared == uncompressedSize else {
                throw error(item, "corrupt snappy data: its length preamble does not match the page header (\(uncompressedSize) bytes)")
            }
            // Snappy expands at most ~21x (a 3-byte copy of 64 bytes); more means corrupt data.
            guard uncompressedSize <= data.count * 22 + 16 else {
                throw error(item, "corrupt snappy data: \(data.count) bytes cannot expand to \(uncompressedSize)")
            }
            var out = [UInt8](repeating: 0, count: uncompressedSize)
            do {
                try out.withUnsafeMutableBytes { try Snappy.decompress(data, into: $0) }
            } catch let f as Snappy.Failure {
                throw error(item, "corrupt snappy data: \(f.message)")
            }
            return out
        }
        if codec == 2 {
            // Deflate expands at most ~1032x; more means corrupt data.
            guard uncompressedSize <= data.count * 1032 + 64 else {
                throw error(item, "corrupt gzip data: \(data.count) bytes cannot expand to \(uncompressedSize)")
            }
            var out = [UInt8](repeating: 0, count: uncompressedSize)
            do {
                try out.withUnsafeMutableBytes { try Inflate.gunzip(data, into: $0) }
            } catch let f as Inflate.Failure {
                throw error(item, "corrupt gzip data: \(f.message)")
            }
            return out
        }
        // ZSTD
        if let declared = ZstdBufferDecoder.declaredContentSize(data), declared != UInt64(uncompressedSize) {
            throw error(item, "corrupt zstd data: frame says \(declared) bytes, page header says \(uncompressedSize)")
        }
        guard let zstd else { throw error(item, "zstd: out of memory") }
        var out = [UInt8](repeating: 0, count: uncompressedSize)
        let produced: Int
        do {
            produced = try out.withUnsafeMutableBytes { try zstd.decompress(data, into: $0) }
        } catch let e as FormatError {
            throw error(item, e.problem)
        }
        guard produced == uncompressedSize else {
            throw error(item, "corrupt zstd data: \(produced) bytes where the page header says \(uncompressedSize)")
        }
        return out
    }

    private func readDictionary(_ header: ParquetPageHeader, _ data: [UInt8], _ item: String) throws {
        guard !sawDataPage, dictionary == nil else {
            throw error(item, "dictionary page after the chunk's first data page or a second dictionary page")
        }
        guard header.hasTypeHeader else { throw error(item, "dictionary page without its DictionaryPageHeader") }
        guard header.encoding == 0 || header.encoding == 2 else {
            throw error(item, "dictionary page encoding \(ParquetEnum.encodingName(header.encoding)) is not supported (PLAIN expected)")
        }
        let page = try data.withUnsafeBytes {
            try decompress($0, uncompressedSize: Int(header.uncompressedSize), compressed: true, item)
        }
        let count = Int(header.numValues)
        guard count >= 0, count <= page.count / max(1, min(4, fixedWidth ?? 4)) else {
            throw error(item, "dictionary page claims \(header.numValues) values in \(page.count) bytes")
        }
        dictionary = try page.withUnsafeBytes { try plainValues($0, count: count, item: item, what: "dictionary entry") }
    }

    /// Bytes per PLAIN value of a fixed-width type (nil for BYTE_ARRAY).
    private var fixedWidth: Int? {
        switch column.physicalType {
        case ParquetEnum.int32, ParquetEnum.float: return 4
        case ParquetEnum.int64, ParquetEnum.double: return 8
        case ParquetEnum.fixedLenByteArray: return column.typeLength
        default: return nil
        }
    }

    /// `count` PLAIN values of the column's type.
    private func plainValues(_ raw: UnsafeRawBufferPointer, count: Int, item: String, what: String) throws -> ParquetLeafValues {
        if let width = fixedWidth {
            guard count <= raw.count / max(width, 1) else {
                throw error(item, "\(count) values of \(width) bytes run past the end of the page (\(raw.count) bytes)")
            }
            func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
                (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * width, as: T.self)) }
            }
            switch column.physicalType {
            case ParquetEnum.int32: return .int32(load(Int32.self))
            case ParquetEnum.int64: return .int64(load(Int64.self))
            case ParquetEnum.float: return .float(load(UInt32.self).map(Float.init(bitPattern:)))
            case ParquetEnum.double: return .double(load(UInt64.self).map(Double.init(bitPattern:)))
            default:
                guard column.isFloat16 else {
                    throw error(item, "FIXED_LEN_BYTE_ARRAY(\(column.typeLength)) values are not supported (FLOAT16 is)")
                }
                return .float(load(UInt16.self).map(HalfPrecision.f16ToFloat))
            }
        }
        guard column.physicalType == ParquetEnum.byteArray else {
            throw error(item, "physical type \(ParquetEnum.typeName(column.physicalType)) is not supported")
        }
        var values = [String]()
        values.reserveCapacity(count)
        var pos = 0
        for k in 0..<count { values.append(try plainValue(raw, &pos, item: item, what: "\(what) \(k)")) }
        return .strings(values)
    }

    /// One PLAIN BYTE_ARRAY value (4-byte little-endian length, then the bytes) as strict UTF-8.
    private func plainValue(_ raw: UnsafeRawBufferPointer, _ pos: inout Int, item: String, what: String) throws -> String {
        guard raw.count - pos >= 4 else { throw error(item, "\(what): truncated value length") }
        let length = Int(raw.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian)
        pos += 4
        guard length <= raw.count - pos else {
            throw error(item, "\(what): value of \(length) bytes runs past the end of the page")
        }
        let bytes = UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + length)])
        pos += length
        guard let s = UTF8Text.string(bytes) else {
            throw error(item, "\(what): text is not valid UTF-8 (at byte \(UTF8Text.firstInvalidOffset(bytes) ?? 0) of the value)")
        }
        return s
    }

    private func checkValueCount(_ header: ParquetPageHeader, _ item: String) throws -> Int {
        guard header.hasTypeHeader else { throw error(item, "data page without its data page header") }
        let count = Int(header.numValues)
        guard count >= 0, count <= chunkValues - valuesRead else {
            throw error(item, "page claims \(header.numValues) values; the chunk has \(chunkValues - valuesRead) left")
        }
        return count
    }

    private static func bitWidth(_ maxLevel: Int) -> Int { maxLevel == 0 ? 0 : Int.bitWidth - maxLevel.leadingZeroBitCount }

    private func readDataPageV1(_ header: ParquetPageHeader, _ data: [UInt8], _ item: String) throws -> ParquetLeafPage {
        let count = try checkValueCount(header, item)
        let page = try data.withUnsafeBytes {
            try decompress($0, uncompressedSize: Int(header.uncompressedSize), compressed: true, item)
        }
        return try page.withUnsafeBytes { raw in
            var pos = 0
            // v1: repetition levels, then definition levels, each behind a 4-byte length.
            func levelsBlock(_ what: String, encoding: Int32, maxLevel: Int, into out: inout [UInt32]) throws {
                guard encoding == 3 else {
                    throw error(item, "\(what) level encoding \(ParquetEnum.encodingName(encoding)) is not supported (RLE expected)")
                }
                guard raw.count - pos >= 4 else { throw error(item, "truncated \(what) levels") }
                let length = Int(raw.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian)
                guard length <= raw.count - pos - 4 else {
                    throw error(item, "\(what) levels of \(length) bytes run past the end of the page")
                }
                try decodeLevels(UnsafeRawBufferPointer(rebasing: raw[(pos + 4)..<(pos + 4 + length)]), what, maxLevel: maxLevel,
                                 count: count, into: &out, item)
                pos += 4 + length
            }
            if column.maxRepetition > 0 {
                try levelsBlock("repetition", encoding: header.repetitionLevelEncoding, maxLevel: column.maxRepetition, into: &repetitionLevels)
            }
            if column.maxDefinition > 0 {
                try levelsBlock("definition", encoding: header.definitionLevelEncoding, maxLevel: column.maxDefinition, into: &levels)
            }
            return try decodeValues(UnsafeRawBufferPointer(rebasing: raw[pos...]), count: count,
                                    encoding: header.encoding, item)
        }
    }

    private func readDataPageV2(_ header: ParquetPageHeader, _ data: [UInt8], _ item: String) throws -> ParquetLeafPage {
        let count = try checkValueCount(header, item)
        let repLength = Int(header.repetitionLevelsByteLength)
        let defLength = Int(header.definitionLevelsByteLength)
        guard column.maxRepetition > 0 || repLength == 0 else {
            throw error(item, "page has repetition levels; only a flat (non-repeated) column can be read")
        }
        guard repLength >= 0, defLength >= 0, repLength <= data.count, defLength <= data.count - repLength else {
            throw error(item, "definition levels of \(defLength) bytes run past the end of the page")
        }
        let valuesSize = Int(header.uncompressedSize) - defLength - repLength
        guard valuesSize >= 0 else { throw error(item, "uncompressed page size is smaller than its levels") }
        return try data.withUnsafeBytes { raw in
            if column.maxRepetition > 0 {
                try decodeLevels(UnsafeRawBufferPointer(rebasing: raw[0..<repLength]), "repetition",
                                 maxLevel: column.maxRepetition, count: count, into: &repetitionLevels, item)
            }
            if column.maxDefinition > 0 {
                try decodeLevels(UnsafeRawBufferPointer(rebasing: raw[repLength..<(repLength + defLength)]), "definition",
                                 maxLevel: column.maxDefinition, count: count, into: &levels, item)
                if header.numNulls >= 0 && column.maxRepetition == 0 {
                    let nulls = levels.lazy.filter { $0 == 0 }.count
                    guard nulls == Int(header.numNulls) else {
                        throw error(item, "definition levels give \(nulls) nulls; the page header says \(header.numNulls)")
                    }
                }
            } else if defLength != 0 {
                throw error(item, "definition levels in a required column")
            }
            let values = try decompress(UnsafeRawBufferPointer(rebasing: raw[(repLength + defLength)...]), uncompressedSize: valuesSize,
                                        compressed: header.isCompressed, item)
            return try values.withUnsafeBytes {
                try decodeValues($0, count: count, encoding: header.encoding, item)
            }
        }
    }

    private func decodeLevels(_ raw: UnsafeRawBufferPointer, _ what: String, maxLevel: Int, count: Int,
                              into out: inout [UInt32], _ item: String) throws {
        do {
            try RLEHybrid.decode(raw, bitWidth: Self.bitWidth(maxLevel), count: count, into: &out)
        } catch let f as RLEHybrid.Failure {
            throw error(item, "corrupt \(what) levels: \(f.message)")
        }
        if let bad = out.first(where: { $0 > UInt32(maxLevel) }) {
            throw error(item, "\(what) level \(bad) exceeds the column's maximum of \(maxLevel)")
        }
    }

    /// Decodes a page's `count` slots (their levels, if any, already in `repetitionLevels` and `levels`).
    private func decodeValues(_ raw: UnsafeRawBufferPointer, count: Int, encoding: Int32,
                              _ item: String) throws -> ParquetLeafPage {
        sawDataPage = true
        dataPagesByEncoding[ParquetEnum.encodingName(encoding), default: 0] += 1
        let maxDefinition = UInt32(column.maxDefinition)
        let present = column.maxDefinition > 0 ? levels.lazy.filter { $0 == maxDefinition }.count : count
        let values: ParquetLeafValues
        switch encoding {
        case 0:  // PLAIN
            values = try plainValues(raw, count: present, item: item, what: "value")
        case 2, 8:  // PLAIN_DICTIONARY, RLE_DICTIONARY
            guard let dictionary else {
                throw error(item, "dictionary-encoded page but the column chunk has no dictionary page")
            }
            indices.removeAll(keepingCapacity: true)
            if present > 0 {
                guard raw.count >= 1 else { throw error(item, "missing dictionary index bit width") }
                let bitWidth = Int(raw[0])
                guard bitWidth <= 32 else { throw error(item, "dictionary index bit width \(bitWidth) exceeds 32") }
                do {
                    try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: raw[1...]), bitWidth: bitWidth,
                                         count: present, into: &indices)
                } catch let f as RLEHybrid.Failure {
                    throw error(item, "corrupt dictionary indices: \(f.message)")
                }
                if let index = indices.first(where: { Int($0) >= dictionary.count }) {
                    throw error(item, "dictionary index \(index) outside the dictionary of \(dictionary.count) entries")
                }
            }
            values = dictionary.gathered(indices)
        default:
            throw error(item, "value encoding \(ParquetEnum.encodingName(encoding)) is not supported (PLAIN, PLAIN_DICTIONARY and RLE_DICTIONARY are)")
        }
        let firstRow = chunkFirstRow + rowsRead
        if column.maxRepetition > 0 {
            guard count == 0 || repetitionLevels.first == 0 || valuesRead > 0 else {
                throw error(item, "the column chunk's first value does not start a row (repetition level \(repetitionLevels[0]))")
            }
            rowsRead += repetitionLevels.lazy.filter { $0 == 0 }.count
            guard rowsRead <= chunkRows else {
                throw error(item, "the column chunk holds more than its row group's \(chunkRows) rows")
            }
        } else {
            rowsRead += count
        }
        valuesRead += count
        return ParquetLeafPage(firstRow: firstRow, slots: count,
                               repetition: column.maxRepetition > 0 ? repetitionLevels : [],
                               definition: column.maxDefinition > 0 ? levels : [], values: values)
    }
}
