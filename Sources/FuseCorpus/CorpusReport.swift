/// What a pass over a corpus skipped: null texts (parquet nulls, JSON `null`) and, under
/// `InvalidLinePolicy.skip`, invalid lines with their messages (the first `maxMessages` kept).
public struct CorpusReport: Sendable, Equatable {
    public static let maxMessages = 100
    public internal(set) var documents = 0
    public internal(set) var nullTexts = 0
    public internal(set) var skippedLines = 0
    /// "file: line N: problem" for the first skipped lines.
    public internal(set) var messages: [String] = []

    public init() {}

    mutating func skipped(_ message: String) {
        skippedLines += 1
        if messages.count < Self.maxMessages { messages.append(message) }
    }
}
