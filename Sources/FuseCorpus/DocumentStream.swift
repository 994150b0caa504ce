/// One pass over a corpus: `next()` gives the documents in order and nil at the end; files are
/// opened one at a time as the pass reaches them. Errors are `FormatError`s naming the file and
/// the row, line or page. After an error the pass is over: every later `next()` throws it again
/// (start a new pass with `Corpus.documents()`).
public final class DocumentStream {
    public let files: [CorpusFile]
    private let options: ReaderOptions
    private var fileIndex = -1
    private var reader: DocumentReader?
    /// What this pass has read and skipped so far.
    public private(set) var report = CorpusReport()
    private var failure: Error?

    init(files: [CorpusFile], options: ReaderOptions) {
        self.files = files
        self.options = options
    }

    /// The file the last document came from (nil before the first).
    public var currentFile: CorpusFile? {
        files.indices.contains(fileIndex) ? files[fileIndex] : nil
    }

    public func next() throws -> Document? {
        if let failure { throw failure }
        do {
            return try advance()
        } catch {
            failure = error
            reader = nil
            throw error
        }
    }

    private func advance() throws -> Document? {
        while true {
            if let reader {
                if let doc = try reader.next(report: &report) {
                    report.documents += 1
                    return doc
                }
                self.reader = nil
            }
            fileIndex += 1
            guard fileIndex < files.count else {
                fileIndex = files.count
                return nil
            }
            reader = try options.makeReader(for: files[fileIndex])
        }
    }

    /// Reads the rest of the pass into an array (for small corpora and tests).
    public func collect() throws -> [Document] {
        var out: [Document] = []
        while let d = try next() { out.append(d) }
        return out
    }
}
