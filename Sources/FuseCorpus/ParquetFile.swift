import FuseFormats

/// Size limits that keep a corrupt parquet file from asking for huge buffers.
enum ParquetLimits {
    static let maxFooterBytes = 256 << 20
    static let maxPageBytes = 1 << 30
    static let maxPageHeaderBytes = 64 << 20
}

/// The text column chosen in a parquet file: its position among the leaf columns and whether
/// it may hold nulls (then each data page carries definition levels with maximum 1).
struct ParquetTextColumn {
    let name: String
    let leafIndex: Int
    let optional: Bool
}

/// A parquet file's footer, read and checked: magic at both ends, footer length inside the
/// file, FileMetaData decoded from the Thrift compact protocol. Pages are read later, one at a time.
final class ParquetFile {
    let path: String
    let file: InputFile
    let metadata: ParquetFileMetaData

    init(path: String) throws {
        self.path = path
        file = try InputFile(path: path)
        let size = file.size
        guard size >= 12 else {
            throw FormatError(file: path, "too small for a parquet file (\(size) bytes; needs PAR1 at both ends and a footer)")
        }
        let head = try file.read(offset: 0, count: 4, item: "header magic")
        guard head == Array("PAR1".utf8) else {
            throw FormatError(file: path, item: "header magic", "not a parquet file (does not start with PAR1)")
        }
        let tail = try file.read(offset: size - 8, count: 8, item: "footer")
        if tail[4..<8].elementsEqual("PARE".utf8) {
            throw FormatError(file: path, item: "footer", "encrypted parquet files are not supported")
        }
        guard tail[4..<8].elementsEqual("PAR1".utf8) else {
            throw FormatError(file: path, item: "footer magic", "file does not end with PAR1 (truncated or not parquet)")
        }
        let footerLength = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard footerLength <= size - 12 else {
            throw FormatError(file: path, item: "footer",
                              "footer length \(footerLength) reaches past the start of the file (\(size) bytes)")
        }
        guard footerLength <= ParquetLimits.maxFooterBytes else {
            throw FormatError(file: path, item: "footer", "footer of \(footerLength) bytes exceeds the \(ParquetLimits.maxFooterBytes)-byte limit")
        }
        let footer = try file.read(offset: size - 8 - footerLength, count: footerLength, item: "footer")
        do {
            metadata = try footer.withUnsafeBytes { raw in
                var reader = ThriftReader(raw)
                return try ParquetFileMetaData(thrift: &reader)
            }
        } catch ThriftError.truncated {
            throw FormatError(file: path, item: "footer (FileMetaData)", "truncated Thrift data")
        } catch ThriftError.invalid(let why) {
            throw FormatError(file: path, item: "footer (FileMetaData)", "invalid Thrift data: \(why)")
        }
        guard metadata.numRows >= 0 else {
            throw FormatError(file: path, item: "footer", "negative row count \(metadata.numRows)")
        }
    }

    /// Finds the flat BYTE_ARRAY column `name` among the top-level fields; nested, repeated and
    /// non-byte-array columns are refused with the reason.
    func textColumn(named name: String) throws -> ParquetTextColumn {
        guard let column = try optionalTextColumn(named: name) else {
            let names = try topLevelFields().map(\.element.name).joined(separator: ", ")
            throw FormatError(file: path, item: "column '\(name)'", "no such column (columns: \(names))")
        }
        return column
    }

    /// `textColumn(named:)`, or nil when the file has no top-level column of that name (an optional
    /// column such as the domain is simply absent from some corpora).
    func optionalTextColumn(named name: String) throws -> ParquetTextColumn? {
        guard let found = try topLevelFields().first(where: { $0.element.name == name }) else { return nil }
        let e = found.element
        if e.numChildren > 0 {
            throw FormatError(file: path, item: "column '\(name)'",
                              "is a nested group (list or struct); only a flat text column can be read")
        }
        if e.repetition == ParquetEnum.repeated {
            throw FormatError(file: path, item: "column '\(name)'",
                              "is a repeated column; only a flat (required or optional) text column can be read")
        }
        guard e.type == ParquetEnum.byteArray else {
            throw FormatError(file: path, item: "column '\(name)'",
                              "has physical type \(e.type.map(ParquetEnum.typeName) ?? "none"); a text column is BYTE_ARRAY")
        }
        return ParquetTextColumn(name: name, leafIndex: found.firstLeaf, optional: e.repetition == ParquetEnum.optional)
    }

    /// The schema's top-level fields with the index of each one's first leaf column.
    private func topLevelFields() throws -> [(element: ParquetSchemaElement, firstLeaf: Int)] {
        let schema = metadata.schema
        guard let root = schema.first else { throw FormatError(file: path, item: "schema", "empty schema") }
        guard root.numChildren >= 0 else { throw FormatError(file: path, item: "schema", "negative child count") }
        var topLevel: [(element: ParquetSchemaElement, firstLeaf: Int)] = []
        var index = 1
        var leaves = 0
        for _ in 0..<Int(root.numChildren) {
            guard index < schema.count else {
                throw FormatError(file: path, item: "schema", "schema tree lists more children than elements")
            }
            let element = schema[index]
            topLevel.append((element, leaves))
            // Walk this child's subtree iteratively, counting its leaves.
            var pending = 1
            while pending > 0 {
                guard index < schema.count else {
                    throw FormatError(file: path, item: "schema", "schema tree lists more children than elements")
                }
                let e = schema[index]
                index += 1
                pending -= 1
                guard e.numChildren >= 0 else { throw FormatError(file: path, item: "schema", "negative child count") }
                if e.numChildren == 0 { leaves += 1 } else { pending += Int(e.numChildren) }
                guard pending <= schema.count else {
                    throw FormatError(file: path, item: "schema", "schema tree lists more children than elements")
                }
            }
        }
        return topLevel
    }

    /// Rows in the file (all row groups).
    var rowCount: Int { Int(metadata.numRows) }
}
