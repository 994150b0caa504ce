/// The file formats a corpus can hold, chosen by file name.
public enum CorpusFormat: String, Sendable, CaseIterable {
    /// `.parquet`: a text column, read page by page.
    case parquet
    /// `.jsonl`, `.json`, `.ndjson`: one JSON object per line.
    case jsonLines
    /// `.jsonl.zst`, `.json.zst`, `.ndjson.zst`: JSON lines in a zstd stream (the Pile's format).
    case zstdJSONLines
    /// `.txt`: the whole file is one document.
    case text

    /// The format for a file name, or nil when the name ends in none of the known extensions.
    public init?(fileName: String) {
        let name = fileName.lowercased()
        if name.hasSuffix(".parquet") { self = .parquet }
        else if name.hasSuffix(".jsonl.zst") || name.hasSuffix(".json.zst") || name.hasSuffix(".ndjson.zst") {
            self = .zstdJSONLines
        } else if name.hasSuffix(".jsonl") || name.hasSuffix(".json") || name.hasSuffix(".ndjson") { self = .jsonLines }
        else if name.hasSuffix(".txt") { self = .text }
        else { return nil }
    }

    static let extensionsDescription = ".parquet, .jsonl, .json, .ndjson, .jsonl.zst, .json.zst, .ndjson.zst, .txt"
}

/// One file of a corpus and how it is read.
public struct CorpusFile: Sendable, Equatable {
    public let path: String
    public let format: CorpusFormat

    public init(path: String, format: CorpusFormat) {
        self.path = path
        self.format = format
    }
}
