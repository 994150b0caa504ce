import FuseFormats

/// Size limits that keep a corrupt parquet file from asking for huge buffers.
enum ParquetLimits {
    static let maxFooterBytes = 256 << 20
    static let maxPageBytes = 1 << 30
    static let maxPageHeaderBytes = 64 << 20
}

/// One leaf column of a parquet file, a top-level field with a single leaf (a flat column, or lists of lists of
/// a primitive): where its chunks are, its physical type and its Dremel levels.
struct ParquetLeafColumn {
    /// The top-level field, and the leaf's path_in_schema.
    let name: String
    let path: [String]
    let leafIndex: Int
    let physicalType: Int32
    let typeLength: Int
    /// FIXED_LEN_BYTE_ARRAY(2) with the FLOAT16 logical type: read as Float.
    let isFloat16: Bool
    let maxDefinition: Int
    let maxRepetition: Int
    /// Per repeated node, outermost first: the definition level at which its list is present (not null), and the
    /// one at which it has an element.
    let lists: [(present: Int, element: Int)]

    /// A flat column that may hold nulls (each data page then carries definition levels with maximum 1).
    var optional: Bool { maxDefinition > 0 }
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
    func textColumn(named name: String) throws -> ParquetLeafColumn {
        guard let column = try optionalTextColumn(named: name) else {
            let names = try topLevelFields().map(\.element.name).joined(separator: ", ")
            throw FormatError(file: path, item: "column '\(name)'", "no such column (columns: \(names))")
        }
        return column
    }

    /// `textColumn(named:)`, or nil when the file has no top-level column of that name (an optional
    /// column such as the domain is simply absent from some corpora).
    func optionalTextColumn(named name: String) throws -> ParquetLeafColumn? {
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
        return try leafColumn(named: name)!
    }

    /// The top-level field `name` as a leaf column (nil when there is none), following its single chain of groups
    /// (the LIST layout) down to the leaf; a field with several leaves (a struct) is refused.
    func leafColumn(named name: String) throws -> ParquetLeafColumn? {
        guard let found = try topLevelFields().first(where: { $0.element.name == name }) else { return nil }
        let schema = metadata.schema
        var index = found.schemaIndex
        var path: [String] = [], definition = 0, repetition = 0
        var lists: [(present: Int, element: Int)] = []
        while true {
            let e = schema[index]
            if index != found.schemaIndex { path.append(e.name) } else { path.append(name) }
            switch e.repetition {
            case ParquetEnum.optional?: definition += 1
            case ParquetEnum.repeated?:
                definition += 1
                repetition += 1
                lists.append((definition - 1, definition))
            default: break
            }
            if e.numChildren == 0 { break }
            guard e.numChildren == 1 else {
                throw FormatError(file: self.path, item: "column '\(name)'",
                                  "is a struct of \(e.numChildren) fields; only lists of a single value type can be read")
            }
            index += 1
            guard index < schema.count else { throw FormatError(file: self.path, item: "schema", "schema tree lists more children than elements") }
        }
        let leaf = schema[index]
        guard let type = leaf.type else {
            throw FormatError(file: self.path, item: "column '\(name)'", "leaf '\(leaf.name)' has no physical type")
        }
        return ParquetLeafColumn(name: name, path: path, leafIndex: found.firstLeaf, physicalType: type,
                                 typeLength: Int(leaf.typeLength ?? 0),
                                 isFloat16: type == ParquetEnum.fixedLenByteArray && leaf.typeLength == 2
                                    && leaf.logicalType == ParquetEnum.float16LogicalType,
                                 maxDefinition: definition, maxRepetition: repetition, lists: lists)
    }

    /// The names of the top-level fields.
    func columnNames() throws -> [String] { try topLevelFields().map(\.element.name) }

    /// The schema's top-level fields with their schema index and the index of each one's first leaf column.
    private func topLevelFields() throws -> [(element: ParquetSchemaElement, schemaIndex: Int, firstLeaf: Int)] {
        let schema = metadata.schema
        guard let root = schema.first else { throw FormatError(file: path, item: "schema", "empty schema") }
        guard root.numChildren >= 0 else { throw FormatError(file: path, item: "schema", "negative child count") }
        var topLevel: [(element: ParquetSchemaElement, schemaIndex: Int, firstLeaf: Int)] = []
        var index = 1
        var leaves = 0
        for _ in 0..<Int(root.numChildren) {
            guard index < schema.count else {
                throw FormatError(file: path, item: "schema", "schema tree lists more children than elements")
            }
            let element = schema[index]
            topLevel.append((element, index, leaves))
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
