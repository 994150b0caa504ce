import FuseFormats

/// A plain text file is one document (UTF-8, a leading byte-order mark removed; index 0).
final class TextDocumentReader: DocumentReader {
    let path: String
    private let maxBytes: Int
    private var done = false

    init(path: String, maxBytes: Int) {
        self.path = path
        self.maxBytes = maxBytes
    }

    func next(report: inout CorpusReport) throws -> Document? {
        guard !done else { return nil }
        done = true
        let file = try InputFile(path: path)
        guard file.size <= maxBytes else {
            throw FormatError(file: path, "text file of \(file.size) bytes exceeds the \(maxBytes)-byte limit for one document")
        }
        var bytes = try file.read(offset: 0, count: file.size, item: "text")
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let text = try bytes.withUnsafeBytes { raw -> String in
            guard let s = UTF8Text.string(raw) else {
                throw FormatError(file: path, item: "byte \(UTF8Text.firstInvalidOffset(raw) ?? 0)", "text is not valid UTF-8")
            }
            return s
        }
        return Document(text: text, source: path, index: 0)
    }
}
