/// One text of a corpus, with where it came from (for block indexes and error messages).
public struct Document: Sendable, Equatable {
    public let text: String
    /// File the document was read from.
    public let source: String
    /// Row (parquet), line (JSON lines) or 0 (plain text) within `source`.
    public let index: Int

    public init(text: String, source: String, index: Int) {
        self.text = text
        self.source = source
        self.index = index
    }
}
