/// The text column of a parquet file, row by row (`Document.index` is the 0-based row);
/// null rows are counted in the report and skipped.
final class ParquetDocumentReader: DocumentReader {
    let path: String
    let columns: ParquetColumnReader
    private var page: ParquetPageValues?
    private var position = 0

    init(path: String, column: String) throws {
        self.path = path
        let file = try ParquetFile(path: path)
        columns = ParquetColumnReader(file: file, column: try file.textColumn(named: column))
    }

    func next(report: inout CorpusReport) throws -> Document? {
        while true {
            if let page, position < page.texts.count {
                let k = position
                position += 1
                guard let text = page.texts[k] else { report.nullTexts += 1; continue }
                return Document(text: text, source: path, index: page.firstRow + k)
            }
            page = nil
            guard let next = try columns.nextPage() else { return nil }
            page = next
            position = 0
        }
    }
}
