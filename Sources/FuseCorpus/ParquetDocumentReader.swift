/// The text column of a parquet file, row by row (`Document.index` is the 0-based row);
/// null rows are counted in the report and skipped. With a domain column, each document also takes that
/// row's domain: the domain column is read with its own page reader and kept in step by row number
/// (its pages need not start where the text column's do).
final class ParquetDocumentReader: DocumentReader {
    let path: String
    let columns: ParquetColumnReader
    private var page: ParquetPageValues?
    private var position = 0
    private let domains: ParquetColumnReader?
    private var domainPage: ParquetPageValues?

    init(path: String, column: String, domainColumn: String? = nil) throws {
        self.path = path
        let file = try ParquetFile(path: path)
        columns = ParquetColumnReader(file: file, column: try file.textColumn(named: column))
        domains = try domainColumn.flatMap { try file.optionalTextColumn(named: $0) }
            .map { ParquetColumnReader(file: file, column: $0) }
    }

    func next(report: inout CorpusReport) throws -> Document? {
        while true {
            if let page, position < page.texts.count {
                let k = position
                position += 1
                guard let text = page.texts[k] else { report.nullTexts += 1; continue }
                let row = page.firstRow + k
                return Document(text: text, source: path, index: row, domain: try domain(ofRow: row))
            }
            page = nil
            guard let next = try columns.nextPage() else { return nil }
            page = next
            position = 0
        }
    }

    /// Rows only move forward, so pages of the domain column are read once each.
    private func domain(ofRow row: Int) throws -> String? {
        guard let domains else { return nil }
        while true {
            if let p = domainPage, row < p.firstRow + p.texts.count {
                return row >= p.firstRow ? p.texts[row - p.firstRow] : nil
            }
            guard let next = try domains.nextPage() else { return nil }
            domainPage = next
        }
    }
}
