import FuseFormats
import Foundation

/// A column of a file `ParquetWriter` writes: a non-nullable leaf type under zero, one or two non-nullable lists
/// (`list<T>`, `list<list<T>>`), in the standard three-level LIST layout pyarrow writes for non-nullable fields.
public struct ParquetColumn: Sendable {
    public enum LeafType: Sendable { case int64, float, double, string }
    public let name: String
    public let leaf: LeafType
    /// 0: one value per row; 1: a list per row; 2: a list of lists per row.
    public let listDepth: Int

    public init(_ name: String, _ leaf: LeafType, listDepth: Int = 0) {
        precondition((0...2).contains(listDepth))
        self.name = name
        self.leaf = leaf
        self.listDepth = listDepth
    }
}

/// One column's values for the rows of a row group: the leaf values in order and, per list level, the lengths of
/// that level's lists (level 0: one length per row; level 1: one per level-0 element).
public struct ParquetColumnData {
    public enum Values {
        case int64([Int64]), float([Float]), double([Double]), string([String])
        var count: Int {
            switch self {
            case .int64(let v): return v.count
            case .float(let v): return v.count
            case .double(let v): return v.count
            case .string(let v): return v.count
            }
        }
    }
    public var values: Values
    public var lengths: [[Int]]

    public init(_ values: Values, lengths: [[Int]] = []) {
        self.values = values
        self.lengths = lengths
    }

    /// Rows this data covers.
    var rows: Int { lengths.first?.count ?? values.count }
}

/// Writes a parquet file row group by row group (so a large export never sits in memory): data pages v1 with
/// RLE-encoded repetition / definition levels and PLAIN values, ZSTD-compressed, pages of whole rows of about 1 MB,
/// the key-value metadata in the footer. Written under a temporary name and renamed by `finish()`; a writer
/// dropped before that removes its temporary file.
public final class ParquetWriter {
    public let url: URL
    public let columns: [ParquetColumn]
    private let keyValues: [(String, String)]
    private let temporary: URL
    private let handle: FileHandle
    private var offset: Int64 = 0
    private var rowGroups: [RowGroupRecord] = []
    private var finished = false
    static let pageBytes = 1 << 20
    static let zstdLevel: Int32 = 3

    struct ChunkRecord { var firstPage: Int64; var compressed: Int64; var uncompressed: Int64; var values: Int64 }
    struct RowGroupRecord { var chunks: [ChunkRecord]; var rows: Int64 }

    public init(url: URL, columns: [ParquetColumn], keyValueMetadata: [(String, String)] = []) throws {
        self.url = url
        self.columns = columns
        keyValues = keyValueMetadata
        temporary = AtomicFile.temporaryURL(for: url)
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
              let h = try? FileHandle(forWritingTo: temporary) else {
            throw FormatError(url: url, "cannot create file (directory missing or not writable)")
        }
        handle = h
        try write(Array("PAR1".utf8))
    }

    deinit {
        if !finished {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        do { try handle.write(contentsOf: bytes) } catch {
            throw FormatError(url: url, "write failed (\(FormatError.reason(error)))")
        }
        offset += Int64(bytes.count)
    }

    /// Appends one row group: `data[i]` holds column i's values for the same rows.
    public func write(rowGroup data: [ParquetColumnData]) throws {
        precondition(!finished && data.count == columns.count)
        let rows = data.first?.rows ?? 0
        var chunks: [ChunkRecord] = []
        for (column, d) in zip(columns, data) {
            precondition(d.lengths.count == column.listDepth && d.rows == rows, "column \(column.name): shape does not match")
            chunks.append(try writeChunk(column, d))
        }
        rowGroups.append(RowGroupRecord(chunks: chunks, rows: Int64(rows)))
    }

    /// Writes the footer and renames the file into place.
    public func finish() throws {
        precondition(!finished)
        let footer = ThriftWriter.message { w in fileMetaData(&w) }
        try write(footer)
        let length = UInt32(footer.count)
        try write(withUnsafeBytes(of: length.littleEndian, Array.init) + Array("PAR1".utf8))
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw FormatError(url: url, "write failed (\(FormatError.reason(error)))")
        }
        finished = true
        try AtomicFile.rename(temporary, to: url)
    }

    // MARK: - Pages

    /// A column chunk: pages of whole rows, each with the levels of its slots (values and empty lists alike).
    private func writeChunk(_ column: ParquetColumn, _ d: ParquetColumnData) throws -> ChunkRecord {
        var record = ChunkRecord(firstPage: offset, compressed: 0, uncompressed: 0, values: 0)
        var rep: [UInt32] = [], def: [UInt32] = []
        var valueStart = 0, valueEnd = 0
        var inner = 0
        let rows = d.rows
        for row in 0..<rows {
            appendLevels(of: row, column.listDepth, d.lengths, &inner, &rep, &def, &valueEnd)
            let estimate = (valueEnd - valueStart) * bytesPerValue(column.leaf) + rep.count / 2
            if estimate >= Self.pageBytes || row == rows - 1 {
                try writePage(column, d.values, valueStart..<valueEnd, rep, def, &record)
                rep.removeAll(keepingCapacity: true)
                def.removeAll(keepingCapacity: true)
                valueStart = valueEnd
            }
        }
        return record
    }

    private func bytesPerValue(_ leaf: ParquetColumn.LeafType) -> Int {
        switch leaf { case .int64, .double: return 8; case .float: return 4; case .string: return 32 }
    }

    /// Dremel levels of one row of a non-nullable column nested `depth` lists deep: repetition = the level at
    /// which a new element starts (0: a new row), definition = how many lists are non-empty down to the slot.
    /// `inner` walks level 1's lengths (the inner lists follow each other in row order).
    private func appendLevels(of row: Int, _ depth: Int, _ lengths: [[Int]], _ inner: inout Int,
                              _ rep: inout [UInt32], _ def: inout [UInt32], _ values: inout Int) {
        if depth == 0 {
            values += 1
            return
        }
        let n = lengths[0][row]
        if n == 0 {
            rep.append(0)
            def.append(0)
            return
        }
        for i in 0..<n {
            let outer: UInt32 = i == 0 ? 0 : 1
            if depth == 1 {
                rep.append(outer)
                def.append(1)
                values += 1
                continue
            }
            let m = lengths[1][inner]
            inner += 1
            if m == 0 {
                rep.append(outer)
                def.append(1)
                continue
            }
            for j in 0..<m {
                rep.append(j == 0 ? outer : 2)
                def.append(2)
            }
            values += m
        }
    }

    private func writePage(_ column: ParquetColumn, _ values: ParquetColumnData.Values, _ range: Range<Int>,
                           _ rep: [UInt32], _ def: [UInt32], _ record: inout ChunkRecord) throws {
        var body: [UInt8] = []
        let slots = column.listDepth == 0 ? range.count : rep.count
        if column.listDepth > 0 {
            let width = column.listDepth == 1 ? 1 : 2
            for levels in [rep, def] {
                let encoded = Self.rleRuns(levels, bitWidth: width)
                let n = UInt32(encoded.count)
                withUnsafeBytes(of: n.littleEndian) { body += $0 }
                body += encoded
            }
        }
        appendPlain(values, range, to: &body)
        let compressed = [UInt8](try Zstd.compress(Data(body), level: Self.zstdLevel))
        let header = ThriftWriter.message { w in
            w.i32(1, 0)  // DATA_PAGE
            w.i32(2, Int32(body.count))
            w.i32(3, Int32(compressed.count))
            w.structure(5) { h in
                h.i32(1, Int32(slots))
                h.i32(2, 0)  // PLAIN
                h.i32(3, 3)  // RLE definition levels
                h.i32(4, 3)  // RLE repetition levels
            }
        }
        try write(header)
        try write(compressed)
        record.compressed += Int64(header.count + compressed.count)
        record.uncompressed += Int64(header.count + body.count)
        record.values += Int64(slots)
    }

    /// The RLE / bit-packed hybrid with RLE runs only (levels come in long runs; zstd takes the rest).
    static func rleRuns(_ levels: [UInt32], bitWidth: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        let valueBytes = (bitWidth + 7) / 8
        while i < levels.count {
            var j = i + 1
            while j < levels.count && levels[j] == levels[i] { j += 1 }
            var header = UInt64(j - i) << 1
            while header >= 0x80 { out.append(UInt8(header & 0x7F) | 0x80); header >>= 7 }
            out.append(UInt8(header))
            for b in 0..<valueBytes { out.append(UInt8(truncatingIfNeeded: levels[i] >> (8 * UInt32(b)))) }
            i = j
        }
        return out
    }

    private func appendPlain(_ values: ParquetColumnData.Values, _ range: Range<Int>, to out: inout [UInt8]) {
        switch values {
        case .int64(let v): for x in v[range] { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        case .float(let v): for x in v[range] { withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 } }
        case .double(let v): for x in v[range] { withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 } }
        case .string(let v):
            for s in v[range] {
                let bytes = Array(s.utf8)
                withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { out += $0 }
                out += bytes
            }
        }
    }

    // MARK: - Footer

    private func physicalType(_ leaf: ParquetColumn.LeafType) -> Int32 {
        switch leaf { case .int64: return 2; case .float: return 4; case .double: return 5; case .string: return 6 }
    }

    private func path(_ c: ParquetColumn) -> [String] { [c.name] + Array(repeating: ["list", "element"], count: c.listDepth).flatMap { $0 } }

    private func fileMetaData(_ w: inout ThriftWriter) {
        w.i32(1, 1)  // version
        var elements: [(inout ThriftWriter) -> Void] = [{ e in
            e.string(4, "schema")
            e.i32(5, Int32(self.columns.count))
        }]
        for c in columns {
            for level in 0..<c.listDepth {
                let name = level == 0 ? c.name : "element"
                elements.append { e in  // required group NAME (LIST)
                    e.i32(3, 0)
                    e.string(4, name)
                    e.i32(5, 1)
                    e.i32(6, 3)  // converted type LIST
                    e.structure(10) { l in l.structure(3) { _ in } }  // logical type LIST
                }
                elements.append { e in  // repeated group list
                    e.i32(3, 2)
                    e.string(4, "list")
                    e.i32(5, 1)
                }
            }
            let leafName = c.listDepth == 0 ? c.name : "element"
            let type = physicalType(c.leaf)
            let isString = c.leaf == .string
            elements.append { e in
                e.i32(1, type)
                e.i32(3, 0)  // required
                e.string(4, leafName)
                if isString {
                    e.i32(6, 0)  // converted type UTF8
                    e.structure(10) { l in l.structure(1) { _ in } }  // logical type STRING
                }
            }
        }
        w.structList(2, elements) { e, body in body(&e) }
        w.i64(3, rowGroups.reduce(0) { $0 + $1.rows })
        w.structList(4, rowGroups) { g, group in
            g.structList(1, Array(zip(self.columns, group.chunks))) { cc, pair in
                let (column, chunk) = pair
                cc.i64(2, chunk.firstPage)
                cc.structure(3) { m in
                    m.i32(1, self.physicalType(column.leaf))
                    m.i32List(2, column.listDepth > 0 ? [0, 3] : [0])
                    m.stringList(3, self.path(column))
                    m.i32(4, 6)  // ZSTD
                    m.i64(5, chunk.values)
                    m.i64(6, chunk.uncompressed)
                    m.i64(7, chunk.compressed)
                    m.i64(9, chunk.firstPage)
                }
            }
            g.i64(2, group.chunks.reduce(0) { $0 + $1.uncompressed })
            g.i64(3, group.rows)
        }
        w.structList(5, keyValues) { kv, pair in
            kv.string(1, pair.0)
            kv.string(2, pair.1)
        }
        w.string(6, "fusellm")
    }
}
