import FuseFormats
import Foundation

/// A directory of one source's teacher distributions: shard files plus `manifest.json`.
///
/// Several machines share a dump with `--shard i/n`: worker i writes the shards s with s % n == i into the
/// same directory (or its own, joined later by `merge`) and, when done, `manifest.part-i-of-n.json`.
/// Readers take `manifest.json`, or join the part manifests when all parts are there.
public enum TeacherDump {
    public static let manifestName = "manifest.json"

    /// The value encoding a (possibly unfinished) dump in `directory` was begun with, if any.
    public static func recordedEncoding(in directory: URL) -> ValueEncoding? { DumpSettingsFile.recordedEncoding(in: directory) }

    static func partManifestName(part: Int, of parts: Int) -> String { "manifest.part-\(part)-of-\(parts).json" }

    /// The shards worker `part` of `parts` is responsible for.
    public static func shards(of manifest: TeacherManifest, part: Int, of parts: Int) -> [Int] {
        (0..<manifest.shardCount).filter { $0 % parts == part }
    }

    /// Shards already written (complete files) among `wanted`: a resumed dump skips them.
    public static func completedShards(in directory: URL, among wanted: [Int]) -> Set<Int> {
        Set(wanted.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent(TeacherManifest.shardFileName($0)).path) })
    }

    /// Records a finished worker: checks and hashes its shards and writes its part manifest
    /// (`manifest.json` itself when there is one part).
    public static func finishPart(_ settings: TeacherManifest, directory: URL, part: Int, of parts: Int) throws {
        var m = settings
        m.shards = try shards(of: settings, part: part, of: parts).map { try describeShard($0, of: settings, in: directory) }
        let name = parts == 1 ? manifestName : partManifestName(part: part, of: parts)
        try m.write(to: directory.appendingPathComponent(name))
    }

    static func describeShard(_ s: Int, of m: TeacherManifest, in directory: URL) throws -> TeacherManifest.Shard {
        let url = directory.appendingPathComponent(TeacherManifest.shardFileName(s))
        let reader = try TeacherShard.Reader(url: url)
        let range = m.blockRange(ofShard: s)
        guard reader.blockCount == range.count else {
            throw FormatError(url: url, "holds \(reader.blockCount) blocks, expected \(range.count)")
        }
        var positions = 0
        for i in 0..<reader.blockCount {
            let b = try reader.block(at: i, encoding: m.valueEncoding)
            guard b.textID == range.lowerBound + i, b.k == m.k else {
                throw FormatError(url: url, item: "text \(i)", "is text \(b.textID) with k=\(b.k), expected text \(range.lowerBound + i) with k=\(m.k)")
            }
            positions += b.tokens.count
        }
        return .init(index: s, file: url.lastPathComponent, firstBlock: range.lowerBound, blockCount: range.count,
                     positions: positions, bytes: reader.data.count, sha256: Checksum.sha256(reader.data))
    }

    /// Joins the part manifests of `directories` (shard files are moved into `output` when it differs)
    /// and writes `output/manifest.json`. Refuses parts made with other settings and missing shards.
    public static func merge(_ directories: [URL], into output: URL) throws -> TeacherManifest {
        var joined: TeacherManifest?
        var shards: [Int: (TeacherManifest.Shard, URL)] = [:]
        for dir in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            let manifests = files.filter { $0 == manifestName || ($0.hasPrefix("manifest.part-") && $0.hasSuffix(".json")) }.sorted()
            guard !manifests.isEmpty else {
                let shards = files.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".fzst") }.count
                throw FormatError(url: dir, "no dump manifest: the dump has not finished (\(shards) shard file\(shards == 1 ? "" : "s") written); "
                                  + "run the same fusellm dump again to complete it")
            }
            for name in manifests {
                let url = dir.appendingPathComponent(name)
                let m = try TeacherManifest.read(url)
                if let j = joined, !j.sameSettings(as: m) {
                    throw FormatError(url: url, "was made with other settings (source, tokenizer, blocks, k or encoding) than the other parts")
                }
                joined = joined ?? m
                for s in m.shards { shards[s.index] = (s, dir) }
            }
        }
        guard var result = joined else { throw FormatError(url: output, "nothing to merge") }
        let missing = (0..<result.shardCount).filter { shards[$0] == nil }
        guard missing.isEmpty else {
            throw FormatError(url: output, "\(missing.count) of \(result.shardCount) shards are missing (first: \(TeacherManifest.shardFileName(missing[0]))); run the remaining --shard parts")
        }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        for (_, (s, dir)) in shards where dir.standardizedFileURL != output.standardizedFileURL {
            let target = output.appendingPathComponent(s.file)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: dir.appendingPathComponent(s.file), to: target)
        }
        result.shards = (0..<result.shardCount).map { shards[$0]!.0 }
        try result.write(to: output.appendingPathComponent(manifestName))
        return result
    }
}

/// Reads blocks of a finished dump.
public final class TeacherDumpReader {
    public let directory: URL
    public let manifest: TeacherManifest
    private var readers: [Int: TeacherShard.Reader] = [:]
    private let lock = NSLock()

    public init(directory: URL) throws {
        self.directory = directory
        let url = directory.appendingPathComponent(TeacherDump.manifestName)
        if FileManager.default.fileExists(atPath: url.path) {
            manifest = try TeacherManifest.read(url)
        } else {
            manifest = try TeacherDump.merge([directory], into: directory)
        }
        guard manifest.shards.count == manifest.shardCount,
              manifest.shards.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
            throw FormatError(url: url, item: "shards", "does not list shards 0..<\(manifest.shardCount) in order")
        }
    }

    /// Checks that the dump was made from the blocks and with the tokenizer this run uses.
    public func check(tokenizerFingerprint: String, blocksFingerprint: String, blockCount: Int) throws {
        let url = directory.appendingPathComponent(TeacherDump.manifestName)
        guard manifest.tokenizerFingerprint == tokenizerFingerprint else {
            throw FormatError(url: url, item: "tokenizer_fingerprint", "the dump was made with another tokenizer than \(manifest.source)'s current one")
        }
        guard manifest.blocksFingerprint == blocksFingerprint else {
            throw FormatError(url: url, item: "blocks_fingerprint", "the dump was made from other blocks (\(manifest.blockCount) texts) than this run's (\(blockCount) texts); re-run fusellm dump")
        }
        guard manifest.blockCount == blockCount else {
            throw FormatError(url: url, item: "block_count", "the dump covers \(manifest.blockCount) texts, the prepared corpus has \(blockCount); re-run fusellm dump")
        }
    }

    /// Checks that the dump saw BOS before every text exactly when its source asks for one (`wanted`).
    public func check(bosPrepended wanted: Bool) throws {
        let made = manifest.bosPrepended ?? false
        guard made == wanted else {
            throw FormatError(url: directory.appendingPathComponent(TeacherDump.manifestName), item: "bos_prepended",
                              "the dump was made \(made ? "with" : "without") BOS before each text, but its source \(manifest.source) "
                              + "asks for \(wanted ? "one" : "none") (tokenizer_config.json beside the dump); re-run fusellm dump")
        }
    }

    public func block(_ id: Int) throws -> TeacherText {
        guard id >= 0, id < manifest.blockCount else {
            throw FormatError(url: directory, item: "block \(id)", "out of range (the dump has \(manifest.blockCount) blocks)")
        }
        let s = id / manifest.blocksPerShard
        let reader = try shardReader(s)
        let b = try reader.block(at: id - s * manifest.blocksPerShard, encoding: manifest.valueEncoding)
        guard b.textID == id else {
            throw FormatError(url: reader.url, item: "text \(id)", "the frame holds text \(b.textID)")
        }
        return b
    }

    private func shardReader(_ s: Int) throws -> TeacherShard.Reader {
        lock.lock()
        defer { lock.unlock() }
        if let r = readers[s] { return r }
        let r = try TeacherShard.Reader(url: directory.appendingPathComponent(manifest.shards[s].file))
        guard r.data.count == manifest.shards[s].bytes else {
            throw FormatError(url: r.url, "is \(r.data.count) bytes, the manifest says \(manifest.shards[s].bytes): changed since the dump")
        }
        readers[s] = r
        return r
    }

    /// Recomputes every shard's SHA-256 against the manifest.
    public func verify() throws {
        for s in manifest.shards {
            let url = directory.appendingPathComponent(s.file)
            let data: Data
            do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
                throw FormatError(url: url, "cannot read (\(FormatError.reason(error)))")
            }
            guard Checksum.sha256(data) == s.sha256 else {
                throw FormatError(url: url, "SHA-256 checksum mismatch with manifest.json: the shard is corrupt")
            }
        }
    }
}
