import FuseFormats

/// A parquet file opened for reading whole rows of its columns: flat values, `list<T>` and `list<list<T>>` of
/// INT32, INT64, FLOAT, DOUBLE, FLOAT16 or text, nullable or not, in any page version, encoding and codec the
/// corpus reader takes. Rows stream page by page.
public final class ParquetTable {
    let file: ParquetFile
    public var path: String { file.path }
    public var rowCount: Int { file.rowCount }

    public init(path: String) throws {
        file = try ParquetFile(path: path)
    }

    public func columnNames() throws -> [String] { try file.columnNames() }

    /// The key-value metadata of the footer.
    public var keyValueMetadata: [String: String] { file.metadata.keyValues }

    /// A reader of column `name`'s rows, or nil when the file has no such top-level column.
    public func rows(of name: String) throws -> ParquetRowReader? {
        guard let column = try file.leafColumn(named: name) else { return nil }
        guard column.lists.count <= 2 else {
            throw FormatError(file: path, item: "column '\(name)'", "has \(column.lists.count) list levels; at most 2 can be read")
        }
        return ParquetRowReader(ParquetColumnReader(file: file, column: column))
    }
}

/// One row of a column: its leaf values in order (numbers as Double — ids and counts are exact up to 2⁵³ — or
/// texts; a null leaf is NaN / absent), and per list level the lengths of that level's lists (level 0: the row's
/// list; level 1: each of its elements' lists). A null list reads as an empty one.
public struct ParquetRow {
    public var numbers: [Double] = []
    public var texts: [String] = []
    public var lengths: [[Int]]
    /// Leaf slots that were null.
    public var nulls = 0

    init(depth: Int) { lengths = depth == 0 ? [] : depth == 1 ? [[0]] : [[0], []] }
}

/// Assembles a column's rows from its pages' repetition and definition levels (Dremel record assembly for one
/// leaf under at most two repeated nodes).
public final class ParquetRowReader {
    let reader: ParquetColumnReader
    let column: ParquetLeafColumn
    private var page: ParquetLeafPage?
    private var slot = 0
    private var valueIndex = 0
    private var building: ParquetRow?

    init(_ reader: ParquetColumnReader) {
        self.reader = reader
        column = reader.column
    }

    /// The column as the file names it, for messages.
    public var name: String { column.name }

    /// The next row, or nil after the last.
    public func nextRow() throws -> ParquetRow? {
        while true {
            if page == nil || slot == page!.slots {
                page = try reader.nextLeafPage()
                slot = 0
                valueIndex = 0
                guard page != nil else {
                    defer { building = nil }
                    return building
                }
                continue
            }
            let p = page!
            let r = p.repetition.isEmpty ? 0 : Int(p.repetition[slot])
            if r == 0, let done = building {
                building = nil
                return done
            }
            if building == nil { building = ParquetRow(depth: column.lists.count) }
            let d = p.definition.isEmpty ? column.maxDefinition : Int(p.definition[slot])
            consume(repetition: r, definition: d, into: &building!)
            slot += 1
        }
    }

    private func consume(repetition r: Int, definition d: Int, into row: inout ParquetRow) {
        let lists = column.lists
        if !lists.isEmpty {
            guard d >= lists[0].element else { return }  // the row's list is null or empty
            if r <= 1 {
                row.lengths[0][0] += 1
                if lists.count == 2 { row.lengths[1].append(0) }
            }
            if lists.count == 2 {
                guard d >= lists[1].element else { return }  // this element's list is null or empty
                row.lengths[1][row.lengths[1].count - 1] += 1
            }
        }
        guard d == column.maxDefinition else {
            row.nulls += 1
            if column.physicalType != ParquetEnum.byteArray { row.numbers.append(.nan) }
            return
        }
        switch page!.values {
        case .int32(let v): row.numbers.append(Double(v[valueIndex]))
        case .int64(let v): row.numbers.append(Double(v[valueIndex]))
        case .float(let v): row.numbers.append(Double(v[valueIndex]))
        case .double(let v): row.numbers.append(v[valueIndex])
        case .strings(let v): row.texts.append(v[valueIndex])
        }
        valueIndex += 1
    }
}
