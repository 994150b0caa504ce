import FuseFormats
import FuseText
import Foundation

/// `fusellm dump verify`: reads a whole dump and lists every problem it finds instead of stopping at the first —
/// the manifest, each shard's size and SHA-256, every text's frame (zstd checksum) and record, the counts against
/// the manifest, the values' ranges (finite log-probabilities ≤ 0 in highest-first order, distinct ids inside the
/// source's vocabulary, a finite ce) and, given the prepared corpus, that the dump was made from it: the same
/// texts, each tokenized as the source tokenizes it.
public struct TeacherDumpVerifier {
    public struct Report {
        /// One line per problem: "FILE: problem".
        public var problems: [String] = []
        public var shards = 0
        public var texts = 0
        public var positions = 0
        public var bytes = 0
    }

    public let directory: URL
    public let prepared: PreparedCorpus?

    public init(directory: URL, prepared: PreparedCorpus? = nil) {
        self.directory = directory
        self.prepared = prepared
        olderDumpWithoutEOSName = !DumpTokenizerFile.namesEOS(directory)
    }

    /// An older dump's tokenizer_config.json does not name the source's EOS, so the token after a document's last
    /// text cannot be checked.
    private let olderDumpWithoutEOSName: Bool

    /// Log-probabilities may exceed 0 by Float32 rounding of the log-normaliser, never by more.
    static let logProbSlack: Float = 1e-4

    public func run() -> Report {
        var report = Report()
        func problem(_ file: String, _ text: String) { report.problems.append("\(directory.appendingPathComponent(file).path): \(text)") }
        let dump: TeacherDumpReader
        do { dump = try TeacherDumpReader(directory: directory) } catch {
            report.problems.append("\(error)")
            return report
        }
        let m = dump.manifest
        var tokenizer: BPETokenizer?
        do {
            tokenizer = try DumpTokenizerFile.load(directory)
            if tokenizer!.fingerprint != m.tokenizerFingerprint {
                problem("tokenizer.json", "fingerprint \(tokenizer!.fingerprint), the manifest says \(m.tokenizerFingerprint)")
            }
        } catch {
            report.problems.append("\(error)")
        }
        if let p = prepared {
            if m.blocksFingerprint != p.blocksFingerprint || m.blockCount != p.textCount {
                problem(TeacherDump.manifestName, "made from other prepared texts (\(m.blockCount) texts, blocks "
                        + "\(m.blocksFingerprint.prefix(12))) than \(p.directory.path) (\(p.textCount) texts, blocks \(p.blocksFingerprint.prefix(12)))")
            }
        }
        let listed = Set(m.shards.map(\.file))
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in files.sorted() where name.hasPrefix("shard-") && name.hasSuffix(".fzst") && !listed.contains(name) {
            problem(name, "a shard file manifest.json does not list")
        }
        for shard in m.shards {
            report.shards += 1
            verify(shard, of: m, vocabulary: tokenizer, into: &report)
        }
        return report
    }

    private func verify(_ shard: TeacherManifest.Shard, of m: TeacherManifest, vocabulary tokenizer: BPETokenizer?,
                        into report: inout Report) {
        let url = directory.appendingPathComponent(shard.file)
        func problem(_ text: String) { report.problems.append("\(url.path): \(text)") }
        guard FileManager.default.fileExists(atPath: url.path) else { return problem("missing (listed in manifest.json)") }
        let reader: TeacherShard.Reader
        do { reader = try TeacherShard.Reader(url: url) } catch { return problem("\(problemText(error))") }
        report.bytes += reader.data.count
        if reader.data.count != shard.bytes { problem("\(reader.data.count) bytes, the manifest says \(shard.bytes)") }
        if Checksum.sha256(reader.data) != shard.sha256 { problem("SHA-256 differs from manifest.json: the file changed or is corrupt") }
        let range = m.blockRange(ofShard: shard.index)
        if reader.blockCount != range.count || shard.firstBlock != range.lowerBound || shard.blockCount != range.count {
            problem("holds \(reader.blockCount) texts from \(shard.firstBlock), expected texts \(range.lowerBound)..<\(range.upperBound)")
        }
        var positions = 0
        for i in 0..<min(reader.blockCount, range.count) {
            let id = range.lowerBound + i
            let text: TeacherText
            do { text = try reader.block(at: i, encoding: m.valueEncoding) } catch {
                problem("text \(id): \(problemText(error))")
                continue
            }
            report.texts += 1
            positions += text.tokens.count
            for issue in Self.problems(in: text, id: id, k: m.k, vocabulary: tokenizer?.vocabSize) { problem("text \(id): \(issue)") }
            if let p = prepared, let tokenizer, m.blocksFingerprint == p.blocksFingerprint, id < p.textCount {
                if let expected = try? p.sourceTokens(ofText: id, tokenizer: tokenizer), expected != text.tokens,
                   !(olderDumpWithoutEOSName && (try? p.endsDocument(id)) == true && expected.count == text.tokens.count
                     && expected.dropLast() == text.tokens.dropLast()) {
                    problem("text \(id): \(text.tokens.count) tokens that are not the source tokenizer's \(expected.count) tokens of "
                            + "prepared text \(id)")
                }
            }
        }
        report.positions += positions
        if positions != shard.positions { problem("\(positions) positions, the manifest says \(shard.positions)") }
    }

    /// What is wrong with one text's values, one line per kind of problem (with a count and an example).
    static func problems(in t: TeacherText, id: Int, k: Int, vocabulary: Int?) -> [String] {
        var found: [String] = []
        var counts: [String: (count: Int, example: String)] = [:]
        func note(_ kind: String, _ example: @autoclosure () -> String) {
            if let c = counts[kind] { counts[kind] = (c.count + 1, c.example) } else { counts[kind] = (1, example()) }
        }
        if t.textID != id { found.append("the record says text \(t.textID)") }
        if t.k != k { found.append("k = \(t.k), the manifest says \(k)") }
        if !t.ceSum.isFinite || t.ceSum < 0 || t.ceCount > t.tokens.count { found.append("ce sum \(t.ceSum) over \(t.ceCount) positions of \(t.tokens.count)") }
        let vocab = vocabulary ?? Int(Int32.max)
        for (p, token) in t.tokens.enumerated() where token < 0 || Int(token) >= vocab {
            note("token outside the vocabulary", "position \(p): \(token) ∉ 0..<\(vocab)")
        }
        for p in 0..<t.tokens.count {
            var seen = Set<Int32>()
            for j in 0..<t.k {
                let i = p * t.k + j
                let id = t.topIDs[i], v = t.topLogProbs[i]
                if id < 0 || Int(id) >= vocab { note("id outside the vocabulary", "position \(p) rank \(j): \(id) ∉ 0..<\(vocab)") }
                if !seen.insert(id).inserted { note("repeated id", "position \(p): \(id)") }
                if !v.isFinite { note("non-finite log-probability", "position \(p) rank \(j): \(v)") }
                if v > logProbSlack { note("log-probability above 0", "position \(p) rank \(j): \(v)") }
                if j > 0, v > t.topLogProbs[i - 1] { note("entries not in highest-first order", "position \(p) ranks \(j - 1), \(j)") }
            }
        }
        for (kind, c) in counts.sorted(by: { $0.key < $1.key }) { found.append("\(c.count) × \(kind) (first: \(c.example))") }
        return found
    }

    /// An error about this shard without the file name the line already starts with.
    private func problemText(_ error: Error) -> String {
        guard let e = error as? FormatError else { return "\(error)" }
        return (e.item.map { "\($0): " } ?? "") + e.problem
    }
}
