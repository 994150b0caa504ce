import FuseFormats
import FuseText
import Foundation

/// A block of training tokens and the texts it is cut from.
public struct PreparedBlock: Equatable, Sendable {
    public let index: Int
    public let tokens: [Int32]
    /// The texts the block covers, in order, each with the range of its target tokens in the block.
    public let spans: [PreparedSpan]
}

public struct PreparedSpan: Equatable, Sendable {
    public let text: Int
    public let tokens: Range<Int>
}

/// Reads a directory written by `fusellm prepare` (`PreparedCorpusWriter`): texts with their target tokens and
/// domains, and blocks with the texts they span. Chunks are memory-mapped when first touched; safe to use
/// from several threads.
public final class PreparedCorpus: BlockLayout, @unchecked Sendable {
    public let directory: URL
    public let manifest: PreparedManifest
    private let index: PreparedIndex.Reader
    private var chunks: [Int: PreparedTextChunk.Reader] = [:]
    private let lock = NSLock()

    public var blockSize: Int { manifest.settings.blockSize }
    public var blockCount: Int { index.blockCount }
    public var textCount: Int { index.textCount }
    /// Target tokens of all texts (EOS included), the dropped tail too.
    public var tokenCount: Int { index.tokenCount }
    public var targetTokenizerFingerprint: String { manifest.settings.target.fingerprint }
    /// The EOS id closing every document's last text.
    public var targetEOS: Int32? { manifest.settings.target.eosId.map { Int32($0) } }
    /// What teacher dumps are keyed on (see `PreparedManifest.blocksFingerprint`).
    public var blocksFingerprint: String { manifest.blocksFingerprint ?? "" }

    public init(directory: URL) throws {
        self.directory = directory
        let url = directory.appendingPathComponent(PreparedManifest.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FormatError(url: directory, "holds no \(PreparedManifest.fileName): not a prepared corpus (run fusellm prepare)")
        }
        let m = try PreparedManifest.read(url)
        guard m.complete, let counts = m.counts, let indexFile = m.index, m.blocksFingerprint != nil else {
            throw FormatError(url: url, "fusellm prepare has not finished here (re-run it with the same options to resume)")
        }
        let perChunk = m.settings.textsPerChunk
        guard m.chunks.reduce(0, { $0 + $1.texts }) == counts.texts,
              m.chunks.enumerated().allSatisfy({ $0.element.texts == min(perChunk, counts.texts - $0.offset * perChunk) }) else {
            throw FormatError(url: url, item: "chunks", "chunk sizes do not add up to \(counts.texts) texts in chunks of \(perChunk)")
        }
        manifest = m
        index = try PreparedIndex.Reader(url: directory.appendingPathComponent(indexFile.file), textCount: counts.texts,
                                         blockSize: m.settings.blockSize)
        guard index.data.count == indexFile.bytes, index.tokenCount == counts.tokens else {
            throw FormatError(url: index.url, "does not match \(PreparedManifest.fileName) (size or token count): changed since prepare")
        }
    }

    /// The prepared corpus at `directory`, checked to have been made with `tokenizer` as its target.
    public static func open(_ directory: URL, target tokenizer: BPETokenizer? = nil) throws -> PreparedCorpus {
        let p = try PreparedCorpus(directory: directory)
        if let tokenizer { try p.checkTarget(tokenizer) }
        return p
    }

    public func checkTarget(_ tokenizer: BPETokenizer) throws {
        guard tokenizer.fingerprint == targetTokenizerFingerprint else {
            throw FormatError(url: directory.appendingPathComponent(PreparedManifest.fileName), item: "settings.target",
                              "was prepared with another target tokenizer (\(targetTokenizerFingerprint), \(manifest.settings.target.source)) than \(tokenizer.source) (\(tokenizer.fingerprint))")
        }
    }

    // MARK: Texts

    public func text(_ i: Int) throws -> PreparedText {
        let (chunk, local) = try locate(i)
        return try chunk.text(local)
    }

    public func targetTokens(ofText i: Int) throws -> [Int32] {
        let (chunk, local) = try locate(i)
        return chunk.tokens(local)
    }

    /// A source's tokens of text `i` as a dump holds them: its own encoding of the text and its EOS after a
    /// document's last text; a tokenizer with the target's vocabulary takes the prepared tokens as they are.
    public func sourceTokens(ofText i: Int, tokenizer: BPETokenizer) throws -> [Int32] {
        if tokenizer.fingerprint == targetTokenizerFingerprint { return try targetTokens(ofText: i) }
        let t = try text(i)
        var ids = tokenizer.encode(t.text)
        if t.endsDocument, let eos = tokenizer.eosTokenID { ids.append(eos) }
        return ids
    }

    /// The text's length in UTF-8 bytes.
    public func byteCount(ofText i: Int) throws -> Int { try text(i).text.utf8.count }

    /// Target tokens of text `i`, from the index (no chunk is read).
    public func tokenCount(ofText i: Int) -> Int {
        precondition(i >= 0 && i < textCount)
        return index.offset(i + 1) - index.offset(i)
    }

    public func domain(ofText i: Int) throws -> String? {
        let (chunk, local) = try locate(i)
        return try chunk.domain(local)
    }

    /// Whether text `i` ends its document (so EOS closes its token list).
    public func endsDocument(_ i: Int) throws -> Bool {
        let (chunk, local) = try locate(i)
        return chunk.record(local).endsDocument
    }

    /// The corpus file a text was read from.
    public func sourceFile(ofText i: Int) throws -> String {
        let f = try text(i).sourceFile
        guard f < manifest.settings.corpus.count else {
            throw FormatError(url: directory, item: "text \(i)", "names corpus file \(f) of \(manifest.settings.corpus.count)")
        }
        return manifest.settings.corpus[f].path
    }

    // MARK: Blocks

    public func spans(ofBlock b: Int) throws -> [(text: Int, tokens: Range<Int>)] {
        guard b >= 0, b < blockCount else {
            throw FormatError(url: index.url, item: "block \(b)", "out of range (\(blockCount) blocks)")
        }
        return try index.spans(ofBlock: b)
    }

    public func block(_ b: Int) throws -> PreparedBlock {
        let spans = try spans(ofBlock: b)
        var tokens: [Int32] = []
        tokens.reserveCapacity(blockSize)
        for s in spans { tokens += try targetTokens(ofText: s.text)[s.tokens] }
        return PreparedBlock(index: b, tokens: tokens, spans: spans.map { PreparedSpan(text: $0.text, tokens: $0.tokens) })
    }

    /// The domain holding most of the block's tokens (the earliest on a tie); nil when its texts have none.
    public func domain(ofBlock b: Int) throws -> String? {
        var weight: [String: Int] = [:], order: [String] = []
        for s in try spans(ofBlock: b) {
            guard let d = try domain(ofText: s.text) else { continue }
            if weight[d] == nil { order.append(d) }
            weight[d, default: 0] += s.tokens.count
        }
        var best: String?
        for d in order where best == nil || weight[d]! > weight[best!]! { best = d }
        return best
    }

    // MARK: Checks

    /// Recomputes every chunk's and the index's SHA-256 against prepared.json.
    public func verify() throws {
        for c in manifest.chunks {
            let url = directory.appendingPathComponent(c.file)
            guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
                throw FormatError(url: url, "cannot read (missing?)")
            }
            guard data.count == c.bytes, Checksum.sha256(data) == c.sha256 else {
                throw FormatError(url: url, "SHA-256 checksum mismatch with \(PreparedManifest.fileName): the chunk is corrupt")
            }
        }
        if let i = manifest.index, Checksum.sha256(index.data) != i.sha256 {
            throw FormatError(url: index.url, "SHA-256 checksum mismatch with \(PreparedManifest.fileName): the index is corrupt")
        }
    }

    private func locate(_ i: Int) throws -> (PreparedTextChunk.Reader, Int) {
        guard i >= 0, i < textCount else {
            throw FormatError(url: directory, item: "text \(i)", "out of range (\(textCount) texts)")
        }
        let perChunk = manifest.settings.textsPerChunk
        let c = i / perChunk
        lock.lock()
        defer { lock.unlock() }
        if let r = chunks[c] { return (r, i - c * perChunk) }
        let entry = manifest.chunks[c]
        let r = try PreparedTextChunk.Reader(url: directory.appendingPathComponent(entry.file))
        guard r.count == entry.texts, r.data.count == entry.bytes, r.tokenBytes == manifest.settings.tokenBytes else {
            throw FormatError(url: r.url, "does not match \(PreparedManifest.fileName) (\(r.count) texts, \(r.data.count) bytes; expected \(entry.texts), \(entry.bytes)): changed since prepare")
        }
        chunks[c] = r
        return (r, i - c * perChunk)
    }
}
