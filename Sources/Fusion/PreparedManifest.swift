import FuseFormats
import Foundation

/// `prepared.json`: how a corpus was prepared (settings, checked on resume and by every later stage) and,
/// once `complete`, what came out (chunk files with checksums, the block index, counts, fingerprints).
///
/// It is written first with `complete: false` (so a resumed run can check it is continuing the same job)
/// and rewritten when the index is done. Everything in it is deterministic: the same corpus, tokenizers
/// and options give the same bytes.
public struct PreparedManifest: Codable, Equatable, Sendable {
    public static let formatName = "fusellm-prepared/1"
    public static let fileName = "prepared.json"

    public struct Tokenizer: Codable, Equatable, Sendable {
        /// Path as the user gave it (informative; fingerprints decide whether two tokenizers are the same).
        public var source: String
        public var fingerprint: String
        public var vocabSize: Int
        public var eosId: Int?
    }

    public struct CorpusFile: Codable, Equatable, Sendable {
        public var path: String
        public var format: String
        public var bytes: Int
    }

    /// Everything that decides the output. A resumed run must have the same settings.
    public struct Settings: Codable, Equatable, Sendable {
        public var target: Tokenizer
        /// The sources' tokenizers, used only for the cutting rule (a document is cut by whichever tokenizer
        /// gives it the most tokens).
        public var alsoTokenizers: [Tokenizer]
        public var blockSize: Int
        public var maxTextTokens: Int
        public var textsPerChunk: Int
        /// Bytes per stored target token id: 2 when the target vocabulary fits in 16 bits, else 4.
        public var tokenBytes: Int
        public var textField: String
        public var domainField: String?
        public var limitDocuments: Int?
        public var corpus: [CorpusFile]

        /// The first setting that differs, for a refusal that says what changed.
        func firstDifference(from other: Settings) -> String? {
            func strip(_ t: Tokenizer) -> Tokenizer { var t = t; t.source = ""; return t }
            if strip(target) != strip(other.target) { return "target tokenizer (\(other.target.fingerprint) → \(target.fingerprint))" }
            if alsoTokenizers.map(strip) != other.alsoTokenizers.map(strip) { return "--also-tokenizer list" }
            if blockSize != other.blockSize { return "block size (\(other.blockSize) → \(blockSize))" }
            if maxTextTokens != other.maxTextTokens { return "max text tokens (\(other.maxTextTokens) → \(maxTextTokens))" }
            if textsPerChunk != other.textsPerChunk { return "texts per chunk (\(other.textsPerChunk) → \(textsPerChunk))" }
            if tokenBytes != other.tokenBytes { return "token width" }
            if textField != other.textField { return "text field (\(other.textField) → \(textField))" }
            if domainField != other.domainField { return "domain field" }
            if limitDocuments != other.limitDocuments { return "document limit" }
            if corpus != other.corpus { return "corpus files (paths or sizes)" }
            return nil
        }
    }

    public struct Chunk: Codable, Equatable, Sendable {
        public var file: String
        public var texts: Int
        public var tokens: Int
        public var bytes: Int
        public var sha256: String
    }

    public struct IndexFile: Codable, Equatable, Sendable {
        public var file: String
        public var bytes: Int
        public var sha256: String
    }

    public struct Counts: Codable, Equatable, Sendable {
        /// Documents read from the corpus (after --limit-documents), empty ones included.
        public var documents: Int
        /// Documents with no text: skipped (they would be a lone EOS).
        public var emptyDocuments: Int
        /// Documents cut into several texts by the --max-text-tokens rule.
        public var splitDocuments: Int
        public var texts: Int
        /// Target tokens of all texts, EOS included.
        public var tokens: Int
        public var blocks: Int
        /// Tokens after the last whole block (dropped, as HF group_texts does).
        public var droppedTailTokens: Int
    }

    public struct Domain: Codable, Equatable, Sendable {
        public var name: String
        public var documents: Int
        public var texts: Int
        public var tokens: Int
    }

    public var format = PreparedManifest.formatName
    public var complete = false
    public var settings: Settings
    public var chunks: [Chunk] = []
    public var index: IndexFile?
    public var counts: Counts?
    public var domains: [Domain]?
    /// SHA-256 over every text's target tokens (count, then ids as u32 LE): the `blocks_fingerprint` a teacher
    /// dump records and is checked against. The block size is deliberately left out: a dump is made per text,
    /// so re-cutting the same texts into other blocks keeps every dump valid.
    public var blocksFingerprint: String?

    public init(settings: Settings) {
        self.settings = settings
    }

    static func chunkFileName(_ c: Int) -> String { String(format: "texts-%06d.bin", c) }
    static let indexFileName = "index.bin"

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    public func write(to url: URL) throws {
        try AtomicFile.write(try Self.encoder.encode(self), to: url)
    }

    public static func read(_ url: URL) throws -> PreparedManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read the prepared corpus manifest (\(FormatError.reason(error)))")
        }
        let m: PreparedManifest
        do { m = try TeacherManifest.decoder.decode(PreparedManifest.self, from: data) } catch {
            throw FormatError(url: url, "not a fusellm prepared-corpus manifest (\(error))")
        }
        guard m.format == formatName else {
            throw FormatError(url: url, item: "format", "\(m.format) is not \(formatName)")
        }
        let s = m.settings
        guard s.blockSize > 0, s.maxTextTokens > 0, s.textsPerChunk > 0, s.tokenBytes == 2 || s.tokenBytes == 4 else {
            throw FormatError(url: url, item: "settings", "block size, max text tokens and texts per chunk must be positive, token bytes 2 or 4")
        }
        return m
    }
}
