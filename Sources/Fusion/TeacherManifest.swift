import FuseFormats
import Foundation

/// `manifest.json` of a teacher dump: what made it, how values are stored, and its shards.
/// A dump covers blocks [0, blockCount) cut in shards of `blocksPerShard`; shard s holds blocks
/// [s·blocksPerShard, min((s+1)·blocksPerShard, blockCount)).
public struct TeacherManifest: Codable, Equatable, Sendable {
    public struct Shard: Codable, Equatable, Sendable {
        public let index: Int
        public let file: String
        public let firstBlock: Int
        public let blockCount: Int
        /// Source tokens (positions) in the shard.
        public let positions: Int
        public let bytes: Int
        public let sha256: String
    }

    public static let formatName = "fusellm-teacher-dump/1"
    public var format = TeacherManifest.formatName
    /// The source model as the user named it, and a fingerprint of its weights file(s).
    public var source: String
    public var tokenizerFingerprint: String
    /// Fingerprint of the block index (fusellm prepare) the blocks come from.
    public var blocksFingerprint: String
    public var k: Int
    public var valueEncoding: ValueEncoding
    public var blockCount: Int
    public var blocksPerShard: Int
    /// The source saw its BOS before every text (Gemma); its rows are still one per text token. Absent: no BOS.
    public var bosPrepended: Bool?
    public var shards: [Shard]

    public init(source: String, tokenizerFingerprint: String, blocksFingerprint: String, k: Int,
                valueEncoding: ValueEncoding, blockCount: Int, blocksPerShard: Int, bosPrepended: Bool = false,
                shards: [Shard] = []) {
        self.source = source
        self.tokenizerFingerprint = tokenizerFingerprint
        self.blocksFingerprint = blocksFingerprint
        self.k = k
        self.valueEncoding = valueEncoding
        self.blockCount = blockCount
        self.blocksPerShard = blocksPerShard
        self.bosPrepended = bosPrepended ? true : nil
        self.shards = shards
    }

    public var shardCount: Int { (blockCount + blocksPerShard - 1) / blocksPerShard }

    public func blockRange(ofShard s: Int) -> Range<Int> {
        (s * blocksPerShard)..<min((s + 1) * blocksPerShard, blockCount)
    }

    /// The same dump settings (everything but the shard list).
    public func sameSettings(as other: TeacherManifest) -> Bool {
        var a = self, b = other
        a.shards = []
        b.shards = []
        return a == b
    }

    static func shardFileName(_ s: Int) -> String { String(format: "shard-%06d.fzst", s) }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    public func write(to url: URL) throws {
        try AtomicFile.write(try Self.encoder.encode(self), to: url)
    }

    public static func read(_ url: URL) throws -> TeacherManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read dump manifest (\(FormatError.reason(error)))")
        }
        let m: TeacherManifest
        do { m = try decoder.decode(TeacherManifest.self, from: data) } catch {
            throw FormatError(url: url, "not a fusellm dump manifest (\(error))")
        }
        guard m.format == formatName else {
            throw FormatError(url: url, item: "format", "\(m.format) is not \(formatName)")
        }
        guard m.k > 0, m.blocksPerShard > 0, m.blockCount >= 0 else {
            throw FormatError(url: url, "k, blocks_per_shard and block_count must be positive")
        }
        return m
    }
}
