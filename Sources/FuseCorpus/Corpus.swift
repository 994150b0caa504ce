import FuseFormats

/// A text corpus made of files in any of the supported formats (parquet, JSON lines, zstd JSON
/// lines, plain text), given as files, directories (searched recursively) and glob patterns.
/// Documents come out in a deterministic order: the paths in the order given, each directory or
/// pattern sorted by path, and within a file in file order. Every reader streams: memory stays
/// bounded by one parquet page or one line, whatever the corpus size.
///
/// ```swift
/// let corpus = try Corpus(paths: ["data/minipile/train-*.parquet"])
/// let stream = try corpus.documents()
/// while let doc = try stream.next() { … }
/// print(stream.report.nullTexts, stream.report.skippedLines)
/// ```
public struct Corpus: Sendable {
    public let files: [CorpusFile]
    /// The parquet column or JSON key holding the text.
    public let textField: String
    public let invalidLines: InvalidLinePolicy
    /// Where a document's domain is read (`Document.domain`): a parquet column, or a JSON-lines key with
    /// dots descending into objects (`meta.pile_set_name` for the Pile). nil: no domains are read. A file
    /// without that column or key gives documents without a domain.
    public let domainField: String?
    /// Longest accepted JSON line or text file (a larger one is an error, not an allocation).
    public let maxDocumentBytes: Int

    public static let defaultMaxDocumentBytes = 256 << 20

    public init(paths: [String], textField: String = "text", invalidLines: InvalidLinePolicy = .stop,
                maxDocumentBytes: Int = Corpus.defaultMaxDocumentBytes, domainField: String? = nil) throws {
        guard !paths.isEmpty else { throw FormatError(file: "<corpus>", "no corpus paths given") }
        try self.init(files: CorpusPaths.expand(paths), textField: textField, invalidLines: invalidLines,
                      maxDocumentBytes: maxDocumentBytes, domainField: domainField)
    }

    public init(files: [CorpusFile], textField: String = "text", invalidLines: InvalidLinePolicy = .stop,
                maxDocumentBytes: Int = Corpus.defaultMaxDocumentBytes, domainField: String? = nil) throws {
        guard maxDocumentBytes > 0 else { throw FormatError(file: "<corpus>", "maxDocumentBytes must be positive") }
        if let domainField, domainField.isEmpty || domainField.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw FormatError(file: "<corpus>", item: "domain field", "'\(domainField)' is not a field name or dotted path")
        }
        self.files = files
        self.textField = textField
        self.invalidLines = invalidLines
        self.maxDocumentBytes = maxDocumentBytes
        self.domainField = domainField
    }

    var options: ReaderOptions {
        ReaderOptions(textField: textField, invalidLines: invalidLines, maxDocumentBytes: maxDocumentBytes,
                      domainField: domainField)
    }

    /// A new pass over all documents, from the first file.
    public func documents() throws -> DocumentStream {
        DocumentStream(files: files, options: options)
    }

    /// The number of documents a pass yields. Parquet files answer from their metadata (row
    /// counts less the null counts in the column statistics; a column without statistics is
    /// scanned); text files count one each; JSON lines are read through (with the corpus's
    /// invalid-line policy).
    public func count() throws -> Int {
        var total = 0
        for file in files {
            total += try count(file)
        }
        return total
    }

    /// Documents in one file (see `count()`).
    public func count(_ file: CorpusFile) throws -> Int {
        switch file.format {
        case .text: return 1
        case .parquet:
            let parquet = try ParquetFile(path: file.path)
            let column = try parquet.textColumn(named: textField)
            if !column.optional { return parquet.rowCount }
            var nulls = 0
            for group in parquet.metadata.rowGroups {
                guard column.leafIndex < group.columns.count,
                      let n = group.columns[column.leafIndex].metaData?.statistics?.nullCount, n >= 0 else {
                    return try scan(file)
                }
                nulls += Int(n)
            }
            return parquet.rowCount - nulls
        case .jsonLines, .zstdJSONLines:
            return try scan(file)
        }
    }

    private func scan(_ file: CorpusFile) throws -> Int {
        let reader = try options.makeReader(for: file)
        var report = CorpusReport()
        var n = 0
        while try reader.next(report: &report) != nil { n += 1 }
        return n
    }
}
