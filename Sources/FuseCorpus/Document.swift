/// One text of a corpus, with where it came from (for block indexes and error messages).
public struct Document: Sendable, Equatable {
    public let text: String
    /// File the document was read from.
    public let source: String
    /// Row (parquet), line (JSON lines) or 0 (plain text) within `source`.
    public let index: Int
    /// What kind of text it is, where the corpus says so (MiniPile-style `domain` column, the Pile's
    /// `meta.pile_set_name`; see `Corpus.domainField`); nil when it does not or when no field was asked for.
    public let domain: String?

    public init(text: String, source: String, index: Int, domain: String? = nil) {
        self.text = text
        self.source = source
        self.index = index
        self.domain = domain
    }
}
