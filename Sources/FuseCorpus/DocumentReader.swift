/// Reads the documents of one file in order.
protocol DocumentReader: AnyObject {
    func next(report: inout CorpusReport) throws -> Document?
}

/// Settings shared by the readers.
struct ReaderOptions {
    var textField: String
    var invalidLines: InvalidLinePolicy
    var maxDocumentBytes: Int
    var domainField: String? = nil

    func makeReader(for file: CorpusFile) throws -> DocumentReader {
        switch file.format {
        case .parquet: return try ParquetDocumentReader(path: file.path, column: textField, domainColumn: domainField)
        case .jsonLines: return try JSONLinesDocumentReader(path: file.path, compressed: false, options: self)
        case .zstdJSONLines: return try JSONLinesDocumentReader(path: file.path, compressed: true, options: self)
        case .text: return TextDocumentReader(path: file.path, maxBytes: maxDocumentBytes)
        }
    }
}
