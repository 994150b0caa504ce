/// The parts of parquet's FileMetaData (parquet.thrift) that reading a column needs.
/// Unknown fields are skipped by type, so files from newer writers still read.
struct ParquetSchemaElement {
    var type: Int32?
    var typeLength: Int32?
    var repetition: Int32?
    var name = ""
    var numChildren: Int32 = 0
    var convertedType: Int32?
    /// Which member of the LogicalType union is set (15: FLOAT16), if any.
    var logicalType: Int16?
}

struct ParquetStatistics {
    var nullCount: Int64?
}

struct ParquetColumnMetaData {
    var type: Int32 = -1
    var encodings: [Int32] = []
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = -1
    var totalUncompressedSize: Int64 = -1
    var totalCompressedSize: Int64 = -1
    var dataPageOffset: Int64 = -1
    var dictionaryPageOffset: Int64?
    var statistics: ParquetStatistics?
}

struct ParquetColumnChunk {
    var filePath: String?
    var fileOffset: Int64 = 0
    var metaData: ParquetColumnMetaData?
}

struct ParquetRowGroup {
    var columns: [ParquetColumnChunk] = []
    var numRows: Int64 = -1
}

struct ParquetFileMetaData {
    var version: Int32 = 0
    var schema: [ParquetSchemaElement] = []
    var numRows: Int64 = -1
    var rowGroups: [ParquetRowGroup] = []
    var createdBy: String?
    var keyValues: [String: String] = [:]
}

enum ParquetEnum {
    static let int32: Int32 = 1, int64: Int32 = 2, float: Int32 = 4, double: Int32 = 5
    static let byteArray: Int32 = 6, fixedLenByteArray: Int32 = 7
    static let float16LogicalType: Int16 = 15
    static let required: Int32 = 0, optional: Int32 = 1, repeated: Int32 = 2

    static func typeName(_ t: Int32) -> String {
        let names = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"]
        return names.indices.contains(Int(t)) ? names[Int(t)] : "type \(t)"
    }

    static func codecName(_ c: Int32) -> String {
        let names = ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]
        return names.indices.contains(Int(c)) ? names[Int(c)] : "codec \(c)"
    }

    static func encodingName(_ e: Int32) -> String {
        let names = ["PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
                     "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"]
        return names.indices.contains(Int(e)) ? names[Int(e)] : "encoding \(e)"
    }
}

extension ParquetFileMetaData {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        var sawSchema = false, sawRows = false, sawGroups = false
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .i32): version = try r.i32()
            case (2, .list):
                schema = try r.readList(of: .structure) { try ParquetSchemaElement(thrift: &$0) }
                sawSchema = true
            case (3, .i64): numRows = try r.i64(); sawRows = true
            case (4, .list):
                rowGroups = try r.readList(of: .structure) { try ParquetRowGroup(thrift: &$0) }
                sawGroups = true
            case (5, .list):
                let pairs = try r.readList(of: .structure) { r -> (String, String) in
                    var key = "", value = ""
                    try r.readStruct { r, id, type in
                        switch (id, type) {
                        case (1, .binary): key = try r.string()
                        case (2, .binary): value = (try? r.string()) ?? ""
                        default: try r.skip(type)
                        }
                    }
                    return (key, value)
                }
                keyValues = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
            case (6, .binary): createdBy = try? r.string()
            default: try r.skip(type)
            }
        }
        guard sawSchema, sawRows, sawGroups else {
            throw ThriftError.invalid("FileMetaData lacks a required field (schema, num_rows or row_groups)")
        }
    }
}

extension ParquetSchemaElement {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .i32): self.type = try r.i32()
            case (2, .i32): typeLength = try r.i32()
            case (3, .i32): repetition = try r.i32()
            case (4, .binary): name = try r.string()
            case (5, .i32): numChildren = try r.i32()
            case (6, .i32): convertedType = try r.i32()
            case (10, .structure):
                try r.readStruct { r, member, type in
                    logicalType = member
                    try r.skip(type)
                }
            default: try r.skip(type)
            }
        }
    }
}

extension ParquetRowGroup {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .list): columns = try r.readList(of: .structure) { try ParquetColumnChunk(thrift: &$0) }
            case (3, .i64): numRows = try r.i64()
            default: try r.skip(type)
            }
        }
    }
}

extension ParquetColumnChunk {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .binary): filePath = try r.string()
            case (2, .i64): fileOffset = try r.i64()
            case (3, .structure): metaData = try ParquetColumnMetaData(thrift: &r)
            default: try r.skip(type)
            }
        }
    }
}

extension ParquetColumnMetaData {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .i32): self.type = try r.i32()
            case (2, .list): encodings = try r.readList(of: .i32) { try $0.i32() }
            case (3, .list): path = try r.readList(of: .binary) { try $0.string() }
            case (4, .i32): codec = try r.i32()
            case (5, .i64): numValues = try r.i64()
            case (6, .i64): totalUncompressedSize = try r.i64()
            case (7, .i64): totalCompressedSize = try r.i64()
            case (9, .i64): dataPageOffset = try r.i64()
            case (11, .i64): dictionaryPageOffset = try r.i64()
            case (12, .structure): statistics = try ParquetStatistics(thrift: &r)
            default: try r.skip(type)
            }
        }
    }
}

extension ParquetStatistics {
    init(thrift r: inout ThriftReader) throws {
        self.init()
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (3, .i64): nullCount = try r.i64()
            default: try r.skip(type)
            }
        }
    }
}

/// PageHeader and the per-type headers inside it.
struct ParquetPageHeader {
    enum Kind: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }
    var type: Int32 = -1
    var uncompressedSize: Int32 = -1
    var compressedSize: Int32 = -1
    // DATA_PAGE / DATA_PAGE_V2
    var numValues: Int32 = -1
    var encoding: Int32 = -1
    var definitionLevelEncoding: Int32 = 3
    var repetitionLevelEncoding: Int32 = 3
    // DATA_PAGE_V2
    var numNulls: Int32 = -1
    var numRows: Int32 = -1
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed = true
    var hasTypeHeader = false

    init(thrift r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch (id, type) {
            case (1, .i32): self.type = try r.i32()
            case (2, .i32): uncompressedSize = try r.i32()
            case (3, .i32): compressedSize = try r.i32()
            case (5, .structure):  // DataPageHeader
                hasTypeHeader = true
                try r.readStruct { r, id, type in
                    switch (id, type) {
                    case (1, .i32): numValues = try r.i32()
                    case (2, .i32): encoding = try r.i32()
                    case (3, .i32): definitionLevelEncoding = try r.i32()
                    case (4, .i32): repetitionLevelEncoding = try r.i32()
                    default: try r.skip(type)
                    }
                }
            case (7, .structure):  // DictionaryPageHeader
                hasTypeHeader = true
                try r.readStruct { r, id, type in
                    switch (id, type) {
                    case (1, .i32): numValues = try r.i32()
                    case (2, .i32): encoding = try r.i32()
                    default: try r.skip(type)
                    }
                }
            case (8, .structure):  // DataPageHeaderV2
                hasTypeHeader = true
                try r.readStruct { r, id, type in
                    switch (id, type) {
                    case (1, .i32): numValues = try r.i32()
                    case (2, .i32): numNulls = try r.i32()
                    case (3, .i32): numRows = try r.i32()
                    case (4, .i32): encoding = try r.i32()
                    case (5, .i32): definitionLevelsByteLength = try r.i32()
                    case (6, .i32): repetitionLevelsByteLength = try r.i32()
                    case (7, .boolTrue), (7, .boolFalse): isCompressed = ThriftReader.boolValue(type)
                    default: try r.skip(type)
                    }
                }
            default: try r.skip(type)
            }
        }
    }
}
